"""The known-articles spider middleware on a real crawler (engine, dedupe pipeline, archive read from Parquet):
what it drops of the spider's output and what it lets through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.extensions.run import RunLifecycle
from crawler.middlewares.known import FEED_META, LISTED_META, KnownArticlesMiddleware
from crawler.middlewares.refresh import REFRESH_META
from crawler.spiders.articles import ArticlesSpider
from crawler.urls import ListRef, parse_article_url
from pipelines.dedupe import DedupePipeline
from pipelines.parquet import ParquetPipeline
from tests.archive_data import sample_item
from tests.test_dedupe import archived, write_archive

SITE = "https://www.epochtimes.com"
KNOWN = (100, 200)


def article(number: int) -> Request:
    return Request(f"{SITE}/gb/21/12/30/n{number}.htm")


def ref(number: int) -> Any:
    return parse_article_url(f"{SITE}/gb/21/12/30/n{number}.htm")


def next_page(listed: list[int]) -> Request:
    return Request(
        f"{SITE}/gb/nsc413_2.htm",
        cb_kwargs={"ref": ListRef("gb", "nsc413", 2)},
        meta={LISTED_META: [ref(n) for n in listed]},
    )


def walk_after_feed(feed: list[int]) -> Request:
    return Request(f"{SITE}/gb/", cb_kwargs={"edition": "gb"}, meta={FEED_META: [f"n{n}" for n in feed]})


async def engine_of(crawler: Crawler) -> Any:
    """The engine builds the spider middlewares and item pipelines (its downloader wants a running loop)."""
    return crawler._create_engine()


def started(tmp_path: Path, *, last_run_incomplete: bool = False, **arguments: str) -> Crawler:
    root = tmp_path / "articles"
    write_archive(root, [archived(sample_item(n, body_text=f"正文{n}。"), 1) for n in KNOWN])
    settings = {
        "PARQUET_URI": str(root),
        "ITEM_PIPELINES": {DedupePipeline: 200, ParquetPipeline: 300},
        "EXTENSIONS": {RunLifecycle: 100},
        "SPIDER_MIDDLEWARES": {KnownArticlesMiddleware: 100},
        # Nothing is downloaded: no download handler (they would open client sessions).
        "DOWNLOAD_HANDLERS": {"http": None, "https": None},
    }
    crawler = get_crawler(ArticlesSpider, settings)
    crawler.spider = ArticlesSpider.from_crawler(crawler, **arguments)
    crawler.engine = asyncio.run(engine_of(crawler))
    crawler.stats.open_spider()
    dedupe = crawler.get_item_pipeline(DedupePipeline)
    assert dedupe is not None
    dedupe.load_archive()
    run = crawler.get_extension(RunLifecycle)
    assert run is not None
    run.last_run_incomplete = last_run_incomplete  # what the run read from the last run's manifest
    return crawler


def passed(crawler: Crawler, outputs: Iterable[Any]) -> list[Any]:
    middleware = crawler.get_spider_middleware(KnownArticlesMiddleware)
    assert middleware is not None
    feed = HtmlResponse(f"{SITE}/gb/feed", body=b"<rss/>")

    async def source() -> AsyncIterator[Any]:
        for output in outputs:
            yield output

    async def collect() -> list[Any]:
        return [entry async for entry in middleware.process_spider_output(feed, source())]

    return asyncio.run(collect())


def urls(outputs: list[Any]) -> list[str]:
    return [output.url for output in outputs]


def test_settled_articles_are_dropped_and_counted(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    check = Request(f"{SITE}/gb/21/12/30/n200.htm", meta={REFRESH_META: "n200"})
    out = passed(crawler, [article(100), article(300), check, article(100)])
    assert urls(out) == [f"{SITE}/gb/21/12/30/n300.htm", check.url]
    assert crawler.stats.get_value("articles/skipped/known") == 2


def test_full_settles_nothing(tmp_path: Path) -> None:
    crawler = started(tmp_path, full="1")
    assert len(passed(crawler, [article(100), article(200)])) == 2
    assert crawler.stats.get_value("articles/skipped/known") is None


def test_refresh_days_refetches_recent_known_articles_only(tmp_path: Path) -> None:
    # The sample articles' URL date is 2021-12-30: within 100,000 days, not within 1.
    assert len(passed(started(tmp_path / "a", refresh_days="100000"), [article(100)])) == 1
    assert passed(started(tmp_path / "b", refresh_days="1"), [article(100)]) == []


def test_paging_stops_at_a_page_of_articles_known_at_run_start(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    assert passed(crawler, [next_page([100, 200])]) == []
    assert crawler.stats.get_value("lists/stopped_on_known") == 1
    assert len(passed(crawler, [next_page([100, 300])])) == 1
    assert len(passed(crawler, [next_page([])])) == 1


def test_an_article_requested_in_this_run_is_not_known_at_run_start(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    dedupe = crawler.get_item_pipeline(DedupePipeline)
    assert dedupe is not None
    assert len(passed(crawler, [article(300)])) == 1
    dedupe.index.add("n300", 1, "ab" * 32, 7)  # archived by this run
    out = passed(crawler, [next_page([100, 300]), article(300)])
    assert len(out) == 2, "paging goes on; the second link is the spider's duplicate to drop, not a known one"
    assert crawler.stats.get_value("articles/skipped/known") is None


def test_paging_goes_on_after_an_unfinished_run(tmp_path: Path) -> None:
    crawler = started(tmp_path, last_run_incomplete=True)
    assert len(passed(crawler, [next_page([100, 200])])) == 1
    assert crawler.stats.get_value("lists/stopped_on_known") is None


@pytest.mark.parametrize(
    ("feed", "incomplete", "walked"),
    [([300, 200], False, False), ([400, 300], False, True), ([], False, True), ([300, 200], True, True)],
)
def test_the_lists_are_walked_after_a_feed_only_on_a_gap(
    tmp_path: Path, feed: list[int], incomplete: bool, walked: bool
) -> None:
    crawler = started(tmp_path, last_run_incomplete=incomplete)
    out = passed(crawler, [walk_after_feed(feed)])
    assert urls(out) == ([f"{SITE}/gb/"] if walked else [])
    assert crawler.stats.get_value("discovery/feed_gaps") == (1 if walked else None)
    assert all(FEED_META not in request.meta for request in out)


def test_a_page_linking_an_article_twice_yields_one_request_that_keeps_both_links(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    spider = crawler.spider
    assert isinstance(spider, ArticlesSpider)
    links = [f"{SITE}/gb/21/12/30/n{n}.htm" for n in (100, 300, 100)]
    links.append("http://www.epochtimes.com/gb/21/12/30/n300.htm")
    items = "".join(f'<li><a href="{url}">{index}</a></li>' for index, url in enumerate(links))
    body = f'<html><body><ul class="post_list">{items}</ul></body></html>'.encode()
    url = f"{SITE}/gb/nsc413.htm"
    page = HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))
    out = passed(crawler, spider.parse_list(page, ListRef("gb", "nsc413", 1)))
    assert urls(out) == [links[1]], "the settled n100 is dropped, n300 requested once"
    assert crawler.stats.get_value("articles/skipped/known") == 2, "counted once per link, as before"
    spider.request_scheduled(out[0])
    assert spider.pending_urls["n300"] == [links[1], links[3]], "the second link is one of its alternate URLs"


def list_page(spider: ArticlesSpider, number: int, links: list[str]) -> HtmlResponse:
    items = "".join(f'<li><a href="{url}">{index}</a></li>' for index, url in enumerate(links))
    body = f'<html><body><ul class="post_list">{items}</ul></body></html>'.encode()
    url = f"{SITE}/gb/nsc413_{number}.htm"
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))


def test_a_link_to_an_article_whose_request_waits_to_be_scheduled_rides_on_it(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    spider = crawler.spider
    assert isinstance(spider, ArticlesSpider)
    first, second = f"{SITE}/gb/21/12/30/n300.htm", "http://www.epochtimes.com/gb/21/12/30/n300.htm"
    waiting = passed(crawler, spider.parse_list(list_page(spider, 2, [first]), ListRef("gb", "nsc413", 2)))
    assert urls(waiting) == [first]
    later = passed(crawler, spider.parse_list(list_page(spider, 3, [second]), ListRef("gb", "nsc413", 3)))
    assert later == [], "no second request for n300 while the first waits to be scheduled"
    spider.request_scheduled(waiting[0])
    assert spider.pending_urls["n300"] == [first, second], "the later link is one of its alternate URLs"


def test_a_link_to_an_article_whose_request_was_dropped_makes_a_request_again(tmp_path: Path) -> None:
    crawler = started(tmp_path)
    spider = crawler.spider
    assert isinstance(spider, ArticlesSpider)
    settled = f"{SITE}/gb/21/12/30/n100.htm"
    for number in (2, 3):
        page = list_page(spider, number, [settled])
        assert passed(crawler, spider.parse_list(page, ListRef("gb", "nsc413", number))) == []
    assert crawler.stats.get_value("articles/skipped/known") == 2, "each page's link met the middleware"
