"""End to end with every pipeline: replica -> `scrapy crawl articles` -> Parquet, read back by real readers.

The incremental story of SPEC.md section 3 runs here on one dataset, step by step, as cron would run it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from crawler.discovery import page
from crawler.urls import parse_article_url
from pipelines.dataset.schema import ARTICLE_SCHEMA
from tests.crawling import crawl, start_crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_lock import held_by_subprocess

ARTICLES = 80
pytestmark = pytest.mark.slow


def read_rows(root: Path) -> pa.Table:
    return ds.dataset(root, format="parquet", partitioning="hive").to_table()


def visible_files(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    ]


def assert_complete(ids: list[str], site: Site) -> None:
    """Every article once; of an exact copy and its original, exactly one (whichever came first)."""
    assert len(ids) == len(set(ids)), "duplicate rows"
    copies = site.exact_copies()
    pairs = {frozenset(pair) for pair in copies.items()}
    singles = {row["article_id"] for row in site.truth() if row["edition"] == "gb"} - set().union(*pairs)
    present = set(ids)
    assert singles <= present, f"missing {sorted(singles - present)}"
    for pair in pairs:
        assert len(pair & present) == 1, f"copy pair {sorted(pair)}: {sorted(pair & present)} written"
    assert present <= singles | set().union(*pairs)


def _ids(site: Site) -> set[str]:
    return {row["article_id"] for row in site.truth() if row["edition"] == "gb"}


@pytest.fixture(scope="module")
def first_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    dataset = tmp_path_factory.mktemp("dataset") / "articles"
    with serve_replica(articles=ARTICLES) as site:
        result = crawl(site, dataset, args={"refresh_days": "0"})
        assert result.returncode == 0, result.log[-4000:]
        yield site, dataset


def test_first_crawl_writes_every_article_once_with_the_exact_schema(first_crawl: tuple[str, Path]) -> None:
    _, dataset = first_crawl
    table = read_rows(dataset)
    site = Site(articles=ARTICLES)
    assert_complete(table.column("article_id").to_pylist(), site)
    assert table.schema.field("date").type in (
        pa.string(),
        pa.date32(),
        pa.dictionary(pa.int32(), pa.string()),
    )
    for field in ARTICLE_SCHEMA:
        assert table.schema.field(field.name).type == field.type, field.name
    assert set(table.column("version").to_pylist()) == {1}


def test_readers_agree(first_crawl: tuple[str, Path]) -> None:
    _, dataset = first_crawl
    count = read_rows(dataset).num_rows
    pattern = str(dataset / "**" / "*.parquet")
    duck = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), count(DISTINCT date) FROM read_parquet('{pattern}', hive_partitioning=true)"
        )
        .fetchall()
    )
    assert duck[0][0] == count and duck[0][1] > 1
    frame = (
        pl.scan_parquet(pattern, hive_partitioning=True).select(pl.len(), pl.col("published_at")).collect()
    )
    assert frame.height == count
    assert frame.schema["published_at"] == pl.Datetime("us", "UTC")


def test_near_copies_are_kept_and_flagged(first_crawl: tuple[str, Path]) -> None:
    """Both texts are kept; whichever of the pair was archived second points at the other."""
    _, dataset = first_crawl
    rows = {
        r["article_id"]: r["near_duplicate_of"]
        for r in read_rows(dataset).select(["article_id", "near_duplicate_of"]).to_pylist()
    }
    near = Site(articles=ARTICLES).near_copies()
    assert near, "the replica should contain near-copies"
    for copy_id, original_id in near.items():
        assert (rows[copy_id], rows[original_id]) in ((original_id, None), (None, copy_id))


def test_manifest_describes_the_run(first_crawl: tuple[str, Path]) -> None:
    _, dataset = first_crawl
    manifests = sorted((dataset / "_runs").glob("*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    assert manifest["status"] == "finished"
    text = json.dumps(manifest)
    assert "duplicate_content" in text


def test_rerun_over_unchanged_site_writes_nothing_and_costs_few_requests(
    first_crawl: tuple[str, Path],
) -> None:
    site, dataset = first_crawl
    before = read_rows(dataset).num_rows
    result = crawl(site, dataset, args={"refresh_days": "0"})
    assert result.returncode == 0, result.log[-4000:]
    assert read_rows(dataset).num_rows == before
    assert result.stats.get("parquet/rows_written", 0) == 0
    assert result.stats["downloader/request_count"] <= 30


def test_lock_held_makes_a_second_run_exit_non_zero(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with held_by_subprocess(dataset), serve_replica(articles=20) as site:
        result = crawl(site, dataset)
    assert result.returncode != 0
    assert "holder-run" in result.log


def test_edits_become_version_2_and_new_articles_are_added(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=ARTICLES) as site:
        assert crawl(site, dataset, args={"refresh_days": "0"}).returncode == 0
    revised = Site(articles=ARTICLES + 20, revision=1)
    with serve_replica(articles=ARTICLES + 20, revision=1) as site:
        result = crawl(site, dataset, args={"full": "1"})
        assert result.returncode == 0, result.log[-4000:]
    table = read_rows(dataset)
    versions = table.group_by("article_id").aggregate([("version", "max")]).to_pylist()
    edited = {r["article_id"] for r in versions if r["version_max"] == 2}
    old_ids = {r["article_id"] for r in versions if r["article_id"] in _ids(Site(articles=ARTICLES))}
    assert edited == revised.edited_ids(since_revision=0) & old_ids
    assert_complete([r["article_id"] for r in versions], revised)


def test_gb_then_b5_into_one_dataset_never_duplicates_an_article(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=40) as site:
        assert crawl(site, dataset, args={"editions": "gb"}).returncode == 0
        result = crawl(site, dataset, args={"editions": "b5", "full": "1"})
        assert result.returncode == 0, result.log[-4000:]
    ids = read_rows(dataset).column("article_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert result.stats.get("parquet/rows_written", 0) == 0


def test_sigkill_mid_crawl_leaves_no_partial_file_and_the_rerun_completes(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=200) as site:
        settings = {
            "PARQUET_URI": dataset,
            "PARQUET_FLUSH_ROWS": "20",
            "CONCURRENT_REQUESTS": "2",
            "AUTOTHROTTLE_ENABLED": "0",
            "DOWNLOAD_DELAY": "0",
        }
        victim = start_crawl(site, settings=settings, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(visible_files(dataset)) < 3:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        committed = read_rows(dataset).num_rows
        assert committed > 0
        assert all(p.suffix == ".parquet" for p in visible_files(dataset))
        result = crawl(site, dataset, args={"refresh_days": "0"})
        assert result.returncode == 0, result.log[-4000:]
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=200))


def test_after_an_interrupted_run_paging_continues_past_known_articles(tmp_path: Path) -> None:
    """A page of known articles means "the rest is archived" only if the last run finished."""
    site_model = Site(articles=ARTICLES)
    since_iso = _oldest_url_date_on_first_pages(site_model)
    runs = {}
    for name in ("finished", "interrupted"):
        dataset = tmp_path / name / "articles"
        with serve_replica(articles=ARTICLES) as site:
            assert crawl(site, dataset, args={"since": since_iso}).returncode == 0
            if name == "interrupted":
                manifest = next((dataset / "_runs").glob("*.json"))
                document = json.loads(manifest.read_text(encoding="utf-8"))
                manifest.write_text(json.dumps({**document, "status": "interrupted"}), encoding="utf-8")
            runs[name] = crawl(site, dataset, args={"refresh_days": "0"})
            assert runs[name].returncode == 0, runs[name].log[-3000:]
        runs[name].stats["rows"] = read_rows(dataset).num_rows
    assert "paging past known articles" in runs["interrupted"].log
    assert_complete(
        read_rows(tmp_path / "interrupted" / "articles").column("article_id").to_pylist(), site_model
    )
    assert runs["finished"].stats["rows"] < runs["interrupted"].stats["rows"]


def _oldest_url_date_on_first_pages(site: Site) -> str:
    """A `since` that archives every channel's first list page, and not all of the older pages."""
    dates = []
    for channel in site.channels():
        path = f"/gb/{channel}.htm"
        html = site.get(path).body.decode("utf-8")
        for url in page.scan(html, f"https://www.epochtimes.com{path}").articles:
            ref = parse_article_url(url)
            assert ref is not None
            dates.append(ref.url_date)
    return min(dates).isoformat()
