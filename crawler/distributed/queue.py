"""The shared request queue of the distributed mode, at a lower cost per request than scrapy-redis's own.

It is scrapy-redis's priority queue (a sorted set in Redis, the same key and the same scores), with:

- ``pop_many``: up to N requests in one round trip (``ZPOPMIN``, atomic), where scrapy-redis runs one
  MULTI/ZRANGE/ZREMRANGEBYRANK transaction per request; in the same step the worker leaves the crawl's idle
  set (``crawler.distributed.coordination``), so no snapshot shows it idle while it holds requests;
- ``push_new``: the seen-set checks and the pushes of many requests in one round trip (a Lua script: ``SADD``
  each fingerprint, and ``ZADD`` its request only if the fingerprint was new), where scrapy-redis's scheduler
  makes two per request;
- ``encode_request``: the callback and errback named directly when they are methods of the spider, where
  Scrapy's ``Request.to_dict`` searches every member of the spider with ``inspect.getmembers`` (most of the
  encoding's cost, about 70 us a request); anything else still goes through ``to_dict``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scrapy import Request, Spider
from scrapy_redis.queue import PriorityQueue

# KEYS: seen set, queue; ARGV: (fingerprint (empty: do not filter), score, encoded request) per request.
# One 1 (queued) or 0 (seen before) per request, in order.
_PUSH_NEW = """
local queued = {}
for i = 1, #ARGV, 3 do
  if ARGV[i] ~= '' and redis.call('SADD', KEYS[1], ARGV[i]) == 0 then
    queued[#queued + 1] = 0
  else
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
    queued[#queued + 1] = 1
  end
end
return queued
"""
# KEYS: queue, idle set; ARGV: count, this worker's id in the idle set (empty: none). Member, score, member...
_POP_MANY = """
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
if #popped > 0 and ARGV[2] ~= '' then redis.call('SREM', KEYS[2], ARGV[2]) end
return popped
"""


def encode_request(request: Request, spider: Spider) -> bytes:
    """The request as scrapy-redis stores it: a pickled ``Request.to_dict``, callbacks by method name."""
    callback, errback = _method_name(spider, request.callback), _method_name(spider, request.errback)
    named = (callback is not None or request.callback is None) and (
        errback is not None or request.errback is None
    )
    if named:
        fields = request.replace(callback=None, errback=None).to_dict()
        fields["callback"], fields["errback"] = callback, errback
    else:  # not a method of the spider under its own name: Scrapy's search (and its error)
        fields = request.to_dict(spider=spider)
    return pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)


def _method_name(spider: Spider, method: Callable[..., Any] | None) -> str | None:
    """The name under which ``spider`` has the bound method ``method``, or None."""
    if method is None or getattr(method, "__self__", None) is not spider:
        return None
    name = getattr(method, "__name__", None)
    return name if isinstance(name, str) and getattr(spider, name, None) == method else None


class SharedQueue(PriorityQueue):  # type: ignore[misc]
    """scrapy-redis's priority queue with batched pops, one-trip scheduling and cheaper encoding."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self._push_new = server.register_script(_PUSH_NEW)
        self._pop_many = server.register_script(_POP_MANY)

    def _encode_request(self, request: Request) -> bytes:
        return encode_request(request, self.spider)

    def push_new(self, requests: Sequence[tuple[Request, str | None]], seen_key: str) -> list[bool]:
        """For each ``(request, fingerprint)`` in order: add the fingerprint to the seen set ``seen_key`` and
        queue the request if it was not there yet (``None`` queues it unconditionally). True when queued."""
        if not requests:
            return []
        arguments: list[str | bytes | int] = []
        for request, fingerprint in requests:
            arguments += [fingerprint or "", -request.priority, self._encode_request(request)]
        return [bool(queued) for queued in self._push_new(keys=[seen_key, self.key], args=arguments)]

    def pop_many(self, count: int, idle_key: str = "", worker: str = "") -> list[Request]:
        """Up to ``count`` requests, highest priority first, removed from the queue in one atomic step; when
        any is taken, ``worker`` leaves the idle set ``idle_key`` in the same step."""
        flat = self._pop_many(keys=[self.key, idle_key or self.key], args=[count, worker])
        return [self._decode_request(data) for data in flat[::2]]

    def push_back(self, requests: Iterable[Request]) -> None:
        """Return requests taken but not crawled to the queue (one round trip)."""
        with self.server.pipeline(transaction=False) as pipe:
            for request in requests:
                pipe.zadd(self.key, {self._encode_request(request): -request.priority})
            pipe.execute()
