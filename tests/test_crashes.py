"""Crashes of the real commands (README "What it survives"): SIGKILL at several points of a crawl, including
while a Parquet file is being written, SIGKILL of `scrapy compact` mid-compaction, and SIGTERM. No visible
partial file, no committed row lost, and the next run (or compaction) completes the dataset with no duplicate.
(SIGKILL between two flushes: tests/test_dataset_e2e.py; each compaction step: tests/test_compact.py.)"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pipelines.dataset.compact import JOURNAL_DIR
from tests.accounting import read_manifest
from tests.crawling import FAST_SETTINGS, PROJECT_ROOT, crawl, start_crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete, visible_files

pytestmark = pytest.mark.slow

ARTICLES = 150
# What the test waits for before it kills: the signs of a run at that point, or of a compaction mid-way.
DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.002
KILL_ATTEMPTS = 5
# Many small commits, each of many row groups: a crawl spends much of its time writing part files.
WRITE_HEAVY = {"PARQUET_FLUSH_ROWS": "30", "PARQUET_PARTITION": "month", "PARQUET_ROW_GROUP_SIZE": "1"}

Rows = collections.Counter[tuple[str, int]]


def rows(dataset: Path) -> Rows:
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table(
        columns=["article_id", "version"]
    )
    return collections.Counter(
        zip(table.column("article_id").to_pylist(), table.column("version").to_pylist(), strict=True)
    )


def hidden_temporaries(dataset: Path) -> list[Path]:
    return list(dataset.rglob(".*.tmp"))


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_replica(articles=ARTICLES) as base_url:
        yield base_url


def start(command: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def start_crawl_of(site: str, dataset: Path, settings: dict[str, str], **popen: Any) -> subprocess.Popen[Any]:
    """A crawl of ``dataset`` to kill or interrupt; its output goes where ``popen`` says (nowhere by default)."""
    merged = {**FAST_SETTINGS, "CONCURRENT_REQUESTS": "4", **settings, "PARQUET_URI": dataset}
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return start_crawl(site, settings=merged, **streams)


def signal_when(process: subprocess.Popen[bytes], ready: Callable[[], bool], signum: int) -> bool:
    """Send ``signum`` as soon as ``ready()`` holds; False if the process ended first."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.send_signal(signum)
            process.wait()
            return True
        time.sleep(POLL_SECONDS)
    process.wait()
    return False


def assert_only_complete_files(dataset: Path) -> None:
    """What a reader lists: whole Parquet files, nothing else."""
    for path in visible_files(dataset):
        assert path.suffix == ".parquet", path
        pq.read_metadata(path)  # a torn file has no footer


# ---- SIGKILL during a crawl --------------------------------------------------------------------------------


def _run_started(dataset: Path) -> Callable[[], bool]:
    """The lock is held and the manifest says running: nothing committed yet."""
    return lambda: (dataset / "_runs").is_dir() and any((dataset / "_runs").glob("*.json"))


def _part_being_written(dataset: Path) -> Callable[[], bool]:
    return lambda: any(dataset.glob("*=*/.part-*.tmp"))


def kill_at(site: str, dataset: Path, moment: str) -> None:
    """SIGKILL a crawl at ``moment``. A part file can be renamed between our seeing it and the signal landing,
    so a kill "mid-write" is retried on a fresh dataset until the half-written file is really left behind."""
    ready = _run_started(dataset) if moment == "run started" else _part_being_written(dataset)
    for _ in range(KILL_ATTEMPTS):
        shutil.rmtree(dataset, ignore_errors=True)
        victim = start_crawl_of(site, dataset, WRITE_HEAVY)
        assert signal_when(victim, ready, signal.SIGKILL), f"the crawl ended before: {moment}"
        assert victim.returncode == -signal.SIGKILL
        if moment == "run started" or hidden_temporaries(dataset):
            return
    pytest.fail(f"no kill landed while a part file was being written in {KILL_ATTEMPTS} attempts")


@pytest.mark.parametrize("moment", ["run started", "part file being written"])
def test_sigkill_loses_no_committed_row_and_the_next_run_completes_without_duplicates(
    site: str, tmp_path: Path, moment: str
) -> None:
    dataset = tmp_path / "articles"
    kill_at(site, dataset, moment)
    assert_only_complete_files(dataset)
    committed = rows(dataset) if visible_files(dataset) else Rows()
    again = crawl(site, dataset, args={"refresh_days": "0"}, settings=WRITE_HEAVY)
    assert again.returncode == 0, again.log[-3000:]
    assert "was interrupted" in again.log
    assert hidden_temporaries(dataset) == []
    after = rows(dataset)
    assert committed <= after  # every committed row is still there
    assert_complete([article_id for article_id, _ in after.elements()], Site(articles=ARTICLES))


