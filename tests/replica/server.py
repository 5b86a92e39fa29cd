"""Serves a `Site` over real HTTP with Twisted web: slow, streamed and truncated pages never block other requests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Site as TwistedSite

from tests.replica.site import Page, Site

# Twisted's request and reactor are only partly annotated (untyped methods, interface-typed module globals).
Request = Any
reactor: Any = _reactor


class _ChunkProducer:
    """Pull producer: writes the next chunk only when the transport asks, so a 21 MiB page never sits in memory."""

    def __init__(self, request: Request, chunks: Iterator[bytes]) -> None:
        self._request = request
        self._chunks = chunks

    def resumeProducing(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._request.unregisterProducer()
            self._request.finish()
            return
        self._request.write(chunk)

    def stopProducing(self) -> None:
        self._chunks = iter(())


class ReplicaResource(Resource):
    isLeaf = True

    def __init__(self, site: Site) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._site = site

    def render(self, request: Request) -> bytes | int:
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in request.getAllHeaders().items()
        }
        page = self._site.get(request.uri.decode("latin-1"), headers)
        if page.delay > 0:
            reactor.callLater(page.delay, self._answer_later, request, page)
            return NOT_DONE_YET
        return self._answer(request, page)

    def _answer_later(self, request: Request, page: Page) -> None:
        if not request.finished and not request._disconnected:
            request.write(self._answer(request, page))
            request.finish()

    def _answer(self, request: Request, page: Page) -> bytes | int:
        request.setResponseCode(page.status)
        for name, value in page.headers.items():
            request.setHeader(name, value)
        if request.method == b"HEAD":
            return b""
        if page.stream is not None:
            request.registerProducer(_ChunkProducer(request, page.stream()), False)
            return NOT_DONE_YET
        if page.truncate:
            request.write(page.body)
            request.channel.transport.loseConnection()
            return NOT_DONE_YET
        return page.body


def serve(site: Site, port: int) -> None:
    """Listen on 127.0.0.1:port (0 picks a free port), announce the URL, run until stopped."""
    factory = TwistedSite(ReplicaResource(site))  # type: ignore[no-untyped-call]
    listening = reactor.listenTCP(port, factory, interface="127.0.0.1")
    print(f"serving http://127.0.0.1:{listening.getHost().port}", flush=True)
    sys.stdout.flush()
    reactor.run()
