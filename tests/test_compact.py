"""Compaction: same rows, one file per partition, and every crash point recovered without loss or duplicate."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from pipelines.dataset import compact
from pipelines.dataset.lock import DatasetLock
from pipelines.dataset.schema import SCHEMA_VERSION
from tests.test_parquet import DAY_ONE, close_run, make_item, make_pipeline, write_items

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMPACT_ID = "20240401T000000Z-c0ffee"
ROWS = 6


def read_sorted(root: Path) -> pa.Table:
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    return table.sort_by([("article_id", "ascending"), ("version", "ascending")])


def files_by_partition(root: Path) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.parquet")):
        result.setdefault(path.parent.name, []).append(path.name)
    return result


def leftovers(root: Path) -> list[Path]:
    """Hidden files and journals: what a finished or recovered compaction must not leave."""
    return [*root.rglob(".*"), *root.glob(f"{compact.JOURNAL_DIR}/*")]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two partitions of three one-row part files each, plus a partition with a single file."""
    root = tmp_path / "articles"
    items = [make_item(n, DAY_ONE + timedelta(days=n % 2)) for n in range(ROWS)]
    write_items(root, items, PARQUET_FLUSH_ROWS=1)
    write_items(root, [make_item(99, DAY_ONE + timedelta(days=5))])
    return root


def run_compaction(root: Path) -> list[compact.PartitionResult]:
    fs = pafs.LocalFileSystem()
    with DatasetLock(root, COMPACT_ID):
        compact.recover_dataset(fs, str(root))
        return compact.compact(fs, str(root), COMPACT_ID, compression="zstd", row_group_size=1000)


def test_compaction_keeps_rows_and_leaves_one_file_per_partition(dataset: Path) -> None:
    before = read_sorted(dataset)
    results = run_compaction(dataset)
    assert sorted(r.partition for r in results) == ["date=2024-03-01", "date=2024-03-02"]
    assert all(r.inputs == 3 and r.rows == 3 for r in results)
    assert read_sorted(dataset).equals(before)
    files = files_by_partition(dataset)
    assert files["date=2024-03-01"] == [f"part-compact-{COMPACT_ID}.parquet"]
    assert files["date=2024-03-02"] == [f"part-compact-{COMPACT_ID}.parquet"]
    assert len(files["date=2024-03-06"]) == 1 and files["date=2024-03-06"][0].startswith("part-2")
    assert leftovers(dataset) == []
    merged = dataset / "date=2024-03-01" / f"part-compact-{COMPACT_ID}.parquet"
    assert pq.read_schema(merged).metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    assert pq.ParquetFile(merged).metadata.num_row_groups == 1  # small inputs regrouped, not one group each
    count = duckdb.sql(f"select count(*) from read_parquet('{dataset}/**/*.parquet', hive_partitioning=true)")
    assert count is not None and count.fetchall() == [(ROWS + 1,)]


def test_compacting_twice_changes_nothing_more(dataset: Path) -> None:
    run_compaction(dataset)
    files = files_by_partition(dataset)
    assert run_compaction(dataset) == []
    assert files_by_partition(dataset) == files


