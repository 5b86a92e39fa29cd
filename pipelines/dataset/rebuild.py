"""A rebuilt dataset's target and its report: which rows a rebuild changed, by field, against the old dataset.

A rebuild writes into a new, empty dataset. ``_rebuild.json`` marks it as a rebuild's target while it is being
written, with a checkpoint after each flush: the capture (in capture order) up to which every row is committed,
the part files holding them, and the URLs noted for articles still to come. A rebuild that finds its own
unfinished target (interrupted: killed, stopped, failed) resumes after the checkpoint: the part files committed
after it (a flush cut short) are deleted and the captures up to it are not read again. The archive is the
dedupe state, so the resumed run decides as the uninterrupted one would have (README "Rebuild after a parser
fix"). Without a checkpoint (killed before its second flush) the target is emptied and the rebuild starts over.
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
from pipelines.dataset.layout import part_files
from pipelines.dataset.manifest import RUNS_DIR
from pipelines.dataset.schema import ARTICLE_SCHEMA, conform
from pipelines.dataset.warc import CaptureRef

MARKER = "_rebuild.json"
CHECKPOINT = "checkpoint"
STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
# Columns that name the run or are the capture key: not compared.
_NOT_COMPARED = frozenset({"run_id", "warc_file", "warc_offset"})


class TargetNotEmptyError(RuntimeError):
    """The rebuild's target holds data that no interrupted rebuild left: it is never overwritten."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an interrupted rebuild stopped: every capture up to ``after`` (in capture order) has its rows
    committed in the target; ``variants`` are the URLs the captures read so far noted for articles still to
    come (their ``alternate_urls``)."""

    after: CaptureRef
    variants: dict[str, list[str]]


def prepare_target(fs: pafs.FileSystem, root: str, source: str) -> Resume | None:
    """Make ``root`` a rebuild target for ``source``: empty, or an interrupted rebuild of it to resume.

    An interrupted rebuild with a checkpoint keeps the part files the checkpoint lists (the rows of every
    capture up to its point) and loses the rest (a flush cut short); without one it is emptied. Raises
    TargetNotEmptyError for any other non-empty folder (an existing dataset above all).
    """
    files = storage.list_files(fs, root)
    marker = _read_marker(fs, root) if files else None
    if files and (
        marker is None or marker.get("status") == STATUS_FINISHED or marker.get("source") != source
    ):
        raise TargetNotEmptyError(
            f"{root} is not empty: a rebuild writes a new dataset and never touches an existing one"
        )
    checkpoint = (marker or {}).get(CHECKPOINT)
    if not isinstance(checkpoint, dict):
        for info in files:
            fs.delete_file(info.path)
        write_marker(fs, root, source, STATUS_RUNNING)
        return None
    kept = {f"{root}/{name}" for name in checkpoint["files"]}
    for path in part_files(fs, root):
        if path not in kept:
            fs.delete_file(path)
    _forget_deleted_files(fs, root)
    return _resume_of(checkpoint)


def _resume_of(checkpoint: dict[str, Any]) -> Resume:
    after = CaptureRef(
        checkpoint["file"], int(checkpoint["offset"]), datetime.fromisoformat(checkpoint["date"])
    )
    return Resume(after, {str(k): [str(u) for u in v] for k, v in checkpoint["variants"].items()})


def write_checkpoint(fs: pafs.FileSystem, root: str, source: str, resume: Resume, files: list[str]) -> None:
    """Record that the rows of every capture up to ``resume.after`` are committed, in ``files`` (the target's
    part files at that moment). Call it only once those rows are committed."""
    checkpoint = {
        "date": resume.after.date.isoformat(),
        "file": resume.after.file,
        "offset": resume.after.offset,
        "files": sorted(path.removeprefix(root + "/") for path in files),
        "variants": resume.variants,
    }
    write_marker(fs, root, source, STATUS_RUNNING, checkpoint)


def _forget_deleted_files(fs: pafs.FileSystem, root: str) -> None:
    """Manifests list the files their run committed: those a resume deleted are no longer there."""
    for info in storage.list_files(fs, f"{root}/{RUNS_DIR}"):
        if not info.base_name.endswith(".json") or storage.is_temporary(info.base_name):
            continue
        with fs.open_input_stream(info.path) as stream:
            document = json.loads(stream.read().decode("utf-8"))
        listed = document.get("files") or []
        present = [name for name in listed if fs.get_file_info(f"{root}/{name}").type == pafs.FileType.File]
        if present != listed:
            document["files"] = present
            storage.write_bytes_atomically(fs, info.path, json.dumps(document, indent=2).encode("utf-8"))


def write_marker(
    fs: pafs.FileSystem, root: str, source: str, status: str, checkpoint: dict[str, Any] | None = None
) -> None:
    document: dict[str, Any] = {
        "source": source,
        "status": status,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    if checkpoint is not None:
        document[CHECKPOINT] = checkpoint
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
    for path in part_files(fs, root):
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
