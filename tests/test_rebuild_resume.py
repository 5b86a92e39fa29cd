"""Rebuild resume bookkeeping (pipelines.dataset.rebuild): what an interrupted rebuild's target keeps and where
the next run starts. The end-to-end kill and resume is in tests/test_warc.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from pipelines.dataset import rebuild
from pipelines.dataset.warc import CaptureRef, WarcWriter, captures_in_order
from tests.test_parquet import make_item, write_items
from tests.test_warc_writer import exchange

POINT_DATE = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
VARIANTS = {"n9": ["http://x/gb/n9.htm"]}


def source_of(target: Path) -> tuple[str, CaptureRef]:
    """The captures folder next to the target, and a capture of it as the checkpoint's point."""
    folder = target.parent / "captures"
    return str(folder), CaptureRef(str(folder / "a.warc.gz"), 1234, POINT_DATE)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A rebuild target after three flushes, the third of them cut short by a kill (no checkpoint for it)."""
    (tmp_path / "captures").mkdir()
    (tmp_path / "captures" / "a.warc.gz").write_bytes(b"")
    root = tmp_path / "rebuilt"
    fs = pafs.LocalFileSystem()
    source, point = source_of(root)
    rebuild.write_marker(fs, str(root), source, rebuild.STATUS_RUNNING)
    write_items(root, [make_item(n) for n in range(4)], PARQUET_FLUSH_ROWS=2)
    committed = sorted(str(p) for p in root.rglob("part-*.parquet"))
    rebuild.write_checkpoint(fs, str(root), source, rebuild.Resume(point, VARIANTS), committed)
    write_items(root, [make_item(7)])  # the flush after the checkpoint
    return root


def test_an_interrupted_rebuild_keeps_the_rows_up_to_its_checkpoint_and_resumes_after_it(
    target: Path,
) -> None:
    fs = pafs.LocalFileSystem()
    source, point = source_of(target)
    assert len(list(target.rglob("part-*.parquet"))) == 3
    marker = json.loads((target / rebuild.MARKER).read_text(encoding="utf-8"))
    kept = sorted(map(Path, marker["checkpoint"]["files"]))
    assert len(kept) == 2
    resume = rebuild.prepare_target(fs, str(target), source)
    assert resume == rebuild.Resume(point, VARIANTS)
    left = sorted(p.relative_to(target) for p in target.rglob("part-*.parquet"))
    assert left == kept
    # The manifests no longer list the deleted file.
    listed = [f for path in (target / "_runs").glob("*.json") for f in json.loads(path.read_text())["files"]]
    assert sorted(map(Path, listed)) == left


def test_a_finished_rebuild_or_another_source_is_never_touched(target: Path) -> None:
    fs = pafs.LocalFileSystem()
    source, _ = source_of(target)
    files = sorted(target.rglob("part-*.parquet"))
    with pytest.raises(rebuild.TargetNotEmptyError):
        rebuild.prepare_target(fs, str(target), "/other-captures")
    rebuild.write_marker(fs, str(target), source, rebuild.STATUS_FINISHED)
    with pytest.raises(rebuild.TargetNotEmptyError):
        rebuild.prepare_target(fs, str(target), source)
    assert sorted(target.rglob("part-*.parquet")) == files


def test_reading_resumes_after_the_checkpoints_capture_in_capture_order(tmp_path: Path) -> None:
    writer = WarcWriter(pafs.LocalFileSystem(), str(tmp_path), "run1", max_bytes=1)
    for n in (5, 1, 4, 2, 3):
        writer.write(exchange(n))
    files = list(reversed(writer.commit()))
    responses = list(captures_in_order(files, lambda r: r.rec_type == "response"))
    assert [ref.date for ref in responses] == [exchange(n).date for n in (1, 2, 3, 4, 5)]
    assert list(captures_in_order(files, lambda r: r.rec_type == "response", responses[2])) == responses[3:]
    with pytest.raises(ValueError, match="not among the captures"):
        list(captures_in_order(files[1:], lambda r: True, CaptureRef(files[0], 0, responses[0].date)))
