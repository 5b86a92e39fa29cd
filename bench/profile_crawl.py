"""`python -m bench.profile_crawl`: one crawl of the nginx-served replica under cProfile; prints the top
functions by own time (the table in the README's Performance section). Not part of `make bench`."""

from __future__ import annotations

import pstats
import sys
import tempfile
from pathlib import Path

from bench.crawls import run_scrapy
from bench.server import export_for_crawl, nginx
from tests.replica.site import Site

ARTICLES = 5_000
TOP = 10


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch_name:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        profile = scratch / "crawl.prof"
        with nginx(scratch / "site") as server:
            run_scrapy(
                ["crawl", "articles", "-a", f"site={server.base}"],
                {"PARQUET_URI": str(scratch / "dataset")},
                python=[sys.executable, "-m", "cProfile", "-o", str(profile)],
            )
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(TOP)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
