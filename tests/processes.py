"""Child processes the tests and benchmarks start (replica, nginx, redis-server, moto): stopped the same way;
Python children that hold something (a lock, a half-written run) until the test is done with them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.crawling import PROJECT_ROOT

STOP_TIMEOUT_S = 10.0


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S; always reaped."""
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def python_child(script: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -c SCRIPT ARGS`` from the project root, alive for the block: yields the process and the first line
    it prints (the script says it is ready, or what it did), then kills and reaps it. A script that must stay
    alive (to hold a lock) waits on its stdin."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield child, child.stdout.readline().strip()
    finally:
        child.kill()
        child.communicate()
