"""Distributed mode: pages per second of one whole crawl (first worker start to last worker exit) with 1, 2
and 4 workers sharing a real redis-server, against one nginx-served export; interleaved repetitions.

The workers run on this machine: with 2 cores, 2 and 4 workers share the CPU that 1 worker nearly fills, so
the ratios show this machine's limit, not the scaling across machines (each worker has its own CPU there).
The wall time includes each worker's start-up (interpreter, Scrapy, archive index) and its idle wait before
closing, which Scrapy checks on its 5 s idle heartbeat: a worker ends 0-5 s after ``MAX_IDLE_TIME_BEFORE_CLOSE``.
A crawl of a few thousand articles keeps that rounding to a fraction of the wall time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from bench.crawls import finished_stats, scrapy_arguments, scrapy_env
from bench.figures import Figure, measured
from bench.server import ensure_installed, export_for_crawl, nginx
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


def run() -> list[Figure]:
    ensure_installed("redis-server", REDIS_PACKAGES)
    rates: dict[int, list[float]] = {count: [] for count in WORKER_COUNTS}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch_name, ExitStack() as services:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        site = services.enter_context(nginx(scratch / "site")).base
        redis_url = services.enter_context(redis_server())
        for repetition in range(REPETITIONS):
            for count in WORKER_COUNTS:
                crawl_dir = scratch / f"crawl-{count}-{repetition}"
                rates[count].append(crawl_rate(site, redis_url, count, crawl_dir))
    single = rates[1]
    figures = [measured(f"distributed crawl, {n} worker(s)", rates[n], "pages/s") for n in WORKER_COUNTS]
    for count in WORKER_COUNTS[1:]:
        ratios = [many / one for many, one in zip(rates[count], single, strict=True)]
        figures.append(measured(f"distributed crawl {count} / 1 worker pages/s", ratios, "ratio"))
    return figures


def crawl_rate(site: str, redis_url: str, workers: int, scratch: Path) -> float:
    """Pages per second of one crawl by ``workers`` processes into a fresh dataset, under a fresh key prefix."""
    scratch.mkdir()
    settings = {
        "PARQUET_URI": str(scratch / "dataset"),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "MAX_IDLE_TIME_BEFORE_CLOSE": str(IDLE_SECONDS),
    }
    arguments = ["crawl", "articles", "-a", f"site={site}"]
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
    stats = [finished_stats(process, arguments, stats_file, log) for process, stats_file, log in running]
    return sum(int(worker.get("downloader/response_count", 0)) for worker in stats) / wall


def _start(
    arguments: list[str], settings: dict[str, str], prefix: Path
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    stats_file, log_file = prefix.with_suffix(".stats.json"), prefix.with_suffix(".log")
    command = [sys.executable, *scrapy_arguments(arguments, settings, stats_file)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
    return process, stats_file, log_file
