"""The ``articles`` spider: reads the feeds and/or walks home -> channels -> list pages, requests each article
once, yields items.

It only discovers, follows and yields: page and feed parsing live in ``crawler.discovery``, article extraction
in ``crawler.extract``, and everything done to an item afterwards in ``pipelines/``. Every fetched page (feed,
home, list, article) feeds discovery: any link to an article is followed, wherever it sits.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

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

from crawler import stats as keys
from crawler.blocks import Blocked
from crawler.decoding import decode_problem
from crawler.discovery import feeds, page
from crawler.extract import extract_page
from crawler.extract.errors import ExtractionError
from crawler.extract.model import Article
from crawler.items import ArticleItem
from crawler.middlewares import known
from crawler.middlewares.capture import capture_of_response, response_of
from crawler.middlewares.refresh import REFRESH_META
from crawler.spiders.options import DEFAULT_FEEDS, CrawlOptions, parse_feed_paths
from crawler.urls import (
    ArticleRef,
    ListRef,
    is_home_url,
    is_site_url,
    list_page_path,
    parse_article_url,
    parse_list_url,
    rebase,
    site_article_link,
    site_netloc,
)
from pipelines.dataset import warc
from pipelines.dedupe import FROM_CAPTURES_SETTING

logger = logging.getLogger(__name__)

# List pages drive discovery, so they jump the queue: paging never waits behind thousands of articles.
LIST_PRIORITY = 10
OFFSITE_REASON = "offsite"
GENERIC_EXTRACTOR = "generic"
# Request meta: the article was first seen in another article page's links (a related block).
RELATED_META = "related_link"
# Request meta of an article request of discovery: the link as the public knows it (its first alternate URL).
LINK_META = "article_link"
# Request meta of a home page request once scheduled (its retries are the same walk).
WALKED_META = "lists_walk"
GONE_REASONS = frozenset({"http_404", "http_410"})
# The spider's callbacks and errbacks (bound once, see __init__).
CALLBACKS = ("parse_feed", "feed_failed", "parse_home", "parse_list", "parse_article", "request_failed")


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
        option_names = (
            "site", "editions", "since", "until", "channels", "full", "refresh_days", "warc", "discovery"
        )  # fmt: skip
        options = {key: kwargs.pop(key) for key in option_names if key in kwargs}
        super().__init__(*args, **kwargs)
        self.options = CrawlOptions.parse(**options)
        self.allowed_domains = [urlsplit(self.options.site).hostname or ""]
        # Articles requested by this run (scheduled: the known-articles middleware drops settled ones before):
        # one request per article_id, whatever link variant comes first.
        self.requested_ids: set[str] = set()
        # Article requests yielded and not scheduled yet: Scrapy schedules a callback's output a few entries
        # behind (other pages' callbacks run meanwhile), so another page's link to the same article rides on
        # the waiting request (known.LINKS_META) instead of becoming a request that every middleware carries
        # only for it to be dropped as already requested when scheduled (a third of the requests made).
        # Weak: a request a middleware dropped is gone, and the next link makes a request of its own again.
        self.unscheduled: weakref.WeakValueDictionary[str, scrapy.Request] = weakref.WeakValueDictionary()
        # article_id -> the URLs seen so far for an article requested and not yet parsed (its alternate_urls);
        # dropped once parsed, so that per-article memory stays an id, not a list of URLs.
        self.pending_urls: dict[str, list[str]] = {}
        self.feed_paths = DEFAULT_FEEDS
        # Editions whose home page (and so their lists) has been requested (scheduled): feeds trigger the walk once.
        self.lists_walked: set[str] = set()
        # What a link's host and port are compared with (crawler.urls.site_article_link).
        self._netloc = site_netloc(self.options.site)
        # Scrapy checks each callback for a generator `return` with a value once per callable, in a weak-keyed
        # cache: a bound method made for each request died with its request, and the check (the method's source
        # read and parsed) ran again for every page, about 0.1 ms. Bound once here, a callback is one object.
        for name in CALLBACKS:
            setattr(self, name, getattr(self, name))

    async def start(self) -> AsyncIterator[scrapy.Request | ArticleItem]:
        if self.options.warc:
            for item in self._items_from_captures():
                yield item
            return
        for edition in self.options.editions:
            if self.options.channels:
                for channel in self.options.channels:
                    yield self._list_request(ListRef(edition, channel, 1))
                continue
            if self.options.discovery in ("feeds", "all"):
                for path in self.feed_paths:
                    yield self._feed_request(edition, path.replace("{edition}", edition))
            if self.options.discovery in ("lists", "all"):
                for request in self._walk_lists(edition):
                    yield request

    def parse_feed(self, response: Response, edition: str) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value(keys.PAGES_FEED)
        articles = self._site_articles(feeds.feed_links(response.body))
        if self.options.discovery == "feeds":
            # The known-articles middleware drops the walk when the feed reaches the archive. Yielded before
            # the feed's articles: Scrapy resumes a callback lazily, and once those are requested they no
            # longer count as known at run start.
            yield from self._walk_lists(edition, feed=[article.article_id for _, article in articles])
        yield from self._article_requests(articles)

    def feed_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """Errback: a feed that cannot be read proves nothing, so the lists are walked instead."""
        self.request_failed(failure)
        yield from self._walk_lists(failure.request.cb_kwargs["edition"])  # type: ignore[attr-defined]

    def parse_home(self, response: Response, edition: str) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value(keys.PAGES_HOME)
        links = page.scan(_text(response), response.url, edition)
        yield from self._article_requests(self._site_articles(links.articles))
        channels = links.channels(edition)
        logger.info("Found %d channels on %s", len(channels), response.url)
        for ref in channels:
            yield self._list_request(ref)

    def parse_list(self, response: Response, ref: ListRef) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        stats.inc_value(keys.PAGES_LIST)
        links = page.scan(_text(response), response.url, ref.edition)
        articles = self._site_articles(links.articles)
        stats.inc_value(keys.LINKS_FOUND, len(articles))
        stats.inc_value(keys.main_list(links.main_list_rule))
        # The next page before any article (see parse_feed); the known-articles middleware drops it when every
        # article of this page's main list is known.
        main_list = [article for _, article in self._site_articles(links.main_list)]
        offered = [n for n in (links.last_page(ref), response.meta.get("max_page")) if n is not None]
        last = max(offered, default=None)
        if last is not None and ref.page < last and self._keep_paging(ref, main_list):
            next_page = self._list_request(ListRef(ref.edition, ref.channel, ref.page + 1), max_page=last)
            next_page.meta[known.LISTED_META] = main_list
            yield next_page
        yield from self._article_requests(articles)

    def parse_article(self, response: Response, ref: ArticleRef) -> Iterator[ArticleItem | scrapy.Request]:
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
        # Related links of articles new to the archive only: an import fetches nothing, and a refresh check
        # re-reads a known article whose related block pointed at what earlier runs already saw.
        if not self.options.warc and REFRESH_META not in response.meta:
            links = self._site_articles(page.article_links(response.text, response.url))
            yield from self._article_requests(links, related=True)

    def _items_from_captures(self) -> Iterator[ArticleItem]:
        """Import or rebuild: the site's article, home and list responses in the WARC files, in capture order.
        Articles are extracted as if just fetched; every page says which other URLs an article was seen under
        (``alternate_urls``), as it does in a crawl. Everything else is counted under ``warc/skipped/<reason>``."""
        files = list(self.options.warc)
        logger.info("Reading %d WARC file(s) instead of fetching", len(files))
        for capture in warc.read_captures(files, self._is_page_capture):
            self.crawler.stats.inc_value(keys.WARC_CAPTURES_READ)
            response = response_of(capture)
            ref = parse_article_url(capture.url)
            if ref is None:
                self._note_variants(page.scan(_text(response), response.url).articles)
                continue
            yield from (out for out in self.parse_article(response, ref) if isinstance(out, ArticleItem))
            # As a crawl does, after the item: the article page's own links (related articles).
            links = page.article_links(_text(response), response.url)
            self._note_variants(url for url in links if parse_article_url(url) != ref)

    def _note_variants(self, urls: Iterable[str]) -> None:
        for variant, ref in self._site_articles(urls):
            pending = self.pending_urls.setdefault(ref.article_id, [])
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
        spider.feed_paths = parse_feed_paths(crawler.settings.getlist("DISCOVERY_FEEDS", list(DEFAULT_FEEDS)))
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
        """Signal: what this run requests (after the known-articles middleware had its say). Also, Scrapy's
        OffsiteMiddleware drops a redirect to another host without calling the errback; count it like a failed
        page. Same rule as that middleware: the site's host or a subdomain of it."""
        self._note_requested(request)
        host = urlsplit(request.url).hostname or ""
        if request.dont_filter or any(host == d or host.endswith(f".{d}") for d in self.allowed_domains):
            return
        self._count_lost_page(request, OFFSITE_REASON)

    def _note_requested(self, request: scrapy.Request) -> None:
        """One request per article and one list walk per edition: decided here, in the order the spider yielded
        them, because Scrapy schedules a callback's output a few entries behind the callback (and the
        known-articles middleware drops some in between). A second one is dropped (IgnoreRequest)."""
        link = request.meta.pop(
            LINK_META, None
        )  # popped: a retry or redirect of the request is no new request
        if link is not None:
            ref: ArticleRef = request.cb_kwargs["ref"]
            links = [link, *request.meta.pop(known.LINKS_META, ())]
            if self.unscheduled.get(ref.article_id) is request:
                del self.unscheduled[ref.article_id]
            if ref.article_id in self.requested_ids:
                for url in links:
                    self._note_variant(ref.article_id, url)
                raise IgnoreRequest(f"{ref.article_id} already requested")
            self.requested_ids.add(ref.article_id)
            self.pending_urls[ref.article_id] = list(dict.fromkeys(links))
            self.crawler.stats.inc_value(keys.REQUESTED)
        elif request.callback == self.parse_home and not request.meta.get(WALKED_META):
            edition = request.cb_kwargs["edition"]
            if edition in self.lists_walked:
                raise IgnoreRequest(f"the {edition} lists are walked already")
            self.lists_walked.add(edition)
            request.meta[WALKED_META] = True

    def _note_variant(self, article_id: str, url: str) -> None:
        """Another URL of an article requested and not yet parsed (its ``alternate_urls``)."""
        pending = self.pending_urls.get(article_id)
        if pending is not None and url not in pending:
            pending.append(url)

    def _count_lost_page(self, request: scrapy.Request, reason: str) -> None:
        kind = _page_kind(request, reason)
        self.crawler.stats.inc_value(keys.page_failed(reason))
        self.crawler.stats.inc_value(keys.page_failed(kind))
        logger.warning("Gave up on %s: %s", request.url, reason)

    def _walk_lists(self, edition: str, feed: list[str] | None = None) -> Iterator[scrapy.Request]:
        """The edition's home page (its articles, and its channels whose lists are walked), once per run; after
        a ``feed`` (its article ids), only if the known-articles middleware finds a gap."""
        if edition in self.lists_walked:
            return
        yield scrapy.Request(
            f"{self.options.site}/{edition}/",
            callback=self.parse_home,
            errback=self.request_failed,
            cb_kwargs={"edition": edition},
            meta={} if feed is None else {known.FEED_META: feed},
            priority=LIST_PRIORITY,
        )

    def _feed_request(self, edition: str, path: str) -> scrapy.Request:
        return scrapy.Request(
            f"{self.options.site}{path}",
            callback=self.parse_feed,
            errback=self.feed_failed,
            cb_kwargs={"edition": edition},
            priority=LIST_PRIORITY,
        )

    def _site_articles(self, urls: Iterable[str]) -> list[tuple[str, ArticleRef]]:
        """The links that point to an article of the site (or of the replica being crawled): each link's public
        URL (``public_variant``) and its article. The same links come back page after page (an article's picture
        and title, related blocks, every list page's navigation): ``site_article_link`` reads each once, from
        one split of the URL, while it keeps coming."""
        found = []
        for url in urls:
            link = site_article_link(url, self._netloc)
            if link is not None:
                article, variant = link
                found.append((variant, article))
        return found

    def _article_requests(
        self, articles: list[tuple[str, ArticleRef]], related: bool = False
    ) -> Iterator[scrapy.Request]:
        """One request per article of the page, in page order. A list page links each article twice (picture
        and title): the second link rides on the first request (``known.LINKS_META``) instead of being a request
        of its own that Scrapy's middlewares and scheduler would carry only for it to be dropped as a duplicate
        when scheduled (the crawl's costliest waste, one such request per article)."""
        requests: dict[str, scrapy.Request] = {}
        for variant, article in articles:
            if not self._in_date_range(article.url_date):
                self.crawler.stats.inc_value(keys.SKIPPED_OUT_OF_RANGE)
                continue
            if article.article_id in self.requested_ids:
                self._note_variant(article.article_id, variant)
                continue
            first = requests.get(article.article_id) or self.unscheduled.get(article.article_id)
            if first is None:
                request = self._article_request(variant, article, related)
                requests[article.article_id] = self.unscheduled[article.article_id] = request
            else:
                first.meta.setdefault(known.LINKS_META, []).append(variant)
        yield from requests.values()

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

    def _article_request(self, variant: str, ref: ArticleRef, related: bool) -> scrapy.Request:
        meta: dict[str, Any] = {LINK_META: variant}
        if related:
            meta[RELATED_META] = True
        return scrapy.Request(
            rebase(ref.canonical_url, self.options.site),
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"ref": ref},
            meta=meta,
        )

    def _in_date_range(self, url_date: date) -> bool:
        since, until = self.options.since, self.options.until
        return (since is None or url_date >= since) and (until is None or url_date <= until)

    def _keep_paging(self, ref: ListRef, articles: list[ArticleRef]) -> bool:
        if not articles:
            return False
        if self.options.since is not None and all(a.url_date < self.options.since for a in articles):
            logger.info("Stopping %s/%s at page %d: older than since", ref.edition, ref.channel, ref.page)
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
    if parse_article_url(url) is None and parse_list_url(url) is None and not is_home_url(url):
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


def _page_kind(request: scrapy.Request, reason: str) -> str:
    """What a lost page was, for pages/failed/<kind>. A lost feed is not a lost list: the lists are walked
    instead (feed_failed). An article that only an article page's related block linked to and that the site
    answers as gone is that block's staleness, not an article the run missed."""
    if parse_article_url(request.url):
        return "related" if request.meta.get(RELATED_META) and reason in GONE_REASONS else "articles"
    return "feeds" if getattr(request.callback, "__name__", "") == "parse_feed" else "lists"
