"""Backfill: captures older than what the archive holds of their article become its earlier versions.

The versions of an article are numbered in capture order (``version`` 1 is the earliest capture). An import of
older captures (a Wayback download, CC-NEWS of past years) therefore inserts rows *before* stored ones, and the
stored rows after them are renumbered. Part files are immutable, so the part files that hold rows of those
articles are rewritten: each becomes one new part with the same other rows and the article's rows renumbered
(its new rows go to the partition of their own ``published_at``). Like compaction, under the dataset lock and
driven by a journal ``_backfill/<id>.json`` written before anything visible changes:

1. ``writing``: the journal lists the inputs and the outputs; the outputs are written under hidden names and
   checked to hold the inputs' rows plus the inserted ones.
2. ``publishing``: journal rewritten; the outputs are renamed to their final names, then the inputs deleted.
3. The journal is deleted.

Recovery (``recover``, run with compaction's at every start) rolls a ``writing`` journal back (hidden outputs
deleted, inputs untouched) and a ``publishing`` one forward. A crash therefore leaves the old dataset or the new
one, never a mix: no row lost, none twice (readers may see both during the few renames, as with compaction).

Merge rule (``merge``): stored rows keep their order; each new capture goes before the first stored row
captured after it. A new capture with the text of the version before it, or of the stored version that follows
it (the same version, seen earlier), makes no new version: dropped as ``duplicate``. The following version keeps
its ``crawled_at``, which is when *its* capture (``warc_file``, ``warc_offset``) was made.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.dataset import layout, storage
from pipelines.dataset.layout import part_files
from pipelines.dataset.schema import ARTICLE_SCHEMA, conform

logger = logging.getLogger(__name__)

JOURNAL_DIR = "_backfill"
STATE_WRITING = "writing"
STATE_PUBLISHING = "publishing"

Row = dict[str, Any]


@dataclass(slots=True)
class Merged:
    """One article's rows after a merge, and what the merge did."""

    rows: list[Row]
    inserted: list[Row] = field(default_factory=list)
    dropped: list[Row] = field(default_factory=list)
    renumbered: int = 0


def merge(stored: Sequence[Row], new: Sequence[Row]) -> Merged:
    """An article's stored rows and new captures of it as one version sequence in capture order."""
    old = sorted(stored, key=lambda r: r["version"])
    pending = sorted(new, key=lambda r: r["crawled_at"])
    timeline: list[tuple[Row, bool]] = []  # (row, is new)
    for row in old:
        while pending and pending[0]["crawled_at"] < row["crawled_at"]:
            timeline.append((pending.pop(0), True))
        timeline.append((row, False))
    timeline += [(row, True) for row in pending]
    result = Merged(rows=[])
    for position, (row, is_new) in enumerate(timeline):
        if is_new:
            following = next((r for r, n in timeline[position + 1 :] if not n), None)
            neighbours = [r for r in (result.rows[-1] if result.rows else None, following) if r is not None]
            if any(row["content_hash"] == n["content_hash"] for n in neighbours):
                result.dropped.append(row)
                continue
            result.inserted.append(row)
        result.rows.append(row)
    inserted = {id(row) for row in result.inserted}
    for version, row in enumerate(result.rows, start=1):
        if row["version"] != version and id(row) not in inserted:
            result.renumbered += 1
        row["version"] = version
    return result


@dataclass(slots=True)
class Journal:
    backfill_id: str
    inputs: list[str]
    outputs: list[str]
    state: str = STATE_WRITING

    def path(self, root: str) -> str:
        return f"{root}/{JOURNAL_DIR}/{self.backfill_id}.json"


@dataclass(frozen=True, slots=True)
class Result:
    inserted: list[Row]
    dropped: list[Row]
    renumbered: int
    files_rewritten: int


def _hidden(path: str) -> str:
    directory, name = path.rsplit("/", 1)
    return f"{directory}/{storage.temporary_name(name)}"


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return bool(fs.get_file_info(path).type == pafs.FileType.File)


def _save(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    # Relative paths: a dataset moved or copied mid-rewrite still recovers.
    document = asdict(journal)
    document["inputs"] = [p.removeprefix(root + "/") for p in journal.inputs]
    document["outputs"] = [p.removeprefix(root + "/") for p in journal.outputs]
    storage.write_bytes_atomically(fs, journal.path(root), json.dumps(document, indent=2).encode("utf-8"))


def _load(fs: pafs.FileSystem, root: str, path: str) -> Journal:
    with fs.open_input_stream(path) as stream:
        data: dict[str, Any] = json.loads(stream.read().decode("utf-8"))
    data["inputs"] = [f"{root}/{p}" for p in data["inputs"]]
    data["outputs"] = [f"{root}/{p}" for p in data["outputs"]]
    return Journal(**data)


def files_holding(fs: pafs.FileSystem, root: str, article_ids: Iterable[str]) -> list[str]:
    """The part files with a row of one of ``article_ids`` (reads the ``article_id`` column only)."""
    wanted = pa.array(sorted(set(article_ids)), type=pa.string())
    found = []
    for path in part_files(fs, root):
        with fs.open_input_file(path) as handle:
            ids = pq.read_table(handle, columns=["article_id"]).column("article_id")
        if pc.any(pc.is_in(ids, value_set=wanted)).as_py():
            found.append(path)
    return found


def _read(fs: pafs.FileSystem, path: str) -> pa.Table:
    with fs.open_input_file(path) as handle:
        return conform(pq.read_table(handle))


@dataclass(slots=True)
class _Plan:
    """What the rewritten parts hold: per partition, the other rows of the inputs and the articles' rows."""

    inputs: list[str]
    kept: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))
    stored: dict[str, list[tuple[str, Row]]] = field(default_factory=lambda: defaultdict(list))
    articles: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))


