"""The project's LOG_FORMATTER: Scrapy's lines at or above the crawl's log level, none below it."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.logformatter import LogFormatter as ScrapyLogFormatter
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.logformatter import LogFormatter, log_threshold


def formatter(**settings: object) -> LogFormatter:
    return LogFormatter.from_crawler(get_crawler(Spider, settings_dict=settings))


def page() -> tuple[Request, HtmlResponse, Spider]:
    request = Request("https://www.epochtimes.com/gb/24/3/1/n1.htm")
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    return request, response, Spider("articles")


def test_the_project_logs_with_it() -> None:
    assert load_object(project_settings.LOG_FORMATTER) is LogFormatter


@pytest.mark.parametrize(
    ("settings", "threshold"),
    [
        ({"LOG_LEVEL": "INFO"}, logging.INFO),
        ({"LOG_LEVEL": "debug"}, logging.DEBUG),
        ({"LOG_LEVEL": logging.WARNING}, logging.WARNING),
        ({"LOG_LEVEL": "LOUD"}, logging.NOTSET),
        ({"LOG_LEVEL": "DEBUG", "LOG_ENABLED": False}, logging.CRITICAL + 1),
    ],
)
def test_threshold_follows_log_level_and_log_enabled(settings: dict[str, object], threshold: int) -> None:
    assert log_threshold(Settings(settings)) == threshold


def test_per_page_debug_lines_are_not_built_at_info() -> None:
    request, response, spider = page()
    quiet = formatter(LOG_LEVEL="INFO")
    assert quiet.crawled(request, response, spider) is None
    assert quiet.scraped({"n": 1}, response, spider) is None


def test_at_debug_the_lines_are_scrapys() -> None:
    request, response, spider = page()
    loud, scrapy = formatter(LOG_LEVEL="DEBUG"), ScrapyLogFormatter()
    assert loud.crawled(request, response, spider) == scrapy.crawled(request, response, spider)
    assert loud.scraped({"n": 1}, response, spider) == scrapy.scraped({"n": 1}, response, spider)


def test_a_drop_is_logged_at_or_above_the_log_level_only() -> None:
    _, response, spider = page()
    spider.crawler = get_crawler(Spider)
    quiet = formatter(LOG_LEVEL="INFO")
    assert quiet.dropped({}, DropItem("dull", log_level="DEBUG"), response, spider) is None
    kept = quiet.dropped({}, DropItem("bad", log_level="WARNING"), response, spider)
    assert kept is not None and kept["level"] == logging.WARNING
