"""``scrapy crawlstate -s REDIS_URL=...``: watch a distributed crawl; ``--reset`` starts the next one afresh."""

from __future__ import annotations

import argparse
import sys

import redis
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.distributed.coordination import CoordinationConfig, dead_workers, live_workers
from crawler.distributed.keys import CrawlKeys, redis_url

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
        if redis_url(self.settings) is None:
            raise UsageError("set the crawl's Redis with -s REDIS_URL=redis://host:port/db")
        config = CoordinationConfig.from_settings(self.settings)
        assert config is not None
        client = config.client()
        keys = config.keys
        alive = live_workers(client, keys)
        if opts.reset:
            if alive:
                print(
                    f"crawlstate: {len(alive)} worker(s) still running: {', '.join(alive)}", file=sys.stderr
                )
                self.exitcode = FAILED_EXIT
                return
            removed = keys.crawl_state() + (keys.archive_state() if opts.archive else [])
            client.delete(*removed)
            print(f"reset: deleted {', '.join(removed)}")
            return
        self._print_state(client, keys, alive)

    @staticmethod
    def _print_state(client: redis.Redis, keys: CrawlKeys, alive: list[str]) -> None:
        print(f"seeded by:        {client.get(keys.seeded) or '-'!s}")
        print(f"live workers:     {len(alive)} {' '.join(alive)}")
        print(f"dead workers:     {' '.join(dead_workers(client, keys)) or '-'}")
        print(f"queued requests:  {client.zcard(keys.requests)}")
        print(f"seen requests:    {client.scard(keys.dupefilter)}")
        print(f"archived articles: {client.hlen(keys.archive_ids)}")
