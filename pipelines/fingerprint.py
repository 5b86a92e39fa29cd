"""Fingerprint an extracted item (``content_hash``, ``simhash``) before dedupe, after checking it has the
required fields and putting its times in UTC. Extraction hands over normalized text (``crawler.extract.normalize``):
nothing here normalizes it again."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

import opencc
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler import stats as keys
from crawler.extract.errors import MissingField
from crawler.items import ArticleItem
from crawler.urls import parse_article_url
from pipelines.dataset.simhash import simhash

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("article_id", "url", "title", "body_text", "published_at")
# Scrapy's own drop message dumps the whole item (body included): keep that at DEBUG, we log the URL at INFO.
_SCRAPY_DROP_LOG_LEVEL = "DEBUG"

TITLE_BODY_SEPARATOR = "\x1f"
# One converter for the process: building it loads OpenCC's dictionaries.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


class ArticleDropped(DropItem):
    """An article that is not written, with the reason counted as ``articles/dropped/<reason>`` (and
    ``.../<field>`` when a field is to blame)."""

    def __init__(self, reason: str, detail: str, url: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail} ({url})", log_level=_SCRAPY_DROP_LOG_LEVEL)
        self.reason = reason
        self.detail = detail
        self.url = url
        self.field = field


def missing_field(field: str, url: str) -> ArticleDropped:
    """The drop of an item without a usable required field (the reason extraction's MissingField has)."""
    return ArticleDropped(MissingField.reason, f"no usable {field}", url, field)


def report_drop(stats: StatsCollector, log: logging.Logger, drop: ArticleDropped) -> None:
    """Count ``articles/dropped/<reason>`` (and ``.../<field>`` for a field) and log the URL."""
    stats.inc_value(keys.dropped(drop.reason))
    if drop.field is not None:
        stats.inc_value(keys.dropped(drop.reason, drop.field))
    log.info("Dropped %s: %s (%s)", drop.reason, drop.url, drop.detail)


def fold_script(text: str) -> str:
    """Traditional characters folded to simplified, so that a gb page and its b5 twin compare equal."""
    return str(_TO_SIMPLIFIED.convert(text))


class Fingerprints(NamedTuple):
    content_hash: str
    simhash: int
    # The schema_version 1 definition of content_hash (lines kept): an archived version hashed that way is
    # still recognised as the same text, so an upgrade never makes a version of every refreshed article.
    schema1_hash: str


def text_fingerprints(title: str, body_text: str) -> Fingerprints:
    """Fingerprints of a normalized title and body, folded once.

    ``content_hash`` is the sha256 hex of the folded title, a unit separator and the folded body, with every
    whitespace character (line breaks included) removed: the text a reader sees, whatever the layout or the
    extractor made of paragraphs and spaces (README "What makes a new version"). ``simhash`` covers the folded
    body only, so that a retitled copy is still a near duplicate.
    """
    folded = fold_script(f"{title}\n{body_text}")
    folded_title, _, folded_body = folded.partition("\n")
    # str.split() splits at exactly the characters regex \s matches (str.isspace), five times faster than a
    # substitution on an article's body.
    reader_text = f"{''.join(folded_title.split())}{TITLE_BODY_SEPARATOR}{''.join(folded_body.split())}"
    return Fingerprints(
        content_hash=hashlib.sha256(reader_text.encode("utf-8")).hexdigest(),
        simhash=simhash(folded_body),
        schema1_hash=hashlib.sha256(folded.encode("utf-8")).hexdigest(),
    )


class InvalidDate(ArticleDropped):
    def __init__(self, field: str, value: datetime, url: str) -> None:
        super().__init__("invalid_date", f"{field} {value.isoformat()} has no UTC equivalent", url)


def to_utc(value: datetime, field: str, url: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{field} is a naive datetime ({value.isoformat()}): extraction must attach a zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # a page's date at the edge of the calendar: bad input, not a bug
        raise InvalidDate(field, value, url) from None


def fingerprint_item(item: ArticleItem) -> ArticleItem:
    """``item`` with its times in UTC and its fingerprints; a drop (``missing_field``) when a required field
    is blank or the URL is not an article's.

    A naive datetime raises ValueError: it is an extraction bug, not bad input to count and skip.
    """
    _require_fields(item)
    if parse_article_url(item.url) is None:
        raise missing_field("url", item.url)
    fingerprints = text_fingerprints(item.title, item.body_text)
    return replace(
        item,
        published_at=to_utc(item.published_at, "published_at", item.url),
        updated_at=to_utc(item.updated_at, "updated_at", item.url) if item.updated_at is not None else None,
        crawled_at=to_utc(item.crawled_at, "crawled_at", item.url),
        content_hash=fingerprints.content_hash,
        simhash=fingerprints.simhash,
        schema1_hash=fingerprints.schema1_hash,
    )


def _require_fields(item: ArticleItem) -> None:
    for field in REQUIRED_FIELDS:
        value = getattr(item, field)
        if not (value.strip() if isinstance(value, str) else value):
            raise missing_field(field, item.url)


class FingerprintPipeline:
    """Scrapy shell over :func:`fingerprint_item`: counts and logs the drops."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FingerprintPipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> ArticleItem:
        if not isinstance(item, ArticleItem):
            raise TypeError(f"FingerprintPipeline expects ArticleItem, got {type(item).__name__}")
        try:
            return fingerprint_item(item)
        except ArticleDropped as drop:
            report_drop(self.stats, logger, drop)
            raise
