"""What ``scrapy crawlstate`` shows of a distributed crawl in Redis, and its ``--reset``."""

from __future__ import annotations

import redis
from scrapy.settings import BaseSettings

from crawler.distributed.coordination import CoordinationConfig, dead_workers, live_workers
from crawler.distributed.keys import REDIS_URL_SETTING, CrawlKeys


class NotDistributedError(ValueError):
    """No REDIS_URL: there is no distributed crawl to look at."""


class WorkersAliveError(RuntimeError):
    """A reset while workers run would pull the crawl's state from under them."""


class CrawlState:
    """The crawl's Redis, named by the settings."""

    def __init__(self, settings: BaseSettings) -> None:
        config = CoordinationConfig.from_settings(settings)
        if config is None:
            raise NotDistributedError(
                f"set the crawl's Redis with -s {REDIS_URL_SETTING}=redis://host:port/db"
            )
        self.client: redis.Redis = config.client()
        self.keys: CrawlKeys = config.keys

    def reset(self, archive: bool) -> list[str]:
        """Forget the queue, the seen requests and the seed (and the archive index, reseeded by the next crawl);
        returns the keys deleted."""
        alive = live_workers(self.client, self.keys)
        if alive:
            raise WorkersAliveError(f"{len(alive)} worker(s) still running: {', '.join(alive)}")
        removed = self.keys.crawl_state() + (self.keys.archive_state() if archive else [])
        self.client.delete(*removed)
        return removed

    def lines(self) -> list[str]:
        client, keys = self.client, self.keys
        alive = live_workers(client, keys)
        return [
            f"seeded by:        {client.get(keys.seeded) or '-'!s}",
            f"live workers:     {len(alive)} {' '.join(alive)}",
            f"idle workers:     {' '.join(w for w in alive if client.sismember(keys.idle, w)) or '-'}",
            f"dead workers:     {' '.join(dead_workers(client, keys)) or '-'}",
            f"queued requests:  {client.zcard(keys.requests)}",
            f"seen requests:    {client.scard(keys.dupefilter)}",
            f"archived articles: {client.hlen(keys.archive_ids)}",
        ]
