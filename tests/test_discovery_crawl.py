"""End to end, discovery on the real `scrapy crawl articles` command: the 2018 home page, list pages in a markup no
parser knows, and feeds first for hourly runs (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.crawling import crawl, read_feed
from tests.replica import era2018
from tests.replica.render import ITEMS_PER_PAGE
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete, read_rows

NO_PIPELINES = {"ITEM_PIPELINES": "{}"}
CRAWLED_RE = re.compile(r"Crawled \(\d+\) <GET (\S+)>")

pytestmark = pytest.mark.slow


def _gb_ids(site: Site) -> set[str]:
    return {row["article_id"] for row in site.truth() if row["edition"] == "gb"}


def test_the_2018_home_page_leads_to_every_article_through_every_channel_shape(tmp_path: Path) -> None:
    articles = 120
    site = Site(articles=articles, home_era="2018")
    tabs = {name for name, shape in era2018.CHANNEL_SHAPES_2018.items() if shape == "tab"}
    # Some articles are listed only in channels that the home page shows as tabs (a[slugid][href="#..."]).
    assert any(set(meta.channels) <= tabs for meta in site.metadata())
    feed = tmp_path / "items.jsonl"
    with serve_replica(articles=articles, home_era="2018") as base:
        result = crawl(base, None, settings={**NO_PIPELINES, "LOG_LEVEL": "DEBUG"}, feed=feed)
    assert result.returncode == 0, result.log[-3000:]
    ids = [item["article_id"] for item in read_feed(feed)]
    assert len(ids) == len(set(ids))
    assert set(ids) == _gb_ids(site)
    crawled = {url.split("/", 3)[3] for url in CRAWLED_RE.findall(result.log)}
    for name in (*era2018.CHANNEL_SHAPES_2018, era2018.NIMPART):
        assert f"gb/{name}.htm" in crawled
    assert not {f"gb/{name}.htm" for name in era2018.RANKINGS} & crawled
    assert result.stats["pages/home"] == 1


def _pages_until_known(site: Site, known: set[str]) -> int:
    """List pages an incremental run needs per the main lists: each channel up to its first page of known
    articles (or its last page)."""
    total = 0
    for channel in site.channels():
        items = [m.article_id for m in reversed(site.metadata()) if channel in m.channels]  # newest first
        pages = [items[start : start + ITEMS_PER_PAGE] for start in range(0, len(items), ITEMS_PER_PAGE)]
        total += next((n for n, ids in enumerate(pages, start=1) if set(ids) <= known), len(pages))
    return total


def test_unknown_list_markup_finds_every_article_and_the_main_list_alone_stops_paging(tmp_path: Path) -> None:
    before, after = 200, 230
    dataset = tmp_path / "articles"
    with serve_replica(articles=before, list_markup="unknown") as base:
        first = crawl(base, dataset)
    assert first.returncode == 0, first.log[-3000:]
    known = read_rows(dataset).column("article_id").to_pylist()
    assert_complete(known, Site(articles=before))
    assert first.stats["discovery/main_list/largest_block"] > 0
    assert "discovery/main_list/known_markup" not in first.stats
    # Every list page also shows the site's newest articles (new at each run) beside its main list: were they
    # taken into account, no page would ever look "all known" and each run would walk every page.
    with serve_replica(articles=after, list_markup="unknown") as base:
        second = crawl(base, dataset)
    assert second.returncode == 0, second.log[-3000:]
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=after))
    site = Site(articles=after, list_markup="unknown")
    assert second.stats["pages/list"] == _pages_until_known(site, set(known))
    assert second.stats["lists/stopped_on_known"] == len(site.channels())


def test_feeds_first_reads_one_feed_per_hour_and_walks_the_lists_only_after_a_gap(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=200) as base:
        assert crawl(base, dataset).returncode == 0
    # An hour of news: fewer new articles than the feed holds, so the feed reaches back into the archive.
    with serve_replica(articles=205) as base:
        hourly = crawl(base, dataset, args={"discovery": "feeds"})
    assert hourly.returncode == 0, hourly.log[-3000:]
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=205))
    assert hourly.stats["pages/feed"] == 1
    assert hourly.stats["articles/requested"] == 5
    assert "pages/home" not in hourly.stats and "pages/list" not in hourly.stats
    # A long outage: more new articles than the feed holds, so the lists are walked too.
    with serve_replica(articles=240) as base:
        after_gap = crawl(base, dataset, args={"discovery": "feeds"})
    assert after_gap.returncode == 0, after_gap.log[-3000:]
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=240))
    assert after_gap.stats.get("discovery/feed_gaps") == 1, after_gap.stats
    assert after_gap.stats["pages/home"] == 1 and after_gap.stats["pages/list"] > 0


def test_a_feed_that_fails_falls_back_to_the_lists_without_failing_the_run(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=60) as base:
        result = crawl(
            base, dataset, args={"discovery": "feeds"}, settings={"DISCOVERY_FEEDS": "/{edition}/missing.xml"}
        )
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["pages/failed/feeds"] == 1
    assert "pages/failed/lists" not in result.stats
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=60))
