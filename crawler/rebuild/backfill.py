"""An import's captures older than what the archive holds of their article: held, then inserted among the stored
versions at the next flush, as ``pipelines.backfill.BackfillPipeline`` does in Scrapy's engine (same rules, same
plain functions: ``pipelines.dataset.backfill.backfill``). A rebuild's target never holds a later capture of an
article, so nothing is held there."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler import stats as keys
from crawler.items import ArticleItem
from pipelines.backfill import latest_captures
from pipelines.dataset import backfill
from pipelines.dataset.archive import ArchiveIndex
from pipelines.dataset.layout import partition_dir
from pipelines.dataset.schema import items_to_table, row_problem
from pipelines.dedupe import Duplicate, DuplicateContent
from pipelines.fingerprint import ArticleDropped
from pipelines.parquet import ParquetConfig

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Backfill:
    """Held items by article; ``latest`` is the ``crawled_at`` of each article's newest stored row."""

    latest: dict[str, datetime] = field(default_factory=dict)
    held_articles: set[str] = field(default_factory=set)
    pending: dict[str, list[ArticleItem]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, uri: str) -> Backfill:
        return cls(latest_captures(uri))

    def hold(self, item: ArticleItem, index: ArchiveIndex, max_distance: int, stats: dict[str, Any]) -> bool:
        """Hold ``item`` if it is older than its article's stored rows (or its article has an item held).

        Raises DuplicateContent for the text of another article, as the dedupe stage would.
        """
        archived = self.latest.get(item.article_id)
        if item.article_id not in self.held_articles and (archived is None or item.crawled_at >= archived):
            return False
        assert item.content_hash is not None and item.simhash is not None, "fingerprinted before"
        owner = index.find_hash(item.content_hash)
        if owner is not None and owner != item.article_id:
            raise DuplicateContent(item.article_id, owner, item.url)
        item.near_duplicate_of = index.near_duplicate(item.simhash, max_distance, exclude=item.article_id)
        self.held_articles.add(item.article_id)
        self.pending[item.article_id].append(item)
        stats[keys.BACKFILL_HELD] = stats.get(keys.BACKFILL_HELD, 0) + 1
        return True

    def insert(
        self, fs: Any, root: str, config: ParquetConfig, run_id: str
    ) -> tuple[backfill.Result, list[str]]:
        """Insert what is held (the caller holds the lock); the result, and the invalid rows' messages."""
        pending, self.pending = self.pending, defaultdict(list)
        rows: dict[str, list[dict[str, Any]]] = {}
        invalid: list[str] = []
        for article_id, items in pending.items():
            for item in items:
                item.run_id, item.version = run_id, 0  # numbered by the merge
            valid = []
            for item in items:
                problem = row_problem(item)
                if problem is None:
                    valid.append(item)
                else:
                    invalid.append(f"{item.url} ({problem})")
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

    def has_pending(self) -> bool:
        return bool(self.pending)


def duplicates(result: backfill.Result) -> list[ArticleDropped]:
    """The held rows the merge found equal to a stored neighbour: dropped as duplicates."""
    return [Duplicate(row["article_id"], row["url"]) for row in result.dropped]
