"""One captured page to what the sequential stage needs of it, as a pure function run in worker processes.

An article page gives its row, extracted (normalized) and fingerprinted (:func:`pipelines.fingerprint.fingerprint_item`),
or the reason it gives none; every page gives the article URLs it links to, which become other rows'
``alternate_urls`` in capture order (that part depends on the pages read before, so it stays sequential).
The rules are the ``articles`` spider's for a capture (``crawler.spiders.articles``): same extraction, same
checks, same counters.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from scrapy.http import TextResponse
from scrapy.responsetypes import responsetypes
from w3lib.encoding import html_to_unicode, http_content_type_encoding, read_bom

from crawler.decoding import REPLACEMENT_CHARACTER, UTF8, decode_problem
from crawler.discovery import page
from crawler.extract import extract_page
from crawler.extract.errors import ExtractionError
from crawler.items import ArticleItem
from crawler.spiders.articles import GENERIC_EXTRACTOR
from crawler.urls import ArticleRef, parse_article_url, site_article_link, site_netloc
from pipelines.dataset import warc
from pipelines.fingerprint import ArticleDropped, fingerprint_item

_CONTENT_TYPE, _ETAG, _LAST_MODIFIED = "Content-Type", "Etag", "Last-Modified"
# What decides the response class Scrapy picks (scrapy.responsetypes.from_headers).
_TYPE_HEADERS = frozenset({_CONTENT_TYPE, "Content-Disposition"})
_READ_HEADERS = _TYPE_HEADERS | {_ETAG, _LAST_MODIFIED}


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
    with contextlib.closing(warc.read_refs(refs)) as captures:
        for _ in refs:
            started = time.process_time()
            result = read_page(next(captures), site)
            result.cpu_seconds = time.process_time() - started
            results.append(result)
    return results


def read_page(capture: warc.Capture, site: str) -> PageResult:
    """A capture of the site's home, list or article page (``capture_skip_reason`` said so) read as the spider
    reads it (the response ``response_of`` builds; see :func:`_text`)."""
    headers = _headers(capture)
    text = _text(capture, headers)
    ref = parse_article_url(capture.url)
    if ref is None:
        listed = page.scan_articles(text or "", capture.url)
        return PageResult(capture.ref, capture.url, None, _variants(listed, site))
    related = page.article_links(text or "", capture.url)
    result = PageResult(capture.ref, capture.url, ref.article_id, _variants(related, site, ref))
    if text is None:
        result.failure = "not_html"
    else:
        _read_article(result, capture, headers, _decoded_page(capture, headers, text))
    return result


def _headers(capture: warc.Capture) -> dict[str, bytes]:
    """The captured headers the reading uses, as Scrapy's ``Headers`` gives them: names as it normalizes them
    (``str.title``), the last value of a repeated one, values as UTF-8 bytes."""
    found = {}
    for name, value in capture.headers:
        key = name.title()
        if key in _READ_HEADERS:
            found[key] = value.encode("utf-8")
    return found


def _text(capture: warc.Capture, headers: dict[str, bytes]) -> str | None:
    """The text of the response ``response_of`` builds, None when it is no ``TextResponse`` (not HTML).

    Scrapy picks the response class from Content-Type and Content-Disposition (Content-Encoding is not among the
    captured headers, as in ``response_of``), then the URL and body; the text's encoding from Content-Type and the
    body. So a response with those headers alone has the same class and text, without the request, the other
    headers and ``response_of``'s full ``Headers``, most of the cost of a response here.
    """
    typing = {name.encode("ascii"): value for name, value in headers.items() if name in _TYPE_HEADERS}
    cls = responsetypes.from_args(headers=typing, url=capture.url, body=capture.body)
    if not issubclass(cls, TextResponse):
        return None
    charset = _header_charset(capture.body, headers)
    if charset is not None:
        return html_to_unicode(f"charset={charset}", capture.body)[1]
    return cls(url=capture.url, status=capture.status, headers=typing, body=capture.body).text


def _header_charset(body: bytes, headers: dict[str, bytes]) -> str | None:
    """The encoding a ``TextResponse`` takes from Content-Type, when that is the one its ``text`` decodes with
    (no byte order mark comes first): its ``text`` is then w3lib's decoding with it, which is all that building
    the response would do here, at several times the cost."""
    if read_bom(body)[0] is not None:
        return None
    return http_content_type_encoding(_latin1(headers.get(_CONTENT_TYPE)))


def _decoded_page(capture: warc.Capture, headers: dict[str, bytes], text: str) -> str | None:
    """``text`` when it is also what extraction decodes the body to (``decode_page``), so that the body is not
    decoded twice: UTF-8 that w3lib read as such without replacing anything, which ``decode_page`` reads as UTF-8
    too, whatever the page declares; None for any other page."""
    if REPLACEMENT_CHARACTER in text or _header_charset(capture.body, headers) != UTF8:
        return None
    return text


def _read_article(
    result: PageResult, capture: warc.Capture, headers: dict[str, bytes], decoded: str | None
) -> None:
    try:
        article = extract_page(
            capture.body, capture.url, _latin1(headers.get(_CONTENT_TYPE)), decoded=decoded
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
        article, crawled_at=capture.ref.date, warc_file=capture.ref.file, warc_offset=capture.ref.offset
    )
    item.etag, item.last_modified = _latin1(headers.get(_ETAG)), _latin1(headers.get(_LAST_MODIFIED))
    try:
        result.item = fingerprint_item(item)
    except ArticleDropped as drop:
        result.drop = Drop(drop.reason, drop.detail, drop.url, drop.field)


def _variants(urls: Iterable[str], site: str, page_ref: ArticleRef | None = None) -> list[tuple[str, str]]:
    """``(article_id, public URL)`` of each link to an article of the site, but the page's own."""
    netloc = site_netloc(site)
    found = []
    for url in urls:
        link = site_article_link(url, netloc)
        if link is not None and link[0] != page_ref:
            found.append((link[0].article_id, link[1]))
    return found


def _latin1(value: bytes | None) -> str | None:
    """A header value as the spider reads it (``_header``): latin-1 text, None when absent or empty."""
    return value.decode("latin-1") if value else None
