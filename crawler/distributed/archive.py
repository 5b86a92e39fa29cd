"""The archive index shared by every worker of a distributed crawl, in Redis (implements ``ArchiveLookup``;
the add-on sets ``ARCHIVE_INDEX_CLASS`` to :class:`RedisArchive`), with its claims and their rollback.

Two hashes hold what SPEC.md section 3 needs to decide versions and duplicates: ``archive:ids``
(``article_id`` -> ``"<latest version>:<content_hash>"``, a *record*) and ``archive:hashes`` (``content_hash``
-> the first ``article_id`` with that text). The first worker of a crawl seeds them from the dataset when Redis
has none (:func:`seed_archive`).

``add`` is the claim: one Lua script checks that the version is the next one (and, for a new article, that
no other article owns the text) and records it, atomically, so two workers never write the same article
version; the loser's item is dropped as a duplicate. The claim also goes to the worker's ``pending`` hash
(``"<record>|<previous record>"``) until its row is in a committed part file; a dead worker's pending claims
are rolled back (:func:`roll_back_dead`), except those whose row its part files (``part-<run_id>-*``) do
hold, so a rerun fetches exactly what it lost. Records and claims are written and read in this module only.

``lookup`` (the dedupe pipeline's questions for one item, one round trip) claims version 1 in the same script
when it finds neither the article nor its text: the pipeline's next call is then ``add`` of that very version
and text, which costs no second round trip. A claim that ``add`` never confirms (no such path today) is an
uncommitted claim like any other: rolled back when the worker closes, or by the next crawl if it dies.
Near duplicates are a soft flag: they are looked up in the dataset as loaded at start plus this worker's own
additions (the local index), not across workers. So is ``in``, the known-articles middleware's question for each
link (one Redis round trip a link otherwise): "known" means known at this worker's start or archived by it, as
in a local run, and a link to an article another worker fetched in this crawl is dropped by the shared
dupefilter instead (which also keeps list pages from stopping on articles that are new to this very crawl).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import redis

from crawler.distributed.keys import CrawlKeys, redis_url
from pipelines.dataset import layout
from pipelines.dataset.archive import (
    DEFAULT_MAX_DISTANCE,
    ArchiveIndex,
    ArchiveUnreadableError,
    Latest,
    hash_key,
    read_index_columns,
)
from pipelines.fingerprint import ArticleDropped

DUPLICATE_REASON = "duplicate"
DUPLICATE_CONTENT_REASON = "duplicate_content"
_CLAIMED, _VERSION_TAKEN, _TEXT_TAKEN = 1, 0, -1
_FIRST_VERSION = 1  # pipelines.dedupe.FIRST_VERSION, the version a claim of a new article is for
RECORD_SEPARATOR = ":"
CLAIM_SEPARATOR = "|"
SEED_BATCH = 10_000

_CLAIM = f"""
local ids, hashes, pending = KEYS[1], KEYS[2], KEYS[3]
local article_id, version, hash = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local current = redis.call('HGET', ids, article_id)
local current_version = 0
if current then current_version = tonumber(string.match(current, '^(%d+){RECORD_SEPARATOR}')) end
if current_version + 1 ~= version then return {_VERSION_TAKEN} end
if current_version == 0 then
  local owner = redis.call('HGET', hashes, hash)
  if owner and owner ~= article_id then return {_TEXT_TAKEN} end
end
local claim = version .. '{RECORD_SEPARATOR}' .. hash
redis.call('HSET', ids, article_id, claim)
redis.call('HSETNX', hashes, hash, article_id)
redis.call('HSET', pending, article_id, claim .. '{CLAIM_SEPARATOR}' .. (current or ''))
return {_CLAIMED}
"""


# The lookup, and the claim of version 1 when neither the id nor any of the texts is known.
_LOOKUP = f"""
local ids, hashes, pending = KEYS[1], KEYS[2], KEYS[3]
local article_id = ARGV[1]
local record = redis.call('HGET', ids, article_id)
if record then return {{record, false}} end
for i = 2, #ARGV do
  local owner = redis.call('HGET', hashes, ARGV[i])
  if owner then return {{false, owner}} end
