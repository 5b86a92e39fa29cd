"""Writers of one dataset coordinating through Redis (distributed mode), in place of the local ``flock``.

Each worker registers under a start-up mutex (``SET NX`` with a TTL) and keeps a heartbeat key alive. The
worker that finds no other live worker opens a new crawl: it alone repairs the dataset (as the local lock
holder does), rolls back what dead workers claimed but never committed, seeds the shared archive index from
the dataset when Redis has none, clears the previous crawl's queue and dupefilter, and lets the start pages through
(the shared dupefilter drops later copies). The others join. ``scrapy compact`` takes the same mutex and refuses while any worker is alive.

Claims (see ``crawler.distributed.archive``): a worker claims ``(article_id, version)`` atomically before writing
and records the claim in its ``pending`` hash; once the row is in a committed part file the claim leaves the
hash. A dead worker's pending claims are rolled back, except those whose row its part files
(``part-<run_id>-*``) do hold, so a rerun fetches exactly what it lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import redis
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler import stats as stat_keys
from crawler.config import positive_int
from crawler.distributed.keys import CrawlKeys, DistributedConfigError, redis_url
from pipelines.dataset import storage
from pipelines.dataset.archive import read_index_columns
from pipelines.dataset.lock import DatasetLockedError

logger = logging.getLogger(__name__)

HEARTBEAT_TTL_SETTING = "DISTRIBUTED_HEARTBEAT_TTL"
DEFAULT_HEARTBEAT_TTL_S = 60
HEARTBEATS_PER_TTL = 4
STARTUP_TIMEOUT_SETTING = "DISTRIBUTED_STARTUP_TIMEOUT"
# Long enough for the first worker to seed the index of a large archive from the dataset.
DEFAULT_STARTUP_TIMEOUT_S = 1800
STARTUP_POLL_S = 0.2
SEED_BATCH = 10_000
CLAIM_SEPARATOR = "|"

# Undo one dead claim if the index still holds it: restore the previous "version:hash" (or forget the id) and
# release the content hash if the claim had taken it.
_ROLL_BACK_CLAIM = """
local ids, hashes = KEYS[1], KEYS[2]
local article_id, claimed, previous = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', ids, article_id) ~= claimed then return 0 end
if previous == '' then redis.call('HDEL', ids, article_id) else redis.call('HSET', ids, article_id, previous) end
local hash = string.match(claimed, ':(.*)$')
if redis.call('HGET', hashes, hash) == article_id then redis.call('HDEL', hashes, hash) end
return 1
"""


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


class StartupMutex:
    """``SET NX PX`` mutex with an owner token, so that only its holder can release it."""

    def __init__(self, client: redis.Redis, key: str, token: str, timeout: int) -> None:
        self.client, self.key, self.token, self.timeout = client, key, token, timeout

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.client.set(self.key, self.token, nx=True, ex=self.timeout):
            if time.monotonic() > deadline:
                holder = str(self.client.get(self.key))
                raise DatasetLockedError(
                    f"Redis key {self.key} held by {holder} for over {self.timeout} s: a worker or "
                    "compaction is starting; if it died, delete the key (scrapy crawlreset)"
                )
            time.sleep(STARTUP_POLL_S)

    def release(self) -> None:
        # Compare-and-delete: after a TTL expiry the key may belong to someone else.
        self.client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            self.key,
            self.token,
        )


def live_workers(client: redis.Redis, keys: CrawlKeys, excluding: str | None = None) -> list[str]:
    members = sorted(str(m) for m in client.smembers(keys.workers))
    return [m for m in members if m != excluding and client.exists(keys.heartbeat(m))]


def dead_workers(client: redis.Redis, keys: CrawlKeys) -> list[str]:
    members = sorted(str(m) for m in client.smembers(keys.workers))
    return [m for m in members if not client.exists(keys.heartbeat(m))]


def committed_ids(fs: pafs.FileSystem, root: str, run_id: str) -> set[str]:
    """``article_id:version`` of every row in the part files ``run_id`` committed."""
    files = [
        info.path
        for info in storage.list_files(fs, root)
        if info.base_name.startswith(f"part-{run_id}-") and info.base_name.endswith(storage.DATA_SUFFIX)
    ]
    if not files:
        return set()
    table = pads.dataset(files, format="parquet", filesystem=fs).to_table(columns=["article_id", "version"])
    keys = pc.binary_join_element_wise(table["article_id"], pc.cast(table["version"], "string"), ":")
    return {str(k) for k in keys.to_pylist()}


def roll_back_dead(
    client: redis.Redis, keys: CrawlKeys, fs: pafs.FileSystem, root: str, run_id: str
) -> tuple[int, int]:
    """Undo a dead worker's uncommitted claims; returns (rolled back, kept because committed)."""
    pending = client.hgetall(keys.pending(run_id))
    committed = committed_ids(fs, root, run_id) if pending else set()
    script = client.register_script(_ROLL_BACK_CLAIM)
    rolled = kept = 0
    for raw_id, record in pending.items():
        article_id = str(raw_id)
        claimed, previous = str(record).split(CLAIM_SEPARATOR, 1)
        if f"{article_id}:{claimed.split(':', 1)[0]}" in committed:
            kept += 1
            continue
        rolled += int(
            script(keys=[keys.archive_ids, keys.archive_hashes], args=[article_id, claimed, previous])
        )
    client.delete(keys.pending(run_id))
    client.srem(keys.workers, run_id)
    return rolled, kept


