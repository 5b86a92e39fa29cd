"""The distributed mode's shared queue and scheduler (crawler/distributed/queue.py, addon.py) on a real
redis-server: what they store is what scrapy-redis stores, and no request is lost or doubled."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from scrapy import FormRequest, Request, Spider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.distributed.addon import DistributedMode, SharedScheduler, pop_batch
from crawler.distributed.keys import CrawlKeys, DistributedConfigError
from crawler.distributed.queue import SharedQueue, encode_request
from tests.services import redis_server


class ArticlesLike(Spider):
    name = "articles-like"

    def parse_article(self, response: Any, ref: Any = None) -> None: ...

    def request_failed(self, failure: Any) -> None: ...


def elsewhere(response: Any) -> None: ...


# What the add-on sets for the scheduler, beside the user's settings.
ADDON_SETTINGS = (
    "REDIS_URL",
    "DISTRIBUTED_POP_BATCH",
    "SCHEDULER_QUEUE_CLASS",
    "SCHEDULER_QUEUE_KEY",
    "SCHEDULER_DUPEFILTER_KEY",
    "DUPEFILTER_CLASS",
    "SCHEDULER_PERSIST",
)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def keys() -> CrawlKeys:
    return CrawlKeys(f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def spider() -> ArticlesLike:
    return ArticlesLike()


def queue(redis_url: str, spider: Spider, keys: CrawlKeys) -> SharedQueue:
    return SharedQueue(redis.Redis.from_url(redis_url), spider, keys.requests)


def article(spider: ArticlesLike, number: int, priority: int = 0) -> Request:
    return Request(
        f"http://127.0.0.1:1/gb/21/12/30/n{number}.htm",
        callback=spider.parse_article,
        errback=spider.request_failed,
        cb_kwargs={"ref": ("n" + str(number), "gb")},
        meta={"seen_urls": ["a", "b"]},
        priority=priority,
    )


def test_requests_are_encoded_as_scrapy_encodes_them(spider: ArticlesLike) -> None:
    requests = [
        article(spider, 13470319, priority=5),
        Request("http://127.0.0.1:1/gb/nsc413.htm", callback=spider.parse_article, dont_filter=True),
        Request("http://127.0.0.1:1/gb/", headers={"Accept": "text/html"}),
        FormRequest("http://127.0.0.1:1/search", formdata={"q": "x"}, callback=spider.parse_article),
    ]
    for request in requests:
        assert pickle.loads(encode_request(request, spider)) == request.to_dict(spider=spider)


def test_a_callback_that_is_no_spider_method_is_named_or_refused_as_scrapy_does(spider: ArticlesLike) -> None:
    with pytest.raises(ValueError, match="not an instance method"):
        encode_request(Request("http://127.0.0.1:1/", callback=elsewhere), spider)
    # Scrapy names a method of another spider of the same class by its function: so do we.
    other = Request("http://127.0.0.1:1/", callback=ArticlesLike().parse_article)
    assert pickle.loads(encode_request(other, spider)) == other.to_dict(spider=spider)


def test_push_new_queues_a_fingerprint_once(redis_url: str, spider: ArticlesLike, keys: CrawlKeys) -> None:
    shared = queue(redis_url, spider, keys)
    assert shared.push_new([(article(spider, 1), "article:n1")], keys.dupefilter) == [True]
    # One round trip for many: a fingerprint seen before, or earlier in the same batch, is not queued again.
    batch = [
        (article(spider, 1), "article:n1"),
        (article(spider, 1, priority=3), None),
        (article(spider, 2), "article:n2"),
        (article(spider, 2), "article:n2"),
    ]
    assert shared.push_new(batch, keys.dupefilter) == [False, True, True, False]
    assert len(shared) == 3
    assert redis.Redis.from_url(redis_url).smembers(keys.dupefilter) == {b"article:n1", b"article:n2"}


def test_pop_many_takes_the_highest_priorities_once(
    redis_url: str, spider: ArticlesLike, keys: CrawlKeys
) -> None:
    shared = queue(redis_url, spider, keys)
    for number in range(10):
        shared.push(article(spider, number, priority=number % 3))
    first = shared.pop_many(4)
    rest = shared.pop_many(100)
    assert [r.priority for r in first] == [2, 2, 2, 1]
    assert min(r.priority for r in first) >= max(r.priority for r in rest)
    urls = [r.url for r in first + rest]
    assert len(urls) == len(set(urls)) == 10
    assert shared.pop_many(4) == []
    original = article(spider, int(first[0].url.rsplit("/n", 1)[1].removesuffix(".htm")), first[0].priority)
    assert first[0].to_dict(spider=spider) == original.to_dict(spider=spider)


def test_the_scheduler_puts_back_what_it_buffered_when_it_closes(redis_url: str, keys: CrawlKeys) -> None:
    settings = Settings({"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": keys.prefix, "DISTRIBUTED_POP_BATCH": 5})
    DistributedMode().update_settings(settings)
    crawler = get_crawler(ArticlesLike, {name: settings[name] for name in ADDON_SETTINGS})
    spider = ArticlesLike.from_crawler(crawler)
    scheduler = SharedScheduler.from_crawler(crawler)
    scheduler.open(spider)
    for number in range(12):
        assert scheduler.enqueue_request(article(spider, number))
    # Accepted, then dropped by the dupefilter when the batch goes to Redis.
    assert scheduler.enqueue_request(article(spider, 3))
    taken = [scheduler.next_request() for _ in range(2)]
    assert all(request is not None for request in taken)
    assert len(scheduler) == 10
    assert crawler.stats.get_value("scheduler/enqueued/redis") == 12
    assert crawler.stats.get_value("dupefilter/filtered") == 1, "counted as Scrapy's dupefilter counts it"
    scheduler.close("finished")
    left = queue(redis_url, spider, keys).pop_many(100)
    assert len(left) == 10
    assert {r.url for r in left}.isdisjoint({r.url for r in taken if r is not None})


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_the_pop_batch_setting_is_checked_at_start_up(redis_url: str, value: str) -> None:
    settings = Settings({"REDIS_URL": redis_url, "DISTRIBUTED_POP_BATCH": value})
    with pytest.raises(DistributedConfigError, match="DISTRIBUTED_POP_BATCH"):
        DistributedMode().update_settings(settings)
    assert pop_batch(Settings({"DISTRIBUTED_POP_BATCH": "3"})) == 3
