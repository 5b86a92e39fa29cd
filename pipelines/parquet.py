"""The exporter: buffers items and commits them as hive-partitioned Parquet part files (SPEC.md section 2).

Life of a run: at open, prove the root writable, take the dataset lock, finish or undo whatever a killed run
or compaction left (``pipelines.dataset.compact.recover``, stale temporaries, manifests still marked running), write
the manifest. Then one part file per partition per flush, each written hidden and renamed when complete, the
manifest rewritten after each commit. At close: last flush, health verdict, final manifest, lock released.
A SIGKILL loses the unflushed buffer only.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from crawler.config import positive_int
from crawler.distributed.coordination import CoordinationConfig, RedisCoordination
from crawler.extensions.health import (
    DEFAULT_MAX_DISAGREEMENT_RATIO,
    DEFAULT_MAX_FAILED_RATIO,
    DEFAULT_MAX_FALLBACK_RATIO,
    HealthVerdict,
    evaluate,
    validate_max_failed_ratio,
    validate_ratio,
)
from crawler.items import ArticleItem
from pipelines.dataset import storage
from pipelines.dataset.compact import recover_dataset
from pipelines.dataset.lock import DatasetLock, WriterLock
from pipelines.dataset.manifest import (
    STATUS_FAILED,
    STATUS_FINISHED,
    STATUS_INTERRUPTED,
    RunManifest,
    reconcile_interrupted,
    spider_arguments,
)
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dataset.summary import filled_count
from pipelines.dataset.warc import capture_location

logger = logging.getLogger(__name__)

PARTITION_FORMATS = {"date": "%Y-%m-%d", "month": "%Y-%m"}
COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")
DEFAULT_URI = "output/articles"
DEFAULT_PARTITION = "date"
DEFAULT_FLUSH_ROWS = 5_000
# Rows are also flushed by size: a crawl's peak memory is the buffer plus its Arrow copy at flush time, so a
# row count alone lets a large crawl hold far more than a small one (whole articles, about 10 KB of text each).
# Measured peak RSS, 20,000 articles: 388 MiB by rows only, 353 MiB at 32 MiB, 312 MiB at 16 MiB (2,000: 288).
DEFAULT_FLUSH_BYTES = 16 << 20
# Rows carry whole articles (tens of KB of text): 10,000 rows make row groups of tens of MB compressed.
DEFAULT_ROW_GROUP_SIZE = 10_000
DEFAULT_COMPRESSION = "zstd"
OUTPUT_ERROR_REASON = "output_error"
RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_ID_RANDOM_BYTES = 3

# Sent before rows are written; a receiver returns the capture files it committed (listed in the manifest), and
# one that raises stops the flush: rows must never point into a capture file that a crash could still lose.
before_flush = object()


class ParquetConfigError(ValueError):
    """A PARQUET_* setting is invalid; the message names it."""


class InvalidRowError(DropItem):
    reason = "invalid_row"


class OutputFailedError(DropItem):
    reason = OUTPUT_ERROR_REASON


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique thanks to the random suffix: ``20261126T101500Z-3f9c2a``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime(RUN_ID_TIME_FORMAT)}-{secrets.token_hex(RUN_ID_RANDOM_BYTES)}"


def partition_dir(kind: str, published_at: datetime) -> str:
    """``date=YYYY-MM-DD`` or ``month=YYYY-MM`` of the UTC instant: built from digits only, never from page text."""
    return f"{kind}={published_at.astimezone(UTC).strftime(PARTITION_FORMATS[kind])}"


@dataclass(frozen=True, slots=True)
class ParquetConfig:
    uri: str
    partition: str
    flush_rows: int
    flush_bytes: int
    row_group_size: int
    compression: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ParquetConfig:
        uri = str(settings.get("PARQUET_URI") or DEFAULT_URI)
        partition = str(settings.get("PARQUET_PARTITION", DEFAULT_PARTITION))
        if partition not in PARTITION_FORMATS:
            raise ParquetConfigError(
                f"PARQUET_PARTITION must be one of {', '.join(PARTITION_FORMATS)}, got {partition!r}"
            )
        compression = str(settings.get("PARQUET_COMPRESSION", DEFAULT_COMPRESSION)).lower()
        if compression not in COMPRESSIONS:
            raise ParquetConfigError(
                f"PARQUET_COMPRESSION must be one of {', '.join(COMPRESSIONS)}, got {compression!r}"
            )
        return cls(
            uri=uri,
            partition=partition,
            flush_rows=positive_int(settings, "PARQUET_FLUSH_ROWS", DEFAULT_FLUSH_ROWS, ParquetConfigError),
            flush_bytes=positive_int(
                settings, "PARQUET_FLUSH_BYTES", DEFAULT_FLUSH_BYTES, ParquetConfigError
            ),
            row_group_size=positive_int(
                settings, "PARQUET_ROW_GROUP_SIZE", DEFAULT_ROW_GROUP_SIZE, ParquetConfigError
            ),
            compression=compression,
        )


def text_bytes(item: ArticleItem) -> int:
    """Memory held by an item's article text (body text and HTML), the bulk of a buffered row."""
    return sys.getsizeof(item.body_text) + sys.getsizeof(item.body_html or "")


