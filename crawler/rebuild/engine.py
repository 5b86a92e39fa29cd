"""Captures to a dataset on every core: ``scrapy rebuild``, outside Scrapy's reactor.

Records are read in capture order (``WARC-Date``, then file, then offset: each file sorted in a worker process,
the files merged here); each page is extracted and fingerprinted in ``WARC_PROCESSES`` worker processes
(:mod:`.pages`, in order, :mod:`.parallel`); one
sequential stage then does what depends on the pages before it, exactly as the ``articles`` spider and the
item pipelines of a crawl do it, with their plain functions: alternate URLs from the pages read so far,
versions and duplicates (:func:`pipelines.dedupe.assign_version`), buffered part files per partition. The run
is a crawl's run: the dataset lock held, what a killed run left recovered, the manifest rewritten after each
part file, the health verdict at the end, the same stats keys. So the dataset is the same, row for row,
whatever the number of processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
from scrapy.settings import BaseSettings

from crawler import stats as keys
from crawler.config import positive_int, seconds_or_off
from crawler.extensions.health import evaluate, health_limits
from crawler.extensions.progress import COUNTERS, progress_line, summary_lines
from crawler.extensions.run import open_lock
from crawler.items import ArticleItem
from crawler.rebuild.pages import Drop, PageResult, read_chunk
from crawler.rebuild.parallel import InlineExecutor, Workers, chunked, default_processes
from crawler.spiders.articles import capture_skip_reason
from crawler.spiders.options import CrawlOptions
from crawler.urls import alternate_urls
from pipelines.backfill import Backfill, duplicates
from pipelines.dataset import layout, storage, warc
from pipelines.dataset.archive import DEFAULT_MAX_DISTANCE, ArchiveIndex
from pipelines.dataset.compact import recover_dataset
from pipelines.dataset.layout import part_files, partition_dir
from pipelines.dataset.lock import WriterLock
from pipelines.dataset.manifest import (
    STATUS_FAILED,
    STATUS_FINISHED,
    STATUS_INTERRUPTED,
    HealthVerdict,
    RunManifest,
    new_run_id,
    reconcile_interrupted,
    spider_arguments,
)
from pipelines.dataset.rebuild import Resume
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dedupe import (
    ARCHIVE_UNREADABLE,
    FIRST_VERSION,
    NEAR_DISTANCE_SETTING,
    assign_version,
    parse_near_distance,
)
from pipelines.fingerprint import ArticleDropped
from pipelines.parquet import (
    OUTPUT_ERROR_REASON,
    ParquetConfig,
    coverage_counts,
    text_bytes,
)

logger = logging.getLogger(__name__)

PROCESSES_SETTING = "WARC_PROCESSES"
# Exit statuses of `scrapy crawl` (README "Exit status").
RUN_FAILED_EXIT = 1
HEALTH_FAILED_EXIT = 3
# Told, after each flush, the capture up to which (in capture order) every row is committed, and the part files.
Checkpoint = Callable[[Resume, list[str]], None]
# Pages per task sent to a worker: large enough that the round trip is noise, small enough to keep all busy.
CHUNK_PAGES = 32
FINISHED_REASON = "finished"
INTERRUPTED_REASON = "shutdown"
# Anything else that stopped the read (a bug, a worker process that died): the run failed.
ERROR_REASON = "error"


class EngineConfigError(ValueError):
    """A setting of the capture engine is invalid; the message names it."""


class ArchiveUnreadableError(RuntimeError):
    """The dataset to append to cannot be read: without it every article would look new, so nothing is written."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    parquet: ParquetConfig
    processes: int
    max_distance: int
    max_failed_ratio: float
    max_fallback_ratio: float
    max_disagreement_ratio: float
    stats_json: str | None
    # Seconds between two progress lines in the log (PROGRESS_INTERVAL, as a crawl's); 0: none.
    progress_interval: float = 60.0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> EngineConfig:
        ratios = health_limits(settings)
        return cls(
            parquet=ParquetConfig.from_settings(settings),
            processes=positive_int(settings, PROCESSES_SETTING, default_processes(), EngineConfigError),
            max_distance=parse_near_distance(settings.get(NEAR_DISTANCE_SETTING, DEFAULT_MAX_DISTANCE)),
            max_failed_ratio=ratios["HEALTH_MAX_FAILED_RATIO"],
            max_fallback_ratio=ratios["HEALTH_MAX_FALLBACK_RATIO"],
            max_disagreement_ratio=ratios["HEALTH_MAX_DISAGREEMENT_RATIO"],
            stats_json=settings.get("STATS_JSON"),
            progress_interval=seconds_or_off(settings, "PROGRESS_INTERVAL", 60.0),
        )


