"""Real servers for the distributed-mode tests: ``redis-server`` and moto's S3 server, on 127.0.0.1 free ports.

Each is a child process started on a port the kernel just handed out and waited for until it answers; it is
stopped (by its own pid) when the context exits. No mocks: the crawlers under test talk to them over TCP.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from pyarrow import fs as pafs

from tests.processes import stop

LOCALHOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
# moto accepts any credentials; pyarrow and boto need some to sign requests.
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"


class ServiceUnavailableError(RuntimeError):
    """A server binary is missing or did not start in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailableError(f"{name} exited with status {process.returncode} at start-up")
        try:
            with socket.create_connection((LOCALHOST, port), timeout=POLL_INTERVAL_S * 10):
                return
        except OSError:
            time.sleep(POLL_INTERVAL_S)
    raise ServiceUnavailableError(f"{name} did not listen on port {port} within {STARTUP_TIMEOUT_S} s")


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` (no persistence); yields its ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailableError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="redis-") as workdir:
        command = [binary, "--port", str(port), "--bind", LOCALHOST, "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process, "redis-server")
            url = f"redis://{LOCALHOST}:{port}/0"
            redis.Redis.from_url(url).ping()
            yield url
        finally:
            stop(process)


@dataclass(frozen=True, slots=True)
class S3Server:
    endpoint: str

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point pyarrow (and any AWS client) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_REGION": S3_REGION,
        }

    def new_bucket(self) -> str:
        """A fresh, empty bucket (created through pyarrow, as a user's tooling would)."""
        name = f"bucket-{uuid.uuid4().hex[:12]}"
        filesystem = pafs.S3FileSystem(
            access_key=S3_ACCESS_KEY,
            secret_key=S3_SECRET_KEY,
            region=S3_REGION,
            endpoint_override=self.endpoint,
            scheme="http",
            allow_bucket_creation=True,
        )
        filesystem.create_dir(name)
        return name


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto in server mode (``python -m moto.server``), an S3-compatible endpoint over HTTP."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(port)]
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "1"}
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        log = Path(workdir) / "moto.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
            try:
                _wait_for_port(port, process, "moto server")
                yield S3Server(f"http://{LOCALHOST}:{port}")
            finally:
                stop(process)
