"""``scrapy crawl`` whose exit status also reflects the run's health check (SPEC.md sections 1 and 4).

Cron only sees the exit status: bootstrap failures (bad configuration, unwritable output, a held lock) exit 1;
this command adds a failed health check, as the run lifecycle (``crawler.extensions.run``) decided it.

A user's mistake that stops the crawl at start (a spider argument, a setting the project checks, unwritable
output, a held lock: :data:`MISTAKES`) is one line on stderr, ``scrapy: error: <what is wrong>``, not a
traceback; the traceback is logged at DEBUG only (``-s LOG_LEVEL=DEBUG``). Anything else that stops the crawl at
start is a bug and keeps its traceback.

An import (``-a warc=...``) of the ``articles`` spider runs on every core (``WARC_PROCESSES``), in the capture
engine of ``scrapy rebuild`` (:mod:`crawler.rebuild`) instead of Scrapy's: same dataset, stats, manifest, lock and
exit statuses. With a feed export (``-o``/``-O``) or item pipelines of a user's own, which only Scrapy's engine
writes and runs, or in the distributed mode (``REDIS_URL``: versions claimed in Redis), it stays in Scrapy's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.config import SettingError
from crawler.distributed import keys as distributed
from crawler.extensions.run import (
    LOCK_CLASS_SETTING,
    RUN_FAILED_EXIT,
    ComponentClassError,
    RunLifecycle,
    exit_status,
    pipeline_names,
)
from crawler.rebuild.command import import_captures
from crawler.spiders.options import SpiderArgumentError
from pipelines.dataset.lock import DatasetLockedError, RemoteWithoutRedisError
from pipelines.dataset.storage import OutputNotWritableError
from pipelines.dataset.warc import WarcConfigError
from pipelines.parquet import ParquetConfigError

# What a user can get wrong on the command line, in settings or in the environment, as opposed to a bug
# (every component's bad-setting error is a SettingError).
MISTAKES: tuple[type[Exception], ...] = (
    SettingError,
    SpiderArgumentError,
    ParquetConfigError,
    RemoteWithoutRedisError,
    WarcConfigError,
    DatasetLockedError,
    OutputNotWritableError,
    ComponentClassError,
    *distributed.START_MISTAKES,
)

logger = logging.getLogger(__name__)

# The spider whose ``-a warc=`` import the capture engine runs.
IMPORTING_SPIDER = "articles"
# The item pipelines (crawler/settings.py, in order) whose work the capture engine does itself.
ENGINE_PIPELINES = (
    "pipelines.fingerprint.FingerprintPipeline",
    "pipelines.backfill.BackfillPipeline",
    "pipelines.dedupe.DedupePipeline",
    "pipelines.parquet.ParquetPipeline",
)


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("scrapy crawl takes exactly one spider name")
        assert self.crawler_process is not None
        assert self.settings is not None
        if runs_in_capture_engine(args[0], opts.spargs, self.settings):
            self.exitcode = import_captures(self.settings, opts.spargs)
            return
        crawler = self._create_crawler(args[0])
        outcome = StartOutcome()
        outcome.watch(self.crawler_process.crawl(crawler, **opts.spargs))
        self.crawler_process.start()
        if outcome.mistake is not None:
            print(f"scrapy: error: {self._explain(outcome.mistake)}", file=sys.stderr)
            self.exitcode = RUN_FAILED_EXIT
            return
        if self.crawler_process.bootstrap_failed or outcome.failed:
            # The crawl never started: it has no stats to read.
            self.exitcode = RUN_FAILED_EXIT
            return
        run = crawler.get_extension(RunLifecycle)
        if run is not None:
            self.exitcode = run.exit_status()
        else:  # no dataset written (-O items.jsonl): the finish reason alone
            self.exitcode = exit_status(str(crawler.stats.get_value("finish_reason", "")), None)

    def _explain(self, mistake: Exception) -> str:
        """One line: the mistake's own message, or for a Redis that does not answer, the setting naming it."""
        assert self.settings is not None
        if isinstance(mistake, distributed.START_MISTAKES):
            return _one_line(distributed.explain(mistake, self.settings))
        return _one_line(str(mistake))


class StartOutcome:
    """How the crawl's task ended: a user's mistake is kept for one line on stderr, a bug logged with its
    traceback (taking the exception here keeps asyncio or Twisted from logging it again as unhandled)."""

    def __init__(self) -> None:
        self.mistake: Exception | None = None
        self.failed = False

    def watch(self, crawl: Any) -> None:
        if isinstance(crawl, Deferred):
            crawl.addErrback(self._failed)
        elif isinstance(crawl, asyncio.Future):
            crawl.add_done_callback(self._done)

    def _failed(self, failure: Failure) -> None:
        if isinstance(failure.value, BaseException):
            self._record(failure.value)

    def _done(self, task: asyncio.Future[Any]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._record(error)

    def _record(self, error: BaseException) -> None:
        self.failed = True
        mistake = mistake_behind(error)
        if mistake is not None:
            self.mistake = mistake
            logger.debug("The crawl did not start", exc_info=error)
        else:
            logger.error("The crawl did not start", exc_info=error)


def runs_in_capture_engine(spider: str, arguments: dict[str, Any], settings: BaseSettings) -> bool:
    """An import (``-a warc=``) whose whole work the capture engine does: no feed export and no item pipeline but
    the project's (only Scrapy's engine writes feeds and runs a user's own pipelines), and the local dataset lock
    (the distributed mode's versions are claimed in Redis, which only its Scrapy components do)."""
    if spider != IMPORTING_SPIDER or not str(arguments.get("warc") or "").strip():
        return False
    if settings.get(distributed.REDIS_URL_SETTING) or settings.get(LOCK_CLASS_SETTING):
        return False
    return not settings.getdict("FEEDS") and pipeline_names(settings) == list(ENGINE_PIPELINES)


def mistake_behind(error: BaseException | None) -> Exception | None:
    """The user's mistake that ``error`` is, or followed from: Scrapy's clean-up of a crawl that could not start
    raises its own error on top of the one that stopped it."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, MISTAKES):
            return error
        error = error.__cause__ or error.__context__
    return None


def _one_line(message: str) -> str:
    return " ".join(message.split())
