"""The run's lifecycle, one extension (SPEC.md sections 1, 2 and 4): what a crawl does to the dataset before its
first row and after its last.

- Open (asked by the exporter in its ``open_spider``, so that a held lock or an unwritable output stops the
  crawl before any request with the error that names it): the dataset root proven writable, the dataset lock
  taken, whatever a killed run or compaction left finished or undone (by the sole writer only), the manifest
  written ``running``, and whether the last run did not finish (then a page of known articles does not prove
  that the older pages are archived).
- Each part file the exporter commits, and each capture file committed before it: the lock and the manifest
  are told (:meth:`RunLifecycle.committed`, :meth:`RunLifecycle.captures_committed`; the manifest is rewritten
  once per flush, :meth:`RunLifecycle.flushed`).
- ``spider_closed``, after the pipelines' last flush: the health verdict, the final manifest, the lock released;
  ``scrapy crawl`` reads its exit status here (:meth:`RunLifecycle.exit_status`).

The run id exists from the start (capture files are named with it). Components find the run with
``crawler.get_extension(RunLifecycle)``; a crawl without the exporter (``-O items.jsonl``) has no run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import pyarrow.fs as pafs
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings, Settings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from crawler import stats as keys
from crawler.extensions.health import evaluate, health_limits
from pipelines.dataset import storage
from pipelines.dataset.compact import recover_dataset
from pipelines.dataset.lock import WriterLock, WriterLockClass
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
from pipelines.dataset.warc import capture_location

logger = logging.getLogger(__name__)

# The item pipeline that writes the dataset: without it a crawl opens no run.
EXPORTER = "pipelines.parquet.ParquetPipeline"
URI_SETTING = "PARQUET_URI"
DEFAULT_URI = "output/articles"
# Swapped by the distributed add-on (crawler/distributed/addon.py); the defaults live here, not in the project's
# settings, whose priority would beat the add-on's.
LOCK_CLASS_SETTING = "DATASET_LOCK_CLASS"
DEFAULT_LOCK_CLASS = "pipelines.dataset.lock.DatasetLock"
INDEX_CLASS_SETTING = "ARCHIVE_INDEX_CLASS"
DEFAULT_INDEX_CLASS = "pipelines.dataset.archive.ArchiveIndex"

# Exit statuses of `scrapy crawl` (README "Exit status").
SUCCESS_EXIT = 0
RUN_FAILED_EXIT = 1
HEALTH_FAILED_EXIT = 3
# Finish reasons of a run that did what it was asked: a normal end, or a limit the user set (CLOSESPIDER_*).
SUCCESS_REASONS = ("finished", "closespider_")


def exit_status(finish_reason: str, verdict: HealthVerdict | None) -> int:
    """1 for a run that did not end as asked, 3 for a failed health check, else 0."""
    if not finish_reason.startswith(SUCCESS_REASONS):
        return RUN_FAILED_EXIT
    if verdict is not None and not verdict.ok:
        return HEALTH_FAILED_EXIT
    return SUCCESS_EXIT


class ComponentClassError(ValueError):
    """A ``*_CLASS`` setting does not name an importable class."""


def component_class(settings: BaseSettings, name: str, default: str) -> Any:
    """The class a ``*_CLASS`` setting names (as Scrapy's ``SCHEDULER``): swapped by the distributed add-on."""
    path = settings.get(name) or default
    try:
        return load_object(path)
    except (ImportError, AttributeError, NameError, ValueError):
        raise ComponentClassError(
            f"{name} must name an importable class such as {default}, got {path!r}"
        ) from None


def lock_class(settings: BaseSettings) -> WriterLockClass:
    return cast(WriterLockClass, component_class(settings, LOCK_CLASS_SETTING, DEFAULT_LOCK_CLASS))


def open_lock(
    fs: pafs.FileSystem,
    root: str,
    run_id: str,
    settings: BaseSettings | None = None,
    stats: StatsCollector | None = None,
) -> WriterLock:
    """The ``DATASET_LOCK_CLASS``'s lock for one run."""
    settings = settings if settings is not None else Settings()
    return lock_class(settings).for_run(fs, root, run_id, settings, stats)


def pipeline_names(settings: BaseSettings) -> list[str]:
    """The item pipelines the crawl runs, in order, by import path (a class given as an object included)."""
    return [
        item if isinstance(item, str) else f"{item.__module__}.{item.__qualname__}"
        for item in build_component_list(settings.getwithbase("ITEM_PIPELINES"))
    ]


def _writes_dataset(settings: BaseSettings) -> bool:
    return EXPORTER in pipeline_names(settings)


class RunLifecycle:
    """See the module docstring; settings ``PARQUET_URI`` and ``HEALTH_MAX_*_RATIO``, stats ``run/*``, ``health/*``."""

    def __init__(self, crawler: Crawler, uri: str, limits: dict[str, float]) -> None:
        self.crawler = crawler
        self.uri = uri
        # HEALTH_MAX_FAILED_RATIO, HEALTH_MAX_FALLBACK_RATIO, HEALTH_MAX_DISAGREEMENT_RATIO by name.
        self.limits = limits
        self.run_id = new_run_id()
        self.fs, self.root = storage.resolve(uri)
        self.lock = open_lock(self.fs, self.root, self.run_id, crawler.settings, crawler.stats)
        self.manifest: RunManifest | None = None
        self.last_run_incomplete = False
        self.output_error: str | None = None
        self.verdict: HealthVerdict | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunLifecycle:
        settings = crawler.settings
        if not _writes_dataset(settings):
            raise NotConfigured(f"no dataset is written: {EXPORTER} is not in ITEM_PIPELINES")
        limits = health_limits(settings)
        run = cls(crawler, str(settings.get(URI_SETTING) or DEFAULT_URI), limits)
        crawler.signals.connect(run.spider_closed, signal=signals.spider_closed)
        return run

    @property
    def _stats(self) -> StatsCollector:
        assert self.crawler.stats is not None, "the crawler builds its stats before its extensions"
        return self.crawler.stats

    @property
    def opened(self) -> bool:
        """Between a successful open and the close: the dataset may be written."""
        return self.manifest is not None

    def open(self, exporter_settings: dict[str, Any]) -> None:
        """Everything before the first row (see the module docstring); raises what stopped it, having released
        what it took. ``exporter_settings`` go into the manifest."""
        try:
            storage.ensure_writable(self.fs, self.root, f"probe-{self.run_id}")
        except storage.OutputNotWritableError as error:
            # The line the user reads (scrapy: error: ...) names the setting to fix.
            raise storage.OutputNotWritableError(f"{URI_SETTING}: {error}") from error
        self.lock.acquire()
        try:
            if self.lock.sole_writer:
                self._recover()
            self.lock.startup_done()
            manifest = RunManifest(self.run_id, datetime.now(UTC), self._manifest_settings(exporter_settings))
            manifest.write(self.fs, self.root, self._stats.get_stats())
            self.last_run_incomplete = self._last_run_incomplete()
        except BaseException:
            self.lock.release()
            raise
        self.manifest = manifest
        self._stats.set_value(keys.RUN_ID, self.run_id)

    def _recover(self) -> None:
        self._stats.set_value(keys.RECOVERY_ACTIONS, len(recover_dataset(self.fs, self.root)))
        for run_id in reconcile_interrupted(self.fs, self.root):
            logger.warning("Run %s was interrupted; its manifest now lists its committed files", run_id)

    def _last_run_incomplete(self) -> bool:
        """A killed or failed last run archived some articles of a channel but maybe not the older ones."""
        if self.lock.previous_run_incomplete():
            logger.warning("The last run did not finish: paging past known articles to fill the gap")
            return True
        return False

    def _manifest_settings(self, exporter_settings: dict[str, Any]) -> dict[str, Any]:
        return {
            URI_SETTING: self.uri,
            **exporter_settings,
            **self.limits,
            "WARC_URI": capture_location(self.crawler.settings.get("WARC_URI"), self.uri),
            **spider_arguments(self.crawler.spider),
        }

    def committed(self, path: str, article_ids: list[str]) -> None:
        """A part file is in the dataset: the lock (claims) is told, and the manifest lists it from its next
        write (:meth:`flushed`)."""
        assert self.manifest is not None, "a part file committed before the run opened"
        self.lock.committed(article_ids)
        self.manifest.files.append(path.removeprefix(self.root + "/"))

    def flushed(self) -> None:
        """The exporter's flush is over: the manifest is rewritten with the files it committed. Once per flush,
        not after each part file (one per partition: dozens a flush); a kill in between loses no file, the next
        run's recovery lists a dead run's files from their names."""
        assert self.manifest is not None, "a flush before the run opened"
        self.manifest.write(self.fs, self.root, self._stats.get_stats())

    def captures_committed(self, files: list[str]) -> None:
        """Capture files (WARC) that the next rows point into are committed: the manifest lists them."""
        assert self.manifest is not None, "captures committed before the run opened"
        self.manifest.warc_files += files
        self.manifest.write(self.fs, self.root, self._stats.get_stats())

    def output_failed(self, error: str) -> None:
        """The dataset could not be written: the run fails its health check."""
        self.output_error = error

    def spider_closed(self) -> None:
        """Signal: the pipelines have flushed their last rows."""
        if self.manifest is None:
            return  # never opened: nothing taken, nothing to finish
        try:
            self.verdict = self._health()
            self.manifest.status = self._final_status(self.verdict)
            self.manifest.finished_at = datetime.now(UTC)
            self.manifest.health = self.verdict
            self.manifest.write(self.fs, self.root, self._stats.get_stats())
        finally:
            self.lock.release()
            self.manifest = None

    def exit_status(self) -> int:
        """What ``scrapy crawl`` returns for this run, once closed."""
        return exit_status(str(self._stats.get_value("finish_reason", "")), self.verdict)

    def _final_status(self, verdict: HealthVerdict) -> str:
        """``interrupted`` when the crawl was stopped (SIGTERM, SIGINT): it did not reach every page, so the
        next run must page past known articles; else the health verdict."""
        if not self.crawler.crawling:  # Crawler.stop() clears it before closing; a crawl that ends keeps it
            return STATUS_INTERRUPTED
        return STATUS_FINISHED if verdict.ok else STATUS_FAILED

    def _health(self) -> HealthVerdict:
        verdict = evaluate(
            self._stats.get_stats(),
            self.limits["HEALTH_MAX_FAILED_RATIO"],
            max_fallback_ratio=self.limits["HEALTH_MAX_FALLBACK_RATIO"],
            max_disagreement_ratio=self.limits["HEALTH_MAX_DISAGREEMENT_RATIO"],
        )
        if self.output_error is not None:
            reasons = [f"output {self.root} could not be written: {self.output_error}", *verdict.reasons]
            verdict = HealthVerdict(ok=False, reasons=reasons)
        self._stats.set_value(keys.HEALTH_OK, int(verdict.ok))
        self._stats.set_value(keys.HEALTH_REASONS, verdict.reasons)
        if not verdict.ok:
            logger.error("Health check failed: %s", "; ".join(verdict.reasons))
        return verdict
