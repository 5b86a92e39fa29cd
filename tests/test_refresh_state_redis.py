"""The refresh state of the distributed mode (crawler.distributed.refresh_state) against a real redis-server:
loaded from the dataset once per crawl, shared by the crawl's workers, commits seen by all and by the dataset."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from crawler.distributed.keys import CrawlKeys
from crawler.distributed.refresh_state import RedisRefreshState
from crawler.refresh import Known
from pipelines.dataset.refresh_state import (
    DatasetRefreshState,
    RefreshSnapshot,
    read_sightings,
    write_sightings,
)
from pipelines.dataset.removals import REAPPEARED, REMOVED, RemovalEvent, read_events, write_events
from pipelines.dataset.storage import resolve
from tests.services import redis_server
from tests.test_refresh_state import NOW, row, write_part

WATCH = timedelta(days=30)
PUBLISHED = NOW - timedelta(days=3)
CAPTURED = PUBLISHED + timedelta(hours=1)
SEEN = NOW - timedelta(days=1)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def removal(article_id: str, event: str, run_id: str, detected: datetime) -> RemovalEvent:
    return RemovalEvent(
        article_id=article_id,
        url=f"https://www.epochtimes.com/gb/26/11/29/{article_id}.htm",
        event=event,
        reason="http_404" if event == REMOVED else None,
        last_seen_at=CAPTURED,
        detected_at=detected,
        last_version=1,
        run_id=run_id,
    )


def by_id(snapshot: RefreshSnapshot) -> dict[str, Known]:
    return {k.article_id: k for k in snapshot.known}


def test_one_load_from_the_dataset_per_crawl_shared_by_its_workers(tmp_path: Path, redis_url: str) -> None:
    root = tmp_path / "articles"
    write_part(
        root,
        "date=2026-11-29",
        [row("n1", 1, PUBLISHED, CAPTURED, "e1"), row("n2", 1, PUBLISHED, CAPTURED)],
        True,
    )
    fs, base = resolve(str(root))
    write_sightings(fs, base, "20261201T000000Z-aaaaaa", {"n1": SEEN})
    write_events(
        fs, base, "20261201T000000Z-aaaaaa", [removal("n2", REMOVED, "20261201T000000Z-aaaaaa", SEEN)]
    )
    dataset = DatasetRefreshState(str(root))
    keys = CrawlKeys(f"refresh-{uuid.uuid4().hex[:8]}")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set(keys.seeded, "20261202T050000Z-opener")
    workers = [
        RedisRefreshState(redis.Redis.from_url(redis_url, decode_responses=True), keys, dataset)
        for _ in range(2)
    ]

    first = workers[0].load(NOW, WATCH, "20261202T050000Z-opener")
    expected = dataset.load(NOW, WATCH, "20261202T050000Z-opener")
    assert (
        by_id(first) == by_id(expected)
        and first.removed == expected.removed
        and first.since == expected.since
    )
    assert by_id(first)["n1"].last_seen_at == SEEN
    assert set(first.removed) == {"n2"}

    # The dataset changes under the crawl: a worker joining it reads Redis, not the dataset.
    write_part(root, "date=2026-11-30", [row("n3", 1, PUBLISHED, CAPTURED)], True)
    assert set(by_id(workers[1].load(NOW, WATCH, "20261202T050100Z-joiner"))) == {"n1", "n2"}

    # What one worker commits the others load, and the dataset holds it too.
    later = NOW - timedelta(minutes=5)
    workers[1].commit(
        "20261202T050100Z-joiner",
        {"n1": later},
        [removal("n2", REAPPEARED, "20261202T050100Z-joiner", later)],
    )
    workers[0].commit(
        "20261202T050000Z-opener", {"n1": later - timedelta(hours=1)}, []
    )  # an earlier sighting loses
    shared = workers[0].load(NOW, WATCH, "20261202T050000Z-opener")
    assert by_id(shared)["n1"].last_seen_at == later
    assert shared.removed == {}
    assert read_sightings(fs, base, NOW - WATCH)["n1"] == later
    assert [e.event for e in read_events(fs, base) if e.article_id == "n2"] == [REMOVED, REAPPEARED]

    # The next crawl loads the dataset again.
    client.set(keys.seeded, "20261202T060000Z-next")
    assert set(by_id(workers[1].load(NOW, WATCH, "20261202T060000Z-next"))) == {"n1", "n2", "n3"}


def test_articles_older_than_the_watch_are_left_out(tmp_path: Path, redis_url: str) -> None:
    root = tmp_path / "articles"
    old = NOW - timedelta(days=40)
    write_part(root, "date=2026-10-23", [row("n9", 1, old, old + timedelta(hours=1))], True)
    write_part(root, "date=2026-11-29", [row("n1", 1, PUBLISHED, CAPTURED)], True)
    store = RedisRefreshState(
        redis.Redis.from_url(redis_url, decode_responses=True),
        CrawlKeys(f"refresh-{uuid.uuid4().hex[:8]}"),
        DatasetRefreshState(str(root)),
    )
    assert set(by_id(store.load(NOW, WATCH, None))) == {"n1"}
    # A shorter watch in a later run of the same crawl reads the same Redis state, filtered again.
    assert set(by_id(store.load(NOW + timedelta(days=29), WATCH, None))) == set()
