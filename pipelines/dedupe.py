"""Versions and duplicates against the archive index (SPEC.md section 3)."""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import pyarrow as pa
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from crawler import stats as keys
from crawler.config import SettingError
from crawler.extensions.run import DEFAULT_INDEX_CLASS, INDEX_CLASS_SETTING, RunLifecycle, component_class
from crawler.extract.generic import EXTRACTOR_NAME as GENERIC_EXTRACTOR
from crawler.items import ArticleItem
from pipelines.dataset.archive import DEFAULT_MAX_DISTANCE, ArchiveIndex, ArchiveLookup, hash_key
from pipelines.dataset.manifest import new_run_id
from pipelines.dataset.storage import resolve
from pipelines.fingerprint import ArticleDropped, report_drop

logger = logging.getLogger(__name__)

NEAR_DISTANCE_SETTING = "DEDUPE_NEAR_DISTANCE"
# Items extracted from captures of any date (import, rebuild) rather than fetched now. A crawl fetches an article
# once per run, so a second copy in a run is its other edition; captures bring every copy of an article over the
# years in one run, each a possible version. A capture older than what the archive holds of its article never
# gets here: the backfill stage before this one inserts it among the stored versions (pipelines/backfill.py).
FROM_CAPTURES_SETTING = "DEDUPE_FROM_CAPTURES"
MAX_NEAR_DISTANCE = 16
FIRST_VERSION = 1
# Drop reason and finish reason of a run whose archive could not be read at start.
ARCHIVE_UNREADABLE = "archive_unreadable"


class Duplicate(ArticleDropped):
    def __init__(self, article_id: str, url: str) -> None:
        super().__init__("duplicate", f"{article_id} already archived with this text", url)


class ExtractorNoise(ArticleDropped):
    """A page only the general extractor could read (the site's markup changed) whose text is nearly the
    archived version's: another extractor's reading of the same text, not an edit (README "What makes a new
    version"). Small real edits to such pages wait until the site's parsers read them again."""

    def __init__(self, article_id: str, url: str) -> None:
        super().__init__("extractor_noise", f"{article_id} read by the general extractor, same text", url)


class DuplicateContent(ArticleDropped):
    def __init__(self, article_id: str, original_id: str, url: str) -> None:
        super().__init__("duplicate_content", f"{article_id} has the same text as {original_id}", url)
        self.original_id = original_id


def assign_version(
    item: ArticleItem,
    index: ArchiveLookup,
    accepted_this_run: set[str],
    max_distance: int,
    *,
    one_row_per_run: bool = True,
) -> ArticleItem:
    """Set ``version`` and ``near_duplicate_of`` on an accepted item and record it in ``index``.

    Raises Duplicate or DuplicateContent for items that must not be written. One row per article per run:
    a second copy of an article in the same run (its other edition) is a duplicate even if its folded text
    differs slightly, since versions count changes between crawls, not between editions.
    """
    if item.content_hash is None or item.simhash is None:
        raise ValueError(
            f"{item.url} has no fingerprints: FingerprintPipeline must run before DedupePipeline"
        )
    if one_row_per_run and item.article_id in accepted_this_run:
        raise Duplicate(item.article_id, item.url)
    hashes = [h for h in (item.content_hash, item.schema1_hash) if h is not None]
    latest, original = index.lookup(item.article_id, hashes)
    if latest is None:
        if original is not None:
            raise DuplicateContent(item.article_id, original, item.url)
        item.version = FIRST_VERSION
    elif latest.hash_key in {hash_key(h) for h in hashes}:
        raise Duplicate(item.article_id, item.url)
    elif item.extractor == GENERIC_EXTRACTOR and _near_its_latest(item, index, max_distance):
        raise ExtractorNoise(item.article_id, item.url)
    else:
        item.version = latest.version + 1
    item.near_duplicate_of = index.near_duplicate(item.simhash, max_distance, exclude=item.article_id)
    index.add(item.article_id, item.version, item.content_hash, item.simhash)
    if one_row_per_run:
        accepted_this_run.add(item.article_id)
    return item


def _near_its_latest(item: ArticleItem, index: ArchiveLookup, max_distance: int) -> bool:
    """The archived text of this very article is within ``max_distance`` of the item's (the nearest match of
    the index is the article itself)."""
    assert item.simhash is not None
    return index.near_duplicate(item.simhash, max_distance) == item.article_id


