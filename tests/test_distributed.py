"""Distributed mode against real services: redis-server, moto's S3 server, replicas served over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest
import redis
from scrapy import Request, Spider
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import settings as project
from crawler import stats as stats_keys
from crawler.distributed.addon import ArticleDupeFilter, CloseWhenIdle, DistributedMode
from crawler.distributed.archive import ClaimLostError, RedisArchive, roll_back_dead
from crawler.distributed.coordination import CoordinationConfig, RedisWriterLock, live_workers
from crawler.distributed.keys import CrawlKeys
from crawler.distributed.queue import SharedQueue
from crawler.distributed.state import CrawlState, NotDistributedError, WorkersAliveError
from crawler.extensions.run import open_lock
from pipelines.dataset.archive import ArchiveIndex
from pipelines.dataset.lock import RemoteWithoutRedisError
from pipelines.fingerprint import text_fingerprints
from tests.crawling import FAST_SETTINGS, PROJECT_ROOT, start_crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.services import S3Server, redis_server, s3_server

WORKER_TIMEOUT_S = 300
BIG_REPLICA_ARTICLES = 1000
SMALL_REPLICA_ARTICLES = 60
# Short enough to keep the tests quick, long enough for a worker to catch requests another one adds.
IDLE_S = "3"
HEARTBEAT_TTL_S = "2"
POLL_S = 0.1


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def keys(redis_url: str) -> CrawlKeys:
    """A key prefix of its own per test: tests share the server, never a crawl."""
    return CrawlKeys(f"test-{uuid.uuid4().hex[:8]}")


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


@dataclass
class Worker:
    process: subprocess.Popen[str]
    stats_file: Path

    def finish(self) -> tuple[int, dict[str, Any], str]:
        """Wait for the worker's end; one that outlives WORKER_TIMEOUT_S is killed and reaped, never left behind."""
        try:
            _, log = self.process.communicate(timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise
        stats = json.loads(self.stats_file.read_text(encoding="utf-8")) if self.stats_file.exists() else {}
        return self.process.returncode, stats, log


def start_worker(
    scratch: Path,
    site: str,
    dataset: str,
    redis_url: str,
    keys: CrawlKeys,
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Worker:
    """``scrapy crawl articles`` as a user starts it on each machine, in a subprocess."""
    stats_file = scratch / f"stats-{uuid.uuid4().hex[:8]}.json"
    merged = {
        **FAST_SETTINGS,
        "PARQUET_URI": dataset,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": keys.prefix,
        "MAX_IDLE_TIME_BEFORE_CLOSE": IDLE_S,
        "DISTRIBUTED_HEARTBEAT_TTL": HEARTBEAT_TTL_S,
        "STATS_JSON": str(stats_file),
        **(settings or {}),
    }
    process = start_crawl(
        site,
        args=args,
        settings=merged,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Worker(process, stats_file)


def read_rows(dataset: str, filesystem: pafs.FileSystem | None = None) -> pa.Table:
    return pads.dataset(dataset, format="parquet", partitioning="hive", filesystem=filesystem).to_table(
        columns=["article_id", "version", "title", "body_text", "edition"]
    )


def assert_each_article_once(rows: pa.Table, truth: list[dict[str, Any]], context: object = None) -> None:
    """One row per article; an article of the truth (any edition) is missing only when its text, as the
    pipeline fingerprints it, was written under another id (a ``duplicate_content`` drop)."""
    ids = rows.column("article_id").to_pylist()
    assert len(ids) == len(set(ids)), "an article was written twice"
    titles, bodies = rows.column("title").to_pylist(), rows.column("body_text").to_pylist()
    written = {text_fingerprints(title, body)[0] for title, body in zip(titles, bodies, strict=True)}
    hashes: dict[str, set[str]] = {}
    for article in truth:
        hashes.setdefault(article["article_id"], set()).add(
            text_fingerprints(article["title"], article["body_text"])[0]
        )
    for article_id in set(hashes) - set(ids):
        assert hashes[article_id] & written, (article_id, context)


def gb_truth(articles: int) -> list[dict[str, Any]]:
    return [a for a in Site(articles=articles, seed=0).truth() if a["edition"] == "gb"]


@pytest.fixture(scope="module")
def big_replica() -> Iterator[str]:
    with serve_replica(articles=BIG_REPLICA_ARTICLES, seed=0) as base_url:
        yield base_url


# ---- pieces -------------------------------------------------------------------------------------------------


def test_without_redis_url_the_addon_changes_nothing() -> None:
    settings = Settings({"SCHEDULER": "scrapy.core.scheduler.Scheduler"})
    DistributedMode().update_settings(settings)
    assert settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
    assert "DUPEFILTER_CLASS" not in settings or "scrapy_redis" not in str(settings["DUPEFILTER_CLASS"])


def test_a_bad_redis_url_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        DistributedMode().update_settings(Settings({"REDIS_URL": "localhost:6379"}))


def test_dupefilter_fingerprints_articles_by_id_and_lists_by_url() -> None:
    # A pure function of the request: no server is needed (nor contacted) to compute it.
    fingerprint = ArticleDupeFilter(server=None, key="unused").request_fingerprint
    gb = fingerprint(Request("http://127.0.0.1:1/gb/21/12/30/n13470319.htm"))
    b5 = fingerprint(Request("https://www.epochtimes.com/b5/21/12/30/n13470319.htm?utm_source=x"))
    lists = {fingerprint(Request(f"http://127.0.0.1:1/gb/{page}.htm")) for page in ("nsc413", "nsc413_2")}
    assert gb == b5 == "article:n13470319"
    assert len(lists) == 2 and gb not in lists


def test_dupefilter_keys_articles_by_id_and_lists_by_url(redis_url: str, keys: CrawlKeys) -> None:
    dupefilter = ArticleDupeFilter(client(redis_url), key=keys.dupefilter)
    gb = Request("http://127.0.0.1:1/gb/21/12/30/n13470319.htm")
    b5 = Request("https://www.epochtimes.com/b5/21/12/30/n13470319.htm?utm_source=x")
    assert not dupefilter.request_seen(gb)
    assert dupefilter.request_seen(b5)
    assert not dupefilter.request_seen(Request("http://127.0.0.1:1/gb/nsc413.htm"))
    assert not dupefilter.request_seen(Request("http://127.0.0.1:1/gb/nsc413_2.htm"))


def test_s3_without_redis_is_a_clear_error() -> None:
    s3 = pafs.S3FileSystem(endpoint_override="http://127.0.0.1:9", scheme="http", anonymous=True)
    with pytest.raises(RemoteWithoutRedisError, match="REDIS_URL"):
        open_lock(s3, "bucket/articles", "run")


def test_claims_are_atomic_and_a_dead_workers_uncommitted_claims_roll_back(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    redis_client = client(redis_url)
    first = RedisArchive(redis_client, keys, "run-a", ArchiveIndex.empty())
    second = RedisArchive(redis_client, keys, "run-b", ArchiveIndex.empty())
    first.add("n1", 1, "aa" * 32, 0)
    with pytest.raises(ClaimLostError) as lost:
        second.add("n1", 1, "bb" * 32, 0)
    assert lost.value.reason == "duplicate"
    with pytest.raises(ClaimLostError) as same_text:
        second.add("n2", 1, "aa" * 32, 0)
    assert same_text.value.reason == "duplicate_content"
    second.add("n3", 1, "cc" * 32, 0)
    first.add("n3", 2, "dd" * 32, 0)
    # run-a dies with nothing committed: n1 is forgotten and n3 falls back to run-b's version 1.
    rolled, kept = roll_back_dead(redis_client, keys, pafs.LocalFileSystem(), str(tmp_path), "run-a")
    assert (rolled, kept) == (2, 0)
    assert first.latest("n1") is None and first.find_hash("aa" * 32) is None
    latest = first.latest("n3")
    assert latest is not None and latest.version == 1
    # What the dedupe pipeline asks per item, in one round trip: the same answers as the two questions.
    assert first.lookup("n3", ["aa" * 32]) == (latest, None)
    assert first.lookup("n9", ["cc" * 32]) == (None, "n3")
    assert first.lookup("n9", ["ee" * 32, "cc" * 32]) == (None, "n3")
    assert first.lookup("n9", ["ee" * 32]) == (None, None)
    # Neither the id nor the text was known: the lookup claimed version 1, which add then confirms.
    with pytest.raises(ClaimLostError):
        second.add("n9", 1, "ff" * 32, 0)
    first.add("n9", 1, "ee" * 32, 0)
    assert first.latest("n9") == second.latest("n9") and "n9" in first
    assert roll_back_dead(redis_client, keys, pafs.LocalFileSystem(), str(tmp_path), "run-a") == (1, 0)
    assert first.latest("n9") is None and first.find_hash("ee" * 32) is None


# ---- crawls -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_three_workers_write_each_article_exactly_once(
    big_replica: str, redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    dataset = str(tmp_path / "articles")
    workers = [start_worker(tmp_path, big_replica, dataset, redis_url, keys) for _ in range(3)]
    results = [worker.finish() for worker in workers]
    for code, _, log in results:
        assert code == 0, log[-3000:]
    failures = [
        {k: v for k, v in stats.items() if "failed" in k or "dropped" in k} for _, stats, _ in results
    ]
    assert sum(stats.get("distributed/opened_crawl", 0) for _, stats, _ in results) == 1
    written = [stats.get("parquet/rows_written", 0) for _, stats, _ in results]
    rows = read_rows(dataset)
    assert sum(written) == rows.num_rows
    # Which worker gets which request is up to the shared queue (a late starter may find it drained on 2 cores);
    # what matters is that the work was shared and that no article was written twice.
    assert sum(count > 0 for count in written) >= 2, f"the workers did not share the crawl: {written}"
    assert_each_article_once(rows, gb_truth(BIG_REPLICA_ARTICLES), context=failures)
    assert_each_worker_captures_into_its_own_files(tmp_path / "warc", dataset, [s for _, s, _ in results])


def assert_each_worker_captures_into_its_own_files(
    captures: Path, dataset: str, stats: list[dict[str, Any]]
) -> None:
    """WARC capture (on by default, ``warc`` next to the dataset): files named by each worker's run, and every
    row points into a committed file of the worker that wrote it."""
    # A worker that found the shared queue drained received nothing, so it has nothing to capture.
    run_ids = {str(s["run/id"]) for s in stats if s.get(stats_keys.WARC_RESPONSES_CAPTURED, 0) > 0}
    assert len(run_ids) >= 2, "the workers that shared the crawl captured what they received"
    files = sorted(captures.glob("*.warc.gz"))
    assert {f.name.removeprefix("capture-").rsplit("-", 1)[0] for f in files} == run_ids
    assert not list(captures.glob(".*")), "every worker committed its last capture file"
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table(
        columns=["run_id", "warc_file"]
    )
    for run_id, warc_file in zip(
        table.column("run_id").to_pylist(), table.column("warc_file").to_pylist(), strict=True
    ):
        assert Path(warc_file).name.startswith(f"capture-{run_id}-") and Path(warc_file) in files


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(POLL_S)


@pytest.mark.slow
def test_a_killed_worker_does_not_stop_the_others_and_a_rerun_completes(
    big_replica: str, redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    dataset = str(tmp_path / "articles")
    redis_client = client(redis_url)
    small_flushes = {"PARQUET_FLUSH_ROWS": "40"}
    victim = start_worker(tmp_path, big_replica, dataset, redis_url, keys, settings=small_flushes)
    wait_until(lambda: redis_client.hlen(keys.archive_ids) > 0, "the first worker claims an article")
    others = [start_worker(tmp_path, big_replica, dataset, redis_url, keys) for _ in range(2)]
    wait_until(lambda: redis_client.hlen(keys.archive_ids) > 300, "the crawl is well under way")
    victim.process.send_signal(signal.SIGKILL)
    victim.process.communicate()
    # Every worker ends before any is judged: a failing one must not leave the others running.
    for code, _, log in [worker.finish() for worker in others]:
        assert code == 0, log[-3000:]
    wait_until(lambda: not live_workers(redis_client, keys), "the killed worker's heartbeat expires")

    code, stats, log = start_worker(tmp_path, big_replica, dataset, redis_url, keys).finish()

    assert code == 0, log[-3000:]
    assert stats.get("distributed/opened_crawl") == 1
    assert "died" in log
    assert_each_article_once(read_rows(dataset), gb_truth(BIG_REPLICA_ARTICLES))


def s3_filesystem(server: S3Server) -> pafs.S3FileSystem:
    env = server.environment()
    return pafs.S3FileSystem(
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        endpoint_override=server.endpoint,
        scheme="http",
    )


@pytest.mark.slow
def test_one_worker_per_edition_into_one_s3_dataset_then_compact(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    with s3_server() as server, serve_replica(articles=SMALL_REPLICA_ARTICLES, seed=0) as site:
        bucket = server.new_bucket()
        uri = f"s3://{bucket}/articles"
        env = server.environment()
        small_flushes = {"PARQUET_FLUSH_ROWS": "10"}
        workers = [
            start_worker(
                tmp_path,
                site,
                uri,
                redis_url,
                keys,
                args={"editions": edition},
                settings=small_flushes,
                env=env,
            )
            for edition in ("gb", "b5")
        ]
        for code, _, log in [worker.finish() for worker in workers]:
            assert code == 0, log[-3000:]
        filesystem = s3_filesystem(server)
        rows = read_rows(f"{bucket}/articles", filesystem)
        truth = list(Site(articles=SMALL_REPLICA_ARTICLES, seed=0).truth())
        assert_each_article_once(rows, truth)

        compact_command = [sys.executable, "-m", "scrapy", "compact", "-s", f"PARQUET_URI={uri}"]
        compact_command += ["-s", f"REDIS_URL={redis_url}", "-s", f"REDIS_KEY_PREFIX={keys.prefix}"]
        compacted = subprocess.run(
            compact_command,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
        assert compacted.returncode == 0, compacted.stderr[-3000:]
        after = read_rows(f"{bucket}/articles", filesystem)
        assert sorted(after.column("article_id").to_pylist()) == sorted(rows.column("article_id").to_pylist())
        files = [f for f in pads.dataset(f"{bucket}/articles", filesystem=filesystem, format="parquet").files]
        partitions = [path.rsplit("/", 1)[0] for path in files]
        assert len(partitions) == len(set(partitions)), "a partition still has several part files"


def test_coordination_config_is_off_without_redis_url() -> None:
    assert CoordinationConfig.from_settings(Settings()) is None
    lock = open_lock(pafs.LocalFileSystem(), "/nonexistent/dataset", "run", Settings())
    assert not lock.sole_writer, "a local lock is not held before acquire()"


def test_the_add_on_swaps_the_dataset_lock_and_archive_index_by_setting(redis_url: str) -> None:
    local = Settings()
    DistributedMode.update_pre_crawler_settings(local)
    assert local.get("DATASET_LOCK_CLASS") is None and local.get("ARCHIVE_INDEX_CLASS") is None
    # A project setting would beat the add-on: the defaults are in the code, not in crawler/settings.py.
    assert not hasattr(project, "DATASET_LOCK_CLASS") and not hasattr(project, "ARCHIVE_INDEX_CLASS")
    settings = Settings({"REDIS_URL": redis_url})
    DistributedMode.update_pre_crawler_settings(settings)
    assert settings.get("DATASET_LOCK_CLASS") == "crawler.distributed.coordination.RedisWriterLock"
    assert settings.get("ARCHIVE_INDEX_CLASS") == "crawler.distributed.archive.RedisArchive"
    assert settings.get("REFRESH_STATE_CLASS") == "crawler.distributed.refresh_state.RedisRefreshState"
    lock = open_lock(pafs.LocalFileSystem(), "/nonexistent/dataset", "run", settings)
    assert type(lock).__name__ == "RedisWriterLock"


def test_crawlstate_shows_the_crawl_and_refuses_a_reset_while_a_worker_lives(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    settings = Settings({"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": keys.prefix})
    redis_client = client(redis_url)
    redis_client.sadd(keys.workers, "run-a")
    redis_client.set(keys.heartbeat("run-a"), "host", ex=60)
    redis_client.set(keys.seeded, "run-a")
    state = CrawlState(settings)
    assert "seeded by:        run-a" in state.lines()
    assert "live workers:     1 run-a" in state.lines()
    assert "idle workers:     -" in state.lines()
    redis_client.sadd(keys.idle, "run-a")
    assert "idle workers:     run-a" in state.lines()
    with pytest.raises(WorkersAliveError, match="run-a"):
        state.reset(archive=False)
    assert redis_client.get(keys.seeded) == "run-a"
    redis_client.delete(keys.heartbeat("run-a"))
    assert keys.seeded in state.reset(archive=False)
    assert redis_client.get(keys.seeded) is None
    with pytest.raises(NotDistributedError, match="REDIS_URL"):
        CrawlState(Settings())


@contextlib.contextmanager
def two_workers(
    redis_url: str, keys: CrawlKeys, root: Path
) -> Iterator[tuple[RedisWriterLock, RedisWriterLock]]:
    """The registries of two live workers of one crawl, ``run-a`` (started first) and ``run-b``."""
    settings = Settings({"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": keys.prefix})
    first, second = (
        RedisWriterLock.for_run(pafs.LocalFileSystem(), str(root), run_id, settings)
        for run_id in ("run-a", "run-b")
    )
    first.acquire()
    first.startup_done()
    second.acquire()
    try:
        yield first, second
    finally:
        second.release()
        first.release()


def test_the_crawl_is_finished_when_the_queue_is_empty_and_every_live_worker_idle(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    with two_workers(redis_url, keys, tmp_path) as (first, second):
        redis_client = client(redis_url)
        first.set_idle(True)
        assert not first.crawl_finished(), "run-b is busy: it may still add requests"
        second.set_idle(True)
        queue = SharedQueue(redis.Redis.from_url(redis_url), Spider("s"), keys.requests)
        queue.push(Request("http://127.0.0.1:1/gb/nsc413.htm"))
        assert not first.crawl_finished(), "a request is queued"
        # Taking requests takes the worker out of the idle set in the same step.
        assert len(queue.pop_many(8, keys.idle, "run-b")) == 1
        assert not first.crawl_finished(), "run-b took a request"
        second.set_idle(True)
        assert first.crawl_finished() and second.crawl_finished()
        second.set_idle(False)
        redis_client.delete(keys.heartbeat("run-b"))
        assert first.crawl_finished(), "a busy worker whose heartbeat expired is dead: it adds nothing"
    assert not redis_client.smembers(keys.idle)


class IdleWatch(CloseWhenIdle):
    """The extension of a worker whose registry is ``lock`` (a real one; its crawl writes no dataset here)."""

    def __init__(self, lock: RedisWriterLock) -> None:
        super().__init__(get_crawler(Spider), max_idle=3600)
        self.lock = lock

    def _registry(self) -> RedisWriterLock:
        return self.lock


def test_an_idle_worker_is_idle_again_after_taking_a_request_that_never_got_a_response(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    """Taking requests leaves the idle set; a request the engine took and a downloader middleware ignored gives
    no signal that the worker was busy. Its next idle call must put it back, or the others wait for it."""
    with two_workers(redis_url, keys, tmp_path) as (first, second):
        watch = IdleWatch(first)
        with pytest.raises(DontCloseSpider):
            watch.spider_idle()
        queue = SharedQueue(redis.Redis.from_url(redis_url), Spider("s"), keys.requests)
        queue.push(Request("http://127.0.0.1:1/gb/nsc413.htm"))
        assert len(queue.pop_many(8, keys.idle, "run-a")) == 1
        assert not second.crawl_finished(), "run-a holds a request"
        with pytest.raises(DontCloseSpider):
            watch.spider_idle()
        second.set_idle(True)
        assert second.crawl_finished()


@pytest.mark.slow
def test_a_lone_worker_closes_when_its_crawl_is_done_without_the_idle_wait(
    redis_url: str, keys: CrawlKeys, tmp_path: Path
) -> None:
    with serve_replica(articles=SMALL_REPLICA_ARTICLES, seed=0) as site:
        # An hour: only the crawl's end, seen at once, lets this worker stop within the test's timeout.
        worker = start_worker(
            tmp_path,
            site,
            str(tmp_path / "articles"),
            redis_url,
            keys,
            settings={"MAX_IDLE_TIME_BEFORE_CLOSE": "3600"},
        )
        code, stats, log = worker.finish()
    assert code == 0, log[-3000:]
    assert stats["parquet/rows_written"] > 0
    assert "every worker idle" in log
