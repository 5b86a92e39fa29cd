"""Known articles: skip what the archive already settled, stop paging at a page of them, walk the lists only
when a feed does not reach the archive.

A spider middleware, as scrapy-deltafetch drops what earlier runs saw in ``process_spider_output``. The spider
yields a request for every article it has not requested in this run, the next page of every channel and, with
``discovery=feeds``, the edition's list walk after each feed; this middleware drops

- an article request when the article is *settled* (SPEC.md section 3): archived, and (with ``refresh_days``)
  its URL date older than that many days; ``full=1`` settles nothing. Counted ``articles/skipped/known``.
- a channel's next page when every article of the page it was found on was settled at run start (the older
  pages were archived by earlier runs): ``lists/stopped_on_known``.
- the list walk after a feed when the feed reaches back into the archive (``crawler.discovery.feeds.has_gap``);
  a walk let through is counted ``discovery/feed_gaps``.

"At run start": the index also grows with what this run archives (an article reached first through another
channel or a related link), and that says nothing about the older pages; so articles this middleware let
through in this run never count as known. After a run that did not finish, the archive may have holes:
nothing stops paging and every feed walks the lists.

Found through the crawler: the archive index in the dedupe pipeline that loads it, whether the last run
finished in the run lifecycle (``crawler.extensions.run``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler import stats as keys
from crawler.discovery import feeds
from crawler.extensions.run import RunLifecycle
from crawler.middlewares.refresh import REFRESH_META
from crawler.urls import ArticleRef, parse_article_url
from pipelines.dedupe import DedupePipeline

logger = logging.getLogger(__name__)

# Request meta set by the spider and read (then removed) here.
# On a channel's next page: the ArticleRefs of the page's main list, the page it was found on.
LISTED_META = "known_listed"
# On the list walk that follows a feed: the feed's article ids, newest first.
FEED_META = "known_feed"
# On an article request: the page's other links to the same article (their public URLs), which the spider folds
# into one request; a settled article counts once per link, as when each link was a request.
LINKS_META = "article_links"


class RefreshPolicy(Protocol):
    """The spider arguments that say which archived articles are fetched again."""

    full: bool
    refresh_days: int | None


class KnownArticlesMiddleware:
    """See the module docstring."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.today = datetime.now(UTC).date()
        # Articles let through in this run: never "known at run start".
        self.requested: set[str] = set()
        self._dedupe: DedupePipeline | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownArticlesMiddleware:
        return cls(crawler)

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for entry in result:
            if not (isinstance(entry, Request) and self._drop(entry, response)):
                yield entry

    def _drop(self, request: Request, response: Response) -> bool:
        listed: Sequence[ArticleRef] | None = request.meta.pop(LISTED_META, None)
        if listed is not None:
            return self._all_known(request, listed)
        feed: Sequence[str] | None = request.meta.pop(FEED_META, None)
        if feed is not None:
            return self._feed_reaches_archive(request, response, feed)
        article = parse_article_url(request.url)
        if article is None or REFRESH_META in request.meta:
            return False  # refresh checks re-read known articles on purpose
        if self.settled(article):
            self._stats().inc_value(keys.SKIPPED_KNOWN, 1 + len(request.meta.get(LINKS_META, ())))
            return True
        self.requested.add(article.article_id)
        return False

    def settled(self, article: ArticleRef) -> bool:
        """Archived and too old to be edited still: no need to fetch it again (SPEC.md section 3)."""
        policy = self._policy()
        if policy is None or policy.full or article.article_id in self.requested:
            return False  # an article this run requested is a duplicate link, the spider's business
        if not self._archived(article.article_id):
            return False
        if policy.refresh_days is None:  # the refresh schedule re-checks archived articles for edits
            return True
        return article.url_date < self.today - timedelta(days=policy.refresh_days)

    def _all_known(self, next_page: Request, listed: Sequence[ArticleRef]) -> bool:
        if not listed or self._last_run_incomplete():
            return False
        if not all(self.settled(a) and a.article_id not in self.requested for a in listed):
            return False
        page = next_page.cb_kwargs["ref"]
        logger.info("Stopping %s/%s at page %d: all known", page.edition, page.channel, page.page - 1)
        self._stats().inc_value(keys.LISTS_STOPPED_ON_KNOWN)
        return True

    def _feed_reaches_archive(self, walk: Request, response: Response, feed: Sequence[str]) -> bool:
        archived = {i for i in feed if self._archived(i) and i not in self.requested}
        if not feeds.has_gap(feed, archived, self._last_run_incomplete()):
            return True
        edition = walk.cb_kwargs["edition"]
        logger.info("Feed %s does not reach the archive: walking the %s lists", response.url, edition)
        self._stats().inc_value(keys.FEED_GAPS)
        return False

    def _policy(self) -> RefreshPolicy | None:
        # The spider's parsed arguments (crawler.spiders.options.CrawlOptions): read, never written.
        options: RefreshPolicy | None = getattr(self.crawler.spider, "options", None)
        return options

    def _archived(self, article_id: str) -> bool:
        dedupe = self._archive_holder()
        return dedupe is not None and article_id in dedupe.index

    def _last_run_incomplete(self) -> bool:
        run = self.crawler.get_extension(RunLifecycle)
        return run is not None and run.last_run_incomplete

    def _archive_holder(self) -> DedupePipeline | None:
        """The dedupe pipeline, which loads the index at spider_opened (None without one: nothing is known)."""
        if self._dedupe is None:
            self._dedupe = self.crawler.get_item_pipeline(DedupePipeline)
        return self._dedupe

    def _stats(self) -> Any:
        assert self.crawler.stats is not None, "the crawler builds its stats first"
        return self.crawler.stats
