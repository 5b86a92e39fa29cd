"""The ``articles`` spider: discovers channels, walks their pages, requests each article once, yields items.

It only discovers, follows and yields: list parsing lives in ``crawler.listing``, article extraction in
``crawler.extract``, and everything done to an item afterwards in ``pipelines/``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import listing
from crawler import stats as keys
from crawler.blocks import Blocked
from crawler.decoding import decode_problem
from crawler.extract import extract_page
from crawler.extract.errors import ExtractionError
from crawler.extract.model import Article
from crawler.items import ArticleItem
from crawler.middlewares.capture import capture_of_response, response_of
from crawler.spiders.options import CrawlOptions
from crawler.urls import (
    CANONICAL_BASE,
    SITE_HOSTS,
    ArticleRef,
    ListRef,
    is_site_url,
    list_page_path,
    parse_article_url,
    parse_list_url,
    rebase,
)
from pipelines.dataset import warc
from pipelines.dedupe import FROM_CAPTURES_SETTING

logger = logging.getLogger(__name__)

# List pages drive discovery, so they jump the queue: paging never waits behind thousands of articles.
LIST_PRIORITY = 10
OFFSITE_REASON = "offsite"
GENERIC_EXTRACTOR = "generic"


class KnownArticles(Protocol):
    """What the spider needs of the archive index: is an article already archived?"""

    def __contains__(self, article_id: object) -> bool: ...


class NoArchive:
    """Before the dedupe pipeline plugs the real index in (or without one), nothing is known."""

    def __contains__(self, article_id: object) -> bool:
        return False


def failure_reason(failure: Failure) -> str:
    """The manifest's name for why a request produced no page (SPEC.md section 4)."""
    error = failure.value
    if isinstance(error, HttpError):
        return f"http_{error.response.status}"
    reasons: tuple[tuple[type[BaseException], str], ...] = (
        (DownloadTimeoutError, "timeout"),
        (DownloadCancelledError, "too_large"),
        (ResponseDataLossError, "truncated"),
        (DownloadConnectionRefusedError, "connection_refused"),
    )
    for error_type, reason in reasons:
        if isinstance(error, error_type):
            return reason
    if isinstance(error, IgnoreRequest):
        return "too_large" if "DOWNLOAD_MAXSIZE" in str(error) else "ignored"
    return type(error).__name__


