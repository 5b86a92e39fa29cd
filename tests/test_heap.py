"""The crawl's garbage-collector tuning (crawler/extensions/heap.py) on a real crawler's signals: the start-up
heap frozen once the engine starts, young collections less frequent, and both undone when it stops."""

from __future__ import annotations

import gc

from scrapy import Spider, signals
from scrapy.utils.test import get_crawler

from crawler.extensions.heap import YOUNG_THRESHOLD, CollectorTuning


def test_the_heap_is_frozen_while_the_engine_runs_and_the_collector_restored_after() -> None:
    crawler = get_crawler(Spider, {"EXTENSIONS": {CollectorTuning: 900}})
    assert crawler.get_extension(CollectorTuning) is not None
    before = gc.get_threshold()
    crawler.signals.send_catch_log(signal=signals.engine_started)
    try:
        assert gc.get_freeze_count() > 0, "what lives at start is left out of collections"
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    finally:
        crawler.signals.send_catch_log(signal=signals.engine_stopped)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
