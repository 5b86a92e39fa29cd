"""The peers bench scores every tool by the same rules (bench/accuracy.py): each rule can fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bench.accuracy import Extracted, authors_right, date_right, field_scores, title_right

TRUTH: dict[str, Any] = {
    "title": "香港爆发抗议 民众关注科技竞争",
    "published_at": "2011-02-25T13:50:00+00:00",
    "authors": ["珍妮·林", "赵文"],
    "body_text": "第一段。\n第二段。",
}


def extracted(**changes: Any) -> Extracted:
    fields: dict[str, Any] = {
        "title": TRUTH["title"],
        "published": datetime(2011, 2, 25, 13, 50, 42, tzinfo=UTC),
        "authors": ("赵文", " 珍妮·林"),
        "body": "第一段。 第二段。",
    }
    return Extracted(**{**fields, **changes})


def test_a_perfect_extraction_scores_one_on_every_field() -> None:
    assert field_scores([(extracted(), TRUTH)]) == {"title": 1.0, "date": 1.0, "authors": 1.0, "body F1": 1.0}


def test_a_title_with_the_site_suffix_is_wrong() -> None:
    assert title_right(extracted(title=f" {TRUTH['title']} "), TRUTH)
    assert not title_right(extracted(title=f"{TRUTH['title']} - 大纪元"), TRUTH)
    assert not title_right(extracted(title=None), TRUTH)


@pytest.mark.parametrize(
    ("published", "right"),
    [
        (datetime(2011, 2, 25, 21, 50, tzinfo=timezone(timedelta(hours=8))), True),
        (datetime(2011, 2, 25, 21, 50), True),  # naive, the site's clock
        (datetime(2011, 2, 25, 13, 50), True),  # naive, UTC
        (datetime(2011, 2, 25, 13, 51, tzinfo=UTC), False),
        (datetime(2011, 2, 25, 21, 50, tzinfo=UTC), False),  # the site's clock wrongly declared UTC
        (None, False),  # absent, or a day without a time
    ],
)
def test_the_date_is_right_only_to_the_minute(published: datetime | None, right: bool) -> None:
    assert date_right(extracted(published=published), TRUTH) is right


def test_authors_are_compared_as_a_set_of_names() -> None:
    assert authors_right(extracted(authors=("珍妮·林", "赵文")), TRUTH)
    assert not authors_right(extracted(authors=("珍妮·林",)), TRUTH)
    assert not authors_right(extracted(authors=()), TRUTH)
    assert authors_right(extracted(authors=()), {**TRUTH, "authors": []})


def test_the_body_is_scored_with_the_project_body_f1() -> None:
    assert field_scores([(extracted(body=""), TRUTH)])["body F1"] == 0.0
    half = field_scores([(extracted(body="第一段。"), TRUTH)])["body F1"]
    assert 0.0 < half < 1.0


def test_no_pairs_scores_zero() -> None:
    assert field_scores([]) == {"title": 0.0, "date": 0.0, "authors": 0.0, "body F1": 0.0}