class ArticlesSpider(scrapy.Spider):
    name = "articles"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        option_names = ("site", "editions", "since", "until", "channels", "full", "refresh_days", "warc")
        options = {key: kwargs.pop(key) for key in option_names if key in kwargs}
        super().__init__(*args, **kwargs)
        self.options = CrawlOptions.parse(**options)
        self.archive: KnownArticles = NoArchive()
        # Set by the dedupe pipeline when the last run did not finish: then a page of known articles does not
        # mean that the older pages are archived too.
        self.archive_has_gaps = False
        self.allowed_domains = [urlsplit(self.options.site).hostname or ""]
        self.today = datetime.now(UTC).date()
        # Articles requested by this run: one request per article_id, whatever link variant comes first.
        self.requested_ids: set[str] = set()
        # article_id -> the URLs seen so far for an article requested and not yet parsed (its alternate_urls);
        # dropped once parsed, so that per-article memory stays an id, not a list of URLs.
        self.pending_urls: dict[str, list[str]] = {}

    async def start(self) -> AsyncIterator[scrapy.Request | ArticleItem]:
        if self.options.warc:
            for item in self._items_from_captures():
                yield item
            return
        for edition in self.options.editions:
            if self.options.channels:
                for channel in self.options.channels:
                    yield self._list_request(ListRef(edition, channel, 1))
            else:
                home = f"{self.options.site}/{edition}/"
                yield scrapy.Request(
                    home,
                    callback=self.parse_home,
                    errback=self.request_failed,
                    cb_kwargs={"edition": edition},
                )

    def parse_home(self, response: Response, edition: str) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value(keys.PAGES_HOME)
        channel_urls = listing.channel_links(_text(response), response.url, edition)
        logger.info("Found %d channels on %s", len(channel_urls), response.url)
        for url in channel_urls:
            ref = parse_list_url(url)
            if ref is not None:
                yield self._list_request(ListRef(ref.edition, ref.channel, 1))

    def parse_list(self, response: Response, ref: ListRef) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        stats.inc_value(keys.PAGES_LIST)
        html = _text(response)
        links = [
            url for url in listing.article_links(html, response.url) if is_site_url(url, self.options.site)
        ]
        stats.inc_value(keys.LINKS_FOUND, len(links))
        refs = [(url, article) for url in links if (article := parse_article_url(url)) is not None]
        for url, article in refs:
            request = self._article_request(url, article)
            if request is not None:
                yield request
        if self._keep_paging(ref, [article for _, article in refs]):
            last = listing.max_page(html) if ref.page == 1 else response.meta.get("max_page")
            if last is not None and ref.page < last:
                yield self._list_request(ListRef(ref.edition, ref.channel, ref.page + 1), max_page=last)

    def parse_article(self, response: Response, ref: ArticleRef) -> Iterator[ArticleItem]:
        stats = self.crawler.stats
        stats.inc_value(keys.ARTICLE_PAGES)
        seen_urls = self.pending_urls.pop(ref.article_id, [])
        if not isinstance(response, TextResponse):
            self._count_failure("not_html", response.url)
            return
        content_type = response.headers.get(b"Content-Type")
        try:
            article = extract_page(
                response.body, response.url, content_type.decode("latin-1") if content_type else None
            )
        except ExtractionError as error:
            self._count_failure(error.reason, response.url, error)
            return
        problem = decode_problem(f"{article.title}\n{article.body_text}")
        if problem is not None:
            self._count_failure("decode_error", response.url, ValueError(problem))
            return
        stats.inc_value(keys.EXTRACTED)
        self._count_reading(article)
        alternates = [url for url in seen_urls if url != article.url]
        capture = capture_of_response(response)
        item = ArticleItem.from_article(
            article,
            # The capture's time when there is one, so that a rebuild from it gives the same row.
            crawled_at=capture.date if capture else datetime.now(UTC),
            alternate_urls=alternates,
            warc_file=capture.file if capture else None,
            warc_offset=capture.offset if capture else None,
        )
        item.etag, item.last_modified = _header(response, "ETag"), _header(response, "Last-Modified")
        yield item

    def _items_from_captures(self) -> Iterator[ArticleItem]:
        """Import or rebuild: the site's article and list responses in the WARC files, in capture order. Articles
        are extracted as if just fetched; list pages only say which other URLs an article was seen under
        (``alternate_urls``), as they do in a crawl. Everything else is counted under ``warc/skipped/<reason>``."""
        files = list(self.options.warc)
        logger.info("Reading %d WARC file(s) instead of fetching", len(files))
        for capture in warc.read_captures(files, self._is_page_capture):
            self.crawler.stats.inc_value(keys.WARC_CAPTURES_READ)
            response = response_of(capture)
            ref = parse_article_url(capture.url)
            if ref is None:
                self._note_variants(response)
            else:
                yield from self.parse_article(response, ref)

    def _note_variants(self, response: Response) -> None:
        for url in listing.article_links(_text(response), response.url):
            ref = parse_article_url(url)
            if ref is not None and is_site_url(url, self.options.site):
                pending = self.pending_urls.setdefault(ref.article_id, [])
                variant = _public_variant(url)
                if variant not in pending:
                    pending.append(variant)

    def _is_page_capture(self, record: Any) -> bool:
        reason = capture_skip_reason(record, self.options.site)
        if reason is not None:
            self.crawler.stats.inc_value(keys.warc_skipped(reason))
        return reason is None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ArticlesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_scheduled, signal=signals.request_scheduled)
        if spider.options.warc:
            # Nothing is fetched, so nothing to capture; and items come from captures of any date.
            crawler.settings.set("WARC_URI", "", priority="spider")
            crawler.settings.set(FROM_CAPTURES_SETTING, True, priority="spider")
        return spider

    def request_failed(self, failure: Failure) -> None:
        """Errback: a page that never reached its callback is counted by reason, never silently lost."""
        if isinstance(failure.value, Blocked):
            return  # counted as blocked by crawler.middlewares.blocks: the site was not answering us
        self._count_lost_page(failure.request, failure_reason(failure))  # type: ignore[attr-defined]

    def request_scheduled(self, request: scrapy.Request) -> None:
        """Signal: Scrapy's OffsiteMiddleware drops a redirect to another host without calling the errback;
        count it like a failed page. Same rule as that middleware: the site's host or a subdomain of it."""
        host = urlsplit(request.url).hostname or ""
        if request.dont_filter or any(host == d or host.endswith(f".{d}") for d in self.allowed_domains):
            return
        self._count_lost_page(request, OFFSITE_REASON)

    def _count_lost_page(self, request: scrapy.Request, reason: str) -> None:
        kind = "articles" if parse_article_url(request.url) else "lists"
        self.crawler.stats.inc_value(keys.page_failed(reason))
        self.crawler.stats.inc_value(keys.page_failed(kind))
        logger.warning("Gave up on %s: %s", request.url, reason)

    def _list_request(self, ref: ListRef, max_page: int | None = None) -> scrapy.Request:
        url = f"{self.options.site}{list_page_path(ref.edition, ref.channel, ref.page)}"
        return scrapy.Request(
            url,
            callback=self.parse_list,
            errback=self.request_failed,
            cb_kwargs={"ref": ref},
            meta={"max_page": max_page},
            priority=LIST_PRIORITY,
        )

    def _article_request(self, url: str, ref: ArticleRef) -> scrapy.Request | None:
        if not self._in_date_range(ref.url_date):
            self.crawler.stats.inc_value(keys.SKIPPED_OUT_OF_RANGE)
            return None
        variant = _public_variant(url)
        if ref.article_id in self.requested_ids:
            pending = self.pending_urls.get(ref.article_id)
            if pending is not None and variant not in pending:
                pending.append(variant)
            return None
        if self._is_settled(ref):
            self.crawler.stats.inc_value(keys.SKIPPED_KNOWN)
            return None
        self.requested_ids.add(ref.article_id)
        self.pending_urls[ref.article_id] = [variant]
        self.crawler.stats.inc_value(keys.REQUESTED)
        return scrapy.Request(
            rebase(ref.canonical_url, self.options.site),
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"ref": ref},
        )

    def _in_date_range(self, url_date: date) -> bool:
        since, until = self.options.since, self.options.until
        return (since is None or url_date >= since) and (until is None or url_date <= until)

    def _is_settled(self, ref: ArticleRef) -> bool:
        """Archived and too old to be edited still: no need to fetch it again (SPEC.md section 3)."""
        if self.options.full or ref.article_id not in self.archive:
            return False
        if self.options.refresh_days is None:
            return True
        return ref.url_date < self.today - timedelta(days=self.options.refresh_days)

    def _keep_paging(self, ref: ListRef, articles: list[ArticleRef]) -> bool:
        if not articles:
            return False
        if self.options.since is not None and all(a.url_date < self.options.since for a in articles):
            logger.info("Stopping %s/%s at page %d: older than since", ref.edition, ref.channel, ref.page)
            return False
        if not self.archive_has_gaps and all(self._is_settled(a) for a in articles):
            logger.info("Stopping %s/%s at page %d: all known", ref.edition, ref.channel, ref.page)
            self.crawler.stats.inc_value(keys.LISTS_STOPPED_ON_KNOWN)
            return False
        return True

    def _count_reading(self, article: Article) -> None:
        """What the health check and the manifest need to see a change of the site's markup coming."""
        if article.extractor == GENERIC_EXTRACTOR:
            self.crawler.stats.inc_value(keys.FALLBACK)
            logger.info("No layout parser could read %s: stored from the general extractor", article.url)
        if article.byline_issue is not None:
            self.crawler.stats.inc_value(keys.byline_issue(article.byline_issue))

    def _count_failure(self, reason: str, url: str, error: Exception | None = None) -> None:
        self.crawler.stats.inc_value(keys.EXTRACTION_FAILED)
        self.crawler.stats.inc_value(keys.extraction_failed(reason))
        logger.warning("No article extracted from %s: %s%s", url, reason, f" ({error})" if error else "")


def capture_skip_reason(record: Any, site: str) -> str | None:
    """Why a WARC record is not an article or list page capture to read, or None when it is one."""
    kind = warc.record_type(record)
    if kind != "response":
        return "revisit" if kind == "revisit" else f"record_{kind or 'unknown'}"
    url = warc.target_uri(record)
    if not is_site_url(url, site):
        return "other_site"
    if parse_article_url(url) is None and parse_list_url(url) is None:
        return "not_article"
    return _status_skip_reason(warc.status_code(record))


def _status_skip_reason(status: int) -> str | None:
    if 300 <= status < 400:
        return "redirect"
    return None if status == 200 else "http_error"


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _text(response: Response) -> str:
    return response.text if isinstance(response, TextResponse) else ""


def _public_variant(url: str) -> str:
    """The URL as the public knows it: the real host (a replica's own address means the canonical one), no query."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in SITE_HOSTS:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return f"{CANONICAL_BASE}{parts.path}"
