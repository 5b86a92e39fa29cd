"""`scrapy rebuild` on every core: articles per second from captures to committed Parquet with one worker
process and with two, side by side (interleaved repetitions over the same captures), their ratio, and the peak
memory of all its processes for 2,000 versus 20,000 captures.

The captures are the WARC files of one crawl of the replica's static export (nginx), so the rebuild reads what a
crawl wrote; rates are over the engine's time (the run opened to the run closed), interpreter start-up left out.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.crawls import RSS_POLL_SECONDS, crawl_articles, finished_stats, scrapy_arguments, scrapy_env
from bench.figures import Figure, Target, measured
from bench.server import export_for_crawl, nginx
from tests.crawling import PROJECT_ROOT
from tests.replica.site import Site

SMALL = 2_000
LARGE = 20_000
REPETITIONS = 3
PROCESS_COUNTS = (1, 2)
MIB = 1 << 20
ONE_PROCESS_TARGET = Target(">=", 1_000)
SPEED_UP_TARGET = Target(">=", 1.7)
MEMORY_TARGET = Target("<=", 1.3)


def run() -> list[Figure]:
    rates: dict[int, list[float]] = {n: [] for n in PROCESS_COUNTS}
    peaks: dict[int, list[float]] = {SMALL: [], LARGE: []}
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as scratch_name:
        scratch = Path(scratch_name)
        captures = {size: _captures(scratch, size) for size in (SMALL, LARGE)}
        site = captures[SMALL][0]
        for repetition in range(REPETITIONS):
            for processes in PROCESS_COUNTS:
                target = scratch / f"rebuilt-{processes}-{repetition}"
                rate, peak = _rebuild(site, captures[SMALL][1], target, processes)
                rates[processes].append(rate)
                if processes == max(PROCESS_COUNTS):
                    peaks[SMALL].append(peak)
        large_site, large_captures = captures[LARGE]
        _, peak = _rebuild(large_site, large_captures, scratch / "rebuilt-large", max(PROCESS_COUNTS))
        peaks[LARGE].append(peak)
    one, two = rates[1], rates[2]
    return [
        measured("rebuild, 1 process", one, "articles/s", ONE_PROCESS_TARGET),
        measured("rebuild, 2 processes", two, "articles/s"),
        measured(
            "rebuild 2 / 1 processes articles/s",
            [b / a for a, b in zip(one, two, strict=True)],
            "ratio",
            SPEED_UP_TARGET,
        ),
        measured(f"rebuild peak RSS, all processes, {SMALL:,} captures", peaks[SMALL], "MiB"),
        measured(f"rebuild peak RSS, all processes, {LARGE:,} captures", peaks[LARGE], "MiB"),
        measured(
            f"rebuild peak RSS {LARGE:,} / {SMALL:,} captures",
            [peaks[LARGE][0] / small for small in peaks[SMALL]],
            "ratio",
            MEMORY_TARGET,
        ),
    ]


def _captures(scratch: Path, articles: int) -> tuple[str, Path]:
    """A crawl of a replica of ``articles`` articles with capture on; the site's address and the captures."""
    export_for_crawl(Site(articles=articles), scratch / f"site-{articles}")
    captures = scratch / f"warc-{articles}"
    with nginx(scratch / f"site-{articles}") as server:
        crawl_articles(server.base, scratch / f"crawl-{articles}", {"WARC_URI": str(captures)})
        return server.base, captures


def _rebuild(site: str, captures: Path, target: Path, processes: int) -> tuple[float, float]:
    """Articles per second of `scrapy rebuild` (start-up excluded) and the peak RSS of all its processes (MiB)."""
    settings = {"WARC_URI": str(captures), "PARQUET_URI": str(target), "WARC_PROCESSES": str(processes)}
    arguments = ["rebuild", "-a", f"site={site}"]
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-run-") as run_scratch:
        stats_file, log_file = Path(run_scratch) / "stats.json", Path(run_scratch) / "log.txt"
        command = [sys.executable, *scrapy_arguments(arguments, settings, stats_file)]
        with log_file.open("wb") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
            peak = _peak_rss_with_children(process)
        stats = finished_stats(process, arguments, stats_file, log_file)
    return float(stats["articles/pages"]) / float(stats["elapsed_time_seconds"]), peak / MIB


def _peak_rss_with_children(process: subprocess.Popen[bytes]) -> int:
    """The largest sum of resident set sizes of `process` and its descendants (the worker processes)."""
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            family = [watched, *watched.children(recursive=True)]
            total = 0
            for member in family:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                    total += member.memory_info().rss
            peak = max(peak, total)
        time.sleep(RSS_POLL_SECONDS)
    return peak
