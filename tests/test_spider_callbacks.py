"""The spider's callbacks are bound once: Scrapy checks a callback for a generator ``return`` value once per
callable object (in a weak-keyed cache), so a bound method made per request had its source parsed per page."""

from __future__ import annotations

import gc

from crawler.spiders.articles import CALLBACKS, ArticlesSpider
from crawler.urls import ListRef, parse_article_url


def test_every_request_carries_the_same_callback_objects() -> None:
    spider = ArticlesSpider(site="https://www.epochtimes.com")
    bound = {name: getattr(spider, name) for name in CALLBACKS}
    gc.collect()
    assert all(getattr(spider, name) is method for name, method in bound.items())
    ref = parse_article_url("https://www.epochtimes.com/gb/21/12/30/n100.htm")
    assert ref is not None
    article = spider._article_request("https://www.epochtimes.com/gb/21/12/30/n100.htm", ref, related=False)
    listing = spider._list_request(ListRef("gb", "nsc413", 2))
    assert article.callback is bound["parse_article"] and article.errback is bound["request_failed"]
    assert listing.callback is bound["parse_list"] and listing.errback is bound["request_failed"]
