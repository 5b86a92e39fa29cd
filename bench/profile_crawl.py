"""`python -m bench.profile_crawl [--distributed]`: one crawl of the nginx-served replica under cProfile;
prints the top functions by own time (the tables in the README's Performance section). `--distributed` runs
it as one distributed worker against a fresh redis-server. Not part of `make bench`.

The profiler's clock is the process's CPU time, not the wall clock: on a machine shared with other work, a
wall-clock profile charges whatever was running when the crawl was descheduled (a socket `send`, a poll) with
the time the other processes took."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import runpy
import shutil
import sys
import tempfile
import time
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
# `python -m bench.profile_crawl PROFILE_RUN OUTPUT -m MODULE ARGS...`: runs MODULE as `python -m` would, under
# a CPU-time profiler whose stats go to OUTPUT (the crawl subprocess is started that way).
PROFILE_RUN = "--profile-run"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [PROFILE_RUN]:
        return _profiled(arguments[1], arguments[2:])
    parser = argparse.ArgumentParser(prog="python -m bench.profile_crawl", description=__doc__)
    parser.add_argument("--distributed", action="store_true", help="one worker of the distributed mode")
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--top", type=int, default=TOP)
    parser.add_argument("--save", type=Path, help="also keep the cProfile stats in this file (for pstats)")
    args = parser.parse_args(arguments)
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
            python=[sys.executable, "-m", "bench.profile_crawl", PROFILE_RUN, str(profile)],
        )
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(args.top)
        if args.save is not None:
            shutil.copyfile(profile, args.save)
    return 0


def _profiled(output: str, command: list[str]) -> int:
    """Runs ``-m MODULE ARGS...`` under cProfile with the CPU-time clock; the stats are written even when the
    module exits (scrapy's command line always does)."""
    if command[:1] != ["-m"] or len(command) < 2:
        raise SystemExit(f"{PROFILE_RUN} OUTPUT -m MODULE [ARGS...], got {command}")
    module = command[1]
    sys.argv = [module, *command[2:]]
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profiler.dump_stats(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
