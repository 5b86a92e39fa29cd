"""The WARC import (``scrapy crawl articles -a warc=...``) on every core: the capture engine in place of
Scrapy's, with the crawl's exit statuses and its one-line ``scrapy: error:`` for a user's mistake."""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any

from scrapy.settings import BaseSettings

from crawler.config import SettingError
from crawler.extensions.health import HealthConfigError
from crawler.extensions.run import ComponentClassError
from crawler.rebuild.engine import (
    RUN_FAILED_EXIT,
    ArchiveUnreadableError,
    EngineConfig,
    EngineConfigError,
    run_captures,
)
from crawler.spiders.options import CrawlOptions, SpiderArgumentError
from pipelines.dataset.lock import DatasetLockedError, RemoteWithoutRedisError
from pipelines.dataset.storage import OutputNotWritableError
from pipelines.parquet import ParquetConfigError

logger = logging.getLogger(__name__)

# What stops a run from captures at start: a user's mistake, a dataset that cannot be written or read.
START_ERRORS: tuple[type[Exception], ...] = (
    SettingError,
    SpiderArgumentError,
    ParquetConfigError,
    HealthConfigError,
    EngineConfigError,
    DatasetLockedError,
    RemoteWithoutRedisError,
    ComponentClassError,
    OutputNotWritableError,
    ArchiveUnreadableError,
    FileNotFoundError,
)
_OPTION_NAMES = frozenset(inspect.signature(CrawlOptions.parse).parameters) - {"cls"}


def spider_options(arguments: dict[str, str]) -> CrawlOptions:
    """The ``articles`` spider's options from ``-a`` arguments (others are ignored, as the spider ignores them)."""
    return CrawlOptions.parse(**{name: value for name, value in arguments.items() if name in _OPTION_NAMES})


def import_captures(settings: BaseSettings, arguments: dict[str, Any]) -> int:
    """Import the captures ``-a warc=`` names into ``PARQUET_URI``; returns ``scrapy crawl``'s exit status."""
    try:
        options = spider_options(arguments)
        outcome = run_captures(EngineConfig.from_settings(settings), options)
    except START_ERRORS as error:
        logger.debug("The import did not start", exc_info=error)
        print(f"scrapy: error: {' '.join(str(error).split())}", file=sys.stderr)
        return RUN_FAILED_EXIT
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: the run closed as interrupted (rows read so far committed), as a crawl's does.
        return RUN_FAILED_EXIT
    return outcome.exit_status
