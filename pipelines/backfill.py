"""Imports only: captures older than what the archive holds of their article become its earlier
versions (``pipelines.dataset.backfill`` rewrites the part files; README "Import others' WARC files").

Sits before the dedupe stage. An item of an article whose newest archived row was captured after it, and every
later item of that article in the run, is held here instead of going on: its version depends on rows already
stored. The held items are inserted at the exporter's next flush (``before_flush``: the run holds the dataset's
lock, and the rows it then writes are of other articles), so memory holds one flush's worth.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow.dataset as pads
import pyarrow.fs as pafs
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler import stats as keys
from crawler.extensions.run import RunLifecycle
from crawler.items import ArticleItem
from pipelines.dataset import backfill, storage
from pipelines.dataset.archive import ArchiveLookup
from pipelines.dataset.layout import part_files, partition_dir
from pipelines.dataset.manifest import new_run_id
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dedupe import FROM_CAPTURES_SETTING, DedupePipeline, Duplicate, DuplicateContent
from pipelines.fingerprint import ArticleDropped, report_drop
from pipelines.parquet import InvalidRowError, ParquetConfig, before_flush

logger = logging.getLogger(__name__)


class Held(DropItem):
    """Not dropped: taken out of the flow, inserted among the stored versions at the next flush."""

    def __init__(self, item: ArticleItem) -> None:
        super().__init__(f"{item.article_id} held to be inserted as an earlier version", log_level="DEBUG")


def latest_captures(uri: str) -> dict[str, datetime]:
    """``article_id`` -> the ``crawled_at`` of its newest row in the dataset."""
    fs, root = storage.resolve(uri)
    files = part_files(fs, root)
    if not files:
        return {}
    table = pads.dataset(files, format="parquet", filesystem=fs).to_table(
        columns=["article_id", "crawled_at"]
    )
    grouped = table.group_by("article_id").aggregate([("crawled_at", "max")])
    return dict(
        zip(
            grouped.column("article_id").to_pylist(),
            grouped.column("crawled_at_max").to_pylist(),
            strict=True,
        )
    )


@dataclass(slots=True)
class Backfill:
    """The held items of a run, by article; plain, for Scrapy's stage below and the capture engine alike.
    ``latest`` is the ``crawled_at`` of each article's newest stored row, read at the run's start."""

    latest: dict[str, datetime] = field(default_factory=dict)
    # Articles with an item held in this run: their later items are held too, to be merged in order.
    held_articles: set[str] = field(default_factory=set)
    pending: dict[str, list[ArticleItem]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, uri: str) -> Backfill:
        return cls(latest_captures(uri))

    def hold(self, item: ArticleItem, index: ArchiveLookup, max_distance: int) -> bool:
        """Hold ``item`` when its article's stored rows are newer (or an item of its article is held).

        Raises DuplicateContent for the text of another article, as the dedupe stage would; sets
        ``near_duplicate_of`` against ``index`` (checks that do not depend on the article's own versions).
        """
        archived = self.latest.get(item.article_id)
        if item.article_id not in self.held_articles and (archived is None or item.crawled_at >= archived):
            return False
        if item.content_hash is None or item.simhash is None:
            raise ValueError(f"{item.url} has no fingerprints: FingerprintPipeline must run first")
        owner = index.find_hash(item.content_hash)
        if owner is not None and owner != item.article_id:
            raise DuplicateContent(item.article_id, owner, item.url)
        item.near_duplicate_of = index.near_duplicate(item.simhash, max_distance, exclude=item.article_id)
        self.held_articles.add(item.article_id)
        self.pending[item.article_id].append(item)
        return True

    def insert(
        self, fs: pafs.FileSystem, root: str, config: ParquetConfig, run_id: str
    ) -> tuple[backfill.Result, list[InvalidRowError]]:
        """Insert what is held (the caller holds the lock); the result, and the items that are no valid row."""
        pending, self.pending = self.pending, defaultdict(list)
        rows: dict[str, list[dict[str, Any]]] = {}
        invalid: list[InvalidRowError] = []
        for article_id, items in pending.items():
            valid = []
            for item in items:
                item.run_id, item.version = run_id, 0  # numbered by the merge
                problem = row_problem(item)
                if problem is None:
                    valid.append(item)
                else:
                    invalid.append(InvalidRowError(f"{item.url}: {problem}"))
            if valid:
                rows[article_id] = items_to_table(valid).to_pylist()
        result = backfill.backfill(
            fs,
            root,
            rows,
            lambda row: partition_dir(config.partition, row["published_at"]),
            compression=config.compression,
            row_group_size=config.row_group_size,
            name=run_id,
        )
        return result, invalid


def duplicates(result: backfill.Result) -> list[Duplicate]:
    """The held rows the merge found equal to a stored neighbour: dropped as duplicates."""
    return [Duplicate(row["article_id"], row["url"]) for row in result.dropped]


class BackfillPipeline:
    """On when ``DEDUPE_FROM_CAPTURES`` is (``-a warc=``); stats ``backfill/*``. A thin shell over Backfill."""

    def __init__(self, crawler: Crawler, config: ParquetConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.fs, self.root = storage.resolve(config.uri)
        self.backfill = Backfill()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackfillPipeline:
        if not crawler.settings.getbool(FROM_CAPTURES_SETTING, False):
            raise NotConfigured("only imports read captures older than the archive")
        pipeline = cls(crawler, ParquetConfig.from_settings(crawler.settings))
        # At spider_opened: the exporter has taken the lock and recovered the dataset by then.
        crawler.signals.connect(pipeline.load, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.flush, signal=before_flush)
        return pipeline

    def load(self) -> None:
        self.backfill = Backfill.load(self.config.uri)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        dedupe = self.crawler.get_item_pipeline(DedupePipeline)
        if dedupe is None:
            raise ValueError("BackfillPipeline needs DedupePipeline (its archive index) after it")
        try:
            held = self.backfill.hold(item, dedupe.index, dedupe.max_distance)
        except ArticleDropped as drop:
            report_drop(self.crawler.stats, logger, drop)
            raise
        if not held:
            return item
        self.crawler.stats.inc_value(keys.BACKFILL_HELD)
        raise Held(item)

    def flush(self) -> list[str]:
        """``before_flush`` handler: insert what is held. Returns no capture files (it commits none)."""
        if not self.backfill.pending:
            return []
        run = self.crawler.get_extension(RunLifecycle)
        run_id = run.run_id if run is not None else new_run_id()
        result, invalid = self.backfill.insert(self.fs, self.root, self.config, run_id)
        stats = self.crawler.stats
        for error in invalid:
            stats.inc_value(keys.dropped(InvalidRowError.reason))
            logger.warning("Dropped %s: %s", InvalidRowError.reason, error)
        for drop in duplicates(result):
            report_drop(stats, logger, drop)
        stats.inc_value(keys.BACKFILL_INSERTED, len(result.inserted))
        stats.inc_value(keys.ROWS_WRITTEN, len(result.inserted))
        stats.inc_value(keys.NEW_VERSION, len(result.inserted))
        stats.inc_value(keys.BACKFILL_RENUMBERED, result.renumbered)
        stats.inc_value(keys.BACKFILL_FILES_REWRITTEN, result.files_rewritten)
        return []
