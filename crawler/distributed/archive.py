"""The archive index shared by every worker of a distributed crawl, in Redis (implements ``ArchiveLookup``).

Two hashes hold what SPEC.md section 3 needs to decide versions and duplicates: ``archive:ids``
(``article_id`` -> ``"<latest version>:<content_hash>"``) and ``archive:hashes`` (``content_hash`` -> the
first ``article_id`` with that text). The first worker of a crawl seeds them from the dataset when Redis has
none (``crawler.distributed.coordination.seed_archive``).

``add`` is the claim: one Lua script checks that the version is the next one (and, for a new article, that
no other article owns the text) and records it, atomically, so two workers never write the same article
version; the loser's item is dropped as a duplicate. Near duplicates are a soft flag: they are looked up in
the dataset as loaded at start plus this worker's own additions (the local index), not across workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from crawler.distributed.coordination import CLAIM_SEPARATOR
from crawler.distributed.keys import CrawlKeys
from pipelines.dataset.archive import DEFAULT_MAX_DISTANCE, ArchiveIndex, Latest, hash_key
from pipelines.fingerprint import ArticleDropped

DUPLICATE_REASON = "duplicate"
DUPLICATE_CONTENT_REASON = "duplicate_content"
_CLAIMED, _VERSION_TAKEN, _TEXT_TAKEN = 1, 0, -1

_CLAIM = f"""
local ids, hashes, pending = KEYS[1], KEYS[2], KEYS[3]
local article_id, version, hash = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local current = redis.call('HGET', ids, article_id)
local current_version = 0
if current then current_version = tonumber(string.match(current, '^(%d+):')) end
if current_version + 1 ~= version then return {_VERSION_TAKEN} end
if current_version == 0 then
  local owner = redis.call('HGET', hashes, hash)
  if owner and owner ~= article_id then return {_TEXT_TAKEN} end
end
local claim = version .. ':' .. hash
redis.call('HSET', ids, article_id, claim)
redis.call('HSETNX', hashes, hash, article_id)
redis.call('HSET', pending, article_id, claim .. '{CLAIM_SEPARATOR}' .. (current or ''))
return {_CLAIMED}
"""


class ClaimLostError(ArticleDropped):
    """Another worker wrote this article version (or this text) first."""

    def __init__(self, reason: str, article_id: str) -> None:
        super().__init__(reason, f"{article_id} was claimed by another worker first", article_id)


class RedisArchive:
    """``ArchiveLookup`` over Redis; ``local`` (the dataset as loaded at start) answers near-duplicate queries."""

    def __init__(self, client: redis.Redis, keys: CrawlKeys, run_id: str, local: ArchiveIndex) -> None:
        self.client = client
        self.keys = keys
        self.run_id = run_id
        self.local = local
        self._claim = client.register_script(_CLAIM)

    def __len__(self) -> int:
        return int(self.client.hlen(self.keys.archive_ids))

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and bool(self.client.hexists(self.keys.archive_ids, article_id))

    def latest(self, article_id: str) -> Latest | None:
        record = self.client.hget(self.keys.archive_ids, article_id)
        return None if record is None else _latest(record)

    def find_hash(self, content_hash: str) -> str | None:
        owner = self.client.hget(self.keys.archive_hashes, content_hash)
        return None if owner is None else str(owner)

    def lookup(self, article_id: str, content_hashes: Sequence[str]) -> tuple[Latest | None, str | None]:
        """Every question in one round trip (the claim in ``add`` checks the answers again, atomically)."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.archive_ids, article_id)
            for content_hash in content_hashes:
                pipe.hget(self.keys.archive_hashes, content_hash)
            record, *owners = pipe.execute()
        if record is not None:
            return _latest(record), None
        return None, next((str(owner) for owner in owners if owner is not None), None)

    def near_duplicate(
        self, simhash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, exclude: str | None = None
    ) -> str | None:
        return self.local.near_duplicate(simhash, max_distance, exclude=exclude)

    def add(self, article_id: str, version: int, content_hash: str, simhash: int) -> None:
        """Claim ``(article_id, version)``; ClaimLostError (a drop) when another worker was first."""
        outcome = int(
            self._claim(
                keys=[self.keys.archive_ids, self.keys.archive_hashes, self.keys.pending(self.run_id)],
                args=[article_id, version, content_hash],
            )
        )
        if outcome == _VERSION_TAKEN:
            raise ClaimLostError(DUPLICATE_REASON, article_id)
        if outcome == _TEXT_TAKEN:
            raise ClaimLostError(DUPLICATE_CONTENT_REASON, article_id)
        self.local.add(article_id, version, content_hash, simhash)


def _latest(record: object) -> Latest:
    """An ``archive:ids`` value, ``"<version>:<content_hash>"``."""
    version, content_hash = str(record).split(":", 1)
    return Latest(int(version), hash_key(content_hash))
