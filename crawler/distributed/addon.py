"""Distributed mode (``-s REDIS_URL=redis://host:port/db``): many ``scrapy crawl articles`` processes, one crawl.

Built on scrapy-redis: its scheduler keeps the request queue in Redis, shared by every worker, and its dupefilter
keeps the seen requests there. This module only wires them in and adds what the archive needs:

- ``DistributedMode``, a Scrapy add-on (``ADDONS``): without ``REDIS_URL`` it changes nothing; with it, it
  switches the scheduler and dupefilter to the Redis-backed ones below, the dataset lock
  (``DATASET_LOCK_CLASS``) to the worker registry's ``crawler.distributed.coordination.RedisWriterLock`` and
  the archive index (``ARCHIVE_INDEX_CLASS``) to ``crawler.distributed.archive.RedisArchive``, the refresh
  state (``REFRESH_STATE_CLASS``) to ``crawler.distributed.refresh_state.RedisRefreshState``, and enables the
  start and idle hooks. The lock and index are also swapped before any crawler exists
  (``update_pre_crawler_settings``), so that ``scrapy compact`` gets the same lock; nothing else in the project
  knows Redis exists.
- ``ArticleDupeFilter``: an article request's fingerprint is its ``article_id``, so the gb and b5 copies, http
  and https links and query-string variants of one article are fetched once by the whole crawl; other requests
  (home, list pages) keep scrapy-redis's URL fingerprint.
- Seeding: every worker yields its start requests, and the shared dupefilter (emptied when a new crawl opens,
  see ``crawler.distributed.coordination``) lets through only the first copy of each, so whichever worker comes first
  seeds the start pages, and workers started with other arguments (one per edition) add theirs.
- ``CloseWhenIdle``: a worker closes as soon as the shared queue is empty and every live worker is idle, or
  once the queue has stayed empty for ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds (scrapy-redis's setting), so
  every worker ends by itself when the crawl is done.

Redis keys all start with ``REDIS_KEY_PREFIX`` (default ``epochtimes``); ``CrawlKeys`` names them.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections import deque

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, ScrapyDeprecationWarning
from scrapy.settings import BaseSettings, Settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from crawler import stats as stat_keys
from crawler.config import positive_int, setting
from crawler.distributed.archive import RedisArchive
from crawler.distributed.coordination import RedisWriterLock
from crawler.distributed.keys import REDIS_URL_SETTING, CrawlKeys, DistributedConfigError, redis_url
from crawler.distributed.queue import SharedQueue
from crawler.distributed.refresh_state import RedisRefreshState
from crawler.extensions.run import INDEX_CLASS_SETTING, LOCK_CLASS_SETTING, RunLifecycle
from crawler.middlewares.refresh import STATE_CLASS_SETTING as REFRESH_STATE_CLASS_SETTING
from crawler.urls import parse_article_url

logger = logging.getLogger(__name__)

MAX_IDLE_SETTING = "MAX_IDLE_TIME_BEFORE_CLOSE"
# scrapy-redis's own default (0) means "never close"; a crawl of many workers must end by itself.
DEFAULT_MAX_IDLE_S = 60
# Requests a worker takes from the shared queue at a time: one round trip instead of N, while keeping few
# requests away from the other workers (the downloader holds CONCURRENT_REQUESTS of them anyway).
POP_BATCH_SETTING = "DISTRIBUTED_POP_BATCH"
DEFAULT_POP_BATCH = 8
# How often an idle worker looks for requests other workers added: Scrapy's own heartbeat is 5 s, long beside
# a crawl's start, when the first worker has taken the start pages and the others find the queue empty.
IDLE_POLL_S = 0.25
# Marks a request an idle worker took from the shared queue and hands to its engine: already queued once.
TAKEN_META = "distributed_taken"
ARTICLE_FINGERPRINT_PREFIX = "article:"
ADDON_PRIORITY = "addon"
_SPIDER_LOG_DEPRECATED = r"Spider\.log\(\) is deprecated"


class DistributedMode:
    """Add-on: with ``REDIS_URL`` set, the scheduler, dupefilter, lock, archive index and hooks of the
    distributed mode."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        # Not validated here: a bad REDIS_URL must stop the crawl itself, as one line (update_settings checks).
        if settings.get(REDIS_URL_SETTING):
            _swap_dataset_components(settings)

    def update_settings(self, settings: Settings) -> None:
        if redis_url(settings) is None:
            return
        _swap_dataset_components(settings)
        keys = CrawlKeys.from_settings(settings)
        settings.set("SCHEDULER", f"{__name__}.SharedScheduler", priority=ADDON_PRIORITY)
        settings.set("DUPEFILTER_CLASS", f"{__name__}.ArticleDupeFilter", priority=ADDON_PRIORITY)
        # Workers come and go during one crawl: nobody may flush the shared queue when it closes.
        settings.set("SCHEDULER_PERSIST", True, priority=ADDON_PRIORITY)
        settings.set("SCHEDULER_QUEUE_KEY", keys.requests, priority=ADDON_PRIORITY)
        settings.set("SCHEDULER_DUPEFILTER_KEY", keys.dupefilter, priority=ADDON_PRIORITY)
        settings.set(
            "SCHEDULER_QUEUE_CLASS", f"{SharedQueue.__module__}.SharedQueue", priority=ADDON_PRIORITY
        )
        settings.setdefault(MAX_IDLE_SETTING, DEFAULT_MAX_IDLE_S)
        settings["EXTENSIONS"][f"{__name__}.CloseWhenIdle"] = 0
        max_idle_seconds(settings)
        pop_batch(settings)


