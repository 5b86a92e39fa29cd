"""The refresh middleware in real crawls of the replica over simulated time: conditional checks, versions,
removals confirmed twice and reappearances, an outage never taken for removals, bot walls and Retry-After.

The replica's clock moves by days between runs while the runs are seconds apart, so the schedule is told the
time with ``REFRESH_NOW`` (the previous run's start plus some hours) and watches articles of any age
(``REFRESH_MAX_AGE_DAYS``): the articles' ages are then all past the young week, and every capture's first
look (``Schedule.first`` after it) falls in the window."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pytest

from crawler.distributed.keys import CrawlKeys
from pipelines.dataset.removals import REMOVALS_DIR
from tests.crawling import CrawlResult, crawl
from tests.replica.model import build_metadata
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.services import redis_server
from tests.test_distributed import start_worker

SEED = 1
ARTICLES = 400
FIRST = build_metadata(SEED, ARTICLES)[-1].published + timedelta(hours=1)
SECOND = FIRST + timedelta(days=12)
THIRD = SECOND + timedelta(days=2)
WATCH_ALL = {"REFRESH_MAX_AGE_DAYS": "8000", "REFRESH_MIN_REQUESTS": "5000"}


def run_start(dataset: Path, result: CrawlResult) -> datetime:
    manifest = json.loads((dataset / "_runs" / f"{result.stats['run/id']}.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(manifest["started_at"])


def crawl_at(clock: datetime, dataset: Path, now: datetime | None, articles: int = ARTICLES) -> CrawlResult:
    settings = dict(WATCH_ALL)
    if now is not None:
        settings["REFRESH_NOW"] = now.isoformat()
    with serve_replica(articles=articles, seed=SEED, clock=clock) as site:
        result = crawl(site, dataset, args={"editions": "gb"}, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    return result


def rows(dataset: Path) -> list[dict[str, Any]]:
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table(
        columns=["article_id", "version", "etag", "last_modified", "run_id"]
    )
    return list(table.to_pylist())


def removal_rows(dataset: Path) -> list[dict[str, Any]]:
    return list(pads.dataset(dataset / REMOVALS_DIR, format="parquet").to_table().to_pylist())


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    dataset = tmp_path_factory.mktemp("refresh") / "articles"
    first = crawl_at(FIRST, dataset, None)
    first_rows = rows(dataset)
    second = crawl_at(SECOND, dataset, run_start(dataset, first) + timedelta(hours=3))
    second_rows = rows(dataset)
    second_removals = removal_rows(dataset)
    third = crawl_at(THIRD, dataset, run_start(dataset, second) + timedelta(hours=9))
    return {
        "dataset": dataset,
        "runs": (first, second, third),
        "rows": (first_rows, second_rows, rows(dataset)),
        "removals": (second_removals, removal_rows(dataset)),
    }


def test_first_capture_stores_the_validators(history: dict[str, Any]) -> None:
    first_rows = history["rows"][0]
    assert len(first_rows) > 300
    assert all(row["etag"] and row["last_modified"] for row in first_rows)


def test_unchanged_articles_answer_304_and_edited_ones_make_exactly_one_new_version(
    history: dict[str, Any],
) -> None:
    _, second = history["runs"][:2]
    before, after = history["rows"][:2]
    lives = Site(articles=ARTICLES, seed=SEED, clock=SECOND).timelines()
    archived = {row["article_id"] for row in before}
    edited = {
        a
        for a in archived
        if lives[a].edits_until(SECOND) != lives[a].edits_until(FIRST) and not lives[a].gone(SECOND)
    }
    gone = {a for a in archived if lives[a].gone(SECOND)}
    assert edited and gone
    new_versions = {row["article_id"] for row in after if row["version"] == 2}
    assert new_versions == edited
    stats = second.stats
    assert stats["refresh/requests"] == len(archived)
    assert stats["refresh/not_modified"] == len(archived) - len(edited) - len(gone)
    assert stats.get("articles/dropped/duplicate", 0) == 0
    # No other article was fetched in full: discovery stopped on pages of known articles.
    assert stats.get("articles/requested", 0) == 0


def test_removals_are_confirmed_by_a_second_check_and_recorded_with_the_last_version(
    history: dict[str, Any],
) -> None:
    second = history["runs"][1]
    removals = history["removals"][0]
    lives = Site(articles=ARTICLES, seed=SEED, clock=SECOND).timelines()
    gone = {
        a: lives[a].removal
        for a in {row["article_id"] for row in history["rows"][0]}
        if lives[a].gone(SECOND)
    }
    reasons = {"404": "http_404", "410": "http_410", "home": "redirect_home"}
    assert {(r["article_id"], r["event"], r["reason"]) for r in removals} == {
        (a, "removed", reasons[kind or ""]) for a, kind in gone.items()
    }
    assert second.stats["refresh/confirm_requests"] == len(gone)
    first_rows = {row["article_id"]: row for row in history["rows"][0]}
    for removal in removals:
        assert removal["last_version"] == 1
        assert removal["run_id"] == second.stats["run/id"]
        assert removal["last_seen_at"] < removal["detected_at"]
        assert first_rows[removal["article_id"]]["version"] == 1  # the last version is still there, intact


def test_a_restored_article_is_recorded_as_reappeared(history: dict[str, Any]) -> None:
    lives = Site(articles=ARTICLES, seed=SEED, clock=THIRD).timelines()
    restored = {r["article_id"] for r in history["removals"][0] if not lives[r["article_id"]].gone(THIRD)}
    assert restored
    reappeared = {r["article_id"] for r in history["removals"][1] if r["event"] == "reappeared"}
    assert reappeared == restored
    # Still gone: not recorded again.
    removed_twice = [r["article_id"] for r in history["removals"][1] if r["event"] == "removed"]
    assert len(removed_twice) == len(set(removed_twice))


def test_an_outage_that_answers_404_everywhere_records_no_removal(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    first = crawl_at(FIRST, dataset, None, articles=200)
    # The same site now knows only its 60 oldest articles: every later one answers 404.
    outage = crawl_at(FIRST, dataset, run_start(dataset, first) + timedelta(hours=3), articles=60)
    stats = outage.stats
    assert stats["refresh/removals_withheld"] == stats["refresh/requests"] - stats["refresh/not_modified"]
    assert stats["refresh/removals_withheld"] > stats["refresh/requests"] / 2
    assert "refresh/confirm_requests" not in stats
    assert "the site is failing, not deleting" in outage.log
    assert not (dataset / REMOVALS_DIR).exists()


def test_bot_walls_are_counted_never_stored_and_rate_limits_wait_for_retry_after(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    site_model = Site(articles=120, blocks="some")
    blocked = {n: kind for n, kind in site_model.blocked_numbers().items() if kind != "rate_limited"}
    limited = {n for n, kind in site_model.blocked_numbers().items() if kind == "rate_limited"}
    with serve_replica(articles=120, blocks="some") as site:
        result = crawl(site, dataset, args={"editions": "gb"})
    assert result.returncode == 0, result.log[-3000:]
    stored = {row["article_id"] for row in rows(dataset)}
    assert not stored & {f"n{n}" for n in blocked}
    assert {f"n{n}" for n in limited} <= stored
    assert result.stats["blocked/pages"] == len(blocked)
    assert result.stats["retry/retry_after/count"] == len(limited)
    assert result.stats.get("articles/failed", 0) == 0
    assert result.stats.get("pages/failed/articles", 0) == 0


def test_a_mostly_blocked_run_fails_saying_the_site_is_blocking(tmp_path: Path) -> None:
    with serve_replica(articles=60, blocks="all") as site:
        result = crawl(site, tmp_path / "articles", args={"editions": "gb"})
    assert result.returncode == 3
    assert "blocking the crawler" in result.log
    assert not list((tmp_path / "articles").glob("date=*"))


def test_the_budget_caps_the_checks_and_defers_the_rest(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    first = crawl_at(FIRST, dataset, None, articles=100)
    settings = {**WATCH_ALL, "REFRESH_MIN_REQUESTS": "10", "REFRESH_BUDGET": "0.5"}
    settings["REFRESH_NOW"] = (run_start(dataset, first) + timedelta(hours=3)).isoformat()
    with serve_replica(articles=100, seed=SEED, clock=FIRST) as site:
        result = crawl(site, dataset, args={"editions": "gb"}, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    stats = result.stats
    other = stats["downloader/request_count"] - stats["refresh/requests"]
    assert stats["refresh/requests"] == max(10, other)  # share 0.5: as many checks as other requests
    assert stats["refresh/deferred"] == stats["refresh/due"] - stats["refresh/requests"] > 0


def test_two_distributed_workers_check_each_article_once(tmp_path: Path) -> None:
    """Every worker reads the schedule from the dataset; the shared request filter lets one check of each
    article through, and removals are recorded once."""
    dataset = tmp_path / "articles"
    first = crawl_at(FIRST, dataset, None, articles=200)
    archived = {row["article_id"] for row in rows(dataset)}
    lives = Site(articles=200, seed=SEED, clock=SECOND).timelines()
    gone = {a for a in archived if lives[a].gone(SECOND)}
    edited = {a for a in archived if lives[a].edits_until(SECOND) != lives[a].edits_until(FIRST)} - gone
    settings = {**WATCH_ALL, "REFRESH_NOW": (run_start(dataset, first) + timedelta(hours=3)).isoformat()}
    with redis_server() as redis_url, serve_replica(articles=200, seed=SEED, clock=SECOND) as site:
        keys = CrawlKeys(f"refresh-{uuid.uuid4().hex[:8]}")
        workers = [
            start_worker(
                tmp_path, site, str(dataset), redis_url, keys, args={"editions": "gb"}, settings=settings
            )
            for _ in range(2)
        ]
        results = [worker.finish() for worker in workers]
    for code, _, log in results:
        assert code == 0, log[-3000:]
    checks = sum(stats.get("refresh/requests", 0) for _, stats, _ in results)
    assert sum(stats.get("refresh/not_modified", 0) for _, stats, _ in results) == len(
        archived - edited - gone
    )
    assert checks >= len(archived)
    assert {row["article_id"] for row in rows(dataset) if row["version"] == 2} == edited
    removals = removal_rows(dataset) if gone else []
    assert sorted(r["article_id"] for r in removals) == sorted(gone)
