"""Rebuild on every core (``WARC_PROCESSES``): the same dataset, file for file and row for row, whatever the number
of worker processes, and the same rows as the import through Scrapy's engine (``scrapy crawl -a warc=``).

The captures are our own crawls of two revisions of the replica, both editions: versions (edited articles),
duplicates (an article's unchanged second capture, identical articles), near-duplicates and alternate URLs all
occur, and all must be decided in capture order exactly as one process decides them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from scrapy.settings import Settings

from crawler import stats as keys
from crawler.rebuild.engine import EngineConfig, run_captures
from crawler.rebuild.parallel import Workers, chunked
from crawler.spiders.options import CrawlOptions
from tests.crawling import PROJECT_ROOT, CrawlResult, crawl, scrapy, start_crawl
from tests.replica.testing import serve_replica
from tests.test_warc import ONE_AT_A_TIME

ARTICLES = 200
PROCESS_COUNTS = (1, 2, 3)
KILL_WAIT_SECONDS = 120
pytestmark = pytest.mark.slow
_RUN_ID_RE = re.compile(r"part-(\d{8}T\d{6}Z-[0-9a-f]+)-")


@dataclass(frozen=True)
class Captures:
    site: str
    spec: str  # both revisions' capture folders, newest first: capture order is not the order given


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captures]:
    root = tmp_path_factory.mktemp("captures")
    port = 0
    for revision in (0, 1):
        with serve_replica(articles=ARTICLES, revision=revision, port=port) as site:
            port = int(site.rsplit(":", 1)[1])
            settings = {"WARC_URI": str(root / f"w{revision}"), **ONE_AT_A_TIME}
            done = crawl(site, root / f"rev{revision}", args={"editions": "gb,b5"}, settings=settings)
            assert done.returncode == 0, done.log[-3000:]
    yield Captures(site, f"{root / 'w1'},{root / 'w0'}")


def rebuild(
    captures: Captures, target: Path, processes: int, extra: dict[str, str] | None = None
) -> CrawlResult:
    settings = {
        "WARC_URI": captures.spec,
        "PARQUET_URI": str(target),
        "WARC_PROCESSES": str(processes),
        **(extra or {}),
    }
    done = scrapy(["rebuild", "-a", f"site={captures.site}"], settings)
    assert done.returncode == 0, done.log[-3000:]
    return done


def through_scrapys_engine(site: str, dataset: Path, spec: str) -> CrawlResult:
    """The import through Scrapy's engine and the item pipelines: a feed export (``-O``) keeps it there."""
    return crawl(site, dataset, args={"warc": spec}, feed=dataset.parent / f"{dataset.name}.jsonl")


def part_files(dataset: Path) -> dict[str, list[dict[str, Any]]]:
    """Each part file -> its rows in file order, without the ``run_id`` column. A file is named by its run's rank
    (runs in the order they started: their ids begin with the start time) instead of the id, so that datasets
    written by different runs compare; two runs' files never share a name (a resumed rebuild, an import in two
    steps: each run numbers its files from 1)."""
    paths = sorted(dataset.rglob("*.parquet"))
    run_ids = sorted({match.group(1) for path in paths if (match := _RUN_ID_RE.search(path.name))})
    rank = {run_id: index for index, run_id in enumerate(run_ids, 1)}
    files = {}
    for path in paths:
        name = _RUN_ID_RE.sub(lambda m: f"part-RUN{rank[m.group(1)]}-", str(path.relative_to(dataset)))
        assert name not in files, f"two part files named {name}"
        files[name] = pq.read_table(path).drop_columns(["run_id"]).to_pylist()
    return files


