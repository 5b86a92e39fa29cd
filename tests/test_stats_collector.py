"""The project's stats collector (STATS_CLASS): Scrapy's in-memory one without its per-access shim, counting
the same way."""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.extensions.corestats import StatsCollector


def test_the_project_counts_with_its_collector_as_scrapy_does() -> None:
    assert load_object(project_settings.STATS_CLASS) is StatsCollector
    crawler = get_crawler(settings_dict={"STATS_CLASS": project_settings.STATS_CLASS})
    stats = crawler.stats
    assert isinstance(stats, StatsCollector)
    reference = MemoryStatsCollector(crawler)
    for collector in (stats, reference):
        collector.inc_value("pages")
        collector.inc_value("pages", 2)
        collector.inc_value("bytes", 10, start=5)
        collector.max_value("depth", 3)
        collector.max_value("depth", 1)
        collector.min_value("first", 7)
        collector.min_value("first", 9)
        collector.set_value("reason", "finished")
    expected = {"pages": 3, "bytes": 15, "depth": 3, "first": 7, "reason": "finished"}
    assert stats.get_stats() == reference.get_stats() == expected
    assert stats.get_value("missing", "default") == "default"
