"""One captured page to what the sequential stage needs of it, as a pure function run in worker processes.

An article page gives its row, extracted (normalized) and fingerprinted (:func:`pipelines.fingerprint.fingerprint_item`),
or the reason it gives none; every page gives the article URLs it links to, which become other rows'
``alternate_urls`` in capture order (that part depends on the pages read before, so it stays sequential).
The rules are the ``articles`` spider's for a capture (``crawler.spiders.articles``): same extraction, same
checks, same counters.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from scrapy.http import Response, TextResponse

from crawler.decoding import decode_problem
from crawler.discovery import page
from crawler.extract import extract_page
from crawler.extract.errors import ExtractionError
from crawler.items import ArticleItem
from crawler.middlewares.capture import response_of
from crawler.spiders.articles import GENERIC_EXTRACTOR
from crawler.urls import ArticleRef, is_site_url, parse_article_url, public_variant
from pipelines.dataset import warc
from pipelines.fingerprint import ArticleDropped, fingerprint_item


@dataclass(frozen=True, slots=True)
class Drop:
    """Why the fingerprint step refused an article (``ArticleDropped``, as plain values that cross processes)."""

    reason: str
    detail: str
    url: str
    field: str | None = None


@dataclass(slots=True)
class PageResult:
    """What one captured page gives; ``article_id`` None for a home or list page."""

    capture: warc.CaptureRef
    url: str
    article_id: str | None
    # (article_id, URL as the public knows it) of each article link, page order: alternate URLs of later rows.
    variants: list[tuple[str, str]] = field(default_factory=list)
    # An article page: its row (no alternate_urls yet) or why there is none.
    item: ArticleItem | None = None
    extracted_url: str | None = None
    failure: str | None = None
    failure_detail: str | None = None
    drop: Drop | None = None
    byline_issue: str | None = None
    # CPU seconds its reading took in the worker process (``rebuild/worker_cpu_seconds``), and which process it
    # was (the caller's own, when it read the page inline).
    cpu_seconds: float = 0.0
    pid: int = field(default_factory=os.getpid)

    @property
    def fallback(self) -> bool:
        return self.item is not None and self.item.extractor == GENERIC_EXTRACTOR


def read_chunk(site: str, refs: list[warc.CaptureRef]) -> list[PageResult]:
    """The pages at ``refs``, in order (what a worker process is given at a time)."""
    results = []
    for ref in refs:
        started = time.process_time()
        result = read_page(warc.read_capture(ref.file, ref.offset), site)
        result.cpu_seconds = time.process_time() - started
        results.append(result)
    return results


def read_page(capture: warc.Capture, site: str) -> PageResult:
    """A capture of the site's home, list or article page (``capture_skip_reason`` said so) read as the spider
    reads it."""
    response = response_of(capture)
    text = response.text if isinstance(response, TextResponse) else ""
    ref = parse_article_url(capture.url)
    if ref is None:
        return PageResult(
            capture.ref, capture.url, None, _variants(page.scan(text, response.url).articles, site)
        )
    links = (url for url in page.article_links(text, response.url) if parse_article_url(url) != ref)
    result = PageResult(capture.ref, capture.url, ref.article_id, _variants(links, site))
    _read_article(result, response, ref, capture.ref)
    return result


def _read_article(result: PageResult, response: Response, ref: ArticleRef, capture: warc.CaptureRef) -> None:
    if not isinstance(response, TextResponse):
        result.failure = "not_html"
        return
    content_type = response.headers.get(b"Content-Type")
    try:
        article = extract_page(
            response.body, response.url, content_type.decode("latin-1") if content_type else None
        )
    except ExtractionError as error:
        result.failure, result.failure_detail = error.reason, str(error)
        return
    problem = decode_problem(f"{article.title}\n{article.body_text}")
    if problem is not None:
        result.failure, result.failure_detail = "decode_error", problem
        return
    result.extracted_url = article.url
    result.byline_issue = article.byline_issue
    item = ArticleItem.from_article(
        article, crawled_at=capture.date, warc_file=capture.file, warc_offset=capture.offset
    )
    item.etag, item.last_modified = _header(response, "ETag"), _header(response, "Last-Modified")
    try:
        result.item = fingerprint_item(item)
    except ArticleDropped as drop:
        result.drop = Drop(drop.reason, drop.detail, drop.url, drop.field)


def _variants(urls: Iterable[str], site: str) -> list[tuple[str, str]]:
    found = []
    for url in urls:
        ref = parse_article_url(url)
        if ref is not None and is_site_url(url, site):
            found.append((ref.article_id, public_variant(url)))
    return found


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
