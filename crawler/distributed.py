"""Distributed mode (``-s REDIS_URL=redis://host:port/db``): many ``scrapy crawl articles`` processes, one crawl.

Built on scrapy-redis: its scheduler keeps the request queue in Redis, shared by every worker, and its dupefilter
keeps the seen requests there. This module only wires them in and adds what the archive needs:

- ``DistributedMode``, a Scrapy add-on (``ADDONS``): without ``REDIS_URL`` it changes nothing; with it, it
  switches the scheduler and dupefilter to the Redis-backed ones below and enables the start and idle hooks.
- ``ArticleDupeFilter``: an article request's fingerprint is its ``article_id``, so the gb and b5 copies, http
  and https links and query-string variants of one article are fetched once by the whole crawl; other requests
  (home, list pages) keep scrapy-redis's URL fingerprint.
- Seeding: every worker yields its start requests, and the shared dupefilter (emptied when a new crawl opens,
  see ``pipelines.coordination``) lets through only the first copy of each, so whichever worker comes first
  seeds the start pages, and workers started with other arguments (one per edition) add theirs.
- ``CloseWhenIdle``: a worker closes once the shared queue has stayed empty for ``MAX_IDLE_TIME_BEFORE_CLOSE``
  seconds (scrapy-redis's setting), so every worker ends by itself when the crawl is done.

Redis keys all start with ``REDIS_KEY_PREFIX`` (default ``epochtimes``); ``CrawlKeys`` names them.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, ScrapyDeprecationWarning
from scrapy.settings import BaseSettings, Settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.urls import parse_article_url

logger = logging.getLogger(__name__)

REDIS_URL_SETTING = "REDIS_URL"
KEY_PREFIX_SETTING = "REDIS_KEY_PREFIX"
DEFAULT_KEY_PREFIX = "epochtimes"
MAX_IDLE_SETTING = "MAX_IDLE_TIME_BEFORE_CLOSE"
# scrapy-redis's own default (0) means "never close"; a crawl of many workers must end by itself.
DEFAULT_MAX_IDLE_S = 60
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")
ARTICLE_FINGERPRINT_PREFIX = "article:"
OPENED_CRAWL_STAT = "distributed/opened_crawl"
ADDON_PRIORITY = "addon"
_SPIDER_LOG_DEPRECATED = r"Spider\.log\(\) is deprecated"


class DistributedConfigError(ValueError):
    """REDIS_URL or a distributed-mode setting is invalid; the message names it."""


def redis_url(settings: BaseSettings) -> str | None:
    """The validated ``REDIS_URL``, or None when the distributed mode is off."""
    raw = settings.get(REDIS_URL_SETTING)
    if not raw:
        return None
    url = str(raw)
    if not url.startswith(REDIS_URL_SCHEMES):
        raise DistributedConfigError(
            f"{REDIS_URL_SETTING} must be a redis://host:port/db URL (or rediss://, unix://), got {url!r}"
        )
    return url


@dataclass(frozen=True, slots=True)
class CrawlKeys:
    """Every Redis key of one crawl, derived from ``REDIS_KEY_PREFIX``."""

    prefix: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlKeys:
        prefix = str(settings.get(KEY_PREFIX_SETTING) or DEFAULT_KEY_PREFIX)
        if "%" in prefix or not prefix.strip():
            raise DistributedConfigError(f"{KEY_PREFIX_SETTING} must be a plain key prefix, got {prefix!r}")
        return cls(prefix)

    @property
    def requests(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def dupefilter(self) -> str:
        return f"{self.prefix}:dupefilter"

    @property
    def seeded(self) -> str:
        """The run that seeded the current crawl (for people watching it)."""
        return f"{self.prefix}:seeded"

    @property
    def startup(self) -> str:
        """Mutex held while a worker registers, and by the first one while it repairs the dataset."""
        return f"{self.prefix}:startup"

    @property
    def workers(self) -> str:
        """Set of the run ids registered and not yet closed cleanly (the dead ones too)."""
        return f"{self.prefix}:workers"

    def heartbeat(self, run_id: str) -> str:
        """Exists (with a TTL refreshed while the worker lives) as long as the worker is alive."""
        return f"{self.prefix}:worker:{run_id}"

    def pending(self, run_id: str) -> str:
        """Archive claims of a worker not yet committed to a part file: article_id -> claim and previous value."""
        return f"{self.prefix}:pending:{run_id}"

    @property
    def gaps(self) -> str:
        """Set by the crawl's first worker when a previous worker died: list pages must not stop on known ones."""
        return f"{self.prefix}:gaps"

    @property
    def archive_ids(self) -> str:
        return f"{self.prefix}:archive:ids"

    @property
    def archive_hashes(self) -> str:
        return f"{self.prefix}:archive:hashes"

    @property
    def archive_ready(self) -> str:
        return f"{self.prefix}:archive:ready"

    def crawl_state(self) -> list[str]:
        """Keys a reset removes to start the next crawl from the start pages (the archive index stays)."""
        return [self.requests, self.dupefilter, self.seeded, self.startup, self.gaps]

    def archive_state(self) -> list[str]:
        return [self.archive_ids, self.archive_hashes, self.archive_ready]


