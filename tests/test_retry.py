"""Retries with back-off (crawler/middlewares/retry.py, SPEC.md section 5): the schedule, its settings, and a crawl that
rides out a short outage of the site because its retries wait instead of hammering a closed port."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pytest
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.middlewares.retry import BackoffRetryMiddleware, RetryBackoffConfigError, backoff_delay
from tests.accounting import read_manifest
from tests.crawling import FAST_SETTINGS
from tests.outage import RESTART_ARTICLES, crawl_through_an_outage, start_replica
from tests.replica.site import Site
from tests.test_dataset_e2e import assert_complete


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.5, 3.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_delay(5000, 1.0, 30.0) == 30.0  # no overflow, however many retries
    assert backoff_delay(3, 0.0, 30.0) == 0.0  # a zero base turns the back-off off
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, 1.0, 30.0)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"RETRY_BACKOFF_BASE": "-1"}, "RETRY_BACKOFF_BASE"),
        ({"RETRY_BACKOFF_BASE": "soon"}, "RETRY_BACKOFF_BASE"),
        ({"RETRY_BACKOFF_MAX": "inf"}, "RETRY_BACKOFF_MAX"),
        ({"RETRY_BACKOFF_BASE": "10", "RETRY_BACKOFF_MAX": "5"}, "RETRY_BACKOFF_MAX"),
    ],
)
def test_a_bad_backoff_setting_stops_start_up_naming_it(settings: dict[str, str], named: str) -> None:
    with pytest.raises(RetryBackoffConfigError, match=named):
        BackoffRetryMiddleware.from_crawler(get_crawler(settings_dict=settings))


def test_the_project_retries_through_the_backoff_middleware() -> None:
    crawler = get_crawler(settings_dict={"RETRY_BACKOFF_BASE": "2", "RETRY_BACKOFF_MAX": "9"})
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    assert (middleware.base, middleware.cap) == (2.0, 9.0)
    chain = project_settings.DOWNLOADER_MIDDLEWARES
    assert chain["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert chain["crawler.middlewares.retry.BackoffRetryMiddleware"] == 550
    # Responses go down the chain from the highest number: a block page is dropped before a retry is decided.
    assert (chain["crawler.middlewares.blocks.BlockMiddleware"] or 0) > 550


# ---- a short outage ---------------------------------------------------------------------------------------

OUTAGE_RETRIES = 4
OUTAGE_BASE = 1.0
OUTAGE_CAP = 4.0
# Longer than retries without back-off last (5 refused attempts, 0.3 s each), well within the time a request
# keeps trying with it (the sum of its back-offs: 1 + 2 + 4 + 4 s); these margins are all the test relies on.
OUTAGE_SECONDS = 3.0


@pytest.mark.slow
def test_a_crawl_rides_out_a_short_outage_with_backoff_and_completes(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    log = tmp_path / "crawl.log"
    server, port = start_replica(0)
    settings = {
        **FAST_SETTINGS,
        "CONCURRENT_REQUESTS": "2",
        "PARQUET_FLUSH_ROWS": "10",
        "RETRY_TIMES": str(OUTAGE_RETRIES),
        "RETRY_BACKOFF_BASE": str(OUTAGE_BASE),
        "RETRY_BACKOFF_MAX": str(OUTAGE_CAP),
        # A retried request is the next one sent (LIFO queue, same priority): its own back-off, not the queue
        # of other requests ahead of it, has to span the outage.
        "RETRY_PRIORITY_ADJUST": "0",
        "PARQUET_URI": str(dataset),
        "STATS_JSON": str(tmp_path / "stats.json"),
    }

    def site_back_after_the_outage(_crawler: subprocess.Popen[Any]) -> None:
        time.sleep(OUTAGE_SECONDS)  # the site is back a few seconds later on the same port

    returncode = crawl_through_an_outage(log, server, port, settings, site_back_after_the_outage)
    text = log.read_text(encoding="utf-8")
    assert returncode == 0, text[-4000:]
    stats = read_stats(tmp_path / "stats.json")
    # The outage was met, and no page was given up on.
    assert stats["retry/reason_count/scrapy.exceptions.DownloadConnectionRefusedError"] > 0
    assert "retry/max_reached" not in stats
    manifest = read_manifest(dataset, stats["run/id"])
    assert manifest["status"] == "finished" and manifest["pages_failed"] == {}
    ids = pads.dataset(dataset, format="parquet", partitioning="hive").to_table().column("article_id")
    assert_complete(ids.to_pylist(), Site(articles=RESTART_ARTICLES))


def read_stats(path: Path) -> dict[str, Any]:
    stats: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return stats
