"""Spider middleware: the cross-check of the site's parsers against the general extractor (issue 11).

On a deterministic sample of the articles the spider yields (``EXTRACT_CROSSCHECK_RATE`` of the article ids,
default 0.05; 0 turns it off), the page is read again by the general extractor and the two bodies are compared
(``crawler.extract.crosscheck``). Rows are never changed: the cross-check only counts and reports, and the
health check fails the run when too many disagree (``HEALTH_MAX_DISAGREEMENT_RATIO``).

Stats: ``crosscheck/checked``, ``crosscheck/disagreed`` (pages where the two disagree on a field: body F1 below
``EXTRACT_CROSSCHECK_MIN_F1``, default 0.8, other authors or another title), ``crosscheck/disagreed/<field>``
(body, authors, title), ``crosscheck/generic_failed`` (the general extractor found no article where the
site's parser did: not a disagreement), ``crosscheck/worst`` (the worst disagreements: URL, body F1 and the
fields). Each disagreement is logged with its URL and both readings of the fields in question.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.statscollectors import StatsCollector

from crawler import stats as keys
from crawler.config import SettingError, fraction
from crawler.decoding import decode_page
from crawler.extract.crosscheck import DEFAULT_MIN_F1, DEFAULT_RATE, CrossCheck, cross_check, is_sampled
from crawler.extract.errors import ExtractionError
from crawler.extract.generic import extract_generic
from crawler.items import ArticleItem

logger = logging.getLogger(__name__)

RATE_SETTING = "EXTRACT_CROSSCHECK_RATE"
MIN_F1_SETTING = "EXTRACT_CROSSCHECK_MIN_F1"
GENERIC = "generic"
# The disagreements kept for the manifest: enough to start looking, few enough to read.
WORST_KEPT = 5


class CrossCheckConfigError(SettingError):
    """An EXTRACT_CROSSCHECK_* setting is invalid; the message names it."""


class CrossCheckMiddleware(BaseSpiderMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.rate = fraction(crawler.settings, RATE_SETTING, DEFAULT_RATE, CrossCheckConfigError)
        self.min_f1 = fraction(crawler.settings, MIN_F1_SETTING, DEFAULT_MIN_F1, CrossCheckConfigError)
        self._worst: list[CrossCheck] = []

    @property
    def _stats(self) -> StatsCollector:
        assert self.crawler.stats is not None, "the crawler builds its stats before its middlewares"
        return self.crawler.stats

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if (
            isinstance(item, ArticleItem)
            and response is not None
            and item.extractor != GENERIC
            and is_sampled(item.article_id, self.rate)
        ):
            self._check(item, response)
        return item

    def _check(self, item: ArticleItem, response: Response) -> None:
        content_type = response.headers.get(b"Content-Type")
        html = decode_page(response.body, content_type.decode("latin-1") if content_type else None)
        try:
            generic = extract_generic(html, response.url)
        except ExtractionError as error:
            self._stats.inc_value(keys.CROSSCHECK_GENERIC_FAILED)
            logger.info(
                "Cross-check: the general extractor read no article from %s (%s)", response.url, error
            )
            return
        check = cross_check(item, generic)
        self._stats.inc_value(keys.CROSSCHECK_CHECKED)
        fields = check.disagreements(self.min_f1)
        if not fields:
            return
        self._stats.inc_value(keys.CROSSCHECK_DISAGREED)
        for name in fields:
            self._stats.inc_value(keys.crosscheck_disagreed(name))
        logger.warning(
            "Cross-check: %s the %s parser and the general extractor disagree on %s (body F1 %.2f, %d and %d "
            "characters; authors %s and %s; titles %r and %r)",
            response.url,
            item.extractor,
            ", ".join(fields),
            check.f1,
            check.site_chars,
            check.generic_chars,
            item.authors,
            generic.authors,
            item.title,
            generic.title,
        )
        self._worst = sorted([*self._worst, check], key=lambda c: (c.f1, -len(c.disagreements(self.min_f1))))[
            :WORST_KEPT
        ]
        self._stats.set_value(
            keys.CROSSCHECK_WORST,
            [
                {"url": c.url, "f1": round(c.f1, 3), "fields": c.disagreements(self.min_f1)}
                for c in self._worst
            ],
        )
