"""The refresh middleware: re-checks known articles on the schedule, conditionally, and records removals.

A spider middleware. While the spider discovers, it notes the articles discovery requests; once the spider is
idle (discovery done, so the run's size is known) it adds the archived articles the schedule
(``crawler.refresh``) finds due since the previous run, oldest moment first, at most ``REFRESH_BUDGET`` of the
run's requests (never fewer than ``REFRESH_MIN_REQUESTS``). Each carries ``If-None-Match`` /
``If-Modified-Since`` from the version archived: a 304 is "unchanged" and costs no body; a 200 goes to the
spider's ``parse_article`` and the pipelines decide whether it is a new version.

The feeds discovery reads anyway are the free signal (SITE.md 2.6: items carry the full text): a known article
whose feed item's title and text hash differently from its archived version is checked at once (an edit), one
that hashes the same was seen present; either way no scheduled check is spent on it in this run. Every
sighting (a 2xx or 304 answer, a feed item) is committed at the end: a removal's ``last_seen_at`` is the last.

The state (what is archived, removed, last seen; when the previous run started) is loaded at start from, and
the run's sightings and events committed to, the store ``REFRESH_STATE_CLASS`` names: the dataset
(``pipelines.dataset.refresh_state``, ``_refresh/`` and ``_removals/`` files), or Redis in the distributed mode
(``crawler.distributed.refresh_state``).

A check answered 404, 410 or a redirect to a home or list page is checked a second time once every first check
is done; gone twice, it is a removal, written to ``_removals/`` (``pipelines.dataset.removals``) before the run ends.
When more than ``REFRESH_OUTAGE_SHARE`` of the run's checks look gone, the site is failing, not deleting: no
removal is recorded. A removed article that answers again is recorded as reappeared. Bot walls never reach
here as answers (``crawler.middlewares.blocks`` drops them as ``Blocked``), so they are never a removal.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import pyarrow as pa
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.misc import build_from_crawler, load_object

from crawler import stats as keys
from crawler.config import SettingError, flag, fraction, whole_number
from crawler.discovery.feeds import FeedItem, feed_items
from crawler.extensions.run import RunLifecycle
from crawler.extract.text import normalize_line, normalize_text
from crawler.refresh import DAY, Known, Schedule, due, refresh_allowance
from crawler.removals import gone_reason
from crawler.urls import parse_article_url, rebase
from pipelines.dataset.refresh_state import RefreshState
from pipelines.dataset.removals import (
    REAPPEARED,
    REMOVED,
    RemovalEvent,
)
from pipelines.fingerprint import text_fingerprints

logger = logging.getLogger(__name__)

ENABLED_SETTING = "REFRESH_ENABLED"
BUDGET_SETTING = "REFRESH_BUDGET"
MIN_REQUESTS_SETTING = "REFRESH_MIN_REQUESTS"
MAX_AGE_SETTING = "REFRESH_MAX_AGE_DAYS"
OUTAGE_SETTING = "REFRESH_OUTAGE_SHARE"
NOW_SETTING = "REFRESH_NOW"
# Where the state lives: the dataset (default), or Redis in the distributed mode (its add-on sets this).
STATE_CLASS_SETTING = "REFRESH_STATE_CLASS"
DEFAULT_STATE_CLASS = "pipelines.dataset.refresh_state.DatasetRefreshState"
DEFAULT_BUDGET = 0.8
DEFAULT_MIN_REQUESTS = 200
DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_OUTAGE_SHARE = 0.5
# Fewer checks than this prove nothing about an outage: a run that checked 3 articles may find all 3 gone.
OUTAGE_MIN_CHECKS = 4
REFRESH_META = "refresh"
CONFIRM_META = "refresh_confirm"
# The answers a check handles itself (HttpErrorMiddleware turns them into HttpError for the errback).
NOT_MODIFIED = 304
# The spider's callback for feeds: their responses carry the signal.
FEED_CALLBACK = "parse_feed"


class _Options(Protocol):
    site: str
    warc: tuple[str, ...]


class ArticleFetcher(Protocol):
    """What a check needs of the spider: where the site is, and the callback that reads an article page."""

    options: _Options

    def parse_article(self, response: Response, ref: Any) -> Any: ...


class RefreshConfigError(SettingError):
    """A REFRESH_* setting is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class RefreshConfig:
    budget: float
    min_requests: int
    max_age: timedelta
    outage_share: float
    now: datetime | None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RefreshConfig:
        def share(name: str, default: float) -> float:
            return fraction(settings, name, default, RefreshConfigError, zero=False)

        def count(name: str, default: int, minimum: int) -> int:
            return whole_number(settings, name, default, minimum, RefreshConfigError)

        return cls(
            budget=share(BUDGET_SETTING, DEFAULT_BUDGET),
            min_requests=count(MIN_REQUESTS_SETTING, DEFAULT_MIN_REQUESTS, 0),
            max_age=DAY * count(MAX_AGE_SETTING, DEFAULT_MAX_AGE_DAYS, 1),
            outage_share=share(OUTAGE_SETTING, DEFAULT_OUTAGE_SHARE),
            now=_instant(settings, NOW_SETTING),
        )


