"""Peak RSS of the crawl process (every pipeline, Parquet output): 20,000 articles versus 2,000, so a ten times
larger site must not need much more memory. Interleaved repetitions, one nginx per site."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.crawls import crawl_articles
from bench.figures import Figure, Target, measured
from bench.server import export_for_crawl, nginx
from tests.replica.site import Site

SMALL = 2_000
LARGE = 20_000
# Peak RSS varies little between runs (about 1%), and a 20,000-article crawl is the costliest figure.
REPETITIONS = 2
MAX_RATIO = 1.3
MIB = 1 << 20


def run() -> list[Figure]:
    peaks: dict[int, list[float]] = {SMALL: [], LARGE: []}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch_name, ExitStack() as servers:
        scratch = Path(scratch_name)
        bases: dict[int, str] = {}
        for articles in peaks:
            root = scratch / f"site-{articles}"
            export_for_crawl(Site(articles=articles), root)
            bases[articles] = servers.enter_context(nginx(root)).base
        for repetition in range(REPETITIONS):
            for articles, base in bases.items():
                run = crawl_articles(base, scratch / f"dataset-{articles}-{repetition}")
                peaks[articles].append(run.peak_rss_bytes / MIB)
    return [
        measured(f"peak RSS, crawl of {SMALL:,} articles", peaks[SMALL], "MiB"),
        measured(f"peak RSS, crawl of {LARGE:,} articles", peaks[LARGE], "MiB"),
        measured(
            f"peak RSS {LARGE:,} / {SMALL:,} articles",
            [large / small for large, small in zip(peaks[LARGE], peaks[SMALL], strict=True)],
            "ratio",
            Target("<=", MAX_RATIO),
        ),
    ]