def _after_begin(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    compact.begin(fs, root, journal)


def _after_output(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    _after_begin(fs, root, journal)
    compact.write_output(fs, journal, compression="zstd", row_group_size=1000)


def _after_marking(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    _after_output(fs, root, journal)
    compact.mark_publishing(fs, root, journal)


def _after_publish(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    _after_marking(fs, root, journal)
    compact.publish(fs, journal)


def _after_one_input_removed(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    _after_publish(fs, root, journal)
    fs.delete_file(journal.inputs[0])


def _after_inputs_removed(fs: pafs.FileSystem, root: str, journal: compact.Journal) -> None:
    _after_publish(fs, root, journal)
    compact.remove_inputs(fs, journal)


CRASH_POINTS: dict[str, tuple[Callable[[pafs.FileSystem, str, compact.Journal], None], bool]] = {
    # name: (steps done before the crash, whether recovery completes the compaction)
    "journal written": (_after_begin, False),
    "hidden output written": (_after_output, False),
    "marked publishing": (_after_marking, True),
    "output published": (_after_publish, True),
    "one input removed": (_after_one_input_removed, True),
    "all inputs removed": (_after_inputs_removed, True),
}


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
@pytest.mark.parametrize("recovered_by", ["compact", "crawl start"])
def test_crash_at_each_step_is_recovered_without_lost_or_duplicated_rows(
    dataset: Path, crash_point: str, recovered_by: str
) -> None:
    before = read_sorted(dataset)
    fs, root = pafs.LocalFileSystem(), str(dataset)
    partition, inputs = next(iter(compact.partitions_to_compact(fs, root).items()))
    steps, completes = CRASH_POINTS[crash_point]
    steps(fs, root, compact.plan(root, COMPACT_ID, partition, inputs))
    if recovered_by == "compact":
        with DatasetLock(dataset, "recovery"):
            compact.recover_dataset(fs, root)
    else:
        pipeline = make_pipeline(dataset)
        pipeline.open_spider()
        close_run(pipeline)
    assert read_sorted(dataset).equals(before)
    assert leftovers(dataset) == []
    names = files_by_partition(dataset)[partition]
    if completes:
        assert names == [f"part-compact-{COMPACT_ID}.parquet"]
    else:
        assert len(names) == len(inputs)


def test_the_reader_visible_window_shows_duplicates_never_missing_rows(dataset: Path) -> None:
    """Characterises the documented window: between publish and the inputs' removal, rows appear twice."""
    fs, root = pafs.LocalFileSystem(), str(dataset)
    partition, inputs = next(iter(compact.partitions_to_compact(fs, root).items()))
    before = read_sorted(dataset).num_rows
    journal = compact.plan(root, COMPACT_ID, partition, inputs)
    compact.begin(fs, root, journal)
    compact.write_output(fs, journal, compression="zstd", row_group_size=1000)
    compact.mark_publishing(fs, root, journal)
    assert read_sorted(dataset).num_rows == before  # hidden output: invisible, even to DuckDB's glob
    count = duckdb.sql(f"select count(*) from read_parquet('{dataset}/**/*.parquet')")
    assert count is not None and count.fetchall() == [(before,)]
    compact.publish(fs, journal)
    assert read_sorted(dataset).num_rows == before + len(inputs)


def scrapy_compact(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "compact", "-s", f"PARQUET_URI={root}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_scrapy_compact_command(dataset: Path) -> None:
    before = read_sorted(dataset)
    result = scrapy_compact(dataset)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "compacted 2 partition(s)" in result.stdout
    assert "date=2024-03-01: 3 files" in result.stdout
    assert read_sorted(dataset).equals(before)


def test_scrapy_compact_refuses_a_locked_dataset(dataset: Path) -> None:
    files = files_by_partition(dataset)
    with DatasetLock(dataset, "crawl-in-progress"):
        result = scrapy_compact(dataset)
    assert result.returncode == 1
    assert "crawl-in-progress" in result.stderr
    assert files_by_partition(dataset) == files


def test_scrapy_compact_refuses_a_missing_dataset(tmp_path: Path) -> None:
    result = scrapy_compact(tmp_path / "nothing-here")
    assert result.returncode == 1
    assert "no dataset" in result.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_a_dataset_moved_mid_compaction_still_recovers(dataset: Path, tmp_path: Path) -> None:
    before = read_sorted(dataset)
    fs, root = pafs.LocalFileSystem(), str(dataset)
    partition, inputs = next(iter(compact.partitions_to_compact(fs, root).items()))
    journal = compact.plan(root, COMPACT_ID, partition, inputs)
    compact.begin(fs, root, journal)
    compact.write_output(fs, journal, compression="zstd", row_group_size=1000)
    compact.mark_publishing(fs, root, journal)
    moved = dataset.rename(tmp_path / "moved")
    with DatasetLock(moved, "recovery"):
        compact.recover_dataset(fs, str(moved))
    assert read_sorted(moved).equals(before)
    assert files_by_partition(moved)[partition] == [f"part-compact-{COMPACT_ID}.parquet"]
    assert leftovers(moved) == []
