"""``scrapy crawlstate -s REDIS_URL=...``: watch a distributed crawl; ``--reset`` starts the next one afresh."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.distributed.state import CrawlState, NotDistributedError, WorkersAliveError

FAILED_EXIT = 1


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--reset [--archive]] -s REDIS_URL=redis://host:port/db"

    def short_desc(self) -> str:
        return "Show the state of the distributed crawl in Redis, or reset it"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--reset", action="store_true", help="forget the queue, seen requests and seed")
        parser.add_argument(
            "--archive", action="store_true", help="with --reset: also drop the archive index (reseeded)"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError("scrapy crawlstate takes no arguments")
        if opts.archive and not opts.reset:
            raise UsageError("--archive only goes with --reset")
        try:
            state = CrawlState(self.settings)
        except NotDistributedError as error:
            raise UsageError(str(error)) from None
        if not opts.reset:
            print("\n".join(state.lines()))
            return
        try:
            removed = state.reset(archive=opts.archive)
        except WorkersAliveError as error:
            print(f"crawlstate: {error}", file=sys.stderr)
            self.exitcode = FAILED_EXIT
            return
        print(f"reset: deleted {', '.join(removed)}")
