"""Redis keys and the ``REDIS_URL`` setting of the distributed mode: what every distributed component shares."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from scrapy.settings import BaseSettings

from crawler.config import SettingError

REDIS_URL_SETTING = "REDIS_URL"
KEY_PREFIX_SETTING = "REDIS_KEY_PREFIX"
DEFAULT_KEY_PREFIX = "epochtimes"
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")


class DistributedConfigError(SettingError):
    """REDIS_URL or a distributed-mode setting is invalid; the message names it."""


# What a user can get wrong about the distributed mode, for `scrapy crawl`'s one-line errors: a setting, or a
# REDIS_URL whose Redis does not answer (the first connection is made at start-up).
START_MISTAKES: tuple[type[Exception], ...] = (DistributedConfigError, redis.exceptions.ConnectionError)


def explain(mistake: Exception, settings: BaseSettings) -> str:
    """The message for one of :data:`START_MISTAKES`: a connection error names the setting."""
    if isinstance(mistake, redis.exceptions.ConnectionError):
        return f"{REDIS_URL_SETTING} {settings.get(REDIS_URL_SETTING)!r} cannot be reached: {mistake}"
    return str(mistake)


def redis_url(settings: BaseSettings) -> str | None:
    """The validated ``REDIS_URL``, or None when the distributed mode is off."""
    raw = settings.get(REDIS_URL_SETTING)
    if not raw:
        return None
    url = str(raw)
    if not url.startswith(REDIS_URL_SCHEMES):
        raise DistributedConfigError(
            f"{REDIS_URL_SETTING} must be a redis://host:port/db URL (or rediss://, unix://), got {url!r}"
        )
    return url


@dataclass(frozen=True, slots=True)
class CrawlKeys:
    """Every Redis key of one crawl, derived from ``REDIS_KEY_PREFIX``."""

    prefix: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlKeys:
        prefix = str(settings.get(KEY_PREFIX_SETTING) or DEFAULT_KEY_PREFIX)
        if "%" in prefix or not prefix.strip():
            raise DistributedConfigError(f"{KEY_PREFIX_SETTING} must be a plain key prefix, got {prefix!r}")
        return cls(prefix)

    @property
    def requests(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def dupefilter(self) -> str:
        return f"{self.prefix}:dupefilter"

    @property
    def seeded(self) -> str:
        """The run that seeded the current crawl (for people watching it)."""
        return f"{self.prefix}:seeded"

    @property
    def startup(self) -> str:
        """Mutex held while a worker registers, and by the first one while it repairs the dataset."""
        return f"{self.prefix}:startup"

    @property
    def workers(self) -> str:
        """Set of the run ids registered and not yet closed cleanly (the dead ones too)."""
        return f"{self.prefix}:workers"

    @property
    def idle(self) -> str:
        """Set of the run ids whose worker has nothing to do (empty scheduler, nothing in flight): when every
        live worker is in it and the queue is empty, the crawl is over."""
        return f"{self.prefix}:idle"

    def heartbeat(self, run_id: str) -> str:
        """Exists (with a TTL refreshed while the worker lives) as long as the worker is alive."""
        return f"{self.prefix}:worker:{run_id}"

    def pending(self, run_id: str) -> str:
        """Archive claims of a worker not yet committed to a part file: article_id -> claim and previous value."""
        return f"{self.prefix}:pending:{run_id}"

    @property
    def gaps(self) -> str:
        """Set by the crawl's first worker when a previous worker died: list pages must not stop on known ones."""
        return f"{self.prefix}:gaps"

    @property
    def archive_ids(self) -> str:
        return f"{self.prefix}:archive:ids"

    @property
    def archive_hashes(self) -> str:
        return f"{self.prefix}:archive:hashes"

    @property
    def archive_ready(self) -> str:
        return f"{self.prefix}:archive:ready"

    def crawl_state(self) -> list[str]:
        """Keys a reset removes to start the next crawl from the start pages (the archive index stays)."""
        return [self.requests, self.dupefilter, self.seeded, self.startup, self.gaps, self.idle]

    def archive_state(self) -> list[str]:
        return [self.archive_ids, self.archive_hashes, self.archive_ready]
