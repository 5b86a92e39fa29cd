"""What the refresh schedule needs of the dataset: the latest version of every article still watched.

Read at start from the dataset itself: for articles published within the watch (``max_age``), the latest
version's URL, publication, capture time, content hash and HTTP validators. Files written before the validators
were stored (schema_version 1) read as nulls: those articles are fetched in full once, then conditionally.

When an article was last seen present without a new version (a 304, the same text again, a feed showing it) is
recorded per run in ``_refresh/seen-<run_id>.parquet`` (article_id, seen_at), written hidden and renamed like
every other file of the dataset. It only ever adds facts ("present at T"): a lost or missing file makes a
``last_seen_at`` earlier, never wrong, and it cannot contradict the articles (a capture is a sighting too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from crawler.refresh import Known
from pipelines.dataset import storage
from pipelines.dataset.layout import part_files
from pipelines.dataset.manifest import previous_run_start
from pipelines.dataset.removals import RemovalEvent, currently_removed, read_events, write_events

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_UTC_MICROS = pa.timestamp("us", tz="UTC")
STATE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("url", pa.string()),
        pa.field("published_at", _UTC_MICROS),
        pa.field("crawled_at", _UTC_MICROS),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("content_hash", pa.string()),
    ]
)
SEEN_DIR = "_refresh"
SEEN_PREFIX = "seen-"
SEEN_SCHEMA_VERSION = "1"
SEEN_SCHEMA = pa.schema(
    [pa.field("article_id", pa.string(), nullable=False), pa.field("seen_at", _UTC_MICROS, nullable=False)],
    metadata={b"schema_version": SEEN_SCHEMA_VERSION.encode()},
)
_RUN_START_FORMAT = "%Y%m%dT%H%M%SZ"


_PARTITION_RE = re.compile(r"/(?:date=(\d{4}-\d{2}-\d{2})|month=(\d{4}-\d{2}))/")


def _partition_before(path: str, cutoff: datetime) -> bool:
    """A part file whose partition (the UTC date or month of published_at) ends before ``cutoff``: not read,
    so that a start-up reads the footers of a month of partitions, not of the whole archive."""
    match = _PARTITION_RE.search(path)
    if match is None:
        return False
    day, month = match.groups()
    if day is not None:
        end = date.fromisoformat(day) + timedelta(days=1)
    else:
        year, number = map(int, month.split("-"))
        end = date(year + number // 12, number % 12 + 1, 1)
    return datetime.combine(end, time(0), UTC) <= cutoff


def load_known(fs: pafs.FileSystem, root: str, now: datetime, max_age: timedelta) -> list[Known]:
    """The latest version of each article published after ``now - max_age``, as :class:`Known`, with when it
    was last seen present."""
    cutoff = now - max_age
    files = [path for path in part_files(fs, root) if not _partition_before(path, cutoff)]
    if not files:
        return []
    dataset = pads.dataset(files, format="parquet", filesystem=fs, schema=STATE_SCHEMA)
    recent = pc.field("published_at") >= pa.scalar(cutoff, type=_UTC_MICROS)
    table = dataset.to_table(columns=STATE_SCHEMA.names, filter=recent)
    latest: dict[str, dict[str, object]] = {}
    for row in table.sort_by([("article_id", "ascending"), ("version", "ascending")]).to_pylist():
        latest[str(row["article_id"])] = row
    seen = read_sightings(fs, root, cutoff - timedelta(days=1))  # a run that began before, seen after
    return [
        Known(
            article_id=str(row["article_id"]),
            url=str(row["url"]),
            published_at=row["published_at"],  # type: ignore[arg-type]
            changed_at=row["crawled_at"],  # type: ignore[arg-type]
            version=int(row["version"]),  # type: ignore[call-overload]
            etag=row["etag"],  # type: ignore[arg-type]
            last_modified=row["last_modified"],  # type: ignore[arg-type]
            content_hash=row["content_hash"],  # type: ignore[arg-type]
            last_seen_at=seen.get(str(row["article_id"])),
        )
        for row in latest.values()
    ]


def sightings_path(root: str, run_id: str) -> str:
    return f"{root}/{SEEN_DIR}/{SEEN_PREFIX}{run_id}{storage.DATA_SUFFIX}"


def write_sightings(fs: pafs.FileSystem, root: str, run_id: str, seen: Mapping[str, datetime]) -> str | None:
    """Commit this run's sightings as one file (complete or absent); None when there are none."""
    if not seen:
        return None
    table = pa.Table.from_pydict(
        {"article_id": list(seen), "seen_at": list(seen.values())}, schema=SEEN_SCHEMA
    )
    path = sightings_path(root, run_id)
    storage.write_table_atomically(fs, path, table, compression="zstd", row_group_size=max(1, len(seen)))
    return path


