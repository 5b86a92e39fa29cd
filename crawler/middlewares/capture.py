"""WARC capture of every response the crawl receives (downloader middleware), and captures turned back into
responses for rebuild and import.

The middleware sits next to the downloader (``DOWNLOADER_MIDDLEWARES`` 950): requests reach it with every header
the other middlewares add, responses before redirects are followed or bodies decompressed, so a record holds
what went over the wire. Where a response was captured travels in ``request.meta[CAPTURE_META]``; the spider copies
it onto the item (``warc_file``, ``warc_offset``; the capture time is the row's ``crawled_at``). The writer itself
(``pipelines.dataset.warc``) has no Scrapy in it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.defer import deferred_from_coro

from crawler import stats as keys
from crawler.config import non_negative_int, positive_int
from crawler.extensions.run import RunLifecycle
from pipelines.dataset import storage
from pipelines.dataset.manifest import new_run_id
from pipelines.dataset.warc import (
    DEFAULT_MAX_BYTES,
    Capture,
    CaptureRef,
    Exchange,
    WarcConfigError,
    WarcWriter,
    capture_location,
    remove_stale_temporaries,
)
from pipelines.parquet import OUTPUT_ERROR_REASON, before_flush

logger = logging.getLogger(__name__)

CAPTURE_META = "warc_capture"
URI_SETTING = "WARC_URI"
MAX_BYTES_SETTING = "WARC_MAX_BYTES"
SWEEP_GRACE_SETTING = "WARC_SWEEP_GRACE_SECONDS"
DEFAULT_GRACE = storage.DEFAULT_SWEEP_GRACE
DEFAULT_SWEEP_GRACE_SECONDS = int(DEFAULT_GRACE.total_seconds())
# Headers that describe the body as received: a decoded capture no longer matches them.
_ENCODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def capture_uri(settings: Any) -> str:
    """``WARC_URI``: a path or URI; empty turns capture off; unset, ``warc`` next to the dataset."""
    return capture_location(settings.get(URI_SETTING), str(settings.get("PARQUET_URI") or "output/articles"))


class WarcCaptureMiddleware:
    """Settings ``WARC_URI`` (default: ``warc`` next to the dataset, so ``output/warc``; empty = off),
    ``WARC_MAX_BYTES`` and ``WARC_SWEEP_GRACE_SECONDS``; stats ``warc/*``."""

    def __init__(self, crawler: Crawler, uri: str, max_bytes: int, grace: timedelta = DEFAULT_GRACE) -> None:
        self.crawler = crawler
        self.grace = grace
        self.uri = uri
        self.max_bytes = max_bytes
        self.fs, self.root = storage.resolve(uri)
        self.writer: WarcWriter | None = None
        # Once a capture failed, no file of this run may be committed: rows must not point into it.
        self.error: OSError | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        uri = capture_uri(crawler.settings)
        if not uri:
            raise NotConfigured("WARC capture is off (WARC_URI is empty)")
        max_bytes = positive_int(
            crawler.settings, MAX_BYTES_SETTING, DEFAULT_MAX_BYTES, WarcConfigError, unit="bytes"
        )
        grace = non_negative_int(crawler.settings, SWEEP_GRACE_SETTING, DEFAULT_SWEEP_GRACE_SECONDS)
        middleware = cls(crawler, uri, max_bytes, timedelta(seconds=grace))
        try:
            storage.ensure_writable(middleware.fs, middleware.root, f"probe-{new_run_id()}")
        except storage.OutputNotWritableError as error:
            raise WarcConfigError(f"{URI_SETTING}: {error}") from error
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.commit, signal=before_flush)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self) -> None:
        # Named after the exporter's run when there is one, so that a run's captures and rows share an id.
        run = self.crawler.get_extension(RunLifecycle)
        run_id = run.run_id if run is not None else new_run_id()
        self._sweep(run_id)
        self.writer = WarcWriter(self.fs, self.root, run_id, self.max_bytes)
        logger.info("Capturing responses as WARC under %s", self.root)

    def _sweep(self, run_id: str) -> None:
        """What killed captures left: hidden local files nobody holds; on S3, hidden objects and incomplete
        uploads older than ``WARC_SWEEP_GRACE_SECONDS`` (other workers' may be live) and not this run's."""
        try:
            leftovers = remove_stale_temporaries(self.fs, self.root)
            leftovers += storage.sweep_killed_uploads(self.fs, self.root, grace=self.grace, spare=run_id)
        except (OSError, pa.ArrowException) as error:
            logger.warning("Cannot sweep what killed captures left under %s: %s", self.root, error)
            return
        for leftover in leftovers:
            logger.warning("Removed %s, left by a capture that was killed", leftover)
        self.crawler.stats.inc_value(keys.WARC_LEFTOVERS_REMOVED, len(leftovers))

    def process_response(self, request: Request, response: Response) -> Response:
        if self.writer is None:
            return response
        if self.error is not None:
            raise IgnoreRequest(f"not captured: {self.error}")
        try:
            ref = self.writer.write(exchange_of(request, response))
        except OSError as error:
            self._stop(error)
            raise IgnoreRequest(f"not captured: {error}") from error
        request.meta[CAPTURE_META] = ref
        self.crawler.stats.inc_value(keys.WARC_RESPONSES_CAPTURED)
        self.crawler.stats.inc_value(keys.WARC_BYTES_WRITTEN, len(response.body))
        return response

    def _stop(self, error: OSError) -> None:
        """A capture that cannot be written is a storage fault like the dataset's: the run stops (exit 1) rather
        than archive rows whose raw page is lost."""
        logger.error("Cannot write the WARC captures at %s, stopping the run: %s", self.root, error)
        self.error = error
        if self.writer is not None:
            self.writer.discard()
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=OUTPUT_ERROR_REASON))

    def commit(self) -> list[str]:
        """``before_flush`` handler: rows about to be written may point into the open file; commit it first."""
        if self.writer is None:
            return []
        if self.error is not None:
            raise self.error
        committed = self.writer.commit()
        self.crawler.stats.inc_value(keys.WARC_FILES_WRITTEN, len(committed))
        return committed

    def spider_closed(self) -> None:
        try:
            self.commit()
        except (OSError, pa.ArrowException) as error:
            logger.error("Cannot commit the last WARC file under %s: %s", self.root, error)


def exchange_of(request: Request, response: Response) -> Exchange:
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=_pairs(request.headers),
        protocol=response.protocol or "HTTP/1.1",
        status=response.status,
        response_headers=_pairs(response.headers),
        body=response.body,
        date=datetime.now(UTC),
    )


def _pairs(headers: Headers) -> list[tuple[bytes, bytes]]:
    # The stored dict as is: Headers keeps normalized names with lists of byte values, and its own items()
    # normalizes every name again through getlist (tens of calls per response, for the same pairs).
    return [(name, value) for name, values in dict.items(headers) for value in values]


def response_of(capture: Capture) -> Response:
    """The response Scrapy would have handed the spider: decoded body, the class and encoding it would pick."""
    headers = Headers([(k, v) for k, v in capture.headers if k.lower() not in _ENCODING_HEADERS])
    request = Request(capture.url, meta={CAPTURE_META: capture.ref})
    cls = responsetypes.from_args(headers=headers, url=capture.url, body=capture.body)
    return cls(url=capture.url, status=capture.status, headers=headers, body=capture.body, request=request)


def capture_of_response(response: Response) -> CaptureRef | None:
    """Where ``response`` was captured, if it was (a response built without a request never was)."""
    if response.request is None:
        return None
    ref = response.request.meta.get(CAPTURE_META)
    return ref if isinstance(ref, CaptureRef) else None
