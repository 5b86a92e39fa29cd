"""One writer per dataset (local mode): an exclusive ``flock`` on ``<root>/_lock`` held for the whole run.

The kernel drops a ``flock`` when its holder dies, however it dies, so a lock file left by a killed run is
free again at once: there is no stale-lock detection to get wrong and no take-over race. The file's JSON
content (pid, hostname, run_id, since) only serves to name the holder in the second run's error message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

LOCK_FILENAME = "_lock"


class DatasetLockedError(RuntimeError):
    """Another live process holds the dataset's lock."""


class WriterLock(Protocol):
    """What the exporter needs of its lock: this ``flock`` or, in distributed mode, Redis coordination."""

    @property
    def sole_writer(self) -> bool:
        """Nobody else writes the dataset now: repairing what killed runs left is safe."""
        ...

    def acquire(self) -> None: ...

    def startup_done(self) -> None:
        """The dataset is repaired: other writers may start."""

    def committed(self, article_ids: Iterable[str]) -> None:
        """These articles are in a committed part file."""

    def release(self) -> None: ...

    def __enter__(self) -> WriterLock: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int | None
    hostname: str | None
    run_id: str | None
    since: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "an unidentified process"
        return f"pid {self.pid} on {self.hostname}, run {self.run_id}, since {self.since}"


def read_holder(path: Path) -> LockHolder:
    """What the lock file says about its holder; fields are None when it is unreadable or half-written."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return LockHolder(data.get("pid"), data.get("hostname"), data.get("run_id"), data.get("since"))


class DatasetLock:
    """Exclusive, non-blocking lock on a local dataset root; a context manager."""

    def __init__(self, root: Path | str, run_id: str) -> None:
        self.path = Path(root) / LOCK_FILENAME
        self.run_id = run_id
        self._fd: int | None = None
        self.previous: LockHolder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def sole_writer(self) -> bool:
        return self.held

    def startup_done(self) -> None:
        """Nothing to hand over: the lock excludes every other writer for the whole run."""

    def committed(self, article_ids: Iterable[str]) -> None:
        """The part file itself is the record of what is archived."""

    def acquire(self) -> None:
        """Take the lock or raise DatasetLockedError naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.path)
            raise DatasetLockedError(
                f"dataset {self.path.parent} is locked by {holder.describe()} ({self.path}); "
                "another run is writing it: wait for it to finish"
            ) from None
        self.previous = read_holder(self.path)
        self._fd = fd
        self._write_holder(fd)

    def _write_holder(self, fd: int) -> None:
        holder = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "run_id": self.run_id,
            "since": datetime.now(UTC).isoformat(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # Emptied before unlocking so that nobody reads our details as a current holder.
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DatasetLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
