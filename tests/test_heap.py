"""The crawl's garbage-collector tuning (crawler/extensions/heap.py) on real crawlers' signals: the start-up
heap frozen once the engine starts, young collections less frequent, both given back when the last crawl of the
process stops, and a heap the caller froze left frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler.extensions.heap import YOUNG_THRESHOLD, CollectorTuning


def tuned_crawler() -> Crawler:
    crawler = get_crawler(Spider, {"EXTENSIONS": {CollectorTuning: 900}})
    assert crawler.get_extension(CollectorTuning) is not None
    return crawler


def send(crawler: Crawler, signal: object) -> None:
    crawler.signals.send_catch_log(signal=signal)


@pytest.fixture
def untouched_collector() -> Iterator[tuple[int, int, int]]:
    """The collector as the test found it, given back whatever the test leaves."""
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    yield before
    gc.set_threshold(*before)
    gc.unfreeze()


def test_the_heap_is_frozen_while_the_engine_runs_and_the_collector_restored_after(
    untouched_collector: tuple[int, int, int],
) -> None:
    crawler = tuned_crawler()
    send(crawler, signals.engine_started)
    assert gc.get_freeze_count() > 0, "what lives at start is left out of collections"
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *untouched_collector[1:])
    send(crawler, signals.engine_stopped)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == untouched_collector


def test_overlapping_crawls_keep_the_tuning_until_the_last_one_stops(
    untouched_collector: tuple[int, int, int],
) -> None:
    first, second = tuned_crawler(), tuned_crawler()
    send(first, signals.engine_started)
    send(second, signals.engine_started)
    send(first, signals.engine_stopped)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *untouched_collector[1:]), "the second crawl still runs"
    assert gc.get_freeze_count() > 0
    send(second, signals.engine_stopped)
    assert gc.get_threshold() == untouched_collector
    assert gc.get_freeze_count() == 0


def test_a_heap_the_caller_froze_stays_frozen(untouched_collector: tuple[int, int, int]) -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    crawler = tuned_crawler()
    send(crawler, signals.engine_started)
    send(crawler, signals.engine_stopped)
    assert gc.get_freeze_count() >= frozen
    assert gc.get_threshold() == untouched_collector
