"""Child processes the tests and benchmarks start (replica, nginx, redis-server, moto): stopped the same way."""

from __future__ import annotations

import subprocess
from typing import Any

STOP_TIMEOUT_S = 10.0


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S; always reaped."""
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
