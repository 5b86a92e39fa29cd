"""`serve_replica`: the replica as a real HTTP server in a subprocess, for tests, the demo and benchmarks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tests.processes import stop

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "serving "


@contextmanager
def serve_replica(
    articles: int = 200,
    seed: int = 0,
    revision: int = 0,
    faults: bool = False,
    redesign: bool = False,
    slow_seconds: float = 40.0,
    home_era: str = "current",
    list_markup: str = "known",
    unknown_layouts: bool = False,
    half_broken: bool = False,
    port: int = 0,
    clock: datetime | None = None,
    blocks: str = "",
) -> Iterator[str]:
    """Yields the base URL ("http://127.0.0.1:PORT") of a running replica; stops it on exit.

    ``port`` 0 takes a free one; a given one serves another revision where an earlier replica was.
    """
    command = [sys.executable, "-m", "tests.replica", "--port", str(port), "--articles", str(articles)]
    command += ["--seed", str(seed), "--revision", str(revision), "--slow-seconds", str(slow_seconds)]
    command += ["--faults"] * faults + ["--redesign"] * redesign
    command += ["--unknown-layouts"] * unknown_layouts + ["--half-broken"] * half_broken
    command += ["--home-era", home_era, "--list-markup", list_markup]
    command += ["--clock", clock.isoformat()] if clock is not None else []
    command += ["--blocks", blocks] if blocks else []
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"replica did not start (exit code {process.poll()}): {line!r}")
        yield line[len(READY_PREFIX) :].strip()
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()
