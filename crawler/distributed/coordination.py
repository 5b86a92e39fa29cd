"""Writers of one dataset coordinating through Redis (distributed mode): the worker registry, and the writer
lock that takes the local ``flock``'s place (the add-on sets ``DATASET_LOCK_CLASS`` to :class:`RedisWriterLock`).

Each worker registers under a start-up mutex (redis-py's ``Lock``, with a token naming the worker) and keeps a
heartbeat key alive. The worker that finds no other live worker opens a new crawl: it alone repairs the dataset
(as the local lock holder does), rolls back what dead workers claimed but never committed
(``crawler.distributed.archive.roll_back_dead``), seeds the shared archive index from the dataset when Redis has
none, clears the previous crawl's queue and dupefilter, and lets the start pages through (the shared dupefilter
drops later copies). The others join. ``scrapy compact`` takes the same mutex and refuses while any worker is
alive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass

import pyarrow.fs as pafs
import redis
from redis.exceptions import LockError
from redis.lock import Lock
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler import stats as stat_keys
from crawler.config import positive_int
from crawler.distributed.archive import roll_back_dead, seed_archive
from crawler.distributed.keys import CrawlKeys, DistributedConfigError, redis_url
from pipelines.dataset.lock import DatasetLockedError

logger = logging.getLogger(__name__)

HEARTBEAT_TTL_SETTING = "DISTRIBUTED_HEARTBEAT_TTL"
DEFAULT_HEARTBEAT_TTL_S = 60
HEARTBEATS_PER_TTL = 4
STARTUP_TIMEOUT_SETTING = "DISTRIBUTED_STARTUP_TIMEOUT"
# Long enough for the first worker to seed the index of a large archive from the dataset.
DEFAULT_STARTUP_TIMEOUT_S = 1800
STARTUP_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class CoordinationConfig:
    url: str
    keys: CrawlKeys
    heartbeat_ttl: int
    startup_timeout: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CoordinationConfig | None:
        """None without REDIS_URL (local mode)."""
        url = redis_url(settings)
        if url is None:
            return None
        return cls(
            url=url,
            keys=CrawlKeys.from_settings(settings),
            heartbeat_ttl=positive_int(
                settings, HEARTBEAT_TTL_SETTING, DEFAULT_HEARTBEAT_TTL_S, DistributedConfigError, "seconds"
            ),
            startup_timeout=positive_int(
                settings,
                STARTUP_TIMEOUT_SETTING,
                DEFAULT_STARTUP_TIMEOUT_S,
                DistributedConfigError,
                "seconds",
            ),
        )

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


def live_workers(client: redis.Redis, keys: CrawlKeys, excluding: str | None = None) -> list[str]:
    members = sorted(str(m) for m in client.smembers(keys.workers))
    return [m for m in members if m != excluding and client.exists(keys.heartbeat(m))]


def dead_workers(client: redis.Redis, keys: CrawlKeys) -> list[str]:
    members = sorted(str(m) for m in client.smembers(keys.workers))
    return [m for m in members if not client.exists(keys.heartbeat(m))]


def startup_mutex(client: redis.Redis, config: CoordinationConfig) -> Lock:
    """Held while a worker registers (and, the first of a crawl, repairs the dataset) or compaction runs."""
    return Lock(
        client,
        config.keys.startup,
        timeout=config.startup_timeout,
        sleep=STARTUP_POLL_S,
        blocking_timeout=config.startup_timeout,
        thread_local=False,
    )


def take(mutex: Lock, token: str) -> None:
    """Acquire the start-up mutex under a token naming this process, or DatasetLockedError naming the holder."""
    if not mutex.acquire(token=token):
        holder = mutex.redis.get(mutex.name)
        raise DatasetLockedError(
            f"Redis key {mutex.name} held by {holder} for over {mutex.blocking_timeout} s: a worker or "
            "compaction is starting; if it died, delete the key (scrapy crawlstate --reset)"
        )


def give_back(mutex: Lock) -> None:
    """Release if still ours: after its timeout the key may belong to someone else, who keeps it."""
    with suppress(LockError):
        mutex.release()


class RedisWriterLock:
    """The writer lock of distributed mode (``DATASET_LOCK_CLASS``); see the module docstring."""

    def __init__(
        self,
        config: CoordinationConfig,
        fs: pafs.FileSystem,
        root: str,
        run_id: str,
        stats: StatsCollector | None = None,
    ) -> None:
        self.config = config
        self.keys = config.keys
        self.fs, self.root, self.run_id = fs, root, run_id
        self.client = config.client()
        self.sole_writer = False
        self._stats = stats
        self._mutex = startup_mutex(self.client, config)
        self._token = f"{run_id}@{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @classmethod
    def for_run(
        cls,
        fs: pafs.FileSystem,
        root: str,
        run_id: str,
        settings: BaseSettings,
        stats: StatsCollector | None = None,
    ) -> RedisWriterLock:
        return cls(_config(settings), fs, root, run_id, stats)

    @classmethod
    def for_maintenance(
        cls, fs: pafs.FileSystem, root: str, token: str, settings: BaseSettings
    ) -> AbstractContextManager[None]:
        return maintenance_lock(_config(settings), fs, root, token)

    def acquire(self) -> None:
        """Register this worker; the first of a crawl keeps the start-up mutex until ``startup_done``."""
        take(self._mutex, self._token)
        try:
            self.sole_writer = not live_workers(self.client, self.keys, excluding=self.run_id)
            self._beat()
            self.client.sadd(self.keys.workers, self.run_id)
            self._heartbeat = threading.Thread(target=self._beat_until_stopped, daemon=True, name="heartbeat")
            self._heartbeat.start()
            if self.sole_writer:
                self._open_crawl()
            else:
                give_back(self._mutex)
        except BaseException:
            self.release()
            raise

    def _open_crawl(self) -> None:
        dead = dead_workers(self.client, self.keys)
        for run_id in dead:
            rolled, kept = roll_back_dead(self.client, self.keys, self.fs, self.root, run_id)
            logger.warning(
                "Worker %s died: %d uncommitted claims rolled back, %d committed kept", run_id, rolled, kept
            )
        self.client.delete(self.keys.requests, self.keys.dupefilter, self.keys.idle)
        self.client.set(self.keys.gaps, "1" if dead else "")
        self.client.set(self.keys.seeded, self.run_id)
        if self._stats is not None:
            self._stats.set_value(stat_keys.OPENED_CRAWL, 1)
        logger.info(
            "Distributed mode: run %s opens a new crawl (%d dead workers cleaned up)", self.run_id, len(dead)
        )

    def startup_done(self) -> None:
        """The first worker repaired the dataset: seed the archive index if needed, then let others join."""
        if not self.sole_writer:
            return
        try:
            if not self.client.exists(self.keys.archive_ready):
                started = time.perf_counter()
                count = seed_archive(self.client, self.keys, self.fs, self.root)
                logger.info(
                    "Seeded the Redis archive index with %d articles in %.1f s",
                    count,
                    time.perf_counter() - started,
                )
        finally:
            give_back(self._mutex)

    def previous_run_incomplete(self) -> bool:
        """Other workers' manifests say "running" while they live: the crawl's opener knows (dead workers)."""
        return bool(self.client.get(self.keys.gaps))

    def committed(self, article_ids: Iterable[str]) -> None:
        ids = list(article_ids)
        if ids:
            self.client.hdel(self.keys.pending(self.run_id), *ids)

    def set_idle(self, idle: bool) -> None:
        """Tell the other workers whether this one has nothing to do (empty scheduler, nothing in flight)."""
        if idle:
            self.client.sadd(self.keys.idle, self.run_id)
        else:
            self.client.srem(self.keys.idle, self.run_id)

    def crawl_finished(self) -> bool:
        """The shared queue is empty and every other live worker is idle: no request can come any more.

        Only a busy worker adds requests, and it flushes them to the queue before it can call itself idle, so
        the queue and the idle set are read in one transaction (a consistent snapshot). A worker that took
        the last requests but has not received their responses yet may still count as idle: then the others
        close and it finishes alone what it adds, as it is the last to see the queue empty.
        """
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(self.keys.requests)
            pipe.smembers(self.keys.workers)
            pipe.smembers(self.keys.idle)
            queued, workers, idle = pipe.execute()
        if queued:
            return False
        busy = [self.keys.heartbeat(w) for w in workers if w != self.run_id and w not in idle]
        # A registered worker whose heartbeat expired is dead: it adds nothing.
        return not busy or not self.client.exists(*busy)

    def release(self) -> None:
        """Clean close: roll back claims never written (output errors, invalid rows), deregister."""
        if self._heartbeat is None:
            give_back(self._mutex)
            return
        self._stop.set()
        self._heartbeat.join()
        self._heartbeat = None
        roll_back_dead(self.client, self.keys, self.fs, self.root, self.run_id)
        self.client.srem(self.keys.idle, self.run_id)
        self.client.delete(self.keys.heartbeat(self.run_id))
        give_back(self._mutex)

    def _beat(self) -> None:
        self.client.set(self.keys.heartbeat(self.run_id), socket.gethostname(), ex=self.config.heartbeat_ttl)

    def _beat_until_stopped(self) -> None:
        # A thread, not a reactor call: a worker busy extracting pages must still look alive.
        interval = self.config.heartbeat_ttl / HEARTBEATS_PER_TTL
        while not self._stop.wait(interval):
            try:
                self._beat()
            except redis.RedisError as error:
                logger.error("Heartbeat to Redis failed: %s", error)

    def __enter__(self) -> RedisWriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@contextmanager
def maintenance_lock(
    config: CoordinationConfig, fs: pafs.FileSystem, root: str, token: str
) -> Iterator[None]:
    """For ``scrapy compact``: the start-up mutex (no worker can start meanwhile), refused if any worker lives.

    Dead workers' claims are settled first: they are checked against part files that compaction renames.
    """
    client = config.client()
    mutex = startup_mutex(client, config)
    take(mutex, token)
    try:
        alive = live_workers(client, config.keys)
        if alive:
            raise DatasetLockedError(
                f"dataset {root} is being crawled by {len(alive)} live worker(s): {', '.join(alive)}; "
                "compact it once they have finished"
            )
        for run_id in dead_workers(client, config.keys):
            roll_back_dead(client, config.keys, fs, root, run_id)
        yield
    finally:
        give_back(mutex)


def _config(settings: BaseSettings) -> CoordinationConfig:
    config = CoordinationConfig.from_settings(settings)
    if config is None:
        raise DistributedConfigError("the Redis writer lock needs REDIS_URL=redis://host:port/db")
    return config
