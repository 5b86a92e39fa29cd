"""`scrapy rebuild` on every core: articles per second from captures to committed Parquet with one worker
process and with two, side by side (interleaved repetitions over the same captures), their ratio (also once on
20,000 captures, where what runs in one process alone, before the first page and after the last, weighs less),
and the peak memory of all its processes for 2,000 versus 20,000 captures.

The captures are the WARC files of one crawl of the replica's static export (nginx), so the rebuild reads what a
crawl wrote; rates are over the engine's time (the run opened to the run closed), interpreter start-up left out.
On a machine shared with other work the wall-clock ratio says little (two processes get no more CPU than one
when the cores are busy), so the CPU each run spent per article is reported too, with the ratio it gives on two
idle cores: one process's CPU per article over the larger of the two processes' CPU halved and the sequential
stage's own (which no second core shortens).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.crawls import RSS_POLL_SECONDS, crawl_articles, finished_stats, scrapy_arguments, scrapy_env
from bench.figures import Figure, Target, measured
from bench.server import export_for_crawl, nginx
from crawler import stats as keys
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


@dataclass(frozen=True, slots=True)
class Rebuilt:
    articles_per_second: float
    peak_rss_mib: float
    # CPU milliseconds per article page: in the worker processes (inline for one) and in the sequential stage.
    worker_cpu_ms: float
    main_cpu_ms: float

    @property
    def cpu_ms(self) -> float:
        return self.worker_cpu_ms + self.main_cpu_ms


def run() -> list[Figure]:
    runs: dict[int, list[Rebuilt]] = {n: [] for n in PROCESS_COUNTS}
    peaks: dict[int, list[float]] = {SMALL: [], LARGE: []}
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as scratch_name:
        scratch = Path(scratch_name)
        captures = {size: _captures(scratch, size) for size in (SMALL, LARGE)}
        site = captures[SMALL][0]
        for repetition in range(REPETITIONS):
            for processes in PROCESS_COUNTS:
                target = scratch / f"rebuilt-{processes}-{repetition}"
                runs[processes].append(_rebuild(site, captures[SMALL][1], target, processes))
        peaks[SMALL] = [r.peak_rss_mib for r in runs[max(PROCESS_COUNTS)]]
        large_site, large_captures = captures[LARGE]
        large_one = _rebuild(large_site, large_captures, scratch / "rebuilt-large-1", 1)
        large = _rebuild(large_site, large_captures, scratch / "rebuilt-large", max(PROCESS_COUNTS))
        peaks[LARGE].append(large.peak_rss_mib)
    one, two = runs[1], runs[2]
    pairs = list(zip(one, two, strict=True))
    return [
        measured(
            "rebuild, 1 process", [r.articles_per_second for r in one], "articles/s", ONE_PROCESS_TARGET
        ),
        measured("rebuild, 2 processes", [r.articles_per_second for r in two], "articles/s"),
        measured(
            "rebuild 2 / 1 processes articles/s",
            [b.articles_per_second / a.articles_per_second for a, b in pairs],
            "ratio",
            SPEED_UP_TARGET,
        ),
        # What one process does alone weighs on 2,000 captures (the capture order read before any page is sent,
        # the last flush); on 20,000 it is a tenth as much.
        measured(
            f"rebuild 2 / 1 processes articles/s, {LARGE:,} captures",
            [large.articles_per_second / large_one.articles_per_second],
            "ratio",
            SPEED_UP_TARGET,
        ),
        measured("rebuild CPU per article, 1 process", [r.cpu_ms for r in one], "ms"),
        measured("rebuild CPU per article, 2 processes: workers", [r.worker_cpu_ms for r in two], "ms"),
        measured(
            "rebuild CPU per article, 2 processes: sequential stage", [r.main_cpu_ms for r in two], "ms"
        ),
        measured(
            "rebuild 2 / 1 processes, from CPU per article (2 idle cores)",
            [a.cpu_ms / max(b.cpu_ms / 2, b.main_cpu_ms) for a, b in pairs],
            "ratio",
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


def _rebuild(site: str, captures: Path, target: Path, processes: int) -> Rebuilt:
    """`scrapy rebuild`: articles per second (start-up excluded), the peak RSS of all its processes, its CPU."""
    settings = {"WARC_URI": str(captures), "PARQUET_URI": str(target), "WARC_PROCESSES": str(processes)}
    arguments = ["rebuild", "-a", f"site={site}"]
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-run-") as run_scratch:
        stats_file, log_file = Path(run_scratch) / "stats.json", Path(run_scratch) / "log.txt"
        command = [sys.executable, *scrapy_arguments(arguments, settings, stats_file)]
        with log_file.open("wb") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
            peak = _peak_rss_with_children(process)
        stats = finished_stats(process, arguments, stats_file, log_file)
    articles = float(stats[keys.ARTICLE_PAGES])
    return Rebuilt(
        articles_per_second=articles / float(stats["elapsed_time_seconds"]),
        peak_rss_mib=peak / MIB,
        worker_cpu_ms=1000 * float(stats[keys.REBUILD_WORKER_CPU]) / articles,
        main_cpu_ms=1000 * float(stats[keys.REBUILD_MAIN_CPU]) / articles,
    )


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
