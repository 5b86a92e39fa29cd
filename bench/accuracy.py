"""Field accuracy of an extracted article against the replica's truth, the same rules for every tool.

- title: equal after stripping surrounding whitespace (a site suffix left in is wrong).
- date: the publication instant to the minute. A naive date-time (no offset, as news-please gives) counts as
  right if it reads the truth's minute either in UTC or in the site's visible clock (+08:00), the kindest
  reading; a date without a time (trafilatura) cannot be right to the minute.
- authors: the same set of names (order and surrounding whitespace ignored); no authors is right only when the
  truth has none.
- body: `crawler.extract.similarity.body_f1` against the truth's `body_text` (the project's one body metric:
  F1 of character bigrams for Chinese); an empty body scores 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from statistics import fmean
from typing import Any

from crawler.extract.similarity import body_f1

SITE_CLOCK = timezone(timedelta(hours=8))
FIELDS = ("title", "date", "authors", "body F1")


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a tool extracted from one article page; `published` may be naive, `None` when absent or by day."""

    title: str | None
    published: datetime | None
    authors: tuple[str, ...]
    body: str


def title_right(extracted: Extracted, truth: dict[str, Any]) -> bool:
    return (extracted.title or "").strip() == str(truth["title"]).strip()


def date_right(extracted: Extracted, truth: dict[str, Any]) -> bool:
    if extracted.published is None:
        return False
    expected = _minute(datetime.fromisoformat(truth["published_at"]).astimezone(UTC))
    got = extracted.published
    if got.tzinfo is not None:
        return _minute(got.astimezone(UTC)) == expected
    readings = (got.replace(tzinfo=UTC), got.replace(tzinfo=SITE_CLOCK).astimezone(UTC))
    return any(_minute(reading) == expected for reading in readings)


def authors_right(extracted: Extracted, truth: dict[str, Any]) -> bool:
    return _names(extracted.authors) == _names(truth["authors"])


def field_scores(pairs: Sequence[tuple[Extracted, dict[str, Any]]]) -> dict[str, float]:
    """The share of right titles, dates and authors and the mean body F1 over (extracted, truth) pairs."""
    if not pairs:
        return dict.fromkeys(FIELDS, 0.0)
    return {
        "title": fmean(title_right(e, t) for e, t in pairs),
        "date": fmean(date_right(e, t) for e, t in pairs),
        "authors": fmean(authors_right(e, t) for e, t in pairs),
        "body F1": fmean(body_f1(e.body, str(t["body_text"])) for e, t in pairs),
    }


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip() for name in names if name.strip())
