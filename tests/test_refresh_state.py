"""What the refresh schedule reads of the dataset (pipelines/refresh_state.py), old and new files alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from scrapy.utils.test import get_crawler

from crawler.middlewares.refresh import RefreshConfigError, RefreshMiddleware
from pipelines.dataset.refresh_state import DatasetRefreshState, _partition_before, load_known

NOW = datetime(2026, 12, 2, 6, tzinfo=UTC)
UTC_MICROS = pa.timestamp("us", tz="UTC")


def write_part(root: Path, partition: str, rows: list[dict[str, object]], with_validators: bool) -> None:
    columns = ["article_id", "version", "url", "published_at", "crawled_at"]
    columns += ["etag", "last_modified"] if with_validators else []
    types = {"version": pa.int32(), "published_at": UTC_MICROS, "crawled_at": UTC_MICROS}
    table = pa.table({c: pa.array([r[c] for r in rows], type=types.get(c, pa.string())) for c in columns})
    (root / partition).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / partition / f"part-run{len(list(root.rglob('*.parquet')))}-1.parquet")


def row(
    article_id: str, version: int, published: datetime, crawled: datetime, etag: str | None = None
) -> dict[str, object]:
    return {
        "article_id": article_id,
        "version": version,
        "url": f"https://www.epochtimes.com/gb/26/11/20/{article_id}.htm",
        "published_at": published,
        "crawled_at": crawled,
        "etag": etag,
        "last_modified": "Fri, 20 Nov 2026 10:00:00 GMT" if etag else None,
    }


def test_latest_versions_of_the_watched_articles_from_old_and_new_files(tmp_path: Path) -> None:
    recent = NOW - timedelta(days=12)
    old = NOW - timedelta(days=60)
    # schema_version 1 file: no validators.
    write_part(
        tmp_path, f"date={recent.date()}", [row("n1", 1, recent, recent), row("n2", 1, recent, recent)], False
    )
    write_part(
        tmp_path, f"date={recent.date()}", [row("n1", 2, recent, recent + timedelta(days=2), '"v2"')], True
    )
    write_part(tmp_path, f"date={old.date()}", [row("n3", 1, old, old, '"x"')], True)
    known = {
        k.article_id: k for k in load_known(pafs.LocalFileSystem(), str(tmp_path), NOW, timedelta(days=30))
    }
    assert set(known) == {"n1", "n2"}
    assert (known["n1"].version, known["n1"].etag, known["n1"].changed_at) == (
        2,
        '"v2"',
        recent + timedelta(days=2),
    )
    assert known["n1"].last_modified == "Fri, 20 Nov 2026 10:00:00 GMT"
    assert (known["n2"].version, known["n2"].etag, known["n2"].last_modified) == (1, None, None)
    assert load_known(pafs.LocalFileSystem(), str(tmp_path / "none"), NOW, timedelta(days=30)) == []


def test_partitions_wholly_before_the_watch_are_not_read() -> None:
    cutoff = datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert _partition_before("/d/date=2026-11-01/part-a.parquet", cutoff)
    assert not _partition_before("/d/date=2026-11-02/part-a.parquet", cutoff)
    assert _partition_before("/d/month=2026-10/part-a.parquet", cutoff)
    assert not _partition_before("/d/month=2026-11/part-a.parquet", cutoff)
    assert not _partition_before(
        "/d/month=2026-12/part-a.parquet", datetime(2027, 1, 1, tzinfo=UTC) - timedelta(seconds=1)
    )
    assert _partition_before("/d/month=2026-12/part-a.parquet", datetime(2027, 1, 1, tzinfo=UTC))
    assert not _partition_before("/d/part-a.parquet", cutoff)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"REFRESH_STATE_CLASS": "no.such.Module"}, "REFRESH_STATE_CLASS must name a refresh state class"),
        ({"REFRESH_STATE_CLASS": "crawler.distributed.refresh_state.RedisRefreshState"}, "needs REDIS_URL"),
        ({"PARQUET_URI": ""}, "PARQUET_URI must name the dataset"),
    ],
)
def test_a_bad_state_setting_is_refused_at_start(settings: dict[str, str], message: str) -> None:
    crawler = get_crawler(settings_dict={"PARQUET_URI": "output/articles", **settings})
    with pytest.raises(RefreshConfigError, match=message):
        RefreshMiddleware.from_crawler(crawler)


def test_the_default_state_is_the_dataset(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"PARQUET_URI": str(tmp_path / "articles")})
    assert isinstance(RefreshMiddleware.from_crawler(crawler).store, DatasetRefreshState)