def _read_plan(fs: pafs.FileSystem, root: str, article_ids: Iterable[str]) -> _Plan:
    ids = sorted(set(article_ids))
    plan = _Plan(files_holding(fs, root, ids))
    wanted = pa.array(ids, type=pa.string())
    for path in plan.inputs:
        partition = path.removeprefix(root + "/").rsplit("/", 1)[0]
        table = _read(fs, path)
        mask = pc.is_in(table.column("article_id"), value_set=wanted)
        plan.kept[partition].append(table.filter(pc.invert(mask)))
        for row in table.filter(mask).to_pylist():
            plan.stored[row["article_id"]].append((partition, row))
    return plan


def backfill(
    fs: pafs.FileSystem,
    root: str,
    new: dict[str, list[Row]],
    partition_of: Callable[[Row], str],
    *,
    compression: str,
    row_group_size: int,
    name: str,
) -> Result:
    """Insert ``new`` rows (by article) among the stored versions. Caller holds the lock and ran recovery.

    ``partition_of`` gives a new row's partition folder; ``name`` goes into the rewritten files' names.
    """
    plan = _read_plan(fs, root, new)
    merges = {aid: merge([row for _, row in plan.stored[aid]], rows) for aid, rows in new.items()}
    dropped = [row for merged in merges.values() for row in merged.dropped]
    changed = {aid for aid, merged in merges.items() if merged.inserted}
    if not changed:
        return Result([], dropped, 0, 0)
    if changed != set(new):
        # Only the files holding an article that gains a version are rewritten.
        plan = _read_plan(fs, root, changed)
        merges = {aid: merge([row for _, row in plan.stored[aid]], new[aid]) for aid in changed}
    for aid, merged in merges.items():
        partition_by_row = {id(row): partition for partition, row in plan.stored[aid]}
        for row in merged.rows:
            plan.articles[partition_by_row.get(id(row)) or partition_of(row)].append(row)
    inserted = [row for merged in merges.values() for row in merged.inserted]
    renumbered = sum(merged.renumbered for merged in merges.values())
    result = Result(inserted, dropped, renumbered, len(plan.inputs))
    _rewrite(fs, root, plan, result, compression=compression, row_group_size=row_group_size, name=name)
    logger.info(
        "Backfill: %d earlier version(s) of %d article(s) inserted, %d row(s) renumbered, %d file(s) rewritten",
        len(inserted), len(changed), renumbered, len(plan.inputs),
    )  # fmt: skip
    return result


def _rewrite(
    fs: pafs.FileSystem,
    root: str,
    plan: _Plan,
    result: Result,
    *,
    compression: str,
    row_group_size: int,
    name: str,
) -> None:
    backfill_id = f"{name}-{uuid.uuid4().hex[:8]}"
    partitions = sorted(set(plan.kept) | set(plan.articles))
    outputs = {p: layout.part_path(root, p, f"backfill-{backfill_id}", n) for n, p in enumerate(partitions)}
    journal = Journal(backfill_id, plan.inputs, [outputs[p] for p in partitions])
    _save(fs, root, journal)
    expected = sum(_row_count(fs, path) for path in plan.inputs) + len(result.inserted)
    written = 0
    for partition in partitions:
        tables = [*plan.kept.get(partition, []), _rows_table(plan.articles.get(partition, []))]
        storage.write_temporary(
            fs,
            outputs[partition],
            tables,
            ARTICLE_SCHEMA,
            compression=compression,
            row_group_size=row_group_size,
        )
        written += _row_count(fs, _hidden(outputs[partition]))
    if written != expected:
        _roll_back(fs, journal)
        _finish(fs, root, journal)
        raise RuntimeError(f"backfill wrote {written} rows, expected {expected}: nothing changed")
    journal.state = STATE_PUBLISHING
    _save(fs, root, journal)
    _roll_forward(fs, journal)
    _finish(fs, root, journal)


def _rows_table(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


def _row_count(fs: pafs.FileSystem, path: str) -> int:
    with fs.open_input_file(path) as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


def _roll_back(fs: pafs.FileSystem, journal: Journal) -> None:
    for output in journal.outputs:
        if _exists(fs, _hidden(output)):
            fs.delete_file(_hidden(output))


def _roll_forward(fs: pafs.FileSystem, journal: Journal) -> None:
    # Every output was complete and checked before the journal said "publishing": publish what is still
    # hidden, then delete the inputs (last, so that no row is ever missing).
    for output in journal.outputs:
        if not _exists(fs, output) and _exists(fs, _hidden(output)):
            fs.move(_hidden(output), output)
    for path in journal.inputs:
        if _exists(fs, path):
            fs.delete_file(path)


def _finish(fs: pafs.FileSystem, root: str, journal: Journal) -> None:
    fs.delete_file(journal.path(root))


def recover(fs: pafs.FileSystem, root: str) -> list[str]:
    """Complete or undo the backfills a crash interrupted; one line per journal. Caller holds the lock; runs
    before stale temporaries are swept (a ``publishing`` journal needs its hidden outputs)."""
    done = []
    journals = fs.get_file_info(pafs.FileSelector(f"{root}/{JOURNAL_DIR}", allow_not_found=True))
    for info in sorted(journals, key=lambda i: i.path):
        if info.type != pafs.FileType.File or storage.is_temporary(info.base_name):
            continue
        journal = _load(fs, root, info.path)
        if journal.state == STATE_PUBLISHING:
            _roll_forward(fs, journal)
            done.append(f"completed backfill {journal.backfill_id}")
        else:
            _roll_back(fs, journal)
            done.append(f"rolled back backfill {journal.backfill_id}")
        _finish(fs, root, journal)
        logger.warning("Recovery: %s", done[-1])
    return done
