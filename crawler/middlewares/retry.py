"""Retries with exponential back-off (SPEC.md section 5: "retries with back-off on 5xx and timeouts").

Scrapy's RetryMiddleware hands a failed request back to the scheduler at once, so a site that is overloaded or
restarting gets the same request again within milliseconds and a short outage uses up every retry. This one
decides exactly as Scrapy's does (``RETRY_TIMES``, ``RETRY_HTTP_CODES``, ``RETRY_EXCEPTIONS``, ``dont_retry``),
then waits ``RETRY_BACKOFF_BASE`` seconds before the first retry, twice that before the second, and so on, at
most ``RETRY_BACKOFF_MAX``. A 429 or 503 that says when to come back (``Retry-After``, seconds or an HTTP date) is
retried after that instead, at most ``RETRY_AFTER_MAX`` seconds (default 120): a server's own figure beats
our guess, and the cap keeps a hostile or broken value from stalling the run.

The wait is a non-blocking sleep inside the downloader middleware chain: other requests go on meanwhile. A
waiting retry still counts as in flight (it holds one of ``CONCURRENT_REQUESTS``), so a site that fails
everything slows the whole crawl down, which is the point of backing off. Stats: ``retry/backoff/count`` and
``retry/backoff/milliseconds`` (the total of the waits).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TypeVar

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import sleep

from crawler import stats as keys
from crawler.blocks import retry_after_seconds
from crawler.config import SettingError, non_negative_int, seconds

logger = logging.getLogger(__name__)

_Outcome = TypeVar("_Outcome", bound=Request | Response | None)

DEFAULT_BASE_SECONDS = 1.0
DEFAULT_MAX_SECONDS = 30.0
BASE_SETTING = "RETRY_BACKOFF_BASE"
MAX_SETTING = "RETRY_BACKOFF_MAX"
RETRY_AFTER_SETTING = "RETRY_AFTER_MAX"
DEFAULT_RETRY_AFTER_MAX_SECONDS = 120.0
RETRY_AFTER_STATUSES = frozenset({429, 503})
_RETRY_AFTER_META = "retry_after"
MILLISECONDS = 1000
# The largest power of two a float holds.
MAX_DOUBLINGS = 1023


class RetryBackoffConfigError(SettingError):
    """A RETRY_BACKOFF_* setting is invalid; the message names it."""


def backoff_delay(retry_number: int, base: float, cap: float) -> float:
    """Seconds to wait before retry ``retry_number`` (1 for the first retry): ``base * 2**(n-1)``, at most ``cap``."""
    if retry_number < 1:
        raise ValueError(f"retry numbers start at 1, got {retry_number}")
    # 2.0**1024 raises OverflowError; base * 2.0**1023 may be inf, which min() turns into the cap.
    return min(cap, base * 2.0 ** min(retry_number - 1, MAX_DOUBLINGS))


def backoff_settings(settings: BaseSettings) -> tuple[float, float]:
    """``(base, cap)`` from the settings, or RetryBackoffConfigError naming the bad one."""
    base = seconds(settings, BASE_SETTING, DEFAULT_BASE_SECONDS, RetryBackoffConfigError)
    cap = seconds(settings, MAX_SETTING, DEFAULT_MAX_SECONDS, RetryBackoffConfigError)
    if cap < base:
        raise RetryBackoffConfigError(f"{MAX_SETTING} ({cap:g}) must not be below {BASE_SETTING} ({base:g})")
    return base, cap


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry decisions, each retry sent after an exponential back-off (replaces RetryMiddleware)."""

    def __init__(self, settings: BaseSettings) -> None:
        # Checked before Scrapy reads it, so that a bad value is one clear line.
        non_negative_int(settings, "RETRY_TIMES", 2)
        super().__init__(settings)
        self.base, self.cap = backoff_settings(settings)
        self.retry_after_cap = seconds(
            settings, RETRY_AFTER_SETTING, DEFAULT_RETRY_AFTER_MAX_SECONDS, RetryBackoffConfigError
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_response(  # type: ignore[override]  # the async form Scrapy awaits
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        outcome = super().process_response(request, response)
        if isinstance(outcome, Request) and response.status in RETRY_AFTER_STATUSES:
            header = response.headers.get("Retry-After")
            text = header.decode("latin-1") if header else None
            wait = retry_after_seconds(text, datetime.now(UTC), self.retry_after_cap)
            if wait is not None:
                outcome.meta[_RETRY_AFTER_META] = wait
        return await self._after_backoff(outcome)

    async def process_exception(  # type: ignore[override]  # the async form Scrapy awaits
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        return await self._after_backoff(super().process_exception(request, exception))

    async def _after_backoff(self, outcome: _Outcome) -> _Outcome:
        """``outcome`` unchanged, after the back-off when it is a retry (a Request)."""
        if isinstance(outcome, Request):
            retry_number = int(outcome.meta["retry_times"])
            retry_after = outcome.meta.pop(_RETRY_AFTER_META, None)
            delay = backoff_delay(retry_number, self.base, self.cap) if retry_after is None else retry_after
            logger.debug("Retry %d of %s in %.3f s", retry_number, outcome.url, delay)
            stats = self.crawler.stats
            assert stats is not None, "the crawler builds its stats before its middlewares"
            stats.inc_value(keys.BACKOFF_COUNT)
            stats.inc_value(keys.BACKOFF_MILLISECONDS, round(delay * MILLISECONDS))
            if retry_after is not None:
                stats.inc_value(keys.RETRY_AFTER_COUNT)
            await sleep(delay)
        return outcome
