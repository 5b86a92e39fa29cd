"""Crawl figures on one nginx-served export: throughput against a bare crawl, the rerun's cost, output shape.

Each round crawls a fresh dataset with every pipeline, replays the exact URLs it fetched (from nginx's access
log) with the bare spider, then reruns the crawl over the unchanged site. The server's own ceiling (wrk, at the
crawl's concurrency) is reported beside them, and the CPU each crawl process used per page (start-up included):
on a machine shared with other work, pages/s follow the load while CPU per page barely does. The last round's
dataset gives the output shape before and after `scrapy compact`.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as pads

from bench.crawls import QUIET_SETTINGS, CrawlRun, children_cpu_seconds, compact, crawl_articles, run_scrapy
from bench.figures import Figure, Target, measured, single
from bench.server import WRK_PACKAGE, StaticServer, ensure_installed, export_for_crawl, nginx
from tests.replica.site import Site

ARTICLES = 5_000
REPETITIONS = 3
# Issue 16: half the bare crawl in one process (0.9 was out of reach of one process, see the README).
MIN_THROUGHPUT_RATIO = 0.5
MAX_RERUN_REQUEST_SHARE = 0.02
WRK_SECONDS = 3
WRK_THREADS = 1
# gzip's own default level, what `gzip file.jsonl` gives.
GZIP_LEVEL = 6
BARE_SPIDER = Path(__file__).with_name("bare_spider.py")
ROBOTS_PATH = "/robots.txt"
_WRK_RATE_RE = re.compile(r"Requests/sec:\s+([\d.]+)")


@dataclass(frozen=True, slots=True)
class Round:
    full: CrawlRun
    bare: CrawlRun
    rerun: CrawlRun
    # CPU seconds of the full and the bare crawl's process.
    full_cpu: float
    bare_cpu: float

    @property
    def full_ms_per_page(self) -> float:
        return 1000 * self.full_cpu / self.full.responses

    @property
    def bare_ms_per_page(self) -> float:
        return 1000 * self.bare_cpu / self.bare.responses


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as scratch_name:
        scratch = Path(scratch_name)
        paths = export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        article_path = next(path for path in reversed(paths) if path.endswith(".htm"))
        with nginx(scratch / "site") as server:
            ceiling = [_wrk(server.base + article_path) for _ in range(REPETITIONS)]
            rounds = [_round(server, scratch, index) for index in range(REPETITIONS)]
        dataset = scratch / f"dataset-{REPETITIONS - 1}"
        shape = _output_shape(dataset)
    return _throughput(rounds, ceiling) + _incremental(rounds) + shape


def _round(server: StaticServer, scratch: Path, index: int) -> Round:
    dataset = scratch / f"dataset-{index}"
    offset = server.log_offset()
    cpu = children_cpu_seconds()
    full = crawl_articles(server.base, dataset)
    full_cpu = children_cpu_seconds() - cpu
    fetched = [path for path in server.paths_since(offset) if path != ROBOTS_PATH]
    url_file = scratch / f"urls-{index}.txt"
    url_file.write_text("".join(f"{server.base}{path}\n" for path in fetched), encoding="utf-8")
    cpu = children_cpu_seconds()
    bare = run_scrapy(["runspider", str(BARE_SPIDER), "-a", f"urls={url_file}"], {"ITEM_PIPELINES": "{}"})
    bare_cpu = children_cpu_seconds() - cpu
    return Round(full, bare, crawl_articles(server.base, dataset), full_cpu, bare_cpu)


def _wrk(url: str) -> float:
    """Requests per second nginx serves for one article page at the crawl's concurrency."""
    binary = ensure_installed("wrk", (WRK_PACKAGE,))
    connections = QUIET_SETTINGS["CONCURRENT_REQUESTS"]
    command = [binary, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{WRK_SECONDS}s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = _WRK_RATE_RE.search(output)
    if found is None:
        raise RuntimeError(f"wrk printed no rate: {output}")
    return float(found.group(1))


def _throughput(rounds: list[Round], ceiling: list[float]) -> list[Figure]:
    return [
        measured("server ceiling (nginx, wrk, 1 page)", ceiling, "req/s"),
        measured("bare crawl", [r.bare.pages_per_second for r in rounds], "pages/s"),
        measured(f"full crawl ({ARTICLES:,} articles)", [r.full.pages_per_second for r in rounds], "pages/s"),
        measured(
            "full / bare crawl pages/s",
            [r.full.pages_per_second / r.bare.pages_per_second for r in rounds],
            "ratio",
            Target(">=", MIN_THROUGHPUT_RATIO),
        ),
        measured("bare crawl, CPU per page", [r.bare_ms_per_page for r in rounds], "ms"),
        measured("full crawl, CPU per page", [r.full_ms_per_page for r in rounds], "ms"),
        measured(
            "bare / full crawl CPU per page (the pages/s ratio on an idle core)",
            [r.bare_ms_per_page / r.full_ms_per_page for r in rounds],
            "ratio",
        ),
    ]


def _incremental(rounds: list[Round]) -> list[Figure]:
    return [
        measured(
            "rerun / first crawl requests",
            [r.rerun.requests / r.full.requests for r in rounds],
            "ratio",
            Target("<=", MAX_RERUN_REQUEST_SHARE),
        ),
        measured(
            "rerun / first crawl wall time",
            [r.rerun.wall_seconds / r.full.wall_seconds for r in rounds],
            "ratio",
        ),
    ]


def _output_shape(dataset: Path) -> list[Figure]:
    crawled = _files_per_partition(dataset)
    compact(dataset)
    compacted = _files_per_partition(dataset)
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table()
    parquet_bytes = sum(path.stat().st_size for path in dataset.rglob("*.parquet"))
    lines = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in table.to_pylist())
    jsonl_bytes = len(gzip.compress(lines.encode(), compresslevel=GZIP_LEVEL))
    return [
        measured("files per partition after full crawl", crawled, "files"),
        measured("files per partition after compact", compacted, "files"),
        single("Parquet bytes per article", parquet_bytes / table.num_rows, "bytes"),
        single("gzip JSON Lines bytes per article", jsonl_bytes / table.num_rows, "bytes"),
    ]


def _files_per_partition(dataset: Path) -> list[float]:
    counts = Counter(path.parent.name for path in dataset.glob("*=*/part-*.parquet"))
    return [float(count) for count in counts.values()]
