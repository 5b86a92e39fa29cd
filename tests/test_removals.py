"""Removals: what counts as gone (crawler/removals.py), and the events' storage (pipelines/removals.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from crawler.removals import gone_reason
from pipelines.dataset.removals import (
    REAPPEARED,
    REMOVALS_DIR,
    REMOVED,
    RemovalEvent,
    currently_removed,
    read_events,
    write_events,
)

SEEN = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "location", "reason"),
    [
        (404, None, "http_404"),
        (410, None, "http_410"),
        (302, "https://www.epochtimes.com/gb/", "redirect_home"),
        (301, "https://www.epochtimes.com/", "redirect_home"),
        (302, "/b5/index.html", "redirect_home"),
        (302, "https://www.epochtimes.com/gb/nsc413.htm", "redirect_list"),
        (307, "/gb/ncid277_3.htm", "redirect_list"),
    ],
)
def test_gone_answers(status: int, location: str | None, reason: str) -> None:
    assert gone_reason(status, location) == reason


@pytest.mark.parametrize(
    ("status", "location"),
    [
        (500, None),
        (503, None),
        (403, None),
        (200, None),
        (304, None),
        (302, "https://www.epochtimes.com/gb/26/11/2/n14870001.htm"),  # moved, not removed
        (302, None),
        (429, None),
    ],
)
def test_outages_moves_and_walls_are_not_gone(status: int, location: str | None) -> None:
    assert gone_reason(status, location) is None


def event(article_id: str, kind: str, hours: int) -> RemovalEvent:
    return RemovalEvent(
        article_id=article_id,
        url=f"https://www.epochtimes.com/gb/26/11/1/{article_id}.htm",
        event=kind,
        reason="http_404" if kind == REMOVED else None,
        last_seen_at=SEEN,
        detected_at=SEEN + timedelta(hours=hours),
        last_version=2,
        run_id=f"run{hours}",
    )


def test_events_round_trip_and_the_latest_event_decides(tmp_path: Path) -> None:
    fs, root = pafs.LocalFileSystem(), str(tmp_path)
    assert write_events(fs, root, "run1", []) is None
    write_events(fs, root, "run1", [event("n1", REMOVED, 1), event("n2", REMOVED, 1)])
    write_events(fs, root, "run2", [event("n1", REAPPEARED, 5)])
    (tmp_path / REMOVALS_DIR / ".removals-run3.parquet.tmp").write_bytes(b"half a file")
    events = read_events(fs, root)
    assert [(e.article_id, e.event) for e in events] == [("n1", REMOVED), ("n2", REMOVED), ("n1", REAPPEARED)]
    assert set(currently_removed(events)) == {"n2"}
    # Analysts read the folder with any Parquet reader.
    table = pads.dataset(tmp_path / REMOVALS_DIR, format="parquet", exclude_invalid_files=True).to_table()
    assert table.num_rows == 3
    assert (
        pq.read_schema(tmp_path / REMOVALS_DIR / "removals-run1.parquet").metadata[b"schema_version"] == b"1"
    )
    assert read_events(fs, str(tmp_path / "nothing-here")) == []
