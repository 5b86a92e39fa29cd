"""Extraction speed, pages per second on one core, on the replica's article pages (both editions, every
layout), side by side with trafilatura and gne on the same pages (interleaved repetitions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gne import GeneralNewsExtractor
from trafilatura import bare_extraction

from bench.figures import Figure, Target, measured
from crawler.extract import extract
from tests.replica.content import CANONICAL_BASE
from tests.replica.site import Site

# Every tenth article of a 2,000-article site: the layouts in the proportions a crawl meets them.
SITE_ARTICLES = 2_000
SAMPLE_STRIDE = 10
REPETITIONS = 5
MIN_PAGES_PER_SECOND = 2_000
MIN_TIMES_TRAFILATURA = 5
EDITIONS = ("gb", "b5")


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    html: str


def replica_pages() -> list[Page]:
    site = Site(articles=SITE_ARTICLES)
    return [
        Page(CANONICAL_BASE + meta.path(edition), site.article_html(meta, edition))
        for meta in site.metadata()[::SAMPLE_STRIDE]
        for edition in EDITIONS
    ]


def _ours(page: Page) -> None:
    extract(page.html, page.url)


def _trafilatura(page: Page) -> None:
    bare_extraction(page.html, url=page.url, with_metadata=True)


def _gne(page: Page) -> None:
    GeneralNewsExtractor().extract(page.html)


def pages_per_second(extractor: Callable[[Page], None], pages: list[Page]) -> float:
    started = time.perf_counter()
    for page in pages:
        extractor(page)
    return len(pages) / (time.perf_counter() - started)


def run() -> list[Figure]:
    pages = replica_pages()
    extractors = {"crawler": _ours, "trafilatura": _trafilatura, "gne": _gne}
    for extractor in extractors.values():
        extractor(pages[0])  # imports and lazy caches are not part of the rate
    rates: dict[str, list[float]] = {name: [] for name in extractors}
    for _ in range(REPETITIONS):
        for name, extractor in extractors.items():
            rates[name].append(pages_per_second(extractor, pages))
    ours = rates["crawler"]
    return [
        measured("extraction: crawler", ours, "pages/s", Target(">=", MIN_PAGES_PER_SECOND)),
        measured("extraction: trafilatura bare_extraction", rates["trafilatura"], "pages/s"),
        measured("extraction: gne", rates["gne"], "pages/s"),
        measured(
            "extraction: crawler / trafilatura",
            [mine / theirs for mine, theirs in zip(ours, rates["trafilatura"], strict=True)],
            "ratio",
            Target(">=", MIN_TIMES_TRAFILATURA),
        ),
        measured(
            "extraction: crawler / gne",
            [mine / theirs for mine, theirs in zip(ours, rates["gne"], strict=True)],
            "ratio",
        ),
    ]
