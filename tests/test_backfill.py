"""Backfill (pipelines.dataset.backfill): older captures inserted as earlier versions, the stored ones renumbered,
by an atomic rewrite of the part files that hold them; a crash at any step leaves the old or the new dataset."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from pipelines.dataset import backfill, compact, storage
from pipelines.dataset.lock import DatasetLock
from pipelines.dataset.schema import items_to_table
from tests.archive_data import make_synthetic_dataset
from tests.test_crashes import start
from tests.test_parquet import DAY_ONE, close_run, make_item, make_pipeline, write_items

T = datetime(2024, 3, 10, tzinfo=UTC)


def row(version: int, text: str, day: float, **more: Any) -> dict[str, Any]:
    return {"version": version, "content_hash": text, "crawled_at": T + timedelta(days=day), **more}


def versions(merged: backfill.Merged) -> list[tuple[int, str, int]]:
    return [(r["version"], r["content_hash"], (r["crawled_at"] - T).days) for r in merged.rows]


def test_an_older_capture_goes_before_the_stored_versions_captured_after_it() -> None:
    merged = backfill.merge([row(1, "A", 1), row(2, "B", 5)], [row(0, "C", 3), row(0, "D", 0)])
    assert versions(merged) == [(1, "D", 0), (2, "A", 1), (3, "C", 3), (4, "B", 5)]
    assert len(merged.inserted) == 2 and merged.renumbered == 2 and merged.dropped == []


def test_a_capture_with_the_text_of_a_neighbour_makes_no_version() -> None:
    stored = [row(1, "A", 1), row(2, "B", 5)]
    # B seen before its stored capture (the version that follows), A again after A (the one before), and a
    # second copy of C: none is a new version; the stored rows keep their capture times.
    merged = backfill.merge(stored, [row(0, "B", 3), row(0, "A", 2), row(0, "C", 4), row(0, "C", 4.5)])
    assert versions(merged) == [(1, "A", 1), (2, "C", 4), (3, "B", 5)]
    assert sorted(r["content_hash"] for r in merged.dropped) == ["A", "B", "C"]
    # A text that came back later (A, B, A) is a version.
    merged = backfill.merge(stored, [row(0, "A", 6)])
    assert versions(merged) == [(1, "A", 1), (2, "B", 5), (3, "A", 6)]


def read_sorted(root: Path) -> pa.Table:
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    return table.sort_by([("article_id", "ascending"), ("version", "ascending")])


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Articles n1..n4 captured on March 5 (n3 in another partition), in two runs' part files."""
    root = tmp_path / "articles"
    captured = datetime(2024, 3, 5, tzinfo=UTC)
    write_items(root, [make_item(n, crawled_at=captured) for n in (1, 2)])
    write_items(
        root,
        [make_item(3, DAY_ONE + timedelta(days=1), crawled_at=captured), make_item(4, crawled_at=captured)],
    )
    return root


def older_rows() -> dict[str, list[dict[str, Any]]]:
    """Earlier texts of n1 (one) and n3 (two), and an earlier sighting of n2's stored text."""
    earlier = datetime(2024, 3, 2, tzinfo=UTC)
    items = [
        make_item(1, body_text="旧的", content_hash="a1", crawled_at=earlier),
        make_item(2, crawled_at=earlier),
        make_item(3, DAY_ONE + timedelta(days=1), content_hash="c1", crawled_at=earlier),
        make_item(3, DAY_ONE + timedelta(days=1), content_hash="c2", crawled_at=earlier + timedelta(hours=1)),
    ]
    rows: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        item.run_id = "backfill-run"
        rows.setdefault(item.article_id, []).append(items_to_table([item]).to_pylist()[0])
    return rows


def run_backfill(root: Path) -> backfill.Result:
    fs = pafs.LocalFileSystem()
    with DatasetLock(root, "backfill-run"):
        compact.recover_dataset(fs, str(root))
        return backfill.backfill(
            fs,
            str(root),
            older_rows(),
            lambda r: f"date={r['published_at']:%Y-%m-%d}",
            compression="zstd",
            row_group_size=1000,
            name="backfill-run",
        )


def summary(root: Path) -> list[tuple[str, int, str]]:
    return [(r["article_id"], r["version"], r["content_hash"]) for r in read_sorted(root).to_pylist()]


EXPECTED = [
    ("n1", 1, "a1"),
    ("n1", 2, f"{1:064x}"),
    ("n2", 1, f"{2:064x}"),
    ("n3", 1, "c1"),
    ("n3", 2, "c2"),
    ("n3", 3, f"{3:064x}"),
    ("n4", 1, f"{4:064x}"),
]


def leftovers(root: Path) -> list[Path]:
    return [*root.rglob(".*"), *root.glob(f"{backfill.JOURNAL_DIR}/*")]


