"""The baseline of the crawl-throughput figure: fetches a list of URLs and does nothing with the responses.

Run as `scrapy runspider bench/bare_spider.py -a urls=FILE -s ITEM_PIPELINES={}` (one absolute URL a line),
so everything but the spider's and the pipelines' own work is the same as in `scrapy crawl articles`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url_file = Path(urls)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.url_file.read_text(encoding="utf-8").split():
            yield scrapy.Request(url, callback=self.ignore)

    def ignore(self, response: Response) -> None:
        """Receives the page and drops it: the bare crawl measures fetching alone."""
