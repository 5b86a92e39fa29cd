"""The garbage collector of a crawl process: the heap the crawl starts with left out of its collections, and
young objects collected less often.

A crawl imports Scrapy, Twisted, pyarrow, lxml and the rest before its first request: hundreds of thousands of
objects that live as long as the process, which every full collection walked again (about 0.1 s each, a dozen
times a 5,000-article crawl), and the default threshold (700 allocations) ran a young collection every few
pages. Measured on such a crawl (CPU of the collections, `gc.callbacks`): 2.6 s of 28 before, 0.45 after, the
same pages and rows. What a crawl allocates and drops is freed by reference counting as before; only cycles wait
for a collection, a few thousand objects at most.
"""

from __future__ import annotations

import gc

from scrapy import signals
from scrapy.crawler import Crawler

# Allocations (less deallocations) between two young collections: 14 times the default, a few pages' worth.
YOUNG_THRESHOLD = 10_000


class _Collector:
    """The process's one collector, tuned while at least one crawl of the process runs (``CrawlerProcess`` may
    run several at once): tuned by the first to start, restored by the last to stop."""

    def __init__(self) -> None:
        self.crawls = 0
        self.thresholds = gc.get_threshold()
        self.frozen_before = 0

    def tune(self) -> None:
        self.crawls += 1
        if self.crawls > 1:
            return
        gc.collect()  # what start-up left as garbage is freed, not frozen
        self.frozen_before = gc.get_freeze_count()
        gc.freeze()
        self.thresholds = gc.get_threshold()
        _, middle, old = self.thresholds
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)

    def restore(self) -> None:
        self.crawls -= 1
        if self.crawls > 0:
            return
        gc.set_threshold(*self.thresholds)
        # Unfreezing cannot be partial: a heap the caller had frozen before stays frozen, with the crawl's.
        if self.frozen_before == 0:
            gc.unfreeze()


_COLLECTOR = _Collector()


class CollectorTuning:
    """Tunes the collector once the crawl is set up (``engine_started``: after ``spider_opened``, where the
    archive and the refresh state are read) and gives it back when the engine stops."""

    def __init__(self) -> None:
        self._tuned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CollectorTuning:
        tuning = cls()
        crawler.signals.connect(tuning.engine_started, signal=signals.engine_started)
        crawler.signals.connect(tuning.engine_stopped, signal=signals.engine_stopped)
        return tuning

    def engine_started(self) -> None:
        if not self._tuned:
            self._tuned = True
            _COLLECTOR.tune()

    def engine_stopped(self) -> None:
        """Back to the collector as found once no crawl of the process runs (tests, several crawls at once)."""
        if self._tuned:
            self._tuned = False
            _COLLECTOR.restore()
