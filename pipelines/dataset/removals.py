"""Removal and reappearance events, stored next to the articles in ``_removals/`` (README "Removals").

One Parquet file per run that recorded an event, ``_removals/removals-<run_id>.parquet``, written hidden and
renamed. The articles themselves are never touched: a removed article's last version stays where it was.
An article's state is its latest event: ``removed`` means gone now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from pipelines.dataset import storage

REMOVALS_DIR = "_removals"
REMOVALS_SCHEMA_VERSION = "1"
REMOVED = "removed"
REAPPEARED = "reappeared"
_UTC_MICROS = pa.timestamp("us", tz="UTC")
REMOVALS_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("last_seen_at", _UTC_MICROS),
        pa.field("detected_at", _UTC_MICROS, nullable=False),
        pa.field("last_version", pa.int32(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={b"schema_version": REMOVALS_SCHEMA_VERSION.encode()},
)


@dataclass(frozen=True, slots=True)
class RemovalEvent:
    """One row of ``_removals/``; see the README for each column."""

    article_id: str
    url: str
    event: str
    reason: str | None
    last_seen_at: datetime | None
    detected_at: datetime
    last_version: int
    run_id: str


def events_path(root: str, run_id: str) -> str:
    return f"{root}/{REMOVALS_DIR}/removals-{run_id}{storage.DATA_SUFFIX}"


def write_events(fs: pafs.FileSystem, root: str, run_id: str, events: Sequence[RemovalEvent]) -> str | None:
    """Commit this run's events as one file (readers see all of it or nothing); None when there are none."""
    if not events:
        return None
    table = pa.Table.from_pylist([asdict(event) for event in events], schema=REMOVALS_SCHEMA)
    path = events_path(root, run_id)
    storage.write_table_atomically(fs, path, table, compression="zstd", row_group_size=max(1, len(events)))
    return path


def read_events(fs: pafs.FileSystem, root: str) -> list[RemovalEvent]:
    """Every committed event, oldest first (hidden temporaries are not read)."""
    directory = f"{root}/{REMOVALS_DIR}"
    files = [
        info.path
        for info in storage.list_files(fs, directory)
        if info.base_name.endswith(storage.DATA_SUFFIX) and not info.base_name.startswith(".")
    ]
    if not files:
        return []
    table = pads.dataset(files, format="parquet", filesystem=fs, schema=REMOVALS_SCHEMA).to_table()
    events = [RemovalEvent(**row) for row in table.to_pylist()]
    return sorted(events, key=lambda event: (event.detected_at, event.article_id))


def currently_removed(events: Sequence[RemovalEvent]) -> dict[str, RemovalEvent]:
    """article_id -> its removal, for the articles whose latest event is a removal."""
    latest: dict[str, RemovalEvent] = {}
    for event in sorted(events, key=lambda e: e.detected_at):
        latest[event.article_id] = event
    return {article_id: event for article_id, event in latest.items() if event.event == REMOVED}