def _swap_dataset_components(settings: BaseSettings) -> None:
    # At add-on priority: the defaults are in the code, not in the project's settings (which would win).
    settings.set(LOCK_CLASS_SETTING, f"{RedisWriterLock.__module__}.RedisWriterLock", priority=ADDON_PRIORITY)
    settings.set(INDEX_CLASS_SETTING, f"{RedisArchive.__module__}.RedisArchive", priority=ADDON_PRIORITY)
    settings.set(
        REFRESH_STATE_CLASS_SETTING,
        f"{RedisRefreshState.__module__}.RedisRefreshState",
        priority=ADDON_PRIORITY,
    )


def pop_batch(settings: BaseSettings) -> int:
    return positive_int(settings, POP_BATCH_SETTING, DEFAULT_POP_BATCH, DistributedConfigError, "requests")


def max_idle_seconds(settings: BaseSettings) -> float:
    return setting(
        settings,
        MAX_IDLE_SETTING,
        settings.getfloat,
        float(DEFAULT_MAX_IDLE_S),
        "a positive number of seconds in distributed mode",
        lambda value: math.isfinite(value) and value > 0,
        DistributedConfigError,
    )


class ArticleDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """Shared request dedup keyed by ``article_id`` for article pages, by URL for everything else."""

    def request_fingerprint(self, request: Request) -> str:
        article = parse_article_url(request.url)
        if article is not None:
            return f"{ARTICLE_FINGERPRINT_PREFIX}{article.article_id}"
        return str(super().request_fingerprint(request))


class SharedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler over ``SharedQueue``, in few round trips: the requests scheduled since the last
    call go to Redis together (one Lua call checks their fingerprints and queues the new ones) before the engine
    asks for a request or whether any is pending, and up to ``DISTRIBUTED_POP_BATCH`` requests are taken at a
    time (held in a local buffer, put back in the queue when the worker closes cleanly; a worker that dies
    loses both, as it loses its requests in flight). An idle worker looks at the shared queue every
    ``IDLE_POLL_S`` (Scrapy itself asks the scheduler every 5 s), and hands what it takes to the engine with
    ``engine.crawl``, which also wakes it up; such a request goes straight to the local buffer.

    ``enqueue_request`` therefore accepts every request: one already seen by the crawl is dropped when its
    batch goes to Redis (logged, and counted as ``dupefilter/filtered`` as in a local run), without Scrapy's
    ``request_dropped`` signal, which nothing here listens to."""

    pop_batch: int = DEFAULT_POP_BATCH
    worker: str = ""
    idle_key: str = ""
    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        scheduler: SharedScheduler = super().from_crawler(crawler)
        scheduler.pop_batch = pop_batch(crawler.settings)
        run = crawler.get_extension(RunLifecycle)
        # Taking requests takes this worker out of the crawl's idle set (none without a dataset run).
        scheduler.worker = run.run_id if run is not None else ""
        scheduler.idle_key = CrawlKeys.from_settings(crawler.settings).idle
        scheduler.crawler = crawler
        return scheduler

    def open(self, spider: Spider) -> None:
        self._buffer: deque[Request] = deque()
        self._scheduled: list[tuple[Request, str | None]] = []
        self._poll = LoopingCall(self._take_while_idle)
        # scrapy-redis 0.9.1 announces a resumed queue with Spider.log(), which Scrapy 2.19 deprecates.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=_SPIDER_LOG_DEPRECATED, category=ScrapyDeprecationWarning
            )
            super().open(spider)

    def close(self, reason: str) -> None:
        if self._poll.running:
            self._poll.stop()
        self._flush()
        if self._buffer:
            self.queue.push_back(self._buffer)
            self._buffer.clear()
        super().close(reason)

    def __len__(self) -> int:
        self._flush()
        return len(self._buffer) + len(self.queue)

    def has_pending_requests(self) -> bool:
        self._flush()
        pending = bool(self._buffer) or len(self.queue) > 0
        if not pending and not self._poll.running:
            self._poll.start(IDLE_POLL_S, now=False)
        return pending

    def _take_while_idle(self) -> None:
        taken = self.queue.pop_many(self.pop_batch, self.idle_key, self.worker)
        if not taken:
            return
        self._poll.stop()
        for request in taken:
            request.meta[TAKEN_META] = True
            self.crawler.engine.crawl(request)

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(TAKEN_META, False):
            self._buffer.append(request)
            return True
        fingerprint = None if request.dont_filter else self.df.request_fingerprint(request)
        self._scheduled.append((request, fingerprint))
        return True

    def _flush(self) -> None:
        """Send the requests scheduled since the last flush to the shared queue, in one round trip."""
        if not self._scheduled:
            return
        scheduled, self._scheduled = self._scheduled, []
        queued = self.queue.push_new(scheduled, self.df.key)
        for (request, _), new in zip(scheduled, queued, strict=True):
            if not new:
                self.df.log(request, self.spider)
        if self.stats:
            self.stats.inc_value(stat_keys.SCHEDULER_ENQUEUED, sum(queued))
            if not all(queued):
                self.stats.inc_value(stat_keys.DUPEFILTER_FILTERED, len(queued) - sum(queued))

    def next_request(self) -> Request | None:
        self._flush()
        if not self._buffer:
            self._buffer.extend(self.queue.pop_many(self.pop_batch, self.idle_key, self.worker))
        if not self._buffer:
            return None
        if self._poll.running:
            self._poll.stop()
        if self.stats:
            self.stats.inc_value(stat_keys.SCHEDULER_DEQUEUED)
        return self._buffer.popleft()


class CloseWhenIdle:
    """Closes the worker once the crawl is over: at once when the shared queue is empty and every other live
    worker is idle too (``RedisWriterLock.crawl_finished``: nobody is left to add a request), else once the
    queue has stayed empty for ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds.

    Scrapy calls ``spider_idle`` when this worker has nothing scheduled nor in flight, i.e. the shared queue
    was empty at its last poll; the worker then joins the crawl's idle set, and leaves it as soon as it
    schedules, takes (``SharedQueue.pop_many``) or receives a request. While others are busy it waits, and
    Scrapy asks again on its 5 s heartbeat, so that wait is rounded up to it. The wait is recorded as
    ``distributed/idle_seconds``.
    """

    def __init__(self, crawler: Crawler, max_idle: float) -> None:
        self.crawler = crawler
        self.max_idle = max_idle
        self._idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CloseWhenIdle:
        extension = cls(crawler, max_idle_seconds(crawler.settings))
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.busy, signal=signals.request_scheduled)
        crawler.signals.connect(extension.busy, signal=signals.response_received)
        return extension

    def busy(self) -> None:
        if self._idle_since is None:
            return
        self._idle_since = None
        registry = self._registry()
        if registry is not None:
            registry.set_idle(False)

    def spider_idle(self) -> None:
        now = time.monotonic()
        registry = self._registry()
        if self._idle_since is None:
            self._idle_since = now
        # Each time, not only the first: requests the engine's own heartbeat took out of the queue (which left
        # the idle set) and that never reached a response (a downloader middleware ignored them) call no busy().
        if registry is not None:
            registry.set_idle(True)
        idle = now - self._idle_since
        finished = registry is not None and registry.crawl_finished()
        if idle < self.max_idle and not finished:
            raise DontCloseSpider
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(stat_keys.IDLE_SECONDS, round(idle, 3))
        if finished:
            logger.info("Distributed mode: shared queue empty and every worker idle, closing this worker")
        else:
            logger.info("Distributed mode: shared queue empty for %.0f s, closing this worker", idle)

    def _registry(self) -> RedisWriterLock | None:
        """The worker registry (this run's dataset lock); None for a crawl that writes no dataset."""
        run = self.crawler.get_extension(RunLifecycle)
        lock = run.lock if run is not None else None
        return lock if isinstance(lock, RedisWriterLock) else None
