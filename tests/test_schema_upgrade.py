"""A dataset written before schema version 2 (no `extractor` column) keeps working (issue 11): the archive index
reads it, a crawl appends to it, `scrapy compact` merges old and new files into the current schema, and the
old rows read `extractor` as null. The README's reader examples on such a dataset: tests/test_readme.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pipelines.dataset.schema import ARTICLE_SCHEMA, SCHEMA_VERSION, conform, schema_version_of
from tests.crawling import CrawlResult, crawl
from tests.old_schema import OLD_VERSION, V1_SCHEMA, write_as_version_1
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_compact import scrapy_compact

BEFORE, AFTER = 30, 40  # articles per edition at the first crawl, then at the second (10 newer on top)
SITE_PARSERS = {"current", "legacy", "pre2013"}


@dataclass
class Mixed:
    root: Path
    old_files: dict[Path, bytes]
    second: CrawlResult


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    """A crawl written in schema version 1, then a crawl of a grown site with today's code on top of it."""
    root = tmp_path_factory.mktemp("upgrade") / "articles"
    with serve_replica(articles=BEFORE) as site:
        assert crawl(site, root).returncode == 0
    old_files = {path: path.read_bytes() for path in write_as_version_1(root)}
    with serve_replica(articles=AFTER) as site:
        second = crawl(site, root)
    yield Mixed(root, old_files, second)


def _rows(root: Path) -> list[dict[str, object]]:
    files = sorted(root.rglob("part-*.parquet"))
    return [row for path in files for row in conform(pq.read_table(path, partitioning=None)).to_pylist()]


def _versions(root: Path) -> dict[Path, str | None]:
    return {path: schema_version_of(pq.read_schema(path)) for path in sorted(root.rglob("part-*.parquet"))}


def test_conform_adds_the_new_column_as_null_and_keeps_the_rest() -> None:
    old = pa.Table.from_pylist([], schema=V1_SCHEMA)
    conformed = conform(old)
    assert conformed.schema.equals(ARTICLE_SCHEMA) and conformed.num_rows == 0
    with pytest.raises(ValueError, match="required column 'article_id'"):
        conform(old.drop_columns(["article_id"]))


@pytest.mark.slow
def test_a_crawl_appends_to_an_old_schema_dataset_without_touching_it(mixed: Mixed) -> None:
    assert mixed.second.returncode == 0, mixed.second.log[-3000:]
    for path, content in mixed.old_files.items():
        assert path.read_bytes() == content
    versions = _versions(mixed.root)
    new_files = [path for path, version in versions.items() if version == SCHEMA_VERSION]
    assert set(versions.values()) == {OLD_VERSION, SCHEMA_VERSION} and new_files
    # The archive index read the old files: only the newer articles were fetched, none stored twice.
    rows = _rows(mixed.root)
    keys = [(row["article_id"], row["version"]) for row in rows]
    assert len(keys) == len(set(keys))
    expected = {row["article_id"] for row in Site(articles=AFTER).truth() if row["edition"] == "gb"}
    assert {row["article_id"] for row in rows} == expected
    assert int(mixed.second.stats["articles/requested"]) < AFTER - BEFORE + 5
    new_rows = [row for path in new_files for row in pq.read_table(path, partitioning=None).to_pylist()]
    assert new_rows and {row["extractor"] for row in new_rows} <= SITE_PARSERS


@pytest.mark.slow
def test_scrapy_compact_merges_old_and_new_files_into_the_current_schema(
    mixed: Mixed, tmp_path: Path
) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    for path in mixed.root.rglob("*"):
        target = root / path.relative_to(mixed.root)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    before = sorted(_rows(root), key=lambda row: (str(row["article_id"]), int(str(row["version"]))))
    done = scrapy_compact(root)
    assert done.returncode == 0, done.stderr
    assert set(_versions(root).values()) == {SCHEMA_VERSION}
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    after = sorted(
        table.drop_columns(["date"]).to_pylist(),
        key=lambda row: (str(row["article_id"]), int(str(row["version"]))),
    )
    assert after == before
    old_ids = {
        row["article_id"]
        for path in mixed.old_files
        for row in pq.read_table(path, columns=["article_id"], partitioning=None).to_pylist()
    }
    assert {row["extractor"] for row in after if row["article_id"] in old_ids} == {None}
    assert {row["extractor"] for row in after if row["article_id"] not in old_ids} <= SITE_PARSERS
    assert {(row["warc_file"], row["warc_offset"]) for row in after if row["article_id"] in old_ids} == {
        (None, None)
    }
    assert all(row["warc_file"] for row in after if row["article_id"] not in old_ids)