def read_sightings(fs: pafs.FileSystem, root: str, since: datetime) -> dict[str, datetime]:
    """article_id -> its latest sighting, from the files of runs that started after ``since`` (older runs
    only saw articles the watch has let go)."""
    files = [
        info.path
        for info in storage.list_files(fs, f"{root}/{SEEN_DIR}")
        if info.base_name.startswith(SEEN_PREFIX)
        and info.base_name.endswith(storage.DATA_SUFFIX)
        and not _run_before(info.base_name[len(SEEN_PREFIX) :], since)
    ]
    if not files:
        return {}
    table = pads.dataset(files, format="parquet", filesystem=fs, schema=SEEN_SCHEMA).to_table()
    grouped = table.group_by("article_id").aggregate([("seen_at", "max")])
    return dict(zip(grouped["article_id"].to_pylist(), grouped["seen_at_max"].to_pylist(), strict=True))


def _run_before(run_part: str, since: datetime) -> bool:
    """A run id starts with its UTC start (``20261126T101500Z-...``); an id of another shape is read."""
    try:
        started = datetime.strptime(run_part[: len("20261126T101500Z")], _RUN_START_FORMAT)
    except ValueError:
        return False
    return started.replace(tzinfo=UTC) < since


@dataclass(frozen=True, slots=True)
class RefreshSnapshot:
    """Everything a run's refresh starts from."""

    known: list[Known]
    removed: dict[str, RemovalEvent]  # article_id -> its removal, for the articles gone now
    since: datetime | None  # start of the previous run that ended; None on a new dataset


class RefreshState(Protocol):
    """Where the refresh state comes from and goes to (``REFRESH_STATE_CLASS``, built with ``from_crawler``)."""

    def load(self, now: datetime, max_age: timedelta, run_id: str | None) -> RefreshSnapshot: ...

    def commit(self, run_id: str, seen: Mapping[str, datetime], events: Sequence[RemovalEvent]) -> None: ...


class DatasetRefreshState:
    """The default: the state is read from the dataset at start, and a run's sightings and removal events are
    committed to it as one file each (rewritten whole when a run commits more)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DatasetRefreshState:
        uri = crawler.settings.get("PARQUET_URI")
        if not uri or not isinstance(uri, str):
            raise ValueError(f"PARQUET_URI must name the dataset to refresh, got {uri!r}")
        return cls(uri)

    def load(self, now: datetime, max_age: timedelta, run_id: str | None) -> RefreshSnapshot:
        fs, root = storage.resolve(self.uri)
        return RefreshSnapshot(
            known=load_known(fs, root, now, max_age),
            removed=currently_removed(read_events(fs, root)),
            since=previous_run_start(fs, root, excluding=run_id),
        )

    def commit(self, run_id: str, seen: Mapping[str, datetime], events: Sequence[RemovalEvent]) -> None:
        fs, root = storage.resolve(self.uri)
        write_sightings(fs, root, run_id, seen)
        write_events(fs, root, run_id, events)
