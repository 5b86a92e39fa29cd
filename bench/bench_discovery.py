"""Discovery figures (issue 17): how fast one walk reads a huge list page, and what an hourly run costs.

- Page scan: links per second of `crawler.discovery.page.scan` (parse and walk) on list pages of 10,000 and
  100,000 article links, and their ratio: a linear scan keeps the same rate on the larger page (the nested
  XPath it replaced took 9 s for 20,000 links, quadratically more for more).
- Hourly run: the replica's own clock decides what an hour of news is (the articles published within an hour
  after the newest archived one). After a full crawl, consecutive hourly runs with `discovery=lists` and with
  `discovery=feeds`, each on its own copy of the dataset, over the same growing site; the figure is requests
  (robots.txt included) per new article archived.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.crawls import CrawlRun, run_scrapy
from bench.figures import Figure, Target, measured
from crawler.discovery import page
from tests.replica.site import Site
from tests.replica.testing import serve_replica

LINK_COUNTS = (10_000, 100_000)
SCAN_REPETITIONS = 5
MIN_SCAN_RATE = (
    50_000.0  # links/s on the large page: a 16 MB page (DOWNLOAD_MAXSIZE) in a few seconds at most
)
MIN_LINEARITY = 0.7  # rate on 100,000 links / rate on 10,000 links
ARTICLES = 1_000
HOURS = 3
MODES = ("lists", "feeds")
PAGE_URL = "https://www.epochtimes.com/gb/nsc413_2.htm"


def run() -> list[Figure]:
    return _scan_figures() + _hourly_figures()


def list_page(links: int) -> str:
    """An archive page in the current list markup with `links` items, plus a sidebar and pagination."""
    items = "".join(
        f'<div class="one_post"><div class="text"><div class="title">'
        f'<a href="https://www.epochtimes.com/gb/26/1/2/n{n}.htm">标题 {n}</a></div></div></div>'
        for n in range(links)
    )
    return (
        f'<html><body><main id="main"><div class="post_list left_col">{items}'
        '<div class="pagination"><a class="page-numbers" href="/gb/nsc413_3.htm">3</a></div></div>'
        '<div class="sidebar"><a href="/gb/26/1/1/n1.htm">热门</a></div></main></body></html>'
    )


def _scan_rate(html: str, links: int) -> float:
    started = time.perf_counter()
    found = page.scan(html, PAGE_URL)
    elapsed = time.perf_counter() - started
    if len(found.main_list) != links:
        raise AssertionError(f"scan found {len(found.main_list)} of {links} links")
    return links / elapsed


def _scan_figures() -> list[Figure]:
    pages = {count: list_page(count) for count in LINK_COUNTS}
    rates: dict[int, list[float]] = {count: [] for count in LINK_COUNTS}
    for _ in range(SCAN_REPETITIONS):  # interleaved: both sizes see the same machine load
        for count in LINK_COUNTS:
            rates[count].append(_scan_rate(pages[count], count))
    small, large = LINK_COUNTS
    ratios = [big / little for big, little in zip(rates[large], rates[small], strict=True)]
    return [
        measured(f"discovery scan, {small:,}-link list page", rates[small], "links/s"),
        measured(
            f"discovery scan, {large:,}-link list page", rates[large], "links/s", Target(">=", MIN_SCAN_RATE)
        ),
        measured(
            f"discovery scan rate {large:,} / {small:,} links (linear = 1)",
            ratios,
            "ratio",
            Target(">=", MIN_LINEARITY),
        ),
    ]


def _hour_ends(count: int) -> list[int]:
    """Site sizes after each simulated hour: the articles published within an hour after the newest one."""
    metas = Site(articles=count + 50 * HOURS).metadata()
    sizes, size = [], count
    for _ in range(HOURS):
        cutoff = metas[size - 1].published + timedelta(hours=1)
        size = max(size + 1, sum(1 for m in metas if m.published <= cutoff))
        sizes.append(size)
    return sizes


def _crawl(base: str, dataset: Path, mode: str) -> CrawlRun:
    arguments = ["crawl", "articles", "-a", f"site={base}", "-a", f"discovery={mode}"]
    return run_scrapy(arguments, {"PARQUET_URI": str(dataset)})


def _hourly_figures() -> list[Figure]:
    ratios: dict[str, list[float]] = {mode: [] for mode in MODES}
    new_per_hour: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-discovery-") as scratch_name:
        scratch = Path(scratch_name)
        with serve_replica(articles=ARTICLES) as base:
            _crawl(base, scratch / "lists", "lists")
        shutil.copytree(scratch / "lists", scratch / "feeds")
        for size in _hour_ends(ARTICLES):
            with serve_replica(articles=size) as base:
                for mode in MODES:
                    result = _crawl(base, scratch / mode, mode)
                    new = int(result.stats.get("articles/new", 0))
                    if not new:
                        raise AssertionError(f"discovery={mode}: the hourly run archived no new article")
                    ratios[mode].append(result.requests / new)
                    if mode == "lists":
                        new_per_hour.append(new)
    return [
        measured("hourly run: new articles per replica hour", new_per_hour, "articles"),
        measured("hourly run, discovery=lists: requests per new article", ratios["lists"], "requests"),
        measured(
            "hourly run, discovery=feeds: requests per new article",
            ratios["feeds"],
            "requests",
            Target("<=", 2.0),
        ),
    ]
