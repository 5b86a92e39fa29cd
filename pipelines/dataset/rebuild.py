"""A rebuilt dataset's target and its report: which rows a rebuild changed, by field, against the old dataset.

A rebuild writes into a new, empty dataset. ``_rebuild.json`` marks it as a rebuild's target while it is being
written; a rebuild that finds its own unfinished target (interrupted: killed, stopped, failed) empties it and
starts again, since the rows committed so far were decided with the captures read so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from pipelines.dataset import storage
from pipelines.dataset.schema import ARTICLE_SCHEMA, conform

MARKER = "_rebuild.json"
STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
# Columns that name the run or are the capture key: not compared.
_NOT_COMPARED = frozenset({"run_id", "warc_file", "warc_offset"})
_KEY = ("warc_file", "warc_offset")


class TargetNotEmptyError(RuntimeError):
    """The rebuild's target holds data that no interrupted rebuild left: it is never overwritten."""


def prepare_target(fs: pafs.FileSystem, root: str, source: str) -> bool:
    """Make ``root`` an empty rebuild target for ``source``; True when an interrupted rebuild's was emptied.

    Raises TargetNotEmptyError for any other non-empty folder (an existing dataset above all).
    """
    files = storage.list_files(fs, root)
    restarted = False
    if files:
        marker = _read_marker(fs, root)
        if marker is None or marker.get("status") == STATUS_FINISHED or marker.get("source") != source:
            raise TargetNotEmptyError(
                f"{root} is not empty: a rebuild writes a new dataset and never touches an existing one"
            )
        for info in files:
            fs.delete_file(info.path)
        restarted = True
    write_marker(fs, root, source, STATUS_RUNNING)
    return restarted


def write_marker(fs: pafs.FileSystem, root: str, source: str, status: str) -> None:
    document = {"source": source, "status": status, "updated_at": datetime.now(UTC).isoformat()}
    storage.write_bytes_atomically(fs, f"{root}/{MARKER}", json.dumps(document, indent=2).encode())


def _read_marker(fs: pafs.FileSystem, root: str) -> dict[str, Any] | None:
    try:
        with fs.open_input_stream(f"{root}/{MARKER}") as stream:
            document = json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


@dataclass(slots=True)
class Comparison:
    """Rows of the new dataset against the old one, matched by capture (``warc_file``, ``warc_offset``)."""

    old_rows: int = 0
    new_rows: int = 0
    matched: int = 0
    changed: int = 0
    changed_by_field: dict[str, int] = field(default_factory=dict)
    only_old: int = 0
    only_new: int = 0

    def lines(self) -> list[str]:
        lines = [
            f"rows: {self.new_rows} rebuilt, {self.old_rows} before; {self.matched} from the same capture, "
            f"{self.changed} of them changed; {self.only_new} only in the rebuild, {self.only_old} only before "
            "(no capture, or a different decision)"
        ]
        lines += [
            f"  {name}: {count} row(s) changed" for name, count in sorted(self.changed_by_field.items())
        ]
        return lines


def _rows_by_capture(uri: str) -> Iterator[tuple[tuple[str, int] | None, dict[str, Any]]]:
    fs, root = storage.resolve(uri)
    files = [
        info.path
        for info in storage.list_files(fs, root)
        if info.base_name.endswith(storage.DATA_SUFFIX)
        and not any(part.startswith(("_", ".")) for part in info.path.removeprefix(root).split("/"))
    ]
    for path in files:
        table = conform(pads.dataset(path, format="parquet", filesystem=fs).to_table())
        for row in table.to_pylist():
            key = (row["warc_file"], row["warc_offset"])
            yield (None if key[0] is None else (str(key[0]), int(key[1]))), row


def compare(old_uri: str, new_uri: str) -> Comparison:
    """What a rebuild changed: per compared column, the rows (same capture) whose value differs."""
    result = Comparison()
    old: dict[tuple[str, int], dict[str, Any]] = {}
    for key, row in _rows_by_capture(old_uri):
        result.old_rows += 1
        if key is None:
            result.only_old += 1
        else:
            old[key] = row
    columns = [name for name in ARTICLE_SCHEMA.names if name not in _NOT_COMPARED]
    for key, row in _rows_by_capture(new_uri):
        result.new_rows += 1
        before = old.pop(key, None) if key is not None else None
        if before is None:
            result.only_new += 1
            continue
        result.matched += 1
        differing = [name for name in columns if row[name] != before[name]]
        if differing:
            result.changed += 1
            for name in differing:
                result.changed_by_field[name] = result.changed_by_field.get(name, 0) + 1
    result.only_old += len(old)
    return result