def _instant(settings: BaseSettings, name: str) -> datetime | None:
    raw = settings.get(name)
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise RefreshConfigError(f"{name} must be an ISO 8601 instant, got {raw!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def conditional_headers(known: Known) -> dict[str, str]:
    headers = {}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers


@dataclass(slots=True)
class _RunState:
    known: dict[str, Known] = field(default_factory=dict)
    removed: dict[str, RemovalEvent] = field(default_factory=dict)
    since: datetime | None = None
    discovered: set[str] = field(default_factory=set)
    covered: set[str] = field(default_factory=set)  # shown by a feed this run: no scheduled check
    seen: dict[str, datetime] = field(default_factory=dict)  # article_id -> last sighting in this run
    scheduled: bool = False
    checks: int = 0
    suspects: dict[str, str] = field(default_factory=dict)  # article_id -> reason of the first gone answer
    confirming: bool = False
    events: list[RemovalEvent] = field(default_factory=list)
    committed: tuple[int, int] = (0, 0)  # (sightings, events) committed so far


class RefreshMiddleware:
    """Spider middleware; see the module docstring."""

    def __init__(self, crawler: Crawler, config: RefreshConfig, store: RefreshState) -> None:
        self.crawler = crawler
        self.config = config
        self.store = store
        self.schedule = Schedule(max_age=config.max_age)
        self.state = _RunState()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RefreshMiddleware:
        settings = crawler.settings
        if not flag(settings, ENABLED_SETTING, True, RefreshConfigError):
            raise NotConfigured(f"{ENABLED_SETTING} is off")
        middleware = cls(crawler, RefreshConfig.from_settings(settings), _build_store(crawler))
        # After the exporter took the lock and repaired the dataset (spider_opened), as the dedupe pipeline does.
        crawler.signals.connect(middleware.load_state, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_idle, signal=signals.spider_idle)
        return middleware

    # ---- discovery ------------------------------------------------------------------------------------------

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for entry in result:
            self._note(entry)
            yield entry
        if self._is_feed(response):
            self._feed_signals(feed_items(response.body))

    def _note(self, entry: Any) -> None:
        if isinstance(entry, scrapy.Request) and REFRESH_META not in entry.meta:
            ref = parse_article_url(entry.url)
            if ref is not None:
                self.state.discovered.add(ref.article_id)

    # ---- free signals ---------------------------------------------------------------------------------------

    def _is_feed(self, response: Response) -> bool:
        request = response.request
        callback = getattr(request, "callback", None) if request is not None else None
        return getattr(callback, "__name__", "") == FEED_CALLBACK and not self._importing()

    def _feed_signals(self, items: list[FeedItem]) -> None:
        """Each known article a feed shows: checked now if its text changed (or it was removed), else seen."""
        state = self.state
        for item in items:
            ref = parse_article_url(item.url)
            known = state.known.get(ref.article_id) if ref is not None else None
            if known is None or known.content_hash is None or known.article_id in state.covered:
                continue
            state.covered.add(known.article_id)
            if feed_hash(item) == known.content_hash and known.article_id not in state.removed:
                self._inc("feed_unchanged")
                self._seen(known.article_id)
                continue
            self._inc("feed_changed")
            logger.info("Refresh: the feed shows %s changed, checking it now", known.url)
            self._crawl(self._request(known, confirm=False))

    def _seen(self, article_id: str) -> None:
        self.state.seen[article_id] = datetime.now(UTC)

    def _importing(self) -> bool:
        return bool(cast(ArticleFetcher, self.crawler.spider).options.warc)

    # ---- state ----------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.config.now or datetime.now(UTC)

    def load_state(self) -> None:
        """Signal handler: Scrapy would only log an error raised here; an unreadable dataset means no checks
        this run (the dedupe pipeline stops the run itself when it cannot read the archive)."""
        try:
            self._load_state()
        except (OSError, ValueError, pa.ArrowException) as error:
            self.state.scheduled = True
            self._inc("state_unreadable")
            logger.error("Refresh: no checks this run, cannot read its state: %s", error)

    def _load_state(self) -> None:
        run_id = self._run_id()
        snapshot = self.store.load(self._now(), self.config.max_age, str(run_id) if run_id else None)
        known = snapshot.known
        self.state.known = {k.article_id: k for k in known}
        self.state.removed = snapshot.removed
        self.state.since = snapshot.since
        self._inc("watched", len(known))
        logger.info(
            "Refresh: %d archived articles watched, %d removed, previous run started %s",
            len(known),
            len(self.state.removed),
            self.state.since.isoformat() if self.state.since else "never",
        )

    # ---- scheduling -----------------------------------------------------------------------------------------

    def spider_idle(self) -> None:
        """Signal: discovery is done; add the due checks, then the confirming ones, then write the events."""
        state = self.state
        if not state.scheduled:
            state.scheduled = True
            if self._schedule_due():
                raise DontCloseSpider
        if state.suspects and not state.confirming:
            state.confirming = True
            if self._confirm_suspects():
                raise DontCloseSpider
        self._write_events()

    def _schedule_due(self) -> int:
        state = self.state
        if self._importing():
            return 0  # an import or rebuild reads captures: nothing is fetched
        now = self._now()
        since = state.since or now - self.schedule.max_age
        skipped = state.discovered | state.covered
        candidates = [k for k in state.known.values() if k.article_id not in skipped]
        found = due(candidates, since, now, self.schedule)
        other = int(self.crawler.stats.get_value("downloader/request_count") or 0)
        allowance = refresh_allowance(other, self.config.budget, self.config.min_requests)
        chosen, deferred = found[:allowance], found[allowance:]
        self._inc("due", len(found))
        self._inc("deferred", len(deferred))
        if deferred:
            logger.info("Refresh: %d due checks deferred beyond the budget of %d", len(deferred), allowance)
        for _, known in chosen:
            self._crawl(self._request(known, confirm=False))
        return len(chosen)

    def _confirm_suspects(self) -> int:
        state = self.state
        if (
            state.checks >= OUTAGE_MIN_CHECKS
            and len(state.suspects) > self.config.outage_share * state.checks
        ):
            logger.warning(
                "Refresh: %d of %d checked articles look gone: the site is failing, not deleting; "
                "no removal recorded",
                len(state.suspects),
                state.checks,
            )
            self._inc("removals_withheld", len(state.suspects))
            state.suspects.clear()
            return 0
        for article_id in list(state.suspects):
            self._crawl(self._request(state.known[article_id], confirm=True))
        return len(state.suspects)

    def _crawl(self, request: scrapy.Request) -> None:
        assert self.crawler.engine is not None
        self.crawler.engine.crawl(request)

    def _request(self, known: Known, *, confirm: bool) -> scrapy.Request:
        spider = cast(ArticleFetcher, self.crawler.spider)
        ref = parse_article_url(known.url)
        site = spider.options.site
        self._inc("confirm_requests" if confirm else "requests")
        # No errback: the answers that matter arrive as HttpError in process_spider_exception, and a request
        # whose callbacks are spider methods can be queued in Redis (the distributed mode pickles requests).
        # Only the second check must pass the duplicate filter: the first one asked for the same article.
        return scrapy.Request(
            rebase(known.url, site),
            callback=spider.parse_article,
            cb_kwargs={"ref": ref},
            headers={} if confirm else conditional_headers(known),
            dont_filter=confirm,
            meta={
                REFRESH_META: known.article_id,
                CONFIRM_META: confirm,
                "dont_redirect": True,
            },
        )

    # ---- answers --------------------------------------------------------------------------------------------

    def process_spider_input(self, response: Response) -> None:
        """A check answered 200: the article is there (again)."""
        article_id = response.meta.get(REFRESH_META)
        if article_id is not None and 200 <= response.status < 300:
            self._answered(article_id, "fetched")

    def process_spider_exception(self, response: Response, exception: Exception) -> list[Any] | None:
        """A check answered 304, gone, or an error that says nothing about the article (counted, logged).

        Runs before HttpErrorMiddleware's (which would only log "Ignoring response"). Download errors (timeouts,
        refused connections, bot walls) never get here: Scrapy counts and logs those, and the article is simply
        checked again at its next moment."""
        article_id = response.meta.get(REFRESH_META)
        if article_id is None or not isinstance(exception, HttpError):
            return None
        self._check_answered(response, str(article_id), bool(response.meta.get(CONFIRM_META)))
        return []

    def _check_answered(self, response: Response, article_id: str, confirm: bool) -> None:
        request = response.request
        assert request is not None
        if response.status == NOT_MODIFIED and not confirm:
            self._answered(article_id, "not_modified")
            return
        location = response.headers.get("Location")
        reason = gone_reason(response.status, location.decode("latin-1") if location else None)
        if reason is not None and not confirm and article_id in self.state.removed:
            self.state.checks += 1
            self._inc("still_gone")
        elif reason is None:
            self._inc("failed")
            logger.warning("Refresh check of %s answered %d", request.url, response.status)
        elif confirm:
            self._confirmed_gone(article_id, reason)
        else:
            self.state.checks += 1
            self.state.suspects[article_id] = reason
            logger.info(
                "Refresh: %s looks gone (%s), checking again before recording it", request.url, reason
            )

    def _answered(self, article_id: str, outcome: str) -> None:
        state = self.state
        confirming = article_id in state.suspects
        if confirming:
            del state.suspects[article_id]  # back on the second check: not a removal
        else:
            state.checks += 1
        self._inc(outcome)
        self._seen(article_id)
        removal = state.removed.pop(article_id, None)
        if removal is not None:
            self._record(article_id, REAPPEARED, None, removal.detected_at)

    def _confirmed_gone(self, article_id: str, reason: str) -> None:
        state = self.state
        # In the distributed mode another worker may have made the first check: the request says it was one.
        state.suspects.pop(article_id, None)
        if article_id in state.removed:
            return  # still gone, already recorded
        known = state.known[article_id]
        self._record(article_id, REMOVED, reason, state.seen.get(article_id, known.seen_at))

    def _record(self, article_id: str, event: str, reason: str | None, last_seen: datetime | None) -> None:
        known = self.state.known[article_id]
        run_id = self._run_id() or ""
        self.state.events.append(
            RemovalEvent(
                article_id=article_id,
                url=known.url,
                event=event,
                reason=reason,
                last_seen_at=last_seen,
                detected_at=datetime.now(UTC),
                last_version=known.version,
                run_id=run_id,
            )
        )
        self._inc(event)
        logger.info("Refresh: %s %s%s", known.url, event, f" ({reason})" if reason else "")

    def _write_events(self) -> None:
        """All of this run's sightings and events so far, committed to the state (whole again if more come
        after an idle)."""
        state = self.state
        if state.committed == (len(state.seen), len(state.events)):
            return
        state.committed = (len(state.seen), len(state.events))
        run_id = self._run_id() or ""
        self.store.commit(run_id, state.seen, state.events)
        logger.info(
            "Refresh: %d sighting(s) and %d removal event(s) committed", len(state.seen), len(state.events)
        )

    def _run_id(self) -> str | None:
        run = self.crawler.get_extension(RunLifecycle)
        return run.run_id if run is not None else None

    def _inc(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(keys.refresh(key), count)


def _build_store(crawler: Crawler) -> RefreshState:
    path = crawler.settings.get(STATE_CLASS_SETTING) or DEFAULT_STATE_CLASS
    try:
        store_class = load_object(path)
    except (ImportError, NameError, ValueError) as error:
        raise RefreshConfigError(
            f"{STATE_CLASS_SETTING} must name a refresh state class, got {path!r}"
        ) from error
    try:
        store: RefreshState = build_from_crawler(store_class, crawler)
    except ValueError as error:
        raise RefreshConfigError(str(error)) from error
    return store


def feed_hash(item: FeedItem) -> str:
    """The content hash of a feed item's title and text, as the pipelines hash a page's (README "What makes a
    new version"): equal to the archived version's when the page still shows that text."""
    return text_fingerprints(normalize_line(item.title), normalize_text(item.text)).content_hash
