"""The exporter: buffers items and commits them as hive-partitioned Parquet part files (SPEC.md section 2).

One part file per partition per flush, each written hidden and renamed when complete; the run
(``crawler.extensions.run``: lock, manifest, health verdict) is told after each commit. A SIGKILL loses the
unflushed buffer only.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from crawler import stats as keys
from crawler.config import positive_int
from crawler.extensions.run import DEFAULT_URI, RunLifecycle
from crawler.items import ArticleItem
from pipelines.dataset import layout, storage
from pipelines.dataset.layout import PARTITION_FORMATS, partition_dir
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dataset.summary import filled_count

logger = logging.getLogger(__name__)

COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")
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

# Sent before rows are written; a receiver returns the capture files it committed (listed in the manifest), and
# one that raises stops the flush: rows must never point into a capture file that a crash could still lose.
before_flush = object()


class ParquetConfigError(ValueError):
    """A PARQUET_* setting is invalid; the message names it."""


class InvalidRowError(DropItem):
    reason = "invalid_row"


class OutputFailedError(DropItem):
    reason = OUTPUT_ERROR_REASON


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


def coverage_counts(tables: list[pa.Table]) -> dict[str, int]:
    """The ``coverage/<column>`` counts of a flush's part files: per column, the rows whose value is neither null
    nor empty, counted once over all of them (a count per column per file was an Arrow call per column for every
    partition of a flush)."""
    if not tables:
        return {}
    table = pa.concat_tables(tables)
    return {keys.coverage(name): filled_count(table.column(name)) for name in table.column_names}


class ParquetPipeline:
    """Writes ArticleItems to the dataset; settings ``PARQUET_*``, stats ``parquet/*``, ``coverage/*``."""

    def __init__(self, crawler: Crawler, config: ParquetConfig, run: RunLifecycle) -> None:
        self.crawler = crawler
        self.config = config
        self.run = run
        self._buffer: dict[str, list[ArticleItem]] = defaultdict(list)
        self._buffered = 0
        self._buffered_bytes = 0
        self._file_seq = 0
        self._output_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParquetPipeline:
        config = ParquetConfig.from_settings(crawler.settings)
        run = crawler.get_extension(RunLifecycle)
        if run is None:
            raise ParquetConfigError(
                "the exporter writes a run of the dataset: crawler.extensions.run.RunLifecycle must be in EXTENSIONS"
            )
        return cls(crawler, config, run)

    @property
    def _stats(self) -> StatsCollector:
        assert self.crawler.stats is not None, "the crawler builds its stats before its pipelines"
        return self.crawler.stats

    def open_spider(self) -> None:
        """Open the run here, not at ``spider_opened``: what stops it (a held lock, unwritable output) must stop
        the crawl before its first request, with the error that names it."""
        self.run.open(
            {"PARQUET_PARTITION": self.config.partition, "PARQUET_COMPRESSION": self.config.compression}
        )
        logger.info(
            "Writing run %s to %s (partition by %s)", self.run.run_id, self.run.root, self.config.partition
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if self._output_error is not None:
            self._stats.inc_value(keys.dropped(OutputFailedError.reason))
            raise OutputFailedError(f"output failed earlier in this run: {self._output_error}")
        item.run_id = self.run.run_id
        problem = row_problem(item)
        if problem is not None:
            self._stats.inc_value(keys.dropped(InvalidRowError.reason))
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
            self._output_failed(exc)
            logger.error("Cannot write the dataset at %s, stopping the run: %s", self.run.root, exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=OUTPUT_ERROR_REASON))

    def _output_failed(self, error: Exception) -> None:
        self._output_error = str(error)
        self.run.output_failed(self._output_error)

    def flush(self) -> None:
        """Commit the buffer: one part file per partition, the run told after each, then the manifest rewritten."""
        buffer, buffered = self._buffer, self._buffered
        self._buffer, self._buffered, self._buffered_bytes = defaultdict(list), 0, 0
        rows_before = self._stats.get_value(keys.ROWS_WRITTEN, 0)
        written: list[pa.Table] = []
        try:
            self._commit_captures()
            # Each partition's items let go once written: the tables kept for the coverage take their place.
            for partition in sorted(buffer):
                written.append(self._commit(partition, buffer.pop(partition)))
        except (OSError, pa.ArrowException):
            self._count_coverage(written)
            self._list_quietly()
            # The rows not committed are lost with this run: count them, as the items that arrive after the
            # failure are counted, so that extracted = written + dropped still holds.
            committed = self._stats.get_value(keys.ROWS_WRITTEN, 0) - rows_before
            self._stats.inc_value(keys.dropped(OUTPUT_ERROR_REASON), buffered - committed)
            raise
        self._count_coverage(written)
        if written:
            self.run.flushed()
        if buffered:
            logger.info(
                "Flushed %d rows to %d partition(s); %d rows in %d files written by this run",
                buffered,
                len(written),
                self._stats.get_value(keys.ROWS_WRITTEN, 0),
                self._stats.get_value(keys.FILES_WRITTEN, 0),
            )

    def _list_quietly(self) -> None:
        """After a failed flush, the manifest lists what the flush committed if the storage still lets it (the
        next run's recovery lists it otherwise, from the files' names)."""
        with contextlib.suppress(OSError, pa.ArrowException):
            self.run.flushed()

    def _commit_captures(self) -> None:
        """Have the capture files the buffered rows point into committed (``before_flush``), and listed."""
        committed: list[str] = []
        for receiver, result in self.crawler.signals.send_catch_log(signal=before_flush):
            if isinstance(result, Failure):
                raise OSError(f"captures could not be committed ({receiver!r}): {result.getErrorMessage()}")
            committed += result or []
        if committed:
            self.run.captures_committed(committed)

    def _commit(self, partition: str, items: list[ArticleItem]) -> pa.Table:
        """One part file written and renamed, then the run told (the manifest lists it at the flush's end);
        returns its rows."""
        table = items_to_table(items)
        path = self._next_part_path(partition)
        storage.write_table_atomically(
            self.run.fs,
            path,
            table,
            compression=self.config.compression,
            row_group_size=self.config.row_group_size,
        )
        self._count_written(table)  # first: the rows are in the dataset whatever fails next
        self.run.committed(path, table.column("article_id").to_pylist())
        return table

    def _next_part_path(self, partition: str) -> str:
        self._file_seq += 1
        return layout.part_path(self.run.root, partition, self.run.run_id, self._file_seq)

    def _count_written(self, table: pa.Table) -> None:
        self._stats.inc_value(keys.ROWS_WRITTEN, table.num_rows)
        self._stats.inc_value(keys.FILES_WRITTEN)

    def _count_coverage(self, tables: list[pa.Table]) -> None:
        for key, count in coverage_counts(tables).items():
            self._stats.inc_value(key, count)

    def close_spider(self) -> None:
        """The last flush (also when the buffer is empty: it commits the last capture file); the run closes at
        ``spider_closed``, after every pipeline."""
        if not self.run.opened or self._output_error is not None:
            return  # never opened, or the output already failed: nothing more can be written
        try:
            self.flush()
        except (OSError, pa.ArrowException) as exc:
            self._output_failed(exc)
            logger.error("Cannot write the dataset at %s: %s", self.run.root, exc)
