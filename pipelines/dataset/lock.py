"""One writer per dataset (local mode): an exclusive ``flock`` on ``<root>/_lock`` held for the whole run.

The kernel drops a ``flock`` when its holder dies, however it dies, so a lock file left by a killed run is
free again at once: there is no stale-lock detection to get wrong and no take-over race. The file's JSON
content (pid, hostname, run_id, since) only serves to name the holder in the second run's error message.

The lock is chosen by the ``DATASET_LOCK_CLASS`` setting (this one by default; the distributed add-on swaps in
``crawler.distributed.coordination.RedisWriterLock``): a :class:`WriterLockClass`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyarrow.fs as pafs

from pipelines.dataset.manifest import STATUS_FINISHED, last_run_status

LOCK_FILENAME = "_lock"


class DatasetLockedError(RuntimeError):
    """Another live process holds the dataset's lock."""


class RemoteWithoutRedisError(ValueError):
    """PARQUET_URI is remote storage: its writers cannot share a file lock."""


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

    def previous_run_incomplete(self) -> bool:
        """The last run did not finish: some channels' older pages may not be archived."""
        ...

    def __enter__(self) -> WriterLock: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class WriterLockClass(Protocol):
    """A ``DATASET_LOCK_CLASS``: how a run and ``scrapy compact`` exclude the other writers of a dataset."""

    def for_run(
        self, fs: pafs.FileSystem, root: str, run_id: str, settings: Any, stats: Any | None = None
    ) -> WriterLock:
        """The lock of one run (settings and stats are Scrapy's)."""
        ...

    def for_maintenance(
        self, fs: pafs.FileSystem, root: str, token: str, settings: Any
    ) -> AbstractContextManager[object]:
        """Held while ``scrapy compact`` rewrites the dataset: no run may write meanwhile."""
        ...


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

    @classmethod
    def for_run(
        cls, fs: pafs.FileSystem, root: str, run_id: str, settings: Any = None, stats: Any | None = None
    ) -> DatasetLock:
        if not isinstance(fs, pafs.LocalFileSystem):
            raise RemoteWithoutRedisError(
                f"PARQUET_URI {root!r} is not a local path: writers of remote storage cannot share a file "
                "lock, so they coordinate through Redis: set REDIS_URL=redis://host:port/db as well"
            )
        return cls(root, run_id)

    @classmethod
    def for_maintenance(cls, fs: pafs.FileSystem, root: str, token: str, settings: Any = None) -> DatasetLock:
        return cls.for_run(fs, root, token)

    def previous_run_incomplete(self) -> bool:
        """The manifests tell (the lock is held: a manifest still ``running`` was marked ``interrupted``)."""
        status = last_run_status(pafs.LocalFileSystem(), str(self.path.parent), excluding=self.run_id)
        return status not in (None, STATUS_FINISHED)

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
