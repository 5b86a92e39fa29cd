"""Crawls in a subprocess, as cron runs them, with their wall time, peak RSS and final Scrapy stats."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tests.crawling import FAST_SETTINGS, PROJECT_ROOT

# Polled rather than read from wait4's ru_maxrss, which Linux carries over from the parent at fork (the bench
# process itself, already large after the archive figure).
RSS_POLL_SECONDS = 0.05
QUIET_SETTINGS = {**FAST_SETTINGS, "LOG_LEVEL": "WARNING"}


@dataclass(frozen=True, slots=True)
class CrawlRun:
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    stats: dict[str, Any]

    @property
    def responses(self) -> int:
        return int(self.stats.get("downloader/response_count", 0))

    @property
    def requests(self) -> int:
        return int(self.stats.get("downloader/request_count", 0))

    @property
    def engine_seconds(self) -> float:
        """Spider open to spider closed (pipelines included), without interpreter and Scrapy start-up."""
        return float(self.stats["elapsed_time_seconds"])

    @property
    def pages_per_second(self) -> float:
        return self.responses / self.engine_seconds


def children_cpu_seconds() -> float:
    """User + system CPU of every child process waited for so far (their own waited-for children included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_scrapy(arguments: list[str], settings: dict[str, str], python: list[str] | None = None) -> CrawlRun:
    """`python -m scrapy ARGUMENTS -s ...` from the project root (`python` may wrap the interpreter in a
    profiler); raises if the run fails."""
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as scratch:
        stats_file = Path(scratch) / "stats.json"
        log_file = Path(scratch) / "log.txt"
        command = [*(python or [sys.executable]), *scrapy_arguments(arguments, settings, stats_file)]
        with log_file.open("wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
            peak = _peak_rss(process)
            wall = time.perf_counter() - started
        stats = finished_stats(process, arguments, stats_file, log_file)
    return CrawlRun(process.returncode, wall, peak, stats)


def scrapy_arguments(arguments: list[str], settings: dict[str, str], stats_file: Path) -> list[str]:
    """``-m scrapy ARGUMENTS -s ...`` with the quiet bench settings and the final stats written to
    ``stats_file``."""
    command = ["-m", "scrapy", *arguments]
    merged = {**QUIET_SETTINGS, **settings, "STATS_JSON": str(stats_file)}
    if "PARQUET_URI" in merged:
        # Captures (on by default, as for users) next to the dataset, never in the project's output/.
        merged.setdefault("WARC_URI", f"{merged['PARQUET_URI']}-warc")
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    return command


def scrapy_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def finished_stats(
    process: subprocess.Popen[bytes], arguments: list[str], stats_file: Path, log_file: Path
) -> dict[str, Any]:
    """The final stats of an exited scrapy process; raises with the log's tail if it failed."""
    if process.returncode != 0 or not stats_file.exists():
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"scrapy {' '.join(arguments)} exited with {process.returncode}:\n{tail}")
    stats: dict[str, Any] = json.loads(stats_file.read_text(encoding="utf-8"))
    return stats


def _peak_rss(process: subprocess.Popen[bytes]) -> int:
    """The largest resident set size seen while waiting for `process` to exit."""
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            peak = max(peak, watched.memory_info().rss)
        time.sleep(RSS_POLL_SECONDS)
    return peak


def crawl_articles(site: str, dataset: Path, settings: dict[str, str] | None = None) -> CrawlRun:
    """The real `scrapy crawl articles` with every pipeline and Parquet output (gb edition)."""
    return run_scrapy(
        ["crawl", "articles", "-a", f"site={site}"], {"PARQUET_URI": str(dataset), **(settings or {})}
    )


def compact(dataset: Path) -> None:
    """`scrapy compact` on `dataset`, as users run it."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "scrapy", "compact", "-s", f"PARQUET_URI={dataset}"]
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