class Stats(dict[str, Any]):
    """The run's counters under the keys a crawl uses (``crawler.stats``), so manifests and health read alike."""

    def inc(self, key: str, count: int = 1) -> None:
        self[key] = self.get(key, 0) + count


@dataclass(slots=True)
class Outcome:
    """How a run ended: its stats (with ``finish_reason``) and health verdict."""

    stats: dict[str, Any]
    verdict: HealthVerdict | None

    @property
    def finished(self) -> bool:
        return self.stats.get("finish_reason") == FINISHED_REASON

    @property
    def exit_status(self) -> int:
        """As ``scrapy crawl``'s: 1 for a run that did not finish, 3 for a failed health check, else 0."""
        if not self.finished:
            return RUN_FAILED_EXIT
        return HEALTH_FAILED_EXIT if self.verdict is not None and not self.verdict.ok else 0


def run_captures(
    config: EngineConfig,
    options: CrawlOptions,
    resume: Resume | None = None,
    checkpoint: Checkpoint | None = None,
) -> Outcome:
    """Read the captures of ``options.warc`` into the dataset at ``PARQUET_URI`` (a rebuild's target).

    ``resume``: an interrupted rebuild's point, after which reading starts, with the URLs noted up to it.
    ``checkpoint`` is called after each flush with the point up to which every row is committed.
    Raises the storage errors a crawl reports at start (a held lock, unwritable output, an unreadable archive).
    """
    # The workers first: forked, if at all, before the process holds the dataset lock's file, the archive or any
    # thread of pyarrow's (parallel.may_fork).
    with Workers(config.processes) as workers:
        run = DatasetRun(config, options)
        run.open()
        try:
            with StopSignal().installed() as stop:
                progress = Progress(config.progress_interval)
                sequence = Sequence(run, config.max_distance, checkpoint, stop=stop, progress=progress)
                sequence.read(options, resume, workers)
        except ArchiveUnreadableError as error:
            run.stats[keys.ARCHIVE_ERROR] = str(error)
            run.close(ARCHIVE_UNREADABLE)
            raise
        except KeyboardInterrupt:
            run.close(INTERRUPTED_REASON)
            raise
        except (OSError, pa.ArrowException):
            run.close(OUTPUT_ERROR_REASON)
            raise
        except BaseException:
            run.close(ERROR_REASON)
            raise
        return run.close(FINISHED_REASON)


class Progress:
    """The crawl's progress line (``crawler.extensions.progress``) every ``interval`` seconds, checked as pages are
    taken: a long import or rebuild says how far it is, as a crawl does."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = time.monotonic()
        self._previous: dict[str, int] = {}

    def tick(self, stats: dict[str, Any]) -> None:
        if self.interval <= 0:
            return
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        minutes = (now - self._last) / 60
        logger.info("Progress: %s", progress_line(stats, self._previous, minutes))
        self._previous = {key: int(stats.get(key, 0)) for _, key in COUNTERS}
        self._last = now


class StopSignal:
    """Ctrl-C or SIGTERM (a service manager stopping the run) asks the read to stop at the next page, never in the
    middle of a flush, so the run closes as a crawl's does on either: what was read is committed, the manifest
    says interrupted, the lock is released."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignal]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers belong to the main thread; elsewhere the caller stops the run
            return
        previous = {number: signal.signal(number, self._request) for number in self.SIGNALS}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _request(self, number: int, _frame: Any) -> None:
        if self.requested:  # a second one: stop now
            raise KeyboardInterrupt
        logger.info("Received %s, stopping after the page being read", signal.Signals(number).name)
        self.requested = True


