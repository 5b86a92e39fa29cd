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

from crawler.discovery.feeds import feed_items
from crawler.distributed.keys import CrawlKeys
from crawler.urls import parse_article_url
from pipelines.dataset.refresh_state import SEEN_DIR, load_known
from pipelines.dataset.removals import REMOVALS_DIR
from pipelines.dataset.storage import resolve
from tests.crawling import CrawlResult, crawl
from tests.replica.model import build_metadata
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.services import redis_server
from tests.test_distributed import start_worker

# Every test here runs the real crawl command (or reads the result of one).
pytestmark = pytest.mark.slow

SEED = 1
ARTICLES = 400
FIRST = build_metadata(SEED, ARTICLES)[-1].published + timedelta(hours=1)
SECOND = FIRST + timedelta(days=12)
THIRD = SECOND + timedelta(days=2)
WATCH_ALL = {"REFRESH_MAX_AGE_DAYS": "8000", "REFRESH_MIN_REQUESTS": "5000"}


def run_start(dataset: Path, result: CrawlResult) -> datetime:
    manifest = json.loads((dataset / "_runs" / f"{result.stats['run/id']}.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(manifest["started_at"])


def crawl_at(
    clock: datetime, dataset: Path, now: datetime | None, articles: int = ARTICLES, discovery: str = "lists"
) -> CrawlResult:
    settings = dict(WATCH_ALL)
    if now is not None:
        settings["REFRESH_NOW"] = now.isoformat()
    with serve_replica(articles=articles, seed=SEED, clock=clock) as site:
        result = crawl(site, dataset, args={"editions": "gb", "discovery": discovery}, settings=settings)
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
    second = crawl_at(SECOND, dataset, run_start(dataset, first) + timedelta(hours=13))
    second_rows = rows(dataset)
    second_removals = removal_rows(dataset)
    third = crawl_at(THIRD, dataset, run_start(dataset, second) + timedelta(hours=40))
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
    outage = crawl_at(FIRST, dataset, run_start(dataset, first) + timedelta(hours=13), articles=60)
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
    settings["REFRESH_NOW"] = (run_start(dataset, first) + timedelta(hours=13)).isoformat()
    with serve_replica(articles=100, seed=SEED, clock=FIRST) as site:
        result = crawl(site, dataset, args={"editions": "gb"}, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    stats = result.stats
    other = stats["downloader/request_count"] - stats["refresh/requests"]
    assert stats["refresh/requests"] == max(10, other)  # share 0.5: as many checks as other requests
    assert stats["refresh/deferred"] == stats["refresh/due"] - stats["refresh/requests"] > 0


def test_two_distributed_workers_check_each_article_once(tmp_path: Path) -> None:
    """One worker loads the refresh state from the dataset into Redis, the other reads it there; the shared
    request filter lets one check of each article through, and removals are recorded once."""
    dataset = tmp_path / "articles"
    first = crawl_at(FIRST, dataset, None, articles=200)
    archived = {row["article_id"] for row in rows(dataset)}
    lives = Site(articles=200, seed=SEED, clock=SECOND).timelines()
    gone = {a for a in archived if lives[a].gone(SECOND)}
    edited = {a for a in archived if lives[a].edits_until(SECOND) != lives[a].edits_until(FIRST)} - gone
    settings = {
        **WATCH_ALL,
        "REFRESH_NOW": (run_start(dataset, first) + timedelta(hours=13)).isoformat(),
        "REFRESH_STATE_CLASS": "crawler.distributed.refresh_state.RedisRefreshState",
    }
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
    # The state came from the dataset once, into Redis; the other worker read it from there.
    assert sum("loaded from the dataset into Redis" in log for _, _, log in results) == 1
    checks = sum(stats.get("refresh/requests", 0) for _, stats, _ in results)
    assert sum(stats.get("refresh/not_modified", 0) for _, stats, _ in results) == len(
        archived - edited - gone
    )
    assert checks >= len(archived)
    assert {row["article_id"] for row in rows(dataset) if row["version"] == 2} == edited
    removals = removal_rows(dataset) if gone else []
    assert sorted(r["article_id"] for r in removals) == sorted(gone)


def test_the_feed_is_a_free_signal_an_edited_item_is_checked_at_once_the_others_cost_nothing(
    tmp_path: Path,
) -> None:
    """An hourly run reads the feed: the known articles whose item text changed are fetched (and make a new
    version), the ones whose text is the archived one are seen present; no scheduled check is due yet."""
    dataset = tmp_path / "articles"
    first_clock = build_metadata(SEED, 200)[-1].published + timedelta(hours=1)
    second_clock = first_clock + timedelta(hours=6)
    first = crawl_at(first_clock, dataset, None, articles=200, discovery="feeds")
    before = Site(articles=200, seed=SEED, clock=first_clock)
    after = Site(articles=200, seed=SEED, clock=second_clock)
    shown = [parse_article_url(item.url) for item in feed_items(after.get("/gb/feed").body)]
    shown_ids = {ref.article_id for ref in shown if ref is not None}
    lives_before, lives_after = before.timelines(), after.timelines()
    edited = {
        a
        for a in shown_ids
        if lives_after[a].edits_until(second_clock) != lives_before[a].edits_until(first_clock)
    }
    assert edited and len(edited) < len(shown_ids)  # the replica's clock gives both kinds in this window
    # An hour after the first run: the ladder's first moment (12 h after a capture) is not reached.
    second = crawl_at(second_clock, dataset, run_start(dataset, first) + timedelta(hours=1), 200, "feeds")
    stats = second.stats
    assert stats["refresh/feed_changed"] == len(edited)
    assert stats["refresh/feed_unchanged"] == len(shown_ids) - len(edited)
    assert stats["refresh/requests"] == len(edited)
    assert stats.get("refresh/due", 0) == 0
    assert {row["article_id"] for row in rows(dataset) if row["version"] == 2} == edited
    seen = pads.dataset(dataset / SEEN_DIR, format="parquet").to_table().to_pylist()
    assert {row["article_id"] for row in seen} == shown_ids  # unchanged items and fetched edits alike


def test_a_removal_is_last_seen_at_the_last_unchanged_check(tmp_path: Path) -> None:
    """Captured in run 1, answered 304 in run 2, gone in run 3: last_seen_at is run 2's check, not the capture."""
    dataset = tmp_path / "articles"
    count = 120
    first_clock = build_metadata(SEED, count)[-1].published + timedelta(hours=1)
    lives = Site(articles=count, seed=SEED, clock=first_clock + timedelta(days=30)).timelines()
    article_id, life = next(
        (a, t)
        for a, t in sorted(lives.items())
        if t.removed_at is not None
        and t.removed_at > first_clock + timedelta(hours=2)
        and t.restored_at is None
    )
    assert life.removed_at is not None
    assert life.edits_until(life.removed_at) == life.edits_until(first_clock)  # unchanged until it goes
    first = crawl_at(first_clock, dataset, None, articles=count)
    second = crawl_at(
        life.removed_at - timedelta(hours=1), dataset, run_start(dataset, first) + timedelta(hours=13), count
    )
    assert second.stats["refresh/not_modified"] > 0
    crawl_at(
        life.removed_at + timedelta(hours=1), dataset, run_start(dataset, second) + timedelta(hours=40), count
    )
    captured = next(
        r
        for r in pads.dataset(dataset, format="parquet", partitioning="hive")
        .to_table(columns=["article_id", "crawled_at"])
        .to_pylist()
        if r["article_id"] == article_id
    )
    second_seen = (
        pads.dataset(dataset / SEEN_DIR / f"seen-{second.stats['run/id']}.parquet", format="parquet")
        .to_table()
        .to_pylist()
    )
    checked = next(r["seen_at"] for r in second_seen if r["article_id"] == article_id)
    removal = next(
        r for r in removal_rows(dataset) if r["article_id"] == article_id and r["event"] == "removed"
    )
    assert removal["last_seen_at"] == checked
    assert captured["crawled_at"] < checked < removal["detected_at"]
    # The state the next run reads carries it too.
    fs, root = resolve(str(dataset))
    known = {
        k.article_id: k for k in load_known(fs, root, checked + timedelta(hours=1), timedelta(days=8000))
    }
    assert known[article_id].last_seen_at == checked
