"""Distributed mode: pages per second of one whole crawl with 1, 2 and 4 workers sharing a real redis-server,
and of a local crawl, against one nginx-served export; interleaved repetitions.

Two figures per crawl. With the fixed costs: wall time from the first worker's start to the last worker's exit,
so each worker's start-up (interpreter, Scrapy, registration, archive index) and its idle wait before closing
(none once every worker is idle and the queue empty, ``MAX_IDLE_TIME_BEFORE_CLOSE`` at most) are in it.
Without them: the time the workers crawled, from spider open to the moment the shared queue went empty for good
(Scrapy's ``elapsed_time_seconds`` minus the idle wait each worker records), the longest of the workers; the
local crawl's figure is its ``elapsed_time_seconds``. The target (0.8) compares one worker with the local
crawl, with and without the fixed costs. On a loaded machine those ratios favour the distributed mode (a
worker and redis-server are two processes taking turns on the CPU where the local crawl is one), so pages per
CPU second of all the processes of each crawl are reported beside them, with the CPU milliseconds per page and
the Redis commands per page (INFO commandstats: the commands Lua scripts run included).

The workers run on this machine: with 2 cores, 2 and 4 workers share the CPU that 1 worker nearly fills, so
the ratios show this machine's limit, not the scaling across machines (each worker has its own CPU there).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.crawls import children_cpu_seconds, crawl_articles, finished_stats, scrapy_arguments, scrapy_env
from bench.figures import Figure, Target, measured
from bench.server import ensure_installed, export_for_crawl, nginx
from crawler import stats as stat_keys
from tests.crawling import PROJECT_ROOT
from tests.replica.site import Site
from tests.services import redis_server

ARTICLES = 5_000
REPETITIONS = 2
WORKER_COUNTS = (1, 2, 4)
REDIS_PACKAGES = ("redis-server",)
# Long enough for a worker to pick up requests another one adds, short beside the crawl itself.
IDLE_SECONDS = 2
WORKER_TIMEOUT_SECONDS = 300
MIN_ONE_WORKER_TO_LOCAL = 0.8
LOCAL = 0


@dataclass(frozen=True, slots=True)
class Rates:
    """Pages per second of one crawl, with and without the fixed start and idle costs, and pages per CPU
    second of its processes (redis-server's included for the distributed mode)."""

    with_fixed: float
    without_fixed: float
    per_cpu_second: float
    redis_commands_per_page: float = 0.0


def run() -> list[Figure]:
    ensure_installed("redis-server", REDIS_PACKAGES)
    rates: dict[int, list[Rates]] = {count: [] for count in (LOCAL, *WORKER_COUNTS)}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch_name, ExitStack() as services:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        site = services.enter_context(nginx(scratch / "site")).base
        redis_url = services.enter_context(redis_server())
        for repetition in range(REPETITIONS):
            rates[LOCAL].append(local_rate(site, scratch / f"local-{repetition}"))
            for count in WORKER_COUNTS:
                crawl_dir = scratch / f"crawl-{count}-{repetition}"
                rates[count].append(crawl_rate(site, redis_url, count, crawl_dir))
    return _figures(rates)


def _figures(rates: dict[int, list[Rates]]) -> list[Figure]:
    local, single = rates[LOCAL], rates[1]
    figures = [
        measured("local crawl, with start-up", [r.with_fixed for r in local], "pages/s"),
        measured("local crawl, without start-up", [r.without_fixed for r in local], "pages/s"),
    ]
    for count in WORKER_COUNTS:
        figures.append(
            measured(f"distributed, {count} worker(s)", [r.with_fixed for r in rates[count]], "pages/s")
        )
        figures.append(
            measured(
                f"distributed, {count} worker(s), without start and idle",
                [r.without_fixed for r in rates[count]],
                "pages/s",
            )
        )
    figures.append(
        measured(
            "distributed 1 worker / local crawl pages/s, without start and idle",
            [one.without_fixed / base.without_fixed for one, base in zip(single, local, strict=True)],
            "ratio",
            Target(">=", MIN_ONE_WORKER_TO_LOCAL),
        )
    )
    figures.append(measured("local crawl, CPU per page", [1000 / r.per_cpu_second for r in local], "ms"))
    figures.append(
        measured(
            "distributed, 1 worker, CPU per page (redis-server's included)",
            [1000 / r.per_cpu_second for r in single],
            "ms",
        )
    )
    figures.append(
        measured(
            "distributed, 1 worker, Redis commands per page",
            [r.redis_commands_per_page for r in single],
            "commands",
        )
    )
    figures.append(
        measured(
            "distributed 1 worker / local crawl pages per CPU second (redis-server's CPU included)",
            [one.per_cpu_second / base.per_cpu_second for one, base in zip(single, local, strict=True)],
            "ratio",
        )
    )
    figures.append(
        measured(
            "distributed 1 worker / local crawl pages/s, with start and idle",
            [one.with_fixed / base.with_fixed for one, base in zip(single, local, strict=True)],
            "ratio",
            Target(">=", MIN_ONE_WORKER_TO_LOCAL),
        )
    )
    for count in WORKER_COUNTS[1:]:
        ratios = [
            many.without_fixed / one.without_fixed for many, one in zip(rates[count], single, strict=True)
        ]
        figures.append(
            measured(f"distributed {count} / 1 worker pages/s, without start and idle", ratios, "ratio")
        )
    return figures


def local_rate(site: str, scratch: Path) -> Rates:
    cpu = children_cpu_seconds()
    crawl = crawl_articles(site, scratch / "dataset")
    cpu = children_cpu_seconds() - cpu
    return Rates(crawl.responses / crawl.wall_seconds, crawl.pages_per_second, crawl.responses / cpu)


def crawl_rate(site: str, redis_url: str, workers: int, scratch: Path) -> Rates:
    """Pages per second of one crawl by ``workers`` processes into a fresh dataset, under a fresh key prefix."""
    scratch.mkdir()
    settings = {
        "PARQUET_URI": str(scratch / "dataset"),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "MAX_IDLE_TIME_BEFORE_CLOSE": str(IDLE_SECONDS),
    }
    arguments = ["crawl", "articles", "-a", f"site={site}"]
    server = redis.Redis.from_url(redis_url)
    cpu = children_cpu_seconds() + _server_cpu_seconds(server)
    commands = _server_commands(server)
    started = time.perf_counter()
    running = [_start(arguments, settings, scratch / f"worker-{index}") for index in range(workers)]
    try:
        for process, _, _ in running:
            process.wait(WORKER_TIMEOUT_SECONDS)
        wall = time.perf_counter() - started
    finally:
        for process, _, _ in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    cpu = children_cpu_seconds() + _server_cpu_seconds(server) - cpu
    commands = _server_commands(server) - commands
    stats = [finished_stats(process, arguments, stats_file, log) for process, stats_file, log in running]
    pages = sum(int(worker.get("downloader/response_count", 0)) for worker in stats)
    crawling = max(_crawling_seconds(worker) for worker in stats)
    return Rates(pages / wall, pages / crawling, pages / cpu, commands / pages)


def _server_cpu_seconds(server: redis.Redis) -> float:
    usage = server.info("cpu")
    return float(usage["used_cpu_user"]) + float(usage["used_cpu_sys"])


def _server_commands(server: redis.Redis) -> int:
    """Commands redis-server ran so far (each command of a Lua script counted, as the script call itself)."""
    return sum(int(command["calls"]) for command in server.info("commandstats").values())


def _crawling_seconds(stats: dict[str, Any]) -> float:
    return float(stats["elapsed_time_seconds"]) - float(stats.get(stat_keys.IDLE_SECONDS, 0.0))


def _start(
    arguments: list[str], settings: dict[str, str], prefix: Path
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    stats_file, log_file = prefix.with_suffix(".stats.json"), prefix.with_suffix(".log")
    command = [sys.executable, *scrapy_arguments(arguments, settings, stats_file)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
    return process, stats_file, log_file
