"""The refresh state of a distributed crawl, in Redis (``REFRESH_STATE_CLASS``; implements ``RefreshState``).

With N workers, the dataset is read once per crawl, not N times: the first worker to load the state for a
crawl (the crawl is named by the run that opened it, ``CrawlKeys.seeded``) reads it from the dataset
(``DatasetRefreshState``) under a Redis lock and stores it in three hashes and a key: ``refresh:known``
(article_id -> the latest version's schedule record, JSON), ``refresh:removed`` (article_id -> its removal
event, JSON), ``refresh:seen`` (article_id -> last sighting, ISO 8601 UTC) and ``refresh:since`` (the previous
run's start); ``refresh:crawl`` says which crawl they were loaded for. Every other worker of the crawl reads
those. A worker's sightings and events go to both: the dataset (its files, so the next crawl's load and
analysts see them) and Redis (the latest sighting kept, atomically), so workers of the same crawl share them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from scrapy.crawler import Crawler

from crawler.distributed.keys import CrawlKeys, DistributedConfigError, redis_url
from crawler.refresh import Known
from pipelines.dataset.refresh_state import DatasetRefreshState, RefreshSnapshot
from pipelines.dataset.removals import REMOVED, RemovalEvent

logger = logging.getLogger(__name__)

# Long enough for one worker to read a month of the dataset while the others wait.
LOAD_LOCK_TIMEOUT_S = 600
_BATCH = 5_000
_KNOWN_TIMES = ("published_at", "changed_at", "last_seen_at")
_EVENT_TIMES = ("last_seen_at", "detected_at")
# HSET only when the new sighting is later: ISO 8601 UTC strings of one format sort as the instants do.
_SEEN_MAX = """
for i = 1, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if not current or current < ARGV[i + 1] then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class RefreshKeys:
    """The refresh state's Redis keys, under the crawl's ``REDIS_KEY_PREFIX``."""

    crawl_keys: CrawlKeys

    def _key(self, name: str) -> str:
        return f"{self.crawl_keys.prefix}:refresh:{name}"

    @property
    def seeded(self) -> str:
        return self.crawl_keys.seeded

    @property
    def known(self) -> str:
        return self._key("known")

    @property
    def removed(self) -> str:
        return self._key("removed")

    @property
    def seen(self) -> str:
        return self._key("seen")

    @property
    def since(self) -> str:
        return self._key("since")

    @property
    def crawl(self) -> str:
        """The crawl (its opening run id) the state in Redis was loaded for."""
        return self._key("crawl")

    @property
    def lock(self) -> str:
        """Held by the worker loading the state from the dataset."""
        return self._key("lock")

    def state(self) -> list[str]:
        return [self.known, self.removed, self.seen, self.since, self.crawl]


class RedisRefreshState:
    """``RefreshState`` shared by the workers of a crawl; see the module docstring."""

    def __init__(self, client: redis.Redis, keys: CrawlKeys, dataset: DatasetRefreshState) -> None:
        self.client = client
        self.keys = RefreshKeys(keys)
        self.dataset = dataset
        self._seen_max = client.register_script(_SEEN_MAX)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisRefreshState:
        url = redis_url(crawler.settings)
        if url is None:
            raise DistributedConfigError("the Redis refresh state needs REDIS_URL")
        client = redis.Redis.from_url(url, decode_responses=True)
        return cls(
            client, CrawlKeys.from_settings(crawler.settings), DatasetRefreshState.from_crawler(crawler)
        )

    def load(self, now: datetime, max_age: timedelta, run_id: str | None) -> RefreshSnapshot:
        crawl = str(self.client.get(self.keys.seeded) or run_id or "")
        if self.client.get(self.keys.crawl) != crawl:
            with self.client.lock(self.keys.lock, timeout=LOAD_LOCK_TIMEOUT_S):
                if self.client.get(self.keys.crawl) != crawl:
                    snapshot = self.dataset.load(now, max_age, run_id)
                    self._store(snapshot, crawl)
                    logger.info(
                        "Refresh: state of %d articles loaded from the dataset into Redis for crawl %s",
                        len(snapshot.known),
                        crawl,
                    )
        return self._read(now - max_age)

    def commit(self, run_id: str, seen: Mapping[str, datetime], events: Sequence[RemovalEvent]) -> None:
        self.dataset.commit(run_id, seen, events)
        if seen:
            flat = [value for article_id, at in seen.items() for value in (article_id, at.isoformat())]
            self._seen_max(keys=[self.keys.seen], args=flat)
        with self.client.pipeline(transaction=False) as pipe:
            for event in events:
                if event.event == REMOVED:
                    pipe.hset(self.keys.removed, event.article_id, _dump(asdict(event)))
                else:
                    pipe.hdel(self.keys.removed, event.article_id)
            pipe.execute()

    def _store(self, snapshot: RefreshSnapshot, crawl: str) -> None:
        self.client.delete(*self.keys.state())
        known = snapshot.known
        for start in range(0, len(known), _BATCH):
            self.client.hset(
                self.keys.known,
                mapping={k.article_id: _dump(asdict(k)) for k in known[start : start + _BATCH]},
            )
        if snapshot.removed:
            self.client.hset(
                self.keys.removed, mapping={a: _dump(asdict(e)) for a, e in snapshot.removed.items()}
            )
        if snapshot.since is not None:
            self.client.set(self.keys.since, snapshot.since.isoformat())
        self.client.set(self.keys.crawl, crawl)

    def _read(self, cutoff: datetime) -> RefreshSnapshot:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.known)
            pipe.hgetall(self.keys.removed)
            pipe.hgetall(self.keys.seen)
            pipe.get(self.keys.since)
            known_raw, removed_raw, seen_raw, since = pipe.execute()
        known = []
        for raw in known_raw.values():
            record = Known(**_load(raw, _KNOWN_TIMES))
            sighting = seen_raw.get(record.article_id)
            if sighting is not None:
                record = _with_sighting(record, datetime.fromisoformat(sighting))
            if record.published_at >= cutoff:
                known.append(record)
        return RefreshSnapshot(
            known=known,
            removed={a: RemovalEvent(**_load(raw, _EVENT_TIMES)) for a, raw in removed_raw.items()},
            since=datetime.fromisoformat(since) if since else None,
        )


def _with_sighting(known: Known, sighting: datetime) -> Known:
    latest = max(known.last_seen_at or sighting, sighting)
    return Known(**{**asdict(known), "last_seen_at": latest})


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}, ensure_ascii=False
    )


def _load(raw: str, times: tuple[str, ...]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(raw)
    for name in times:
        if record.get(name) is not None:
            record[name] = datetime.fromisoformat(record[name])
    return record
