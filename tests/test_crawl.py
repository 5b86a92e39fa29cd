"""End to end: the real `scrapy crawl articles` command against a real replica server.

These tests check discovery and extraction through Scrapy (pipelines off, Scrapy's own feed export);
the dataset side is tested in test_dataset_e2e.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crawling import crawl, read_feed
from tests.replica.site import Site
from tests.replica.testing import serve_replica

ARTICLES = 60
NO_PIPELINES = {"ITEM_PIPELINES": "{}"}
# Fields compared exactly; timestamps are compared separately (the JSON feed writes them without offset).
TEXT_FIELDS = (
    "url", "edition", "language", "title", "date_source", "section", "categories", "tags",
    "authors", "editor", "dateline", "body_text", "char_count",
)  # fmt: skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replica() -> Iterator[str]:
    with serve_replica(articles=ARTICLES) as base_url:
        yield base_url


def _truth(edition: str) -> dict[str, dict[str, Any]]:
    return {row["article_id"]: row for row in Site(articles=ARTICLES).truth() if row["edition"] == edition}


@pytest.mark.parametrize("editions", ["gb", "b5", "gb,b5"])
def test_one_item_per_article_with_the_fields_of_the_truth(
    replica: str, tmp_path: Path, editions: str
) -> None:
    feed = tmp_path / "items.jsonl"
    result = crawl(replica, None, args={"editions": editions}, settings=NO_PIPELINES, feed=feed)
    assert result.returncode == 0, result.log[-3000:]
    items = read_feed(feed)
    ids = [item["article_id"] for item in items]
    assert len(ids) == len(set(ids)), "an article was requested twice"
    truth_by_edition = {edition: _truth(edition) for edition in editions.split(",")}
    assert set(ids) == set(next(iter(truth_by_edition.values())))
    for item in items:
        expected = truth_by_edition[item["edition"]][item["article_id"]]
        mismatches = {f: (item[f], expected[f]) for f in TEXT_FIELDS if item[f] != expected[f]}
        assert not mismatches, f"{item['url']}: {mismatches}"
        assert [image["url"] for image in item["images"]] == [image["url"] for image in expected["images"]]


def test_both_editions_record_the_other_edition_as_alternate_url(replica: str, tmp_path: Path) -> None:
    feed = tmp_path / "items.jsonl"
    result = crawl(replica, None, args={"editions": "gb,b5"}, settings=NO_PIPELINES, feed=feed)
    assert result.returncode == 0, result.log[-3000:]
    items = read_feed(feed)
    with_other_edition = [
        item for item in items
        if any(f"/{'b5' if item['edition'] == 'gb' else 'gb'}/" in url for url in item["alternate_urls"])
    ]  # fmt: skip
    assert with_other_edition, "no item recorded the other edition's URL"
    assert all(item["url"] not in item["alternate_urls"] for item in items)


def test_since_and_until_bound_the_url_date(replica: str, tmp_path: Path) -> None:
    truth = _truth("gb")
    url_dates = sorted({_url_date(row["url"]) for row in truth.values()})
    assert len(url_dates) > 4
    feed = tmp_path / "items.jsonl"
    since, until = url_dates[len(url_dates) // 2], url_dates[-2]
    result = crawl(replica, None, args={"since": since, "until": until}, settings=NO_PIPELINES, feed=feed)
    assert result.returncode == 0, result.log[-3000:]
    got = {item["article_id"] for item in read_feed(feed)}
    expected = {aid for aid, row in truth.items() if since <= _url_date(row["url"]) <= until}
    assert got == expected


def test_bad_argument_exits_non_zero_with_a_clear_message(replica: str) -> None:
    result = crawl(replica, None, args={"editions": "fr"}, settings=NO_PIPELINES)
    assert result.returncode != 0
    assert "editions must be gb, b5 or gb,b5" in result.log


def _url_date(url: str) -> str:
    """ISO date of an article URL (``https://host/gb/26/1/2/n5.htm`` -> ``2026-01-02``)."""
    yy, month, day = (int(part) for part in url.split("/")[4:7])
    return f"{2000 + yy:04d}-{month:02d}-{day:02d}"
