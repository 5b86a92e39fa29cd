"""Issue 15: a mistake on the command line or in settings ends `scrapy crawl` before any request with one line
of stderr naming the argument or setting, the value given and what is accepted, exit status 1, and no traceback
(unless LOG_LEVEL=DEBUG). Each case runs the real command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crawling import crawl
from tests.services import s3_server
from tests.test_lock import held_by_subprocess

# Every test here runs the real crawl command (or reads the result of one).
pytestmark = pytest.mark.slow

# Nothing listens there: a mistake must stop the run before it tries.
NO_SITE = "http://127.0.0.1:9"
RUN_FAILED_EXIT = 1
MARKER = "scrapy: error:"
UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"

MISTAKES = [
    # (spider arguments, settings, what the line names: the argument or setting, the value, what is accepted)
    ({"editions": "xx"}, {}, ["editions", "'xx'", "gb, b5 or gb,b5"]),
    ({"site": "notaurl"}, {}, ["site", "'notaurl'", "http(s) base URL"]),
    ({"since": "2026-02-30"}, {}, ["since", "'2026-02-30'", "YYYY-MM-DD"]),
    ({"until": "someday"}, {}, ["until", "'someday'", "YYYY-MM-DD"]),
    ({"channels": "../x"}, {}, ["channels", "'../x'", "nsc413"]),
    ({"full": "maybe"}, {}, ["full", "'maybe'", "0 or 1"]),
    ({"refresh_days": "-2"}, {}, ["refresh_days", "'-2'", "negative"]),
    ({"refresh_days": "two"}, {}, ["refresh_days", "'two'", "whole number of days"]),
    ({"discovery": "rss"}, {}, ["discovery", "'rss'", "lists, feeds, all"]),
    ({}, {"PARQUET_PARTITION": "week"}, ["PARQUET_PARTITION", "'week'", "date"]),
    ({}, {"PARQUET_FLUSH_ROWS": "-1"}, ["PARQUET_FLUSH_ROWS", "'-1'", "positive whole number"]),
    ({}, {"PARQUET_FLUSH_BYTES": "32MB"}, ["PARQUET_FLUSH_BYTES", "'32MB'", "positive whole number"]),
    ({}, {"PARQUET_ROW_GROUP_SIZE": "0"}, ["PARQUET_ROW_GROUP_SIZE", "'0'", "positive whole number"]),
    ({}, {"PARQUET_COMPRESSION": "zip"}, ["PARQUET_COMPRESSION", "'zip'", "zstd"]),
    ({}, {"HEALTH_MAX_FAILED_RATIO": "x"}, ["HEALTH_MAX_FAILED_RATIO", "'x'", "[0, 1]"]),
    ({}, {"EXTRACT_CROSSCHECK_RATE": "2"}, ["EXTRACT_CROSSCHECK_RATE", "'2'", "[0, 1]"]),
    ({}, {"DEDUPE_NEAR_DISTANCE": "-1"}, ["DEDUPE_NEAR_DISTANCE", "'-1'", "integer from 0 to 16"]),
    ({}, {"PROGRESS_INTERVAL": "soon"}, ["PROGRESS_INTERVAL", "'soon'", "number of seconds"]),
    ({}, {"RETRY_TIMES": "three"}, ["RETRY_TIMES", "'three'", "whole number >= 0"]),
    ({}, {"RETRY_BACKOFF_BASE": "-1"}, ["RETRY_BACKOFF_BASE", "'-1'", "seconds >= 0"]),
    ({}, {"RETRY_BACKOFF_MAX": "inf"}, ["RETRY_BACKOFF_MAX", "'inf'", "finite"]),
    ({}, {"RETRY_AFTER_MAX": "-5"}, ["RETRY_AFTER_MAX", "'-5'", "seconds >= 0"]),
    ({}, {"EXTRACT_CROSSCHECK_MIN_F1": "nan"}, ["EXTRACT_CROSSCHECK_MIN_F1", "'nan'", "[0, 1]"]),
    ({}, {"REFRESH_BUDGET": "0"}, ["REFRESH_BUDGET", "'0'", "(0, 1]"]),
    ({}, {"REFRESH_MAX_AGE_DAYS": "0"}, ["REFRESH_MAX_AGE_DAYS", "'0'", "whole number >= 1"]),
    ({}, {"REFRESH_ENABLED": "maybe"}, ["REFRESH_ENABLED", "'maybe'", "1, 0, true or false"]),
    ({}, {"REDIS_URL": "localhost:6379"}, ["REDIS_URL", "'localhost:6379'", "redis://host:port/db"]),
    ({}, {"PARQUET_URI": "/proc/x/y"}, ["PARQUET_URI", "/proc/x/y", "not writable"]),
    ({}, {"REDIS_URL": UNREACHABLE_REDIS}, ["REDIS_URL", f"'{UNREACHABLE_REDIS}'", "cannot be reached"]),
    (
        {},
        {"REDIS_URL": UNREACHABLE_REDIS, "REDIS_KEY_PREFIX": "%x"},
        ["REDIS_KEY_PREFIX", "'%x'", "plain key prefix"],
    ),
    (
        {},
        {"REDIS_URL": UNREACHABLE_REDIS, "MAX_IDLE_TIME_BEFORE_CLOSE": "0"},
        ["MAX_IDLE_TIME_BEFORE_CLOSE", "'0'", "positive"],
    ),
    (
        {},
        {"REDIS_URL": UNREACHABLE_REDIS, "DISTRIBUTED_HEARTBEAT_TTL": "0"},
        ["DISTRIBUTED_HEARTBEAT_TTL", "'0'", "positive whole number of seconds"],
    ),
    (
        {},
        {"REDIS_URL": UNREACHABLE_REDIS, "DISTRIBUTED_STARTUP_TIMEOUT": "soon"},
        ["DISTRIBUTED_STARTUP_TIMEOUT", "'soon'", "positive whole number of seconds"],
    ),
]


def assert_one_clear_line(stderr: str, *named: str) -> str:
    """Exactly one line with the error marker names everything in ``named``; no traceback anywhere."""
    lines = [line for line in stderr.splitlines() if MARKER in line]
    assert len(lines) == 1, stderr[-3000:]
    for fragment in named:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "Task exception was never retrieved" not in stderr, stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(("args", "settings", "named"), MISTAKES)
def test_a_mistake_is_one_line_exit_1_and_no_traceback(
    tmp_path: Path, args: dict[str, str], settings: dict[str, str], named: list[str]
) -> None:
    dataset = None if "PARQUET_URI" in settings else tmp_path / "articles"
    result = crawl(NO_SITE, dataset, args=args, settings=settings, timeout=180)
    assert result.returncode == RUN_FAILED_EXIT, result.log[-3000:]
    assert_one_clear_line(result.log, *named)
    assert "Crawled (" not in result.log  # stopped before any request
    assert not dataset or not any(dataset.rglob("*.parquet"))


def test_with_log_level_debug_the_traceback_is_shown_too(tmp_path: Path) -> None:
    result = crawl(NO_SITE, tmp_path / "articles", args={"editions": "xx"}, settings={"LOG_LEVEL": "DEBUG"})
    assert result.returncode == RUN_FAILED_EXIT
    assert "Traceback" in result.log
    lines = [line for line in result.log.splitlines() if MARKER in line]
    assert lines == ["scrapy: error: editions must be gb, b5 or gb,b5, got 'xx'"], result.log[-3000:]


def test_a_held_lock_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with held_by_subprocess(dataset) as holder:
        result = crawl(NO_SITE, dataset, timeout=180)
    assert result.returncode == RUN_FAILED_EXIT, result.log[-3000:]
    assert_one_clear_line(result.log, "locked by", f"pid {holder.pid}")


@pytest.fixture(scope="module")
def s3_environment() -> Iterator[dict[str, str]]:
    with s3_server() as server:
        yield {**server.environment(), "bucket": server.new_bucket()}


def test_s3_without_redis_is_one_line_naming_both(
    tmp_path: Path, s3_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_environment.items():
        if name != "bucket":
            monkeypatch.setenv(name, value)
    uri = f"s3://{s3_environment['bucket']}/articles"
    result = crawl(NO_SITE, None, settings={"PARQUET_URI": uri}, timeout=180)
    assert result.returncode == RUN_FAILED_EXIT, result.log[-3000:]
    assert_one_clear_line(result.log, "PARQUET_URI", "is not a local path", "REDIS_URL")