def parse_near_distance(value: object) -> int:
    """The ``DEDUPE_NEAR_DISTANCE`` setting as an int in 0..16; SettingError naming the setting otherwise."""
    problem = f"{NEAR_DISTANCE_SETTING} must be an integer from 0 to {MAX_NEAR_DISTANCE}, got {value!r}"
    if isinstance(value, bool):
        raise SettingError(problem)
    try:
        distance = int(str(value).strip())
    except ValueError:
        raise SettingError(problem) from None
    if not 0 <= distance <= MAX_NEAR_DISTANCE:
        raise SettingError(problem)
    return distance


class ArchiveUnreadable(ArticleDropped):
    def __init__(self, detail: str, url: str) -> None:
        super().__init__(ARCHIVE_UNREADABLE, detail, url)


class DedupePipeline:
    """Scrapy shell over :func:`assign_version`: loads the index at start (the known-articles middleware reads
    it through the crawler)."""

    def __init__(self, crawler: Crawler, uri: str, max_distance: int, from_captures: bool = False) -> None:
        self.crawler = crawler
        # The run writing the dataset (crawler.extensions.run), None when nothing is written.
        self.run = crawler.get_extension(RunLifecycle)
        self.from_captures = from_captures
        self.stats: StatsCollector = crawler.stats
        self.uri = uri
        self.max_distance = max_distance
        self.index: ArchiveLookup = ArchiveIndex.empty()
        self.accepted_this_run: set[str] = set()
        self.archive_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        settings = crawler.settings
        uri = settings.get("PARQUET_URI")
        if not uri or not isinstance(uri, str):
            raise ValueError(f"PARQUET_URI must name the dataset to deduplicate against, got {uri!r}")
        max_distance = parse_near_distance(settings.get(NEAR_DISTANCE_SETTING, DEFAULT_MAX_DISTANCE))
        pipeline = cls(crawler, uri, max_distance, settings.getbool(FROM_CAPTURES_SETTING, False))
        # Not in open_spider: the run (opened by the exporter's open_spider) takes the dataset lock and repairs
        # what a killed run left, and the archive must be read after that, or a run finishing meanwhile would
        # go unseen.
        crawler.signals.connect(pipeline.load_archive, signal=signals.spider_opened)
        return pipeline

    def load_archive(self) -> None:
        """Signal handler; Scrapy only logs what a handler raises, so an unreadable archive stops the run here."""
        try:
            self._load_archive()
        except (OSError, ValueError, pa.ArrowException) as error:
            self.archive_error = f"cannot read the archive at {self.uri}: {error}"
            logger.error("Stopping the run: %s", self.archive_error)
            self.stats.set_value(keys.ARCHIVE_ERROR, self.archive_error)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=ARCHIVE_UNREADABLE))

    def _load_archive(self) -> None:
        started = time.perf_counter()
        self.index = self._open_index()
        logger.info(
            "Archive index: %d articles from %s in %.2f s",
            len(self.index),
            self.uri,
            time.perf_counter() - started,
        )
        self.stats.set_value(keys.ARCHIVE_ARTICLES_AT_START, len(self.index))

    def _open_index(self) -> ArchiveLookup:
        """The ``ARCHIVE_INDEX_CLASS`` (the local index unless the distributed add-on swapped it)."""
        index_class = component_class(self.crawler.settings, INDEX_CLASS_SETTING, DEFAULT_INDEX_CLASS)
        fs, root = resolve(self.uri)
        run_id = self.run.run_id if self.run is not None else new_run_id()
        return cast(ArchiveLookup, index_class.open(fs, root, run_id, self.crawler.settings))

    def process_item(self, item: Any) -> ArticleItem:
        if not isinstance(item, ArticleItem):
            raise TypeError(f"DedupePipeline expects ArticleItem, got {type(item).__name__}")
        try:
            if self.archive_error is not None:
                # Without the archive every article would look new: writing nothing is the only safe answer.
                raise ArchiveUnreadable(self.archive_error, item.url)
            assign_version(
                item,
                self.index,
                self.accepted_this_run,
                self.max_distance,
                one_row_per_run=not self.from_captures,
            )
        except ArticleDropped as drop:
            report_drop(self.stats, logger, drop)
            raise
        self.stats.inc_value(keys.NEW if item.version == FIRST_VERSION else keys.NEW_VERSION)
        if item.near_duplicate_of is not None:
            self.stats.inc_value(keys.NEAR_DUPLICATE)
        return item
