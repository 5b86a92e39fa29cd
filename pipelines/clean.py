"""Normalize an item's fields and fingerprint its text (``content_hash``, ``simhash``) before dedupe."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit, urlunsplit

import opencc
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler import stats as keys
from crawler.extract.dom import INVISIBLE_TAGS, parse_document, visible_text
from crawler.extract.model import Image
from crawler.extract.text import normalize_line, normalize_text
from crawler.items import ArticleItem
from crawler.urls import CANONICAL_BASE, LANGUAGE_BY_EDITION, parse_article_url
from pipelines.dataset.simhash import simhash

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("article_id", "url", "title", "body_text", "published_at")
# Scrapy's own drop message dumps the whole item (body included): keep that at DEBUG, we log the URL at INFO.
_SCRAPY_DROP_LOG_LEVEL = "DEBUG"

_WHITESPACE_RE = re.compile(r"\s+")
TITLE_BODY_SEPARATOR = "\x1f"
# One converter for the process: building it loads OpenCC's dictionaries.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


class ArticleDropped(DropItem):
    """An article that is not written, with the reason counted as ``articles/dropped/<reason>``."""

    def __init__(self, reason: str, detail: str, url: str) -> None:
        super().__init__(f"{reason}: {detail} ({url})", log_level=_SCRAPY_DROP_LOG_LEVEL)
        self.reason = reason
        self.detail = detail
        self.url = url


class MissingField(ArticleDropped):
    def __init__(self, field: str, url: str) -> None:
        super().__init__("missing_field", f"no usable {field}", url)
        self.field = field


def report_drop(stats: StatsCollector, log: logging.Logger, drop: ArticleDropped) -> None:
    """Count ``articles/dropped/<reason>`` (and ``.../<field>`` for a missing field) and log the URL."""
    stats.inc_value(keys.dropped(drop.reason))
    if isinstance(drop, MissingField):
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
    reader_text = (
        f"{_WHITESPACE_RE.sub('', folded_title)}{TITLE_BODY_SEPARATOR}{_WHITESPACE_RE.sub('', folded_body)}"
    )
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


# A tag, end tag, comment or declaration starting: text fields hold none, whatever the page put in them.
_MARKUP_RE = re.compile(r"<[A-Za-z/!?]")


def plain_line(value: str) -> str:
    """One normalized line of plain text. Markup that reached a text field (a meta attribute or a JSON-LD
    string carrying HTML) is reduced to its visible text, as an element's would be; a ``<`` directly followed
    by a letter is read as markup even in real text, a trade-off Chinese titles (they quote with 《》) can afford."""
    if _MARKUP_RE.search(value):
        value = visible_text(parse_document(f"<div>{value}</div>"), INVISIBLE_TAGS)
    return normalize_line(value)


def clean_lines(values: list[str]) -> list[str]:
    """Each entry normalized; empty entries and repeats removed, first occurrence order kept."""
    return list(dict.fromkeys(line for line in map(plain_line, values) if line))


def optional_line(value: str | None) -> str | None:
    return (plain_line(value) or None) if value is not None else None


def clean_images(images: list[Image]) -> list[Image]:
    by_url: dict[str, Image] = {}
    for image in images:
        url = image.url.strip()
        if url and url not in by_url:
            by_url[url] = Image(url, optional_line(image.caption), optional_line(image.credit))
    return list(by_url.values())


def without_query(url: str) -> str | None:
    """Absolute http(s) URL without query or fragment; None when it is not a web URL."""
    parts = urlsplit(urljoin(f"{CANONICAL_BASE}/", url.strip()))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def clean_alternate_urls(urls: list[str], canonical: str) -> list[str]:
    cleaned = (without_query(url) for url in urls)
    return list(dict.fromkeys(url for url in cleaned if url and url != canonical))


def clean_item(item: ArticleItem) -> ArticleItem:
    """A normalized copy of ``item`` with its fingerprints; MissingField when a required field is empty.

    A naive datetime raises ValueError: it is an extraction bug, not bad input to count and skip.
    """
    title = plain_line(item.title or "")
    body_text = normalize_text(item.body_text or "")
    _require_fields(item, title=title, body_text=body_text)
    ref = parse_article_url(item.url)
    if ref is None:
        raise MissingField("url", item.url)
    canonical = ref.canonical_url
    fingerprints = text_fingerprints(title, body_text)
    return replace(
        item,
        url=canonical,
        alternate_urls=clean_alternate_urls(item.alternate_urls, canonical),
        edition=ref.edition,
        language=LANGUAGE_BY_EDITION[ref.edition],
        title=title,
        published_at=to_utc(item.published_at, "published_at", item.url),
        updated_at=to_utc(item.updated_at, "updated_at", item.url) if item.updated_at is not None else None,
        crawled_at=to_utc(item.crawled_at, "crawled_at", item.url),
        section=optional_line(item.section),
        categories=clean_lines(item.categories),
        tags=clean_lines(item.tags),
        authors=clean_lines(item.authors),
        editor=optional_line(item.editor),
        dateline=optional_line(item.dateline),
        body_text=body_text,
        images=clean_images(item.images),
        char_count=len(body_text),
        content_hash=fingerprints.content_hash,
        simhash=fingerprints.simhash,
        schema1_hash=fingerprints.schema1_hash,
    )


def _require_fields(item: ArticleItem, *, title: str, body_text: str) -> None:
    present = {
        "article_id": item.article_id,
        "url": item.url,
        "title": title,
        "body_text": body_text,
        "published_at": item.published_at,
    }
    for field in REQUIRED_FIELDS:
        if not present[field]:
            raise MissingField(field, item.url)


class CleanPipeline:
    """Scrapy shell over :func:`clean_item`: counts and logs the drops."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> ArticleItem:
        if not isinstance(item, ArticleItem):
            raise TypeError(f"CleanPipeline expects ArticleItem, got {type(item).__name__}")
        try:
            return clean_item(item)
        except ArticleDropped as drop:
            report_drop(self.stats, logger, drop)
            raise
