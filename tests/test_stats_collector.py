"""The project's stats collector (STATS_CLASS): Scrapy's in-memory one without its per-access shim, counting
the same way; and the items scraped, counted by the project's item processor (ITEM_PROCESSOR) instead of Scrapy's
CoreStats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.extensions.corestats import ItemPipelines, StatsCollector
from tests.crawling import PROJECT_ROOT


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


COUNTING_SPIDER = """
import scrapy
from scrapy.exceptions import DropItem


class DropOdd:
    def process_item(self, item):
        if item["n"] % 2:
            raise DropItem("odd")
        return item


class CountingSpider(scrapy.Spider):
    name = "counting"
    start_urls = ["data:,items"]
    custom_settings = {"ITEM_PIPELINES": {DropOdd: 100}}

    def parse(self, response):
        for n in range(5):
            yield {"n": n}
"""


def test_a_crawl_counts_items_scraped_and_dropped_as_scrapy_does(tmp_path: Path) -> None:
    spider = tmp_path / "counting_spider.py"
    spider.write_text(COUNTING_SPIDER)
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider), "-s", "ROBOTSTXT_OBEY=0"]
    command += ["-s", "WARC_URI="]  # no capture (by default next to the dataset: in the project's output/)
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert load_object(project_settings.ITEM_PROCESSOR) is ItemPipelines
    assert "'item_scraped_count': 3," in result.stderr
    assert "'item_dropped_count': 2," in result.stderr