def seed_archive(client: redis.Redis, keys: CrawlKeys, fs: pafs.FileSystem, root: str) -> int:
    """Load ids, latest versions and content hashes from the dataset into Redis; returns the article count."""
    client.delete(*keys.archive_state())
    latest: dict[str, tuple[int, str]] = {}
    for batch in read_index_columns(fs, root):
        for article_id, version, content_hash in zip(
            batch.column("article_id").to_pylist(),
            batch.column("version").to_pylist(),
            batch.column("content_hash").to_pylist(),
            strict=True,
        ):
            known = latest.get(article_id)
            if known is None or version > known[0]:
                latest[article_id] = (version, content_hash or "")
    items = list(latest.items())
    for start in range(0, len(items), SEED_BATCH):
        chunk = items[start : start + SEED_BATCH]
        with client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.archive_ids, mapping={a: f"{v}:{h}" for a, (v, h) in chunk})
            for article_id, (_, content_hash) in chunk:
                if content_hash:
                    pipe.hsetnx(keys.archive_hashes, content_hash, article_id)
            pipe.execute()
    client.set(keys.archive_ready, len(items))
    return len(items)


class RedisCoordination:
    """The exporter's writer lock in distributed mode; see the module docstring."""

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
        self.has_gaps = False
        self._stats = stats
        self._mutex = StartupMutex(
            self.client,
            self.keys.startup,
            f"{run_id}@{socket.gethostname()}:{os.getpid()}",
            config.startup_timeout,
        )
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._heartbeat is not None

    def acquire(self) -> None:
        """Register this worker; the first of a crawl keeps the start-up mutex until ``startup_done``."""
        self._mutex.acquire()
        try:
            self.sole_writer = not live_workers(self.client, self.keys, excluding=self.run_id)
            self._beat()
            self.client.sadd(self.keys.workers, self.run_id)
            self._heartbeat = threading.Thread(target=self._beat_until_stopped, daemon=True, name="heartbeat")
            self._heartbeat.start()
            if self.sole_writer:
                self._open_crawl()
            else:
                self.has_gaps = bool(self.client.get(self.keys.gaps))
                self._mutex.release()
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
        self.has_gaps = bool(dead)
        self.client.delete(self.keys.requests, self.keys.dupefilter)
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
            self._mutex.release()

    def committed(self, article_ids: Iterable[str]) -> None:
        ids = list(article_ids)
        if ids:
            self.client.hdel(self.keys.pending(self.run_id), *ids)

    def release(self) -> None:
        """Clean close: roll back claims never written (output errors, invalid rows), deregister."""
        if self._heartbeat is None:
            self._mutex.release()
            return
        self._stop.set()
        self._heartbeat.join()
        self._heartbeat = None
        roll_back_dead(self.client, self.keys, self.fs, self.root, self.run_id)
        self.client.delete(self.keys.heartbeat(self.run_id))
        self._mutex.release()

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

    def __enter__(self) -> RedisCoordination:
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
    mutex = StartupMutex(client, config.keys.startup, token, config.startup_timeout)
    mutex.acquire()
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
        mutex.release()