def rows(files: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    every = [row for part in files.values() for row in part]
    return sorted(every, key=lambda r: (r["article_id"], r["version"]))


def test_every_number_of_processes_writes_the_same_files_as_one_and_the_rows_of_an_import(
    captures: Captures, tmp_path: Path
) -> None:
    runs = {n: rebuild(captures, tmp_path / f"p{n}", n) for n in PROCESS_COUNTS}
    datasets = {n: part_files(tmp_path / f"p{n}") for n in PROCESS_COUNTS}
    one = datasets[1]
    every_row = rows(one)
    # The captures exercise every sequential decision, or the comparison below would prove little.
    stats = runs[1].stats
    assert any(r["version"] > 1 for r in every_row), "edited articles become second versions"
    assert any(r["near_duplicate_of"] for r in every_row)
    assert any(r["alternate_urls"] for r in every_row)
    assert stats["articles/dropped/duplicate"] > 0
    assert stats["articles/dropped/duplicate_content"] > 0
    for n in PROCESS_COUNTS[1:]:
        # Forked from the rebuild (parallel.may_fork): no thread of its own has started before.
        assert f"{n} worker processes forked from this one" in runs[n].log
        assert datasets[n] == one, f"{n} processes wrote other files or rows than one"
        assert _decisions(runs[n].stats) == _decisions(stats)

    imported = through_scrapys_engine(captures.site, tmp_path / "imported", captures.spec)
    assert imported.returncode == 0, imported.log[-3000:]
    assert rows(part_files(tmp_path / "imported")) == every_row
    assert _decisions(imported.stats) == _decisions(stats)


def _decisions(stats: dict[str, Any]) -> dict[str, Any]:
    """The counters of what was read and decided (not timings, not Scrapy's own)."""
    prefixes = ("articles/", "warc/captures_read", "warc/skipped/", "parquet/rows_written", "coverage/")
    return {k: v for k, v in stats.items() if k.startswith(prefixes)}


def test_the_run_is_a_crawls_run_manifest_health_and_the_lock_released(
    captures: Captures, tmp_path: Path
) -> None:
    target = tmp_path / "rebuilt"
    done = rebuild(captures, target, 2)
    (manifest_path,) = (target / "_runs").glob("*.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "finished"
    assert manifest["health"]["ok"] is True
    assert manifest["items_written"] == done.stats["parquet/rows_written"] > 0
    assert sorted(manifest["files"]) == sorted(str(p.relative_to(target)) for p in target.rglob("*.parquet"))
    assert manifest["settings"]["site"] == captures.site
    assert json.loads((target / "_rebuild.json").read_text(encoding="utf-8"))["status"] == "finished"
    # The lock was released: a crawl may open the dataset at once.
    again = crawl(captures.site, target, args={"warc": captures.spec})
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats.get("parquet/rows_written", 0) == 0  # every capture is already archived


@pytest.mark.parametrize("processes", [1, 2])
def test_a_part_file_that_cannot_be_written_fails_the_run_with_every_other_file_committed_and_listed(
    captures: Captures, tmp_path: Path, processes: int
) -> None:
    """One partition's directory is taken by a file: its part file fails, the others of the flush (written by
    threads with two processes) are committed and listed, the failed one's rows counted as dropped; the same
    files whatever the number of processes."""
    one_flush = {"PARQUET_FLUSH_ROWS": "100000", "PARQUET_FLUSH_BYTES": str(1 << 30), "LOG_LEVEL": "WARNING"}
    whole = tmp_path / "whole"
    options = CrawlOptions.parse(site=captures.site, warc=captures.spec)
    settings = Settings({"PARQUET_URI": str(whole), "WARC_PROCESSES": str(processes), **one_flush})
    assert run_captures(EngineConfig.from_settings(settings), options).exit_status == 0
    partitions = sorted({path.parent.name for path in whole.rglob("*.parquet")})
    blocked = partitions[len(partitions) // 2]
    target = tmp_path / "blocked"
    target.mkdir()
    (target / blocked).write_text("a file where the partition's directory would be", encoding="utf-8")
    settings = Settings({"PARQUET_URI": str(target), "WARC_PROCESSES": str(processes), **one_flush})
    outcome = run_captures(EngineConfig.from_settings(settings), options)
    assert outcome.exit_status == 1
    assert outcome.stats["finish_reason"] == "output_error"
    (manifest_path,) = (target / "_runs").glob("*.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "failed"
    on_disk = sorted(str(p.relative_to(target)) for p in target.rglob("*.parquet"))
    assert sorted(manifest["files"]) == on_disk
    assert {Path(name).parent.name for name in on_disk} == set(partitions) - {blocked}
    assert not [p for p in target.rglob(".*") if p.is_file()], "no temporary file left"
    expected = {name: rows for name, rows in part_files(whole).items() if not name.startswith(blocked)}
    assert part_files(target) == expected
    assert outcome.stats[keys.ROWS_WRITTEN] == len(rows(expected))
    dropped = len(rows(part_files(whole))) - len(rows(expected))
    assert outcome.stats[keys.dropped("output_error")] == dropped > 0


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_number_of_processes_is_one_line_naming_the_setting(
    captures: Captures, tmp_path: Path, value: str
) -> None:
    settings = {"WARC_URI": captures.spec, "PARQUET_URI": str(tmp_path / "t"), "WARC_PROCESSES": value}
    done = scrapy(["rebuild", "-a", f"site={captures.site}"], settings)
    assert done.returncode == 1
    assert "WARC_PROCESSES must be a positive whole number" in done.log
    assert "Traceback" not in done.log


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_rebuild_resumes_after_its_checkpoint_and_ends_with_the_uninterrupted_rows(
    captures: Captures, tmp_path: Path, stop: signal.Signals
) -> None:
    """Killed, or stopped by SIGTERM (which ends it at a page, as a crawl: one line, exit 1), after a checkpoint:
    the same command resumes it."""
    small_flushes = {"PARQUET_FLUSH_ROWS": "40"}
    whole = rebuild(captures, tmp_path / "whole", 2, small_flushes)
    target = tmp_path / "stopped"
    settings = {
        "WARC_URI": captures.spec,
        "PARQUET_URI": str(target),
        "WARC_PROCESSES": "2",
        "LOG_LEVEL": "INFO",
        **small_flushes,
    }
    command = [sys.executable, "-m", "scrapy", "rebuild", "-a", f"site={captures.site}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while not _has_checkpoint(target):
            assert time.monotonic() < deadline and process.poll() is None, "no checkpoint before the end"
            time.sleep(0.05)
        # To the rebuild alone: SIGKILL as the kernel's out-of-memory killer sends it, SIGTERM as a service manager
        # does. Its stderr is read to the end, which comes once the workers have ended too (they hold it): a
        # worker left waiting for work would time this out.
        os.kill(process.pid, stop)
        _, log = process.communicate(timeout=KILL_WAIT_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):  # no process left, as it should be
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if stop == signal.SIGTERM:
        assert process.returncode == 1, log[-3000:]
        assert "rebuild: interrupted; the same command resumes it" in log
        assert "Traceback" not in log
    marker = json.loads((target / "_rebuild.json").read_text(encoding="utf-8"))
    assert marker["status"] == "running"
    again = scrapy(["rebuild", "-a", f"site={captures.site}"], settings)
    assert again.returncode == 0, again.log[-3000:]
    assert "resuming after" in again.log
    # The captures up to the checkpoint were not read again, and the rows are those of a run never stopped.
    assert again.stats["warc/captures_read"] < whole.stats["warc/captures_read"]
    assert rows(part_files(target)) == rows(part_files(tmp_path / "whole"))


def _has_checkpoint(target: Path) -> bool:
    try:
        marker = json.loads((target / "_rebuild.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(marker.get("checkpoint"))


def test_importing_older_captures_into_an_archive_inserts_them_as_the_scrapy_import_does(
    captures: Captures, tmp_path: Path
) -> None:
    """The newer revision's captures first, then the older one's: backfill, through either engine."""
    newer, older = captures.spec.split(",")
    through_scrapy = tmp_path / "scrapy"
    for spec in (newer, older):
        done = through_scrapys_engine(captures.site, through_scrapy, spec)
        assert done.returncode == 0, done.log[-3000:]
    scrapy_stats = done.stats
    on_every_core = tmp_path / "cores"
    settings = Settings({"PARQUET_URI": str(on_every_core), "WARC_PROCESSES": "2", "LOG_LEVEL": "WARNING"})
    for spec in (newer, older):
        outcome = run_captures(
            EngineConfig.from_settings(settings), CrawlOptions.parse(site=captures.site, warc=spec)
        )
        assert outcome.exit_status == 0, outcome.stats
    assert outcome.stats[keys.BACKFILL_INSERTED] > 0, "older captures of edited articles become versions"
    assert _decisions(outcome.stats) == _decisions(scrapy_stats)
    assert {k: v for k, v in outcome.stats.items() if k.startswith("backfill/")} == {
        k: v for k, v in scrapy_stats.items() if k.startswith("backfill/")
    }
    assert rows(part_files(on_every_core)) == rows(part_files(through_scrapy))


def test_an_import_runs_on_every_core_and_in_scrapys_engine_only_with_a_feed_export(
    captures: Captures, tmp_path: Path
) -> None:
    settings = {"WARC_PROCESSES": "2", "PROGRESS_INTERVAL": "0.05"}
    on_every_core = crawl(captures.site, tmp_path / "cores", args={"warc": captures.spec}, settings=settings)
    assert on_every_core.returncode == 0, on_every_core.log[-3000:]
    assert on_every_core.stats[keys.REBUILD_PROCESSES] == 2
    assert "Progress: " in on_every_core.log  # as a crawl logs it, every PROGRESS_INTERVAL
    through_scrapy = through_scrapys_engine(captures.site, tmp_path / "scrapy", captures.spec)
    assert through_scrapy.returncode == 0, through_scrapy.log[-3000:]
    assert keys.REBUILD_PROCESSES not in through_scrapy.stats
    assert rows(part_files(tmp_path / "cores")) == rows(part_files(tmp_path / "scrapy"))
    assert _decisions(on_every_core.stats) == _decisions(through_scrapy.stats)


def test_a_sigterm_stops_an_import_as_a_crawl_stops_what_was_read_committed_and_the_lock_released(
    captures: Captures, tmp_path: Path
) -> None:
    target = tmp_path / "stopped"
    settings = {"WARC_PROCESSES": "2", "PARQUET_FLUSH_ROWS": "40"}
    process = start_crawl(
        captures.site,
        args={"warc": captures.spec},
        settings={**settings, "PARQUET_URI": target, "LOG_LEVEL": "INFO"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while not _committed(target):
        assert time.monotonic() < deadline and process.poll() is None, "nothing committed before the end"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=KILL_WAIT_SECONDS)
    assert process.returncode == 1, log[-3000:]
    assert "Received SIGTERM" in log
    assert "Traceback" not in log
    (manifest_path,) = (target / "_runs").glob("*.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    stopped_rows = rows(part_files(target))
    assert len(stopped_rows) == manifest["items_written"] > 0
    # The lock was released and the rest is read by the same import again: the rows of one uninterrupted import.
    again = crawl(captures.site, target, args={"warc": captures.spec}, settings=settings)
    assert again.returncode == 0, again.log[-3000:]
    whole = crawl(captures.site, tmp_path / "whole", args={"warc": captures.spec}, settings=settings)
    assert whole.returncode == 0, whole.log[-3000:]
    assert len(stopped_rows) < len(rows(part_files(tmp_path / "whole")))
    assert rows(part_files(target)) == rows(part_files(tmp_path / "whole"))


def _committed(dataset: Path) -> bool:
    for path in (dataset / "_runs").glob("*.json"):
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("items_written", 0) > 0:
                return True
        except (OSError, ValueError):
            pass
    return False


def squares(chunk: list[int]) -> list[tuple[int, int]]:
    """Work for worker processes: each number squared, with the process that squared it."""
    return [(number * number, os.getpid()) for number in chunk]


def warn_each(chunk: list[int]) -> list[int]:
    """Work for worker processes that logs a warning per number, as the WARC reader warns of a cut record."""
    for number in chunk:
        logging.getLogger("tests.worker").warning("number %d from %d", number, os.getpid())
    time.sleep(0.01)  # slow enough that the workers, once up, take chunks
    return chunk


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def python(script: str, *arguments: str) -> list[str]:
    """The words a fresh interpreter prints running ``script`` (``sys.argv[1:]``: ``arguments``) from the project
    root."""
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=KILL_WAIT_SECONDS,
        check=True,
    )
    return done.stdout.split()


def test_workers_forked_from_a_process_without_threads_of_its_own_give_the_results_in_order() -> None:
    forked, in_order, inline = python(
        "import os\n"
        "from crawler.rebuild.parallel import Workers, chunked\n"
        "def squares(chunk):\n"
        "    return [(number * number, os.getpid()) for number in chunk]\n"
        "with Workers(2) as workers:\n"
        "    results = list(workers.map(squares, chunked(range(100), 8)))\n"
        "print(workers.forked, [n for n, _ in results] == [n * n for n in range(100)],"
        " any(pid == os.getpid() for _, pid in results))"
    )
    assert forked == "True"
    assert in_order == "True"
    assert inline == "False"  # forked at once: nothing waited for a worker to start


def test_no_fork_with_a_thread_started_since_import_even_one_only_the_os_lists(tmp_path: Path) -> None:
    fresh, python_thread, python_threads_only, after_parquet = python(
        "import sys, threading\n"
        "import pyarrow as pa, pyarrow.parquet as pq\n"
        "from crawler.rebuild.parallel import may_fork\n"
        "print(may_fork())\n"
        "stop = threading.Event(); thread = threading.Thread(target=stop.wait); thread.start()\n"
        "print(may_fork())\n"
        "stop.set(); thread.join()\n"
        "pq.write_table(pa.table({'n': list(range(10))}), sys.argv[1]); pq.read_table(sys.argv[1])\n"
        "print(threading.active_count(), may_fork())",
        str(tmp_path / "n.parquet"),
    )
    assert fresh == "True"
    assert python_thread == "False"
    # pyarrow's thread pools, started by reading Parquet: threads that only the OS lists.
    assert python_threads_only == "1"
    assert after_parquet == "False"


@contextlib.contextmanager
def another_thread_running() -> Iterator[None]:
    """A thread of this process's own running meanwhile: workers cannot be forked (parallel.may_fork)."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="other")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_with_a_thread_running_the_fork_server_starts_the_workers_same_results() -> None:
    with another_thread_running(), Workers(2) as workers:
        results = list(workers.map(squares, chunked(range(100), 8)))
    assert not workers.forked
    assert [number for number, _ in results] == [number * number for number in range(100)]


def test_the_fork_servers_workers_log_to_the_callers_handlers() -> None:
    """Forked workers inherit the caller's handlers (the log file); served ones get its records by a queue."""
    collected = Collected()
    root = logging.getLogger()
    root.addHandler(collected)
    try:
        with another_thread_running(), Workers(2) as workers:
            numbers = list(workers.map(warn_each, chunked(range(600), 2)))
    finally:
        root.removeHandler(collected)
    assert not workers.forked
    assert numbers == list(range(600))
    logged = sorted(int(message.split()[1]) for message in collected.messages)
    assert logged == list(range(600))
    assert any(not message.endswith(f" {os.getpid()}") for message in collected.messages)