class DistributedMode:
    """Add-on: with ``REDIS_URL`` set, the scheduler, dupefilter and hooks of the distributed mode."""

    def update_settings(self, settings: Settings) -> None:
        if redis_url(settings) is None:
            return
        keys = CrawlKeys.from_settings(settings)
        settings.set("SCHEDULER", f"{__name__}.SharedScheduler", priority=ADDON_PRIORITY)
        settings.set("DUPEFILTER_CLASS", f"{__name__}.ArticleDupeFilter", priority=ADDON_PRIORITY)
        # Workers come and go during one crawl: nobody may flush the shared queue when it closes.
        settings.set("SCHEDULER_PERSIST", True, priority=ADDON_PRIORITY)
        settings.set("SCHEDULER_QUEUE_KEY", keys.requests, priority=ADDON_PRIORITY)
        settings.set("SCHEDULER_DUPEFILTER_KEY", keys.dupefilter, priority=ADDON_PRIORITY)
        settings.setdefault(MAX_IDLE_SETTING, DEFAULT_MAX_IDLE_S)
        settings["EXTENSIONS"][f"{__name__}.CloseWhenIdle"] = 0
        max_idle_seconds(settings)


def max_idle_seconds(settings: BaseSettings) -> float:
    raw = settings.get(MAX_IDLE_SETTING, DEFAULT_MAX_IDLE_S)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DistributedConfigError(f"{MAX_IDLE_SETTING} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise DistributedConfigError(f"{MAX_IDLE_SETTING} must be positive in distributed mode, got {raw!r}")
    return value


class ArticleDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """Shared request dedup keyed by ``article_id`` for article pages, by URL for everything else."""

    def request_fingerprint(self, request: Request) -> str:
        article = parse_article_url(request.url)
        if article is not None:
            return f"{ARTICLE_FINGERPRINT_PREFIX}{article.article_id}"
        return str(super().request_fingerprint(request))


class SharedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, counting with Scrapy's current stats API (no ``spider`` argument)."""

    def open(self, spider: Spider) -> None:
        # scrapy-redis 0.9.1 announces a resumed queue with Spider.log(), which Scrapy 2.19 deprecates.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=_SPIDER_LOG_DEPRECATED, category=ScrapyDeprecationWarning
            )
            super().open(spider)

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request: Request | None = self.queue.pop(self.idle_before_close)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class CloseWhenIdle:
    """Keeps the worker open while the shared queue is empty, up to ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds.

    Scrapy calls ``spider_idle`` when this worker has nothing scheduled nor in flight, i.e. the shared queue
    was empty at its last poll; other workers may still add requests, so it waits before closing.
    """

    def __init__(self, max_idle: float) -> None:
        self.max_idle = max_idle
        self._idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CloseWhenIdle:
        extension = cls(max_idle_seconds(crawler.settings))
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(extension.request_scheduled, signal=signals.response_received)
        return extension

    def request_scheduled(self) -> None:
        self._idle_since = None

    def spider_idle(self) -> None:
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.max_idle:
            raise DontCloseSpider
        logger.info(
            "Distributed mode: shared queue empty for %.0f s, closing this worker", now - self._idle_since
        )
