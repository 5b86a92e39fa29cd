"""A site that crashes mid-crawl and comes back on the same port: the outage harness of the reliability and
retry tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.crawling import PROJECT_ROOT, start_crawl
from tests.replica.testing import READY_PREFIX

RESTART_ARTICLES = 150
# A crashed site's port can be refused for a moment (EADDRINUSE, seen about once in ten restarts under a
# crawl's stream of connection attempts): the site comes back as soon as the port can be bound again.
REBIND_ATTEMPTS = 50
REBIND_PAUSE_SECONDS = 0.2


def start_replica(port: int) -> tuple[subprocess.Popen[str], int]:
    """A replica of RESTART_ARTICLES articles on ``port`` (0: any free port) and the port it listens on."""
    for _ in range(REBIND_ATTEMPTS - 1):
        started = _try_start_replica(port)
        if started is not None:
            return started
        time.sleep(REBIND_PAUSE_SECONDS)
    started = _try_start_replica(port)
    assert started is not None, f"the replica could not listen on port {port}"
    return started


def _try_start_replica(port: int) -> tuple[subprocess.Popen[str], int] | None:
    command = [
        sys.executable,
        "-m",
        "tests.replica",
        "--port",
        str(port),
        "--articles",
        str(RESTART_ARTICLES),
    ]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(READY_PREFIX):
        stop(process)  # it could not listen: it has exited or is about to
        return None
    return process, int(line.rsplit(":", 1)[1])


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def wait_for_log(log: Path, needle: str, count: int, crawler: subprocess.Popen[Any]) -> None:
    while crawler.poll() is None and log.read_text(encoding="utf-8").count(needle) < count:
        time.sleep(0.05)


def crawl_through_an_outage(
    log: Path,
    server: subprocess.Popen[str],
    port: int,
    settings: Mapping[str, object],
    outage: Callable[[subprocess.Popen[Any]], None],
) -> int:
    """Crawl the replica ``server`` on ``port`` with ``settings``, logging to ``log``; once a first flush is
    written, kill the site, wait for ``outage(crawler)`` to return, bring the site back on its port. Returns the
    crawl's exit status; the site is stopped at the end."""
    with log.open("w", encoding="utf-8") as sink:
        crawler = start_crawl(f"http://127.0.0.1:{port}", settings=settings, stderr=sink)
        try:
            wait_for_log(log, "Flushed", 1, crawler)
            server.kill()  # the site crashes: its sockets close at once
            stop(server)
            outage(crawler)
            server, _ = start_replica(port)
            returncode = crawler.wait()
        finally:
            if crawler.poll() is None:
                crawler.kill()
                crawler.wait()
            stop(server)
    return returncode
