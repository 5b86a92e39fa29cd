"""DatasetLock: one writer per dataset, the holder named, a dead holder's lock free at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.dataset.lock import LOCK_FILENAME, DatasetLock, DatasetLockedError, read_holder
from tests.processes import python_child
from tests.test_parquet import close_run, make_pipeline

HOLDER_SCRIPT = (
    "import sys; from pipelines.dataset.lock import DatasetLock; "
    "DatasetLock(sys.argv[1], run_id='holder-run').acquire(); print('held', flush=True); sys.stdin.read()"
)


@contextmanager
def held_by_subprocess(root: Path) -> Iterator[subprocess.Popen[str]]:
    """The dataset lock of ``root`` held by another live process (run id ``holder-run``) for the block."""
    with python_child(HOLDER_SCRIPT, str(root)) as (holder, said):
        assert said == "held"
        yield holder


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_acquire_records_the_holder_and_release_clears_it(tmp_path: Path) -> None:
    lock = DatasetLock(tmp_path / "articles", run_id="run-1")
    with lock:
        assert lock.held
        holder = read_holder(tmp_path / "articles" / LOCK_FILENAME)
        assert (holder.pid, holder.run_id) == (os.getpid(), "run-1")
        assert holder.hostname and holder.since
    assert not lock.held
    assert read_holder(tmp_path / "articles" / LOCK_FILENAME).pid is None


def test_second_lock_fails_naming_the_holder(tmp_path: Path) -> None:
    with held_by_subprocess(tmp_path) as holder, pytest.raises(DatasetLockedError) as error:
        DatasetLock(tmp_path, run_id="second").acquire()
    message = str(error.value)
    assert f"pid {holder.pid}" in message
    assert "holder-run" in message
    assert str(tmp_path) in message


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    with held_by_subprocess(tmp_path) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert read_holder(tmp_path / LOCK_FILENAME).run_id == "holder-run"  # the dead holder's file is left
        with DatasetLock(tmp_path, run_id="after-kill") as lock:
            assert read_holder(lock.path).run_id == "after-kill"


def test_stale_lock_file_of_a_dead_pid_is_taken_over(tmp_path: Path) -> None:
    stale = {
        "pid": dead_pid(),
        "hostname": "gone",
        "run_id": "dead-run",
        "since": "2020-01-01T00:00:00+00:00",
    }
    (tmp_path / LOCK_FILENAME).write_text(json.dumps(stale))
    assert read_holder(tmp_path / LOCK_FILENAME).run_id == "dead-run"
    with DatasetLock(tmp_path, run_id="new-run") as lock:
        assert read_holder(lock.path).run_id == "new-run"


def test_garbage_lock_file_does_not_prevent_locking(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILENAME).write_text("{not json")
    assert read_holder(tmp_path / LOCK_FILENAME).pid is None
    with DatasetLock(tmp_path, run_id="new-run") as lock:
        assert read_holder(lock.path).pid == os.getpid()


def test_second_pipeline_on_a_dataset_refuses_to_open(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    first = make_pipeline(root)
    first.open_spider()
    try:
        second = make_pipeline(root)
        with pytest.raises(DatasetLockedError, match=first.run.run_id):
            second.open_spider()
        close_run(second)
        assert not list(root.rglob("*.parquet"))
    finally:
        close_run(first)
    with DatasetLock(root, run_id="after-first") as lock:
        assert lock.held