def test_backfill_inserts_renumbers_and_rewrites_only_the_files_of_changed_articles(dataset: Path) -> None:
    before = read_sorted(dataset)
    result = run_backfill(dataset)
    assert summary(dataset) == EXPECTED
    assert len(result.inserted) == 3 and len(result.dropped) == 1 and result.renumbered == 2
    # n2 gained nothing: its file (shared with n1) is rewritten only because n1 changed; n3's partition too.
    assert result.files_rewritten == 2
    assert leftovers(dataset) == []
    after = read_sorted(dataset)
    stored = {(r["article_id"], r["content_hash"]): r for r in before.to_pylist()}
    for new in after.to_pylist():
        old = stored.get((new["article_id"], new["content_hash"]))
        if old is not None:  # a stored row: every column but the version as it was
            assert {**old, "version": new["version"]} == new
    # Rerunning the same backfill adds nothing and rewrites nothing.
    files = sorted(p.name for p in dataset.rglob("part-*.parquet"))
    again = run_backfill(dataset)
    assert again.inserted == [] and again.files_rewritten == 0 and len(again.dropped) == 4
    assert sorted(p.name for p in dataset.rglob("part-*.parquet")) == files


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs, no cleanup."""


def _crash_on_call(n: int, real: Callable[..., Any]) -> Callable[..., Any]:
    calls = iter(range(1, 1000))

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == n:
            raise Crash
        return real(*args, **kwargs)

    return wrapper


def _publish_one_then_crash(fs: pafs.FileSystem, journal: backfill.Journal) -> None:
    output = journal.outputs[0]
    directory, name = output.rsplit("/", 1)
    fs.move(f"{directory}/{storage.temporary_name(name)}", output)
    raise Crash


@pytest.fixture(
    params=["journal written", "one output written", "outputs written", "one published", "inputs removed"]
)
def crash_point(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """Patches backfill to die at a step; yields whether recovery must complete the backfill."""
    point = request.param
    if point == "journal written":
        monkeypatch.setattr(storage, "write_temporary", _crash_on_call(1, storage.write_temporary))
    elif point == "one output written":
        monkeypatch.setattr(storage, "write_temporary", _crash_on_call(2, storage.write_temporary))
    elif point == "outputs written":
        monkeypatch.setattr(backfill, "_save", _crash_on_call(2, backfill._save))
    elif point == "one published":
        monkeypatch.setattr(backfill, "_roll_forward", _publish_one_then_crash)
    else:
        monkeypatch.setattr(backfill, "_finish", _crash_on_call(1, backfill._finish))
    yield point in ("one published", "inputs removed")


@pytest.mark.parametrize("recovered_by", ["compact", "crawl start"])
def test_a_crash_at_any_step_leaves_the_old_dataset_or_the_new_one(
    dataset: Path, crash_point: bool, recovered_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = summary(dataset)
    with pytest.raises(Crash):
        run_backfill(dataset)
    monkeypatch.undo()  # the restarted process runs the real code
    if recovered_by == "compact":
        with DatasetLock(dataset, "recovery"):
            compact.recover_dataset(pafs.LocalFileSystem(), str(dataset))
    else:
        pipeline = make_pipeline(dataset)
        pipeline.open_spider()
        close_run(pipeline)
    assert summary(dataset) == (EXPECTED if crash_point else before)
    assert leftovers(dataset) == []
    if not crash_point:  # the backfill can then run again, to the same end
        run_backfill(dataset)
        assert summary(dataset) == EXPECTED


# ---- a real SIGKILL during a big rewrite --------------------------------------------------------------------

BIG_ROWS = 150_000  # 60 partitions of 2,500 rows: the rewrite of all of them takes a while


def _earlier_rows(root: Path) -> dict[str, list[dict[str, Any]]]:
    """An earlier text of the first article of every partition, captured a day before its stored row."""
    rows = {}
    for path in sorted(root.glob("date=*/*.parquet")):
        (row,) = pq.read_table(path).slice(0, 1).to_pylist()
        earlier = {**row, "content_hash": f"earlier-{row['content_hash']}", "run_id": "backfill-run"}
        earlier["crawled_at"] = row["crawled_at"] - timedelta(days=1)
        rows[row["article_id"]] = [earlier]
    return rows


def backfill_big(root: str) -> None:
    """Run in a child process (killed by the test)."""
    fs = pafs.LocalFileSystem()
    with DatasetLock(Path(root), "backfill-run"):
        backfill.backfill(
            fs,
            root,
            _earlier_rows(Path(root)),
            lambda r: f"date={r['published_at']:%Y-%m-%d}",
            compression="zstd",
            row_group_size=100_000,
            name="backfill-run",
        )


@pytest.mark.slow
def test_a_sigkill_during_the_rewrite_leaves_the_old_dataset_or_the_new_one(tmp_path: Path) -> None:
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    make_synthetic_dataset(killed, BIG_ROWS)
    make_synthetic_dataset(clean, BIG_ROWS)
    before = summary(killed)
    backfill_big(str(clean))
    after = summary(clean)
    assert len(after) == len(before) + len(list(clean.glob("date=*")))

    def rewriting() -> bool:
        return any(killed.glob(f"{backfill.JOURNAL_DIR}/*.json"))

    child = start(
        [sys.executable, "-c", f"from tests.test_backfill import backfill_big; backfill_big({str(killed)!r})"]
    )
    # No deadline: on a loaded machine the child may take minutes to reach the rewrite (the test's timeout
    # bounds it); once its journal is there, the rewrite takes seconds, far more than a poll.
    while child.poll() is None and not rewriting():
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert rewriting(), "killed with its journal in place"
    with DatasetLock(killed, "recovery"):
        done = compact.recover_dataset(pafs.LocalFileSystem(), str(killed))
    assert any("backfill" in line for line in done), done
    assert summary(killed) in (before, after)
    assert leftovers(killed) == []
