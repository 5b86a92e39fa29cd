"""Scrapy's ``CoreStats``, quiet when a crawl closes without having opened; Scrapy's stats collector without
its per-access shim; Scrapy's item processor, counting the items scraped.

A pipeline that refuses to open (unwritable output, a held lock) stops the engine before ``spider_opened``;
Scrapy still sends ``spider_closed``, and its ``CoreStats`` then fails an assertion and logs a traceback that
buries the one line naming the mistake (issue 15). This one records the finish reason and nothing else then.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.extensions.corestats import CoreStats as ScrapyCoreStats
from scrapy.pipelines import ItemPipelineManager
from scrapy.statscollectors import MemoryStatsCollector

from crawler import stats as keys


class CoreStats(ScrapyCoreStats):
    """Also deaf to ``item_scraped``: :class:`ItemPipelines` counts the items scraped."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        core = super().from_crawler(crawler)
        crawler.signals.disconnect(core.item_scraped, signal=signals.item_scraped)
        return core

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.start_time is None:
            self.stats.set_value("finish_reason", reason)
            return
        super().spider_closed(spider, reason)


class ItemPipelines(ItemPipelineManager):
    """``ITEM_PROCESSOR``: Scrapy's, counting ``item_scraped_count`` (an item out of every pipeline) where Scrapy's
    ``CoreStats`` counted it from the ``item_scraped`` signal. Scrapy sends that signal to each receiver through an
    asyncio task of its own, two more turns of the event loop for every item; with no receiver left it costs a
    call. The count is the same: Scrapy sends the signal when this method returns."""

    async def process_item_async(self, item: Any) -> Any:
        scraped = await super().process_item_async(item)
        assert self.crawler is not None and self.crawler.stats is not None, "built by the crawler"
        self.crawler.stats.inc_value(keys.ITEMS_SCRAPED)
        return scraped


class StatsCollector(MemoryStatsCollector):
    """``STATS_CLASS``: Scrapy's ``MemoryStatsCollector`` with plain attribute access. Scrapy's routes every
    attribute access through a ``__getattribute__`` that wraps the public methods to warn about a deprecated
    ``spider`` argument (and raises and catches an ``AttributeError`` on each other access, ``self._stats``
    included): 1.3 us per ``inc_value`` instead of 0.1, about 25 calls a page. Nothing here passes ``spider``."""

    __getattribute__ = object.__getattribute__