# ---- SIGKILL during `scrapy compact` ------------------------------------------------------------------------


def compact_command(dataset: Path) -> list[str]:
    command = [sys.executable, "-m", "scrapy", "compact", "-s", f"PARQUET_URI={dataset}"]
    return [*command, "-s", "PARQUET_PARTITION=month", "-s", "PARQUET_ROW_GROUP_SIZE=1"]


def test_sigkill_mid_compaction_loses_no_row_and_the_next_compact_and_crawl_complete(
    site: str, tmp_path: Path
) -> None:
    dataset = tmp_path / "articles"
    first = crawl(site, dataset, settings={**WRITE_HEAVY, "PARQUET_FLUSH_ROWS": "3"})
    assert first.returncode == 0, first.log[-3000:]
    before = rows(dataset)
    victim = start(compact_command(dataset))
    journal = dataset / JOURNAL_DIR
    killed = signal_when(victim, lambda: journal.is_dir() and any(journal.glob("*.json")), signal.SIGKILL)
    assert killed, "the compaction ended before a journal was seen"
    assert victim.returncode == -signal.SIGKILL
    assert_only_complete_files(dataset)
    # A reader may see a merged file beside some of its inputs until recovery (pipelines/dataset/compact.py), never less.
    assert set(rows(dataset)) == set(before)
    finished = subprocess.run(
        compact_command(dataset), cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "recovery:" in finished.stdout
    assert rows(dataset) == before
    assert list(journal.glob("*")) == [] and hidden_temporaries(dataset) == []
    again = crawl(site, dataset, args={"refresh_days": "0"}, settings=WRITE_HEAVY)
    assert again.returncode == 0, again.log[-3000:]
    assert rows(dataset) == before  # nothing new on the site, nothing written twice


# ---- SIGTERM ------------------------------------------------------------------------------------------------


SCRAPED = "Scraped from"  # Scrapy's DEBUG line for each item that went through the pipelines
SCRAPED_BEFORE_SIGTERM = 5


def test_sigterm_flushes_what_was_extracted_and_marks_the_run_interrupted(site: str, tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    log = tmp_path / "crawl.log"
    stats_file = tmp_path / "stats.json"
    # The flush threshold is never reached: what was extracted sits in the buffer when the signal comes.
    settings = {"PARQUET_FLUSH_ROWS": "1000", "LOG_LEVEL": "DEBUG", "STATS_JSON": str(stats_file)}
    with log.open("w", encoding="utf-8") as sink:
        victim = start_crawl_of(site, dataset, settings, stderr=sink)
        scraped = lambda: log.read_text(encoding="utf-8").count(SCRAPED) >= SCRAPED_BEFORE_SIGTERM  # noqa: E731
        assert signal_when(victim, scraped, signal.SIGTERM)
    text = log.read_text(encoding="utf-8")
    assert victim.returncode == 1, text[-3000:]  # interrupted: cron hears about it
    assert "Received SIGTERM, shutting down gracefully" in text
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    assert stats["finish_reason"] == "shutdown"
    manifest = read_manifest(dataset, stats["run/id"])
    # Not "finished": the next run must page past known articles to fill what this one did not reach.
    assert manifest["status"] == "interrupted"
    assert stats["parquet/rows_written"] == manifest["items_written"] >= SCRAPED_BEFORE_SIGTERM
    assert sorted(manifest["files"]) == sorted(str(p.relative_to(dataset)) for p in visible_files(dataset))
    assert sum(rows(dataset).values()) == manifest["items_written"]
    dropped = sum(count for reason, count in manifest["items_dropped"].items() if "/" not in reason)
    assert stats["articles/extracted"] == manifest["items_written"] + dropped
    again = crawl(site, dataset, args={"refresh_days": "0"})
    assert again.returncode == 0, again.log[-3000:]
    assert "paging past known articles" in again.log
    assert_complete([article_id for article_id, _ in rows(dataset).elements()], Site(articles=ARTICLES))