def coverage(table: pa.Table) -> dict[str, int]:
    """Per column, the rows whose value is neither null nor empty."""
    return {name: filled_count(table.column(name)) for name in table.column_names}


def open_lock(
    fs: pafs.FileSystem,
    root: str,
    run_id: str,
    settings: BaseSettings | None = None,
    stats: StatsCollector | None = None,
) -> WriterLock:
    """Redis coordination when ``REDIS_URL`` is set, else the local lock (remote storage needs Redis)."""
    coordination = CoordinationConfig.from_settings(settings) if settings is not None else None
    if coordination is not None:
        return RedisCoordination(coordination, fs, root, run_id, stats)
    if not isinstance(fs, pafs.LocalFileSystem):
        raise ParquetConfigError(
            f"PARQUET_URI {root!r} is not a local path: writers of remote storage cannot share a file lock, "
            "so they coordinate through Redis: set REDIS_URL=redis://host:port/db as well"
        )
    return DatasetLock(Path(root), run_id)


class ParquetPipeline:
    """Writes ArticleItems to the dataset; settings ``PARQUET_*``, stats ``parquet/*``, ``coverage/*``."""

    def __init__(
        self,
        crawler: Crawler,
        config: ParquetConfig,
        max_failed_ratio: float,
        drift_limits: dict[str, float] | None = None,
    ) -> None:
        self.crawler = crawler
        self.config = config
        self.max_failed_ratio = max_failed_ratio
        self.run_id = new_run_id()
        self.fs, self.root = storage.resolve(config.uri)
        self.lock = open_lock(self.fs, self.root, self.run_id, crawler.settings, crawler.stats)
        self._buffer: dict[str, list[ArticleItem]] = defaultdict(list)
        self._buffered = 0
        self._buffered_bytes = 0
        self._file_seq = 0
        self._output_error: str | None = None
        self.manifest: RunManifest | None = None
        # HEALTH_MAX_FALLBACK_RATIO and HEALTH_MAX_DISAGREEMENT_RATIO by name (defaults when absent).
        self.drift_limits = dict(drift_limits or {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParquetPipeline:
        config = ParquetConfig.from_settings(crawler.settings)
        ratio = validate_max_failed_ratio(
            crawler.settings.get("HEALTH_MAX_FAILED_RATIO", DEFAULT_MAX_FAILED_RATIO)
        )
        drift_limits = {
            name: validate_ratio(name, crawler.settings.get(name, default))
            for name, default in (
                ("HEALTH_MAX_FALLBACK_RATIO", DEFAULT_MAX_FALLBACK_RATIO),
                ("HEALTH_MAX_DISAGREEMENT_RATIO", DEFAULT_MAX_DISAGREEMENT_RATIO),
            )
        }
        return cls(crawler, config, ratio, drift_limits)

    @property
    def _stats(self) -> StatsCollector:
        assert self.crawler.stats is not None, "the crawler builds its stats before its pipelines"
        return self.crawler.stats

    def open_spider(self) -> None:
        try:
            storage.ensure_writable(self.fs, self.root, f"probe-{self.run_id}")
        except storage.OutputNotWritableError as error:
            # The line the user reads (scrapy: error: ...) names the setting to fix.
            raise storage.OutputNotWritableError(f"PARQUET_URI: {error}") from error
        self.lock.acquire()
        try:
            if self.lock.sole_writer:
                self._recover()
            self.lock.startup_done()
            self.manifest = RunManifest(self.run_id, datetime.now(UTC), self._manifest_settings())
            self.manifest.write(self.fs, self.root, self._stats.get_stats())
        except BaseException:
            self.lock.release()
            raise
        self._stats.set_value("run/id", self.run_id)
        logger.info("Writing run %s to %s (partition by %s)", self.run_id, self.root, self.config.partition)

    def _recover(self) -> None:
        recover_dataset(self.fs, self.root)
        for run_id in reconcile_interrupted(self.fs, self.root):
            logger.warning("Run %s was interrupted; its manifest now lists its committed files", run_id)

    def _manifest_settings(self) -> dict[str, Any]:
        return {
            "PARQUET_URI": self.config.uri,
            "PARQUET_PARTITION": self.config.partition,
            "PARQUET_COMPRESSION": self.config.compression,
            "HEALTH_MAX_FAILED_RATIO": self.max_failed_ratio,
            **self.drift_limits,
            "WARC_URI": capture_location(self.crawler.settings.get("WARC_URI"), self.config.uri),
            **spider_arguments(self.crawler.spider),
        }

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if self._output_error is not None:
            self._stats.inc_value(f"articles/dropped/{OutputFailedError.reason}")
            raise OutputFailedError(f"output failed earlier in this run: {self._output_error}")
        item.run_id = self.run_id
        problem = row_problem(item)
        if problem is not None:
            self._stats.inc_value(f"articles/dropped/{InvalidRowError.reason}")
            raise InvalidRowError(f"{item.article_id}: {problem}")
        self._buffer[partition_dir(self.config.partition, item.published_at)].append(item)
        self._buffered += 1
        self._buffered_bytes += text_bytes(item)
        if self._buffered >= self.config.flush_rows or self._buffered_bytes >= self.config.flush_bytes:
            self._flush_or_stop()
        return item

    def _flush_or_stop(self) -> None:
        try:
            self.flush()
        except (OSError, pa.ArrowException) as exc:
            self._output_error = str(exc)
            logger.error("Cannot write the dataset at %s, stopping the run: %s", self.root, exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=OUTPUT_ERROR_REASON))

    def flush(self) -> None:
        """Commit the buffer: one part file per partition, the manifest rewritten after each."""
        assert self.manifest is not None, "flush() before open_spider()"
        buffer, buffered = self._buffer, self._buffered
        self._buffer, self._buffered, self._buffered_bytes = defaultdict(list), 0, 0
        rows_before = self._stats.get_value("parquet/rows_written", 0)
        try:
            self._commit_captures()
            for partition in sorted(buffer):
                self._commit(partition, buffer[partition])
        except (OSError, pa.ArrowException):
            # The rows not committed are lost with this run: count them, as the items that arrive after the
            # failure are counted, so that extracted = written + dropped still holds.
            committed = self._stats.get_value("parquet/rows_written", 0) - rows_before
            self._stats.inc_value(f"articles/dropped/{OUTPUT_ERROR_REASON}", buffered - committed)
            raise
        if buffered:
            logger.info(
                "Flushed %d rows to %d partition(s); %d rows in %d files written by this run",
                buffered,
                len(buffer),
                self._stats.get_value("parquet/rows_written", 0),
                self._stats.get_value("parquet/files_written", 0),
            )

    def _commit_captures(self) -> None:
        """Have the capture files the buffered rows point into committed (``before_flush``), and list them."""
        assert self.manifest is not None, "flush() before open_spider()"
        committed: list[str] = []
        for receiver, result in self.crawler.signals.send_catch_log(signal=before_flush):
            if isinstance(result, Failure):
                raise OSError(f"captures could not be committed ({receiver!r}): {result.getErrorMessage()}")
            committed += result or []
        if committed:
            self.manifest.warc_files += committed
            self.manifest.write(self.fs, self.root, self._stats.get_stats())

    def _commit(self, partition: str, items: list[ArticleItem]) -> None:
        """One part file written and renamed, then the lock and the manifest told."""
        assert self.manifest is not None, "flush() before open_spider()"
        table = items_to_table(items)
        path = self._next_part_path(partition)
        storage.write_table_atomically(
            self.fs,
            path,
            table,
            compression=self.config.compression,
            row_group_size=self.config.row_group_size,
        )
        self._count_written(table)  # first: the rows are in the dataset whatever fails next
        self.lock.committed(table.column("article_id").to_pylist())
        self.manifest.files.append(path.removeprefix(self.root + "/"))
        self.manifest.write(self.fs, self.root, self._stats.get_stats())

    def _next_part_path(self, partition: str) -> str:
        self._file_seq += 1
        return f"{self.root}/{partition}/part-{self.run_id}-{self._file_seq}{storage.DATA_SUFFIX}"

    def _count_written(self, table: pa.Table) -> None:
        self._stats.inc_value("parquet/rows_written", table.num_rows)
        self._stats.inc_value("parquet/files_written")
        for column, count in coverage(table).items():
            self._stats.inc_value(f"coverage/{column}", count)

    def close_spider(self) -> None:
        if self.manifest is None:
            return  # open_spider failed: nothing taken, nothing to finish
        try:
            if self._output_error is None:
                self._flush_at_close()
            verdict = self._health()
            self.manifest.status = self._final_status(verdict)
            self.manifest.finished_at = datetime.now(UTC)
            self.manifest.health = verdict
            self.manifest.write(self.fs, self.root, self._stats.get_stats())
        finally:
            self.lock.release()
            self.manifest = None

    def _final_status(self, verdict: HealthVerdict) -> str:
        """``interrupted`` when the crawl was stopped (SIGTERM, SIGINT): it did not reach every page, so the
        next run must page past known articles; else the health verdict."""
        if not self.crawler.crawling:  # Crawler.stop() clears it before closing; a crawl that ends keeps it
            return STATUS_INTERRUPTED
        return STATUS_FINISHED if verdict.ok else STATUS_FAILED

    def _flush_at_close(self) -> None:
        try:
            self.flush()
        except (OSError, pa.ArrowException) as exc:
            self._output_error = str(exc)
            logger.error("Cannot write the dataset at %s: %s", self.root, exc)

    def _health(self) -> HealthVerdict:
        verdict = evaluate(
            self._stats.get_stats(),
            self.max_failed_ratio,
            max_fallback_ratio=self.drift_limits.get("HEALTH_MAX_FALLBACK_RATIO", DEFAULT_MAX_FALLBACK_RATIO),
            max_disagreement_ratio=self.drift_limits.get(
                "HEALTH_MAX_DISAGREEMENT_RATIO", DEFAULT_MAX_DISAGREEMENT_RATIO
            ),
        )
        if self._output_error is not None:
            reasons = [f"output {self.root} could not be written: {self._output_error}", *verdict.reasons]
            verdict = HealthVerdict(ok=False, reasons=reasons)
        self._stats.set_value("health/ok", int(verdict.ok))
        self._stats.set_value("health/reasons", verdict.reasons)
        if not verdict.ok:
            logger.error("Health check failed: %s", "; ".join(verdict.reasons))
        return verdict
