"""What WARC capture costs: the crawl's pages/s with capture on versus off (interleaved, same nginx-served
export), the captures' bytes per article on disk next to the Parquet dataset's, and how fast `scrapy rebuild`
turns the captures back into a dataset (no site, one process; `python -m bench rebuild` for every core)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.crawls import CrawlRun, crawl_articles, run_scrapy
from bench.figures import Figure, measured
from bench.server import export_for_crawl, nginx
from tests.replica.site import Site

ARTICLES = 2_000
REPETITIONS = 3


def run() -> list[Figure]:
    off: list[CrawlRun] = []
    on: list[CrawlRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-warc-") as scratch_name:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        with nginx(scratch / "site") as server:
            for index in range(REPETITIONS):
                off.append(crawl_articles(server.base, scratch / f"off-{index}", {"WARC_URI": ""}))
                captures = scratch / f"warc-{index}"
                on.append(crawl_articles(server.base, scratch / f"on-{index}", {"WARC_URI": str(captures)}))
            last = REPETITIONS - 1
            rebuilds = [
                _rebuild(server.base, scratch / f"warc-{last}", scratch / f"rebuilt-{i}") for i in (0, 1)
            ]
        articles = on[-1].stats["parquet/rows_written"]
        warc_bytes = _bytes(scratch / f"warc-{last}", "*.warc.gz")
        parquet_bytes = _bytes(scratch / f"on-{last}", "*.parquet")
        pages = on[-1].responses
    return [
        measured("crawl, capture off", [r.pages_per_second for r in off], "pages/s"),
        measured("crawl, capture on", [r.pages_per_second for r in on], "pages/s"),
        measured(
            "crawl capture on / off pages/s",
            [a.pages_per_second / b.pages_per_second for a, b in zip(on, off, strict=True)],
            "ratio",
        ),
        measured(
            "WARC bytes per article (gzip per record, lists included)", [warc_bytes / articles], "bytes"
        ),
        measured("WARC bytes per response captured", [warc_bytes / pages], "bytes"),
        measured("Parquet bytes per article, same crawl", [parquet_bytes / articles], "bytes"),
        measured("rebuild from captures (one process)", rebuilds, "articles/s"),
    ]


def _rebuild(site: str, captures: Path, target: Path) -> float:
    """Articles per second of `scrapy rebuild` from `captures` into `target`, start-up excluded."""
    done = run_scrapy(
        ["rebuild", "-a", f"site={site}"],
        {"WARC_URI": str(captures), "PARQUET_URI": str(target), "WARC_PROCESSES": "1"},
    )
    return float(done.stats["articles/pages"]) / done.engine_seconds


def _bytes(root: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in root.rglob(pattern))
