"""`python -m bench.profile_crawl [--distributed]`: one crawl of the nginx-served replica under cProfile;
prints the top functions by own time (the tables in the README's Performance section). `--distributed` runs
it as one distributed worker against a fresh redis-server. Not part of `make bench`."""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.crawls import run_scrapy
from bench.server import export_for_crawl, nginx
from tests.replica.site import Site
from tests.services import redis_server

ARTICLES = 5_000
TOP = 10
# Long enough for the worker to see the seed it queued itself, short beside the crawl.
IDLE_SECONDS = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_crawl", description=__doc__)
    parser.add_argument("--distributed", action="store_true", help="one worker of the distributed mode")
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--top", type=int, default=TOP)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch_name, ExitStack() as services:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=args.articles), scratch / "site")
        profile = scratch / "crawl.prof"
        settings = {"PARQUET_URI": str(scratch / "dataset")}
        if args.distributed:
            redis_url = services.enter_context(redis_server())
            settings |= {"REDIS_URL": redis_url, "MAX_IDLE_TIME_BEFORE_CLOSE": str(IDLE_SECONDS)}
        server = services.enter_context(nginx(scratch / "site"))
        run_scrapy(
            ["crawl", "articles", "-a", f"site={server.base}"],
            settings,
            python=[sys.executable, "-m", "cProfile", "-o", str(profile)],
        )
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
