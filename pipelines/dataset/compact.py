"""Compaction: merge each partition's part files into one ``part-compact-<id>.parquet``, same rows (also a
partition with a single file of an earlier schema version: the merged file is in the current one).

Runs under the dataset lock, one partition at a time, each driven by a journal ``_compact/<id>-<partition>.json``
that lists the inputs and the output before anything visible changes:

1. ``writing``: journal written (atomically); the merged file is written under a hidden temporary name.
2. ``publishing``: journal rewritten once the hidden file is complete and holds exactly the inputs' rows;
   then the hidden file is renamed to its final name (the commit point) and the inputs are deleted.
3. The journal is deleted.

Recovery (``recover``, run by every ``scrapy compact`` and every crawl start, under the lock): a ``writing``
journal is rolled back (hidden output deleted, inputs untouched); a ``publishing`` journal is rolled forward
(publish the hidden output if not yet done, delete the remaining inputs). A crash at any step therefore ends,
after recovery, with either the inputs or the merged file: no row lost, none duplicated.

What readers can see: POSIX has no atomic multi-file rename, and DuckDB's and polars' ``**/*.parquet`` globs
see every ``.parquet`` file under the root, hidden directories included, so no staging layout hides a swap
from them. The order is chosen so that readers never see *neither* (no row ever disappears): between the
commit rename and the last input's deletion (a few ``unlink`` calls, well under a millisecond on a local disk;
until the next recovery if the process dies in between) a reader that lists the partition may see the merged
file *and* some inputs, i.e. exact duplicate rows, which ``(article_id, version)`` identifies. Outside that
window a reader sees either all the inputs or the merged file alone. A reader that listed files before the
swap and opens them after it gets a file-not-found error, as with any deletion.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.dataset import backfill, layout, storage
from pipelines.dataset.schema import ARTICLE_SCHEMA, SCHEMA_VERSION, conform, schema_version_of

logger = logging.getLogger(__name__)

JOURNAL_DIR = "_compact"
STATE_WRITING = "writing"
STATE_PUBLISHING = "publishing"
# Directories under the root that hold bookkeeping, never data.


@dataclass(slots=True)
class Journal:
    compact_id: str
    partition: str
    inputs: list[str]
    output: str
    state: str = STATE_WRITING

    def path(self, root: str) -> str:
        # Nested partitions hold "/", which the journal's file name must not.
        return f"{root}/{JOURNAL_DIR}/{self.compact_id}-{self.partition.replace('/', '~')}.json"


@dataclass(frozen=True, slots=True)
class PartitionResult:
    partition: str
    inputs: int
    rows: int
    output: str


def _save(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    # Paths are stored relative to the root so that a dataset moved or copied mid-compaction still recovers.
    document = asdict(journal)
    document["inputs"] = [_relative(root, path) for path in journal.inputs]
    document["output"] = _relative(root, journal.output)
    storage.write_bytes_atomically(fs, journal.path(root), json.dumps(document, indent=2).encode("utf-8"))


def _relative(root: str, path: str) -> str:
    return path.removeprefix(root + "/")


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return bool(fs.get_file_info(path).type == pafs.FileType.File)


def _read_rows(fs: pafs.FileSystem, path: str) -> pa.Table:
    with fs.open_input_file(path) as source:
        return pq.ParquetFile(source).read()


def _row_count(fs: pafs.FileSystem, path: str) -> int:
    with fs.open_input_file(path) as source:
        return int(pq.ParquetFile(source).metadata.num_rows)


def _is_current(fs: pafs.FileSystem, path: str) -> bool:
    with fs.open_input_file(path) as source:
        return schema_version_of(pq.read_schema(source)) == SCHEMA_VERSION


def partitions_to_compact(fs: pafs.FileSystem, root: str) -> dict[str, list[str]]:
    """Partition directory (relative to root) -> its visible part files, for partitions with several, or with
    one written in an earlier schema version (rewritten in the current one: readers then see every column)."""
    parts: dict[str, list[str]] = defaultdict(list)
    for info in storage.list_files(fs, root):
        relative = info.path.removeprefix(root + "/")
        if "/" in relative and layout.is_data(relative):
            parts[relative.rsplit("/", 1)[0]].append(info.path)
    return {
        p: sorted(files)
        for p, files in sorted(parts.items())
        if len(files) > 1 or not _is_current(fs, files[0])
    }


def plan(root: str, compact_id: str, partition: str, inputs: list[str]) -> Journal:
    output = layout.part_path(root, partition, "compact", compact_id)
    return Journal(compact_id, partition, inputs, output)


def begin(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    """Step 1a: the journal, before anything else exists."""
    _save(fs, root, journal)


def _read_inputs(fs: pafs.FileSystem, journal: Journal) -> Iterator[pa.Table]:
    for path in journal.inputs:
        yield conform(_read_rows(fs, path))


def write_output(fs: pafs.FileSystem, journal: Journal, *, compression: str, row_group_size: int) -> int:
    """Step 1b: the hidden merged file, checked to hold exactly the inputs' rows. Returns the row count."""
    temporary = storage.write_temporary(
        fs,
        journal.output,
        _read_inputs(fs, journal),
        ARTICLE_SCHEMA,
        compression=compression,
        row_group_size=row_group_size,
    )
    expected = sum(_row_count(fs, path) for path in journal.inputs)
    written = _row_count(fs, temporary)
    if written != expected:
        fs.delete_file(temporary)
        raise RuntimeError(f"compaction of {journal.partition} wrote {written} rows, expected {expected}")
    return written


