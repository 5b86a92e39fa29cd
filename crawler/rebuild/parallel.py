"""An ordered parallel map in worker processes, with a bounded number of chunks in flight.

Results come back in input order, whatever the number of processes, and at most ``2 * processes`` chunks are
read ahead, so memory does not grow with the input (``multiprocessing.Pool.imap`` would read all of it ahead).
One process means no pool at all: the work runs inline, in the caller's process. With more, the caller also works
inline until the first worker is up: a worker takes a second or so to start (a fresh interpreter importing the
extraction code), a share of a rebuild's time that no second core would otherwise shorten.

Workers are started by a fork server, not forked from the caller: the caller holds pyarrow's threads, and a
process forked from a threaded one may deadlock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# Chunks in flight per worker: one being worked on, one waiting, so that no worker idles while results drain.
CHUNKS_AHEAD_PER_PROCESS = 2
# Modules the fork server imports once, so that each worker starts with them loaded.
PRELOAD = ["crawler.rebuild.pages"]


def default_processes() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def chunked(items: Iterable[In], size: int) -> Iterator[list[In]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ordered_map(
    work: Callable[[list[In]], list[Out]], chunks: Iterable[list[In]], processes: int
) -> Generator[Out, None, None]:
    """``work`` applied to each chunk, in ``processes`` worker processes (inline for one); results in order.

    ``work`` must be a module-level function (it is sent to the workers by name). An exception in a worker is
    raised here, at the chunk it came from.
    """
    if processes <= 1:
        for chunk in chunks:
            yield from work(chunk)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_leave_signals) as pool:
        starter = _Starter(pool, processes)
        try:
            pending: deque[Future[list[Out]]] = deque()
            for chunk in chunks:
                # Inline only before the first chunk is sent: its results then come before any sent chunk's.
                if not pending and not starter.ready():
                    yield from work(chunk)
                    continue
                pending.append(pool.submit(work, chunk))
                if len(pending) >= processes * CHUNKS_AHEAD_PER_PROCESS:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            starter.join()


def _leave_signals() -> None:
    """Ctrl-C (the whole process group) and SIGTERM are the caller's to act on: it stops sending work and waits for
    the chunks under way, rather than the workers dying mid-chunk with a traceback each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _Starter:
    """Starts the workers in a thread: starting one waits until the fork server has imported the extraction code
    (a second or so), which the caller spends reading the captures' order and pages inline instead."""

    def __init__(self, pool: ProcessPoolExecutor, processes: int) -> None:
        self._pool = pool
        self._processes = processes
        self._started: list[Future[int]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="start-workers", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            # A task per worker: the pool spawns one per task.
            for _ in range(self._processes):
                self._started.append(self._pool.submit(os.getpid))
        except BaseException as error:  # raised in the caller's thread by ready()
            self._error = error

    def ready(self) -> bool:
        """Whether a worker is up (a worker that could not start raises here)."""
        if self._error is not None:
            raise self._error
        return any(future.done() for future in list(self._started))

    def join(self) -> None:
        self._thread.join()
