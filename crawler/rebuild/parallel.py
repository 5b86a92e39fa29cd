"""An ordered parallel map in worker processes, with a bounded number of chunks in flight.

Results come back in input order, whatever the number of processes, and at most ``CHUNKS_AHEAD_PER_PROCESS *
processes`` chunks are read ahead, so memory does not grow with the input (``multiprocessing.Pool.imap`` would
read all of it ahead).
One process means no pool at all: the work runs inline, in the caller's process.

The workers are forked from the caller when that is safe (:func:`may_fork`): at once, with the extraction code
already imported. Otherwise a fork server starts them: a fresh interpreter importing the extraction code, a second
or so of the second core's time (on two cores, a large share of a 2,000-capture rebuild) that the caller spends
working inline meanwhile.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import multiprocessing.queues
import os
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import islice
from types import TracebackType
from typing import ParamSpec, TypeVar

# Imported before the threads are noted below: numpy (OpenBLAS's workers) and pyarrow (jemalloc's background
# thread) start threads when imported; see may_fork.
import numpy  # noqa: F401
import pyarrow  # noqa: F401

logger = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")
Params = ParamSpec("Params")

# Chunks in flight per worker: enough work queued that no worker idles while the caller is busy elsewhere, above
# all through a flush of the rebuild's buffer (a part file per date partition: a flush takes several chunks' worth
# of a worker's time); the results held meanwhile are a few MB a worker (figures in bench/HISTORY.md).
CHUNKS_AHEAD_PER_PROCESS = 8
# Modules the fork server imports once, so that each worker starts with them loaded: the engine's, whose functions
# the workers run (each file's capture order; the pages through crawler.rebuild.pages, which it imports).
PRELOAD = ["crawler.rebuild.engine"]
# Python 3.12's warning at any fork of a process with more than one OS thread: the fork here is made only when
# may_fork() found no thread but the fork-safe ones of numpy and pyarrow.
_FORK_WITH_THREADS_WARNING = r"This process .* is multi-threaded, use of fork\(\) may lead to deadlocks"
# How often a forked worker checks that the caller is alive (see _exit_with).
CALLER_CHECK_SECONDS = 1.0


def default_processes() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def chunked(items: Iterable[In], size: int) -> Iterator[list[In]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _os_threads() -> frozenset[str] | None:
    """The ids of this process's threads as the OS knows them (C libraries' threads too, which ``threading``
    does not list); None where the OS does not tell (no ``/proc``)."""
    try:
        return frozenset(os.listdir("/proc/self/task"))
    except OSError:
        return None


# The threads that ran when this module was imported, if no Python thread but the main one ran then: those that
# libraries start when imported (numpy's OpenBLAS workers, pyarrow's jemalloc background thread). `scrapy
# rebuild` and the import load this module at start-up, before any Parquet is read; a program that started
# C threads of its own before importing it (read Parquet: Arrow's pools) would have them taken as safe here, so
# such a program imports crawler.rebuild first.
_THREADS_AT_IMPORT = _os_threads() if threading.active_count() == 1 else None


def may_fork() -> bool:
    """Whether worker processes may be forked from this process now, which is safe only if no other thread can
    hold a lock at that moment: a child inherits every lock held, locked, but not the thread that would release
    it, and may hang on it. Safe: no thread runs but those the process had when this module was imported, the
    ones numpy and pyarrow start when imported, which their libraries make safe across a fork (``pthread_atfork``:
    OpenBLAS ends its workers, jemalloc holds its own locks through it; the fork server forks its workers with
    jemalloc's thread running too). Any thread started since (pyarrow's pools once it has read Parquet,
    Twisted's, the caller's), or an OS that does not list threads, and the fork server starts the workers
    instead: a fixed rule, no setting, never a fork that could hang."""
    if _THREADS_AT_IMPORT is None or threading.active_count() != 1:
        return False
    threads = _os_threads()
    return threads is not None and threads <= _THREADS_AT_IMPORT


class Workers:
    """``processes`` worker processes for :meth:`map`, started on entering (``with``), stopped on leaving; none
    for one process (everything inline)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        # Whether the workers were forked from this process (else started by the fork server).
        self.forked = False
        self._pool: ProcessPoolExecutor | None = None
        self._starter: _Starter | None = None
        self._log_listener: logging.handlers.QueueListener | None = None

    def __enter__(self) -> Workers:
        if self.processes <= 1:
            return self
        self.forked = may_fork()
        if self.forked:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_forked,
                initargs=(os.getpid(),),
            )
            # The first task forks every worker, here and now: before the pool starts its own threads.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", _FORK_WITH_THREADS_WARNING, DeprecationWarning)
                self._pool.submit(os.getpid)
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            # A served worker starts without the caller's log handlers (forked ones inherit them): its records
            # (a WARC record cut short, an unreadable file) go to the caller's handlers through a queue.
            records: multiprocessing.queues.Queue[logging.LogRecord] = context.Queue()
            root = logging.getLogger()
            self._log_listener = logging.handlers.QueueListener(
                records, *root.handlers, respect_handler_level=True
            )
            self._log_listener.start()
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=context,
                initializer=_start_served,
                initargs=(records, root.getEffectiveLevel()),
            )
            self._starter = _Starter(self._pool, self.processes)
        logger.info(
            "%d worker processes %s",
            self.processes,
            "forked from this one" if self.forked else "started by a fork server",
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._starter is not None:
            self._starter.join()
        if self._pool is not None:
            # Chunks not started are not wanted any more (a stopped read); those under way are finished.
            self._pool.shutdown(cancel_futures=True)
        if self._log_listener is not None:
            self._log_listener.stop()  # after the workers are gone: every record they sent is handled

    def map(
        self, work: Callable[[list[In]], list[Out]], chunks: Iterable[list[In]]
    ) -> Generator[Out, None, None]:
        """``work`` applied to each chunk, in the worker processes (inline for one); results in order.

        ``work`` must be a module-level function (it is sent to the workers by name). An exception in a worker
        is raised here, at the chunk it came from.
        """
        pool = self._pool
        if pool is None:
            for chunk in chunks:
                yield from work(chunk)
            return
        pending: deque[Future[list[Out]]] = deque()
        for chunk in chunks:
            # Inline only before the first chunk is sent: its results then come before any sent chunk's.
            if not pending and self._starter is not None and not self._starter.ready():
                yield from work(chunk)
                continue
            pending.append(pool.submit(work, chunk))
            if len(pending) >= self.processes * CHUNKS_AHEAD_PER_PROCESS:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


class InlineExecutor(Executor):
    """Each call run at once, in the caller's thread: where one process means no pool, for code written against
    an executor."""

    def submit(
        self, fn: Callable[Params, Out], /, *args: Params.args, **kwargs: Params.kwargs
    ) -> Future[Out]:
        future: Future[Out] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # as a pool's future holds it; Ctrl-C is not caught
            future.set_exception(error)
        return future


def _leave_signals() -> None:
    """Ctrl-C (the whole process group) and SIGTERM are the caller's to act on: it stops sending work and waits for
    the chunks under way, rather than the workers dying mid-chunk with a traceback each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _start_served(records: multiprocessing.queues.Queue[logging.LogRecord], level: int) -> None:
    _leave_signals()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.handlers.QueueHandler(records))
    root.setLevel(level)


def _start_forked(caller: int) -> None:
    _leave_signals()
    threading.Thread(target=_exit_with, args=(caller,), name="exit-with-caller", daemon=True).start()


def _exit_with(caller: int) -> None:
    """End this forked worker once the caller is gone (killed): it waits for tasks on a pipe whose writing end it
    holds too (inherited), so no end of file would ever tell it."""
    while os.getppid() == caller:
        time.sleep(CALLER_CHECK_SECONDS)
    os._exit(1)


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
