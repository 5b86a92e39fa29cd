"""Downloader middleware: a bot wall or captcha page is dropped as ``Blocked`` before anything reads it.

Placed before the retry middleware in the response chain, so a challenge page is not retried as a 503, never
reaches a callback (no row, no extraction failure, no redesign alarm) and never an errback's removal check.
Stats: ``blocked/pages`` and ``blocked/<reason>`` (``challenge_403``, ``challenge_429``, ``challenge_503``,
``not_the_site``); the health check fails a run whose responses are mostly block pages.
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler import stats as keys
from crawler.blocks import Blocked, block_reason

logger = logging.getLogger(__name__)


class BlockMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlockMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        reason = block_reason(response.status, content_type, response.body)
        if reason is None:
            return response
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(keys.BLOCKED_PAGES)
        stats.inc_value(keys.blocked(reason))
        logger.warning("Blocked: %s answered a %s page, not stored", request.url, reason)
        raise Blocked(reason, request.url)