def mark_publishing(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    """Step 2: from here on, recovery rolls forward."""
    journal.state = STATE_PUBLISHING
    _save(fs, root, journal)


def _hidden_output(journal: Journal) -> str:
    directory, name = journal.output.rsplit("/", 1)
    return f"{directory}/{storage.temporary_name(name)}"


def publish(fs: pafs.FileSystem, journal: Journal) -> None:
    """The commit: the merged file becomes visible."""
    fs.move(_hidden_output(journal), journal.output)


def remove_inputs(fs: pafs.FileSystem, journal: Journal) -> None:
    for path in journal.inputs:
        if _exists(fs, path):
            fs.delete_file(path)


def finish(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    fs.delete_file(journal.path(root))


def compact_partition(
    fs: pafs.FileSystem, root: str, journal: Journal, *, compression: str, row_group_size: int
) -> PartitionResult:
    begin(fs, root, journal)
    rows = write_output(fs, journal, compression=compression, row_group_size=row_group_size)
    mark_publishing(fs, root, journal)
    publish(fs, journal)
    remove_inputs(fs, journal)
    finish(fs, root, journal)
    return PartitionResult(journal.partition, len(journal.inputs), rows, journal.output)


def compact(
    fs: pafs.FileSystem, root: str, compact_id: str, *, compression: str, row_group_size: int
) -> list[PartitionResult]:
    """Merge every partition that has several part files. The caller holds the lock and ran recover_dataset."""
    results = []
    for partition, inputs in partitions_to_compact(fs, root).items():
        journal = plan(root, compact_id, partition, inputs)
        result = compact_partition(fs, root, journal, compression=compression, row_group_size=row_group_size)
        logger.info("Compacted %s: %d files, %d rows", partition, result.inputs, result.rows)
        results.append(result)
    return results


def _load_journal(fs: pafs.FileSystem, root: str, path: str) -> Journal:
    with fs.open_input_stream(path) as stream:
        data: dict[str, Any] = json.loads(stream.read().decode("utf-8"))
    data["inputs"] = [f"{root}/{relative}" for relative in data["inputs"]]
    data["output"] = f"{root}/{data['output']}"
    return Journal(**data)


def _roll_back(fs: pafs.FileSystem, journal: Journal) -> None:
    if _exists(fs, _hidden_output(journal)):
        fs.delete_file(_hidden_output(journal))


def _roll_forward(fs: pafs.FileSystem, journal: Journal) -> bool:
    """Finish a publication; False when its output vanished (inputs are then intact: they go last)."""
    if not _exists(fs, journal.output):
        if not _exists(fs, _hidden_output(journal)):
            return False
        publish(fs, journal)
    remove_inputs(fs, journal)
    return True


def recover(fs: pafs.FileSystem, root: str) -> list[str]:
    """Complete or undo the compactions a crash interrupted; returns one line per journal handled.

    Caller holds the lock. Must run before stale temporaries are swept: a ``publishing`` journal needs its
    hidden output.
    """
    done = []
    journals = fs.get_file_info(pafs.FileSelector(f"{root}/{JOURNAL_DIR}", allow_not_found=True))
    for info in sorted(journals, key=lambda i: i.path):
        if info.type != pafs.FileType.File or storage.is_temporary(info.base_name):
            continue
        journal = _load_journal(fs, root, info.path)
        if journal.state == STATE_PUBLISHING and _roll_forward(fs, journal):
            done.append(f"completed compaction of {journal.partition} ({journal.compact_id})")
        else:
            _roll_back(fs, journal)
            done.append(f"rolled back compaction of {journal.partition} ({journal.compact_id})")
        finish(fs, root, journal)
        logger.warning("Recovery: %s", done[-1])
    return done


def recover_dataset(fs: pafs.FileSystem, root: str) -> list[str]:
    """Interrupted compactions and backfills, then stale temporaries (in that order: see ``recover``); one line
    per action."""
    done = recover(fs, root) + backfill.recover(fs, root)
    for path in storage.remove_temporaries(fs, root):
        done.append(f"removed {path}, left by an interrupted run")
        logger.warning("Recovery: %s", done[-1])
    return done