class DatasetRun:
    """A run of the dataset, as the exporter of a crawl keeps it (``pipelines.parquet.ParquetPipeline``)."""

    def __init__(self, config: EngineConfig, options: CrawlOptions) -> None:
        self.config = config
        self.options = options
        self.run_id = new_run_id()
        self.fs, self.root = storage.resolve(config.parquet.uri)
        self.stats = Stats()
        self.lock: WriterLock = open_lock(self.fs, self.root, self.run_id)
        self.manifest: RunManifest | None = None
        self._buffer: dict[str, list[ArticleItem]] = defaultdict(list)
        self._buffered = 0
        self._buffered_bytes = 0
        self._file_seq = 0
        self.flushes = 0
        # Called first at each flush, under the lock (an import's held captures are inserted then).
        self.before_flush: Callable[[], None] | None = None
        self._started = time.monotonic()
        self._cpu_started = time.process_time()
        # CPU seconds of the pages this process read itself (inline), not the sequential stage's.
        self.inline_cpu = 0.0
        # Part files are written by as many threads as the run has processes (see _write_parts); one: here.
        self._writers: Executor = (
            ThreadPoolExecutor(config.processes, thread_name_prefix="part-writer")
            if config.processes > 1
            else InlineExecutor()
        )

    def open(self) -> None:
        try:
            storage.ensure_writable(self.fs, self.root, f"probe-{self.run_id}")
        except storage.OutputNotWritableError as error:
            raise storage.OutputNotWritableError(f"PARQUET_URI: {error}") from error
        self.lock.acquire()
        try:
            if self.lock.sole_writer:
                self.stats[keys.RECOVERY_ACTIONS] = len(recover_dataset(self.fs, self.root))
                for run_id in reconcile_interrupted(self.fs, self.root):
                    logger.warning(
                        "Run %s was interrupted; its manifest now lists its committed files", run_id
                    )
            self.lock.startup_done()
            self.stats["start_time"] = datetime.now(UTC)
            self.manifest = RunManifest(self.run_id, self.stats["start_time"], self._manifest_settings())
            self.manifest.write(self.fs, self.root, self.stats)
        except BaseException:
            self.lock.release()
            raise
        self.stats[keys.RUN_ID] = self.run_id
        logger.info(
            "Writing run %s to %s (partition by %s) from %d WARC file(s), %d process(es)",
            self.run_id,
            self.root,
            self.config.parquet.partition,
            len(self.options.warc),
            self.config.processes,
        )

    def _manifest_settings(self) -> dict[str, Any]:
        parquet = self.config.parquet
        return {
            "PARQUET_URI": parquet.uri,
            "PARQUET_PARTITION": parquet.partition,
            "PARQUET_COMPRESSION": parquet.compression,
            "HEALTH_MAX_FAILED_RATIO": self.config.max_failed_ratio,
            "HEALTH_MAX_FALLBACK_RATIO": self.config.max_fallback_ratio,
            "HEALTH_MAX_DISAGREEMENT_RATIO": self.config.max_disagreement_ratio,
            # Captures are read, never written, by an import or a rebuild.
            "WARC_URI": "",
            **spider_arguments(self),
        }

    def write(self, item: ArticleItem) -> None:
        """Buffer a row; flush when either bound of the buffer is reached."""
        item.run_id = self.run_id
        problem = row_problem(item)
        if problem is not None:
            self.stats.inc(keys.dropped("invalid_row"))
            logger.info("Dropped invalid_row: %s (%s)", item.url, problem)
            return
        self._buffer[partition_dir(self.config.parquet.partition, item.published_at)].append(item)
        self._buffered += 1
        self._buffered_bytes += text_bytes(item)
        parquet = self.config.parquet
        if self._buffered >= parquet.flush_rows or self._buffered_bytes >= parquet.flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Commit the buffer: one part file per partition, the lock told after each, then the manifest."""
        assert self.manifest is not None, "flush() before open()"
        buffer, buffered = self._buffer, self._buffered
        self._buffer, self._buffered, self._buffered_bytes = defaultdict(list), 0, 0
        self.flushes += 1
        rows_before = self.stats.get(keys.ROWS_WRITTEN, 0)
        written: list[pa.Table] = []
        try:
            if self.before_flush is not None:
                self.before_flush()
            self._write_parts(buffer, written)
        except (OSError, pa.ArrowException):
            self._count_coverage(written)
            self._write_manifest_quietly()
            committed = self.stats.get(keys.ROWS_WRITTEN, 0) - rows_before
            self.stats.inc(keys.dropped(OUTPUT_ERROR_REASON), buffered - committed)
            raise
        self._count_coverage(written)
        # Once per flush, not after each part file as the exporter does (one per partition: hundreds a flush);
        # a kill in between loses no file: the next run's recovery lists a dead run's files from their names.
        self.manifest.write(self.fs, self.root, self.stats)

    def _write_parts(self, buffer: dict[str, list[ArticleItem]], written: list[pa.Table]) -> None:
        """A part file per partition of ``buffer``, committed in partition order and added to ``written``.

        Each table is built here (Python objects to Arrow: under the GIL) while the writers write the ones before
        it (Parquet encoding, compression and the file: without it), so a flush of hundreds of small part files
        takes as many cores as the run has processes. A failed file is raised once every file under way is done
        and the written ones are committed.
        """
        writes: list[tuple[Future[None], str, pa.Table]] = []
        try:
            # Each partition's items let go once converted: the tables kept for the coverage take their place.
            for partition in sorted(buffer):
                table = items_to_table(buffer.pop(partition))
                self._file_seq += 1
                path = layout.part_path(self.root, partition, self.run_id, self._file_seq)
                writes.append((self._writers.submit(self._write_part, path, table), path, table))
        finally:
            failure: BaseException | None = None
            for write, path, table in writes:
                if write.exception() is None:
                    written.append(self._commit(path, table))
                else:
                    failure = failure or write.exception()
            if failure is not None:
                raise failure

    def _write_part(self, path: str, table: pa.Table) -> None:
        parquet = self.config.parquet
        storage.write_table_atomically(
            self.fs, path, table, compression=parquet.compression, row_group_size=parquet.row_group_size
        )

    def _commit(self, path: str, table: pa.Table) -> pa.Table:
        """A written part file counted and told to the lock and the manifest."""
        assert self.manifest is not None, "flush() before open()"
        self.stats.inc(keys.ROWS_WRITTEN, table.num_rows)
        self.stats.inc(keys.FILES_WRITTEN)
        self.lock.committed(table.column("article_id").to_pylist())
        self.manifest.files.append(path.removeprefix(self.root + "/"))
        return table

    def _count_coverage(self, tables: list[pa.Table]) -> None:
        for key, count in coverage_counts(tables).items():
            self.stats.inc(key, count)

    def _write_manifest_quietly(self) -> None:
        """After a failed flush, list what it committed if the storage still lets us (the next run's recovery
        lists it otherwise, from the files' names)."""
        if self.manifest is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                self.manifest.write(self.fs, self.root, self.stats)

    def close(self, reason: str) -> Outcome:
        """Last flush (a finished or interrupted read, as a crawl's exporter flushes at close), health verdict,
        final manifest, lock released, stats written."""
        if self.manifest is None:
            return Outcome(dict(self.stats), None)
        try:
            if reason in (FINISHED_REASON, INTERRUPTED_REASON):
                try:
                    self.flush()
                except (OSError, pa.ArrowException) as error:
                    logger.error("Cannot write the dataset at %s: %s", self.root, error)
                    reason = OUTPUT_ERROR_REASON
            verdict = self._health(reason)
            self.manifest.status = (
                STATUS_INTERRUPTED
                if reason == INTERRUPTED_REASON
                else STATUS_FINISHED
                if verdict.ok and reason == FINISHED_REASON
                else STATUS_FAILED
            )
            self.manifest.finished_at = datetime.now(UTC)
            self.manifest.health = verdict
            self._finish_stats(reason)
            self.manifest.write(self.fs, self.root, self.stats)
        finally:
            self._writers.shutdown()
            self.lock.release()
            self.manifest = None
        logger.info("Run finished (%s):\n  %s", reason, "\n  ".join(summary_lines(self.stats)))
        self._dump_stats()
        return Outcome(dict(self.stats), verdict)

    def _health(self, reason: str) -> HealthVerdict:
        verdict = evaluate(
            self.stats,
            self.config.max_failed_ratio,
            max_fallback_ratio=self.config.max_fallback_ratio,
            max_disagreement_ratio=self.config.max_disagreement_ratio,
        )
        if reason == OUTPUT_ERROR_REASON:
            verdict = HealthVerdict(False, [f"output {self.root} could not be written", *verdict.reasons])
        self.stats[keys.HEALTH_OK] = int(verdict.ok)
        self.stats[keys.HEALTH_REASONS] = verdict.reasons
        if not verdict.ok:
            logger.error("Health check failed: %s", "; ".join(verdict.reasons))
        return verdict

    def _finish_stats(self, reason: str) -> None:
        self.stats["finish_reason"] = reason
        self.stats["finish_time"] = datetime.now(UTC)
        self.stats["elapsed_time_seconds"] = time.monotonic() - self._started
        self.stats[keys.REBUILD_PROCESSES] = self.config.processes
        # The pages read inline (all of them with one process) are the workers' share: the sequential stage's
        # is the rest.
        self.stats[keys.REBUILD_MAIN_CPU] = time.process_time() - self._cpu_started - self.inline_cpu

    def _dump_stats(self) -> None:
        if self.config.stats_json:
            dump = {key: value for key, value in self.stats.items() if isinstance(value, (int, float, str))}
            Path(self.config.stats_json).write_text(
                json.dumps(dump, indent=1, sort_keys=True), encoding="utf-8"
            )


@dataclass(frozen=True, slots=True)
class FileOrder:
    """One WARC file's captures to read, in capture order, and the other records it holds, counted by why they are
    not read (``warc/skipped/*``)."""

    refs: list[warc.CaptureRef]
    skipped: dict[str, int]
    # CPU seconds it took, and in which process (as PageResult's).
    cpu_seconds: float
    pid: int


def order_files(site: str, files: list[str]) -> list[FileOrder]:
    """Each file's :class:`FileOrder` (``warc.file_in_order`` with the ``articles`` spider's record filter): what a
    worker process is given to scan."""
    return [_order_file(site, uri) for uri in files]


def _order_file(site: str, uri: str) -> FileOrder:
    started = time.process_time()
    skipped: Counter[str] = Counter()

    def keep(record: Any) -> bool:
        reason = capture_skip_reason(record, site)
        if reason is not None:
            skipped[reason] += 1
        return reason is None

    refs = warc.file_in_order(uri, keep)
    return FileOrder(refs, dict(skipped), time.process_time() - started, os.getpid())


@dataclass(slots=True)
class Sequence:
    """The sequential stage: what a page's outcome depends on the pages read before it."""

    run: DatasetRun
    max_distance: int
    checkpoint: Checkpoint | None = None
    index: ArchiveIndex = field(default_factory=ArchiveIndex.empty)
    # article_id -> URLs it was seen under so far, until its page is read (the spider's pending_urls).
    pending_urls: dict[str, list[str]] = field(default_factory=dict)
    backfill: Backfill = field(default_factory=Backfill)
    stop: StopSignal = field(default_factory=StopSignal)
    progress: Progress = field(default_factory=lambda: Progress(0.0))

    def read(self, options: CrawlOptions, resume: Resume | None, workers: Workers) -> None:
        self._load_archive()
        if resume is not None:
            self.pending_urls = {article_id: list(urls) for article_id, urls in resume.variants.items()}
        # Closed here, not whenever the generator is collected, so that a stopped read (SIGTERM) sends no more
        # chunks to the workers.
        with contextlib.closing(
            self._pages(options, resume.after if resume is not None else None, workers)
        ) as pages:
            for result in pages:
                flushes = self.run.flushes
                self.take(result)
                if self.checkpoint is not None and self.run.flushes != flushes:
                    self._checkpoint(result.capture)

    def _checkpoint(self, after: warc.CaptureRef) -> None:
        """Every capture up to ``after`` has its rows committed (the flush it triggered wrote all it took)."""
        assert self.checkpoint is not None
        variants = {article_id: list(urls) for article_id, urls in self.pending_urls.items()}
        self.checkpoint(Resume(after, variants), part_files(self.run.fs, self.run.root))

    def _load_archive(self) -> None:
        """The archive as the dedupe and backfill stages read it at start."""
        uri = self.run.config.parquet.uri
        started = time.perf_counter()
        try:
            self.index = ArchiveIndex.load(uri)
            self.backfill = Backfill.load(uri)
        except (OSError, ValueError, pa.ArrowException) as error:
            raise ArchiveUnreadableError(f"cannot read the archive at {uri}: {error}") from error
        logger.info(
            "Archive index: %d articles from %s in %.2f s",
            len(self.index),
            uri,
            time.perf_counter() - started,
        )
        self.run.stats[keys.ARCHIVE_ARTICLES_AT_START] = len(self.index)
        self.run.before_flush = self._insert_held

    def _pages(
        self, options: CrawlOptions, after: warc.CaptureRef | None, workers: Workers
    ) -> Generator[PageResult, None, None]:
        refs = self._capture_order(options, after, workers)
        work = partial(read_chunk, options.site)
        return workers.map(work, chunked(refs, CHUNK_PAGES))

    def _capture_order(
        self, options: CrawlOptions, after: warc.CaptureRef | None, workers: Workers
    ) -> Iterator[warc.CaptureRef]:
        """The captures to read, in capture order (``warc.captures_in_order``): each file read and sorted in a
        worker process (files in parallel, and this process free of it: a sixth of its CPU), merged here."""
        files = list(options.warc)
        per_file = []
        for order in workers.map(partial(order_files, options.site), [[uri] for uri in files]):
            for reason, count in order.skipped.items():
                self.run.stats.inc(keys.warc_skipped(reason), count)
            if order.pid != os.getpid():
                self._worker_cpu(order.cpu_seconds)
            per_file.append(order.refs)
        return warc.merge_in_order(files, per_file, after)

    def _worker_cpu(self, seconds: float) -> None:
        stats = self.run.stats
        stats[keys.REBUILD_WORKER_CPU] = stats.get(keys.REBUILD_WORKER_CPU, 0.0) + seconds

    def take(self, result: PageResult) -> None:
        if self.stop.requested:
            raise KeyboardInterrupt
        self.progress.tick(self.run.stats)
        stats = self.run.stats
        stats.inc(keys.WARC_CAPTURES_READ)
        self._worker_cpu(result.cpu_seconds)
        if result.pid == os.getpid():
            self.run.inline_cpu += result.cpu_seconds
        if result.article_id is not None:
            stats.inc(keys.ARTICLE_PAGES)
            seen = self.pending_urls.pop(result.article_id, [])
            self._take_article(result, seen)
        self._note_variants(result.variants)

    def _take_article(self, result: PageResult, seen: list[str]) -> None:
        stats = self.run.stats
        if result.failure is not None:
            stats.inc(keys.EXTRACTION_FAILED)
            stats.inc(keys.extraction_failed(result.failure))
            detail = f" ({result.failure_detail})" if result.failure_detail else ""
            logger.warning("No article extracted from %s: %s%s", result.url, result.failure, detail)
            return
        stats.inc(keys.EXTRACTED)
        if result.fallback:
            stats.inc(keys.FALLBACK)
            logger.info(
                "No layout parser could read %s: stored from the general extractor", result.extracted_url
            )
        if result.byline_issue is not None:
            stats.inc(keys.byline_issue(result.byline_issue))
        if result.drop is not None:
            self._count_drop(result.drop)
            return
        item = result.item
        assert item is not None, "an extracted page gives a row or a drop"
        item.alternate_urls = alternate_urls([u for u in seen if u != result.extracted_url], item.url)
        try:
            if self.backfill.hold(item, self.index, self.max_distance):
                self.run.stats.inc(keys.BACKFILL_HELD)
                return
            self._version(item)
        except ArticleDropped as drop:
            self._count_drop(Drop(drop.reason, drop.detail, drop.url, drop.field))
            return
        self.run.write(item)

    def _version(self, item: ArticleItem) -> None:
        assign_version(item, self.index, set(), self.max_distance, one_row_per_run=False)
        self.run.stats.inc(keys.NEW if item.version == FIRST_VERSION else keys.NEW_VERSION)
        if item.near_duplicate_of is not None:
            self.run.stats.inc(keys.NEAR_DUPLICATE)

    def _insert_held(self) -> None:
        """Captures older than the archive's rows of their article, inserted among them (before the buffer)."""
        if not self.backfill.pending:
            return
        run, stats = self.run, self.run.stats
        result, invalid = self.backfill.insert(run.fs, run.root, run.config.parquet, run.run_id)
        for error in invalid:
            stats.inc(keys.dropped("invalid_row"))
            logger.warning("Dropped invalid_row: %s", error)
        for drop in duplicates(result):
            self._count_drop(Drop(drop.reason, drop.detail, drop.url, drop.field))
        stats.inc(keys.BACKFILL_INSERTED, len(result.inserted))
        stats.inc(keys.ROWS_WRITTEN, len(result.inserted))
        stats.inc(keys.NEW_VERSION, len(result.inserted))
        stats.inc(keys.BACKFILL_RENUMBERED, result.renumbered)
        stats.inc(keys.BACKFILL_FILES_REWRITTEN, result.files_rewritten)

    def _count_drop(self, drop: Drop) -> None:
        self.run.stats.inc(keys.dropped(drop.reason))
        if drop.field is not None:
            self.run.stats.inc(keys.dropped(drop.reason, drop.field))
        logger.info("Dropped %s: %s (%s)", drop.reason, drop.url, drop.detail)

    def _note_variants(self, variants: list[tuple[str, str]]) -> None:
        for article_id, variant in variants:
            pending = self.pending_urls.setdefault(article_id, [])
            if variant not in pending:
                pending.append(variant)
