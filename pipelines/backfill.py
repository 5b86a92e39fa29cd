"""Imports and rebuilds only: captures older than what the archive holds of their article become its earlier
versions (``pipelines.dataset.backfill`` rewrites the part files; README "Import others' WARC files").

Sits before the dedupe stage. An item of an article whose newest archived row was captured after it, and every
later item of that article in the run, is held here instead of going on: its version depends on rows already
stored. The held items are inserted at the exporter's next flush (``before_flush``: the run holds the dataset's
lock, and the rows it then writes are of other articles), so memory holds one flush's worth.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import pyarrow.dataset as pads
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler import stats as keys
from crawler.items import ArticleItem
from pipelines.dataset import backfill, storage
from pipelines.dataset.archive import part_files
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dedupe import FROM_CAPTURES_SETTING, DedupePipeline, Duplicate, DuplicateContent
from pipelines.fingerprint import report_drop
from pipelines.parquet import ParquetConfig, before_flush, new_run_id, partition_dir

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


class BackfillPipeline:
    """On when ``DEDUPE_FROM_CAPTURES`` is (``-a warc=``, ``scrapy rebuild``); stats ``backfill/*``."""

    def __init__(self, crawler: Crawler, config: ParquetConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.fs, self.root = storage.resolve(config.uri)
        self.latest: dict[str, datetime] = {}
        # Articles with an item held in this run: their later items are held too, to be merged in order.
        self.held_articles: set[str] = set()
        self.pending: dict[str, list[ArticleItem]] = defaultdict(list)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackfillPipeline:
        if not crawler.settings.getbool(FROM_CAPTURES_SETTING, False):
            raise NotConfigured("only imports and rebuilds read captures older than the archive")
        pipeline = cls(crawler, ParquetConfig.from_settings(crawler.settings))
        # At spider_opened: the exporter has taken the lock and recovered the dataset by then.
        crawler.signals.connect(pipeline.load, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.flush, signal=before_flush)
        return pipeline

    def load(self) -> None:
        self.latest = latest_captures(self.config.uri)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        archived = self.latest.get(item.article_id)
        if item.article_id not in self.held_articles and (archived is None or item.crawled_at >= archived):
            return item
        self._check(item)
        self.held_articles.add(item.article_id)
        self.pending[item.article_id].append(item)
        self.crawler.stats.inc_value(keys.BACKFILL_HELD)
        raise Held(item)

    def _check(self, item: ArticleItem) -> None:
        """What the dedupe stage checks of a new row that does not depend on the article's own versions."""
        dedupe = self.crawler.get_item_pipeline(DedupePipeline)
        if item.content_hash is None or item.simhash is None or dedupe is None:
            raise ValueError(
                f"{item.url}: FingerprintPipeline and DedupePipeline must run around BackfillPipeline"
            )
        owner = dedupe.index.find_hash(item.content_hash)
        if owner is not None and owner != item.article_id:
            drop = DuplicateContent(item.article_id, owner, item.url)
            report_drop(self.crawler.stats, logger, drop)
            raise drop
        item.near_duplicate_of = dedupe.index.near_duplicate(
            item.simhash, dedupe.max_distance, exclude=item.article_id
        )

    def flush(self) -> list[str]:
        """``before_flush`` handler: insert what is held. Returns no capture files (it commits none)."""
        if not self.pending:
            return []
        pending, self.pending = self.pending, defaultdict(list)
        run_id = str(self.crawler.stats.get_value(keys.RUN_ID) or new_run_id())
        rows: dict[str, list[dict[str, Any]]] = {}
        for article_id, items in pending.items():
            for item in items:
                item.run_id, item.version = run_id, 0  # numbered by the merge
            valid = [i for i in items if self._valid(i)]
            if valid:
                rows[article_id] = items_to_table(valid).to_pylist()
        result = backfill.backfill(
            self.fs,
            self.root,
            rows,
            lambda row: partition_dir(self.config.partition, row["published_at"]),
            compression=self.config.compression,
            row_group_size=self.config.row_group_size,
            name=run_id,
        )
        stats = self.crawler.stats
        for row in result.dropped:
            report_drop(stats, logger, Duplicate(row["article_id"], row["url"]))
        stats.inc_value(keys.BACKFILL_INSERTED, len(result.inserted))
        stats.inc_value(keys.ROWS_WRITTEN, len(result.inserted))
        stats.inc_value(keys.NEW_VERSION, len(result.inserted))
        stats.inc_value(keys.BACKFILL_RENUMBERED, result.renumbered)
        stats.inc_value(keys.BACKFILL_FILES_REWRITTEN, result.files_rewritten)
        return []

    def _valid(self, item: ArticleItem) -> bool:
        problem = row_problem(item)
        if problem is not None:
            self.crawler.stats.inc_value(keys.dropped("invalid_row"))
            logger.warning("Dropped invalid_row: %s (%s)", item.url, problem)
        return problem is None