end
if #ARGV < 2 then return {{false, false}} end
local claim = '1{RECORD_SEPARATOR}' .. ARGV[2]
redis.call('HSET', ids, article_id, claim)
redis.call('HSETNX', hashes, ARGV[2], article_id)
redis.call('HSET', pending, article_id, claim .. '{CLAIM_SEPARATOR}')
return {{false, false, {_CLAIMED}}}
"""


class ClaimLostError(ArticleDropped):
    """Another worker wrote this article version (or this text) first."""

    def __init__(self, reason: str, article_id: str) -> None:
        super().__init__(reason, f"{article_id} was claimed by another worker first", article_id)


# Undo one dead claim if the index still holds it: restore the previous record (or forget the id) and release
# the content hash if the claim had taken it.
_ROLL_BACK_CLAIM = f"""
local ids, hashes = KEYS[1], KEYS[2]
local article_id, claimed, previous = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', ids, article_id) ~= claimed then return 0 end
if previous == '' then redis.call('HDEL', ids, article_id) else redis.call('HSET', ids, article_id, previous) end
local hash = string.match(claimed, '{RECORD_SEPARATOR}(.*)$')
if redis.call('HGET', hashes, hash) == article_id then redis.call('HDEL', hashes, hash) end
return 1
"""


class RedisArchive:
    """``ArchiveLookup`` over Redis; ``local`` (the dataset as loaded at start) answers near-duplicate queries."""

    def __init__(self, client: redis.Redis, keys: CrawlKeys, run_id: str, local: ArchiveIndex) -> None:
        self.client = client
        self.keys = keys
        self.run_id = run_id
        self.local = local
        self._claim = client.register_script(_CLAIM)
        self._lookup = client.register_script(_LOOKUP)
        # (article_id, content_hash) of version 1 claimed by the last lookup and not yet added.
        self._claimed: tuple[str, str] | None = None

    @classmethod
    def open(cls, fs: pafs.FileSystem, root: str, run_id: str, settings: Any) -> RedisArchive:
        """The ``ARCHIVE_INDEX_CLASS`` entry point: the crawl's shared index (seeded by its first worker)."""
        url = redis_url(settings)
        if url is None:
            raise ArchiveUnreadableError("the Redis archive index needs REDIS_URL=redis://host:port/db")
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            client.ping()
        except redis.RedisError as error:
            raise ArchiveUnreadableError(f"Redis at {url} does not answer: {error}") from error
        return cls(
            client, CrawlKeys.from_settings(settings), run_id, ArchiveIndex.open(fs, root, run_id, settings)
        )

    def __len__(self) -> int:
        return int(self.client.hlen(self.keys.archive_ids))

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.local

    def latest(self, article_id: str) -> Latest | None:
        record = self.client.hget(self.keys.archive_ids, article_id)
        return None if record is None else _latest(record)

    def find_hash(self, content_hash: str) -> str | None:
        owner = self.client.hget(self.keys.archive_hashes, content_hash)
        return None if owner is None else str(owner)

    def lookup(self, article_id: str, content_hashes: Sequence[str]) -> tuple[Latest | None, str | None]:
        """Every question in one round trip (the claim in ``add`` checks the answers again, atomically); a new
        article with a new text (the first of ``content_hashes``) is claimed at version 1 in it."""
        record, owner, *claimed = self._lookup(
            keys=[self.keys.archive_ids, self.keys.archive_hashes, self.keys.pending(self.run_id)],
            args=[article_id, *content_hashes],
        )
        self._claimed = (article_id, content_hashes[0]) if claimed else None
        if record is not None:
            return _latest(record), None
        return None, None if owner is None else str(owner)

    def near_duplicate(
        self, simhash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, exclude: str | None = None
    ) -> str | None:
        return self.local.near_duplicate(simhash, max_distance, exclude=exclude)

    def add(self, article_id: str, version: int, content_hash: str, simhash: int) -> None:
        """Claim ``(article_id, version)``; ClaimLostError (a drop) when another worker was first."""
        if version == _FIRST_VERSION and self._claimed == (article_id, content_hash):
            self._claimed = None  # claimed by the lookup
            self.local.add(article_id, version, content_hash, simhash)
            return
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


def _record(version: int, content_hash: str) -> str:
    """An ``archive:ids`` value."""
    return f"{version}{RECORD_SEPARATOR}{content_hash}"


def _version(record: str) -> int:
    return int(record.split(RECORD_SEPARATOR, 1)[0])


def _latest(record: object) -> Latest:
    version, content_hash = str(record).split(RECORD_SEPARATOR, 1)
    return Latest(int(version), hash_key(content_hash))


def committed_ids(fs: pafs.FileSystem, root: str, run_id: str) -> set[str]:
    """``article_id:version`` of every row in the part files ``run_id`` committed."""
    files = layout.run_part_files(fs, root, run_id)
    if not files:
        return set()
    table = pads.dataset(files, format="parquet", filesystem=fs).to_table(columns=["article_id", "version"])
    keys = pc.binary_join_element_wise(table["article_id"], pc.cast(table["version"], "string"), ":")
    return {str(k) for k in keys.to_pylist()}


def roll_back_dead(
    client: redis.Redis, keys: CrawlKeys, fs: pafs.FileSystem, root: str, run_id: str
) -> tuple[int, int]:
    """Undo a dead worker's uncommitted claims; returns (rolled back, kept because committed)."""
    pending = client.hgetall(keys.pending(run_id))
    committed = committed_ids(fs, root, run_id) if pending else set()
    script = client.register_script(_ROLL_BACK_CLAIM)
    rolled = kept = 0
    for raw_id, claim in pending.items():
        article_id = str(raw_id)
        claimed, previous = str(claim).split(CLAIM_SEPARATOR, 1)
        if f"{article_id}:{_version(claimed)}" in committed:
            kept += 1
            continue
        rolled += int(
            script(keys=[keys.archive_ids, keys.archive_hashes], args=[article_id, claimed, previous])
        )
    client.delete(keys.pending(run_id))
    client.srem(keys.workers, run_id)
    return rolled, kept


def seed_archive(client: redis.Redis, keys: CrawlKeys, fs: pafs.FileSystem, root: str) -> int:
    """Load ids, latest versions and content hashes from the dataset into Redis; returns the article count."""
    client.delete(*keys.archive_state())
    latest: dict[str, tuple[int, str]] = {}
    for batch in read_index_columns(fs, root):
        for article_id, version, content_hash in zip(
            batch.column("article_id").to_pylist(),
            batch.column("version").to_pylist(),
            batch.column("content_hash").to_pylist(),
            strict=True,
        ):
            known = latest.get(article_id)
            if known is None or version > known[0]:
                latest[article_id] = (version, content_hash or "")
    items = list(latest.items())
    for start in range(0, len(items), SEED_BATCH):
        chunk = items[start : start + SEED_BATCH]
        with client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.archive_ids, mapping={a: _record(v, h) for a, (v, h) in chunk})
            for article_id, (_, content_hash) in chunk:
                if content_hash:
                    pipe.hsetnx(keys.archive_hashes, content_hash, article_id)
            pipe.execute()
    client.set(keys.archive_ready, len(items))
    return len(items)
