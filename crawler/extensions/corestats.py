"""Scrapy's ``CoreStats``, quiet when a crawl closes without having opened.

A pipeline that refuses to open (unwritable output, a held lock) stops the engine before ``spider_opened``;
Scrapy still sends ``spider_closed``, and its ``CoreStats`` then fails an assertion and logs a traceback that
buries the one line naming the mistake (issue 15). This one records the finish reason and nothing else then.
"""

from __future__ import annotations

from scrapy import Spider
from scrapy.extensions.corestats import CoreStats as ScrapyCoreStats


class CoreStats(ScrapyCoreStats):
    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.start_time is None:
            self.stats.set_value("finish_reason", reason)
            return
        super().spider_closed(spider, reason)
