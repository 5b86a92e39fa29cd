"""``LOG_FORMATTER``: Scrapy's, without building the lines the crawl's log leaves out.

Scrapy's root logger lets every record through to its handler, which drops it by level (``LOG_LEVEL``): the
``Crawled (200)`` line of each response and the ``Scraped from`` line of each item were each built (the
referer looked up, a LogRecord with its caller found) only to be dropped at the default level, INFO. Below the
log's level this formatter returns no line, which Scrapy takes as "do not log"; at DEBUG the lines are Scrapy's.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.logformatter import LogFormatter as ScrapyLogFormatter
from scrapy.logformatter import LogFormatterResult
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure


def log_threshold(settings: BaseSettings) -> int:
    """The lowest level the crawl's log keeps: ``LOG_LEVEL`` (a name or a number), or nothing when
    ``LOG_ENABLED`` is off. An unknown name keeps everything, as if no line could be left out."""
    if not settings.getbool("LOG_ENABLED", True):
        return logging.CRITICAL + 1
    level = settings.get("LOG_LEVEL", "DEBUG")
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    return numeric if isinstance(numeric, int) else logging.NOTSET


class LogFormatter(ScrapyLogFormatter):
    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(log_threshold(crawler.settings))

    def crawled(self, request: Request, response: Response, spider: Spider) -> LogFormatterResult | None:  # type: ignore[override]
        if self.threshold > logging.DEBUG:  # Scrapy's level for this line
            return None
        return super().crawled(request, response, spider)

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        if self.threshold > logging.DEBUG:  # Scrapy's level for this line
            return None
        return super().scraped(item, response, spider)

    def dropped(  # type: ignore[override]
        self, item: Any, exception: BaseException, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        line = super().dropped(item, exception, response, spider)
        return line if line["level"] >= self.threshold else None
