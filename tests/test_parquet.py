"""ParquetPipeline: real part files read back by pyarrow.dataset, DuckDB and polars."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.pipelines import ItemPipelineManager
from scrapy.utils.test import get_crawler

from crawler.extensions.health import HealthConfigError
from crawler.extensions.run import RunLifecycle
from crawler.extract.model import Image
from crawler.items import ArticleItem
from pipelines.dataset.layout import partition_dir
from pipelines.dataset.manifest import read_manifest
from pipelines.dataset.schema import (
    ARTICLE_SCHEMA,
    DICTIONARY_COLUMNS,
    PLAIN_COLUMNS,
    SCHEMA_VERSION,
    dictionary_paths,
    statistics_paths,
)
from pipelines.dataset.storage import OutputNotWritableError
from pipelines.parquet import ParquetConfigError, ParquetPipeline, text_bytes

BEIJING = timezone(timedelta(hours=8))
DAY_ONE = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


class MinimalSpider(Spider):
    name = "minimal"


def make_item(number: int, published_at: datetime = DAY_ONE, **overrides: Any) -> ArticleItem:
    """An item as it leaves the dedupe pipeline: hashes and version filled."""
    values: dict[str, Any] = {
        "article_id": f"n{number}",
        "url": f"https://www.epochtimes.com/gb/24/3/1/n{number}.htm",
        "edition": "gb",
        "language": "zh-Hans",
        "title": f"标题 {number}",
        "published_at": published_at,
        "date_source": "page",
        "body_text": f"第一段 {number}\n第二段",
        "crawled_at": datetime(2024, 3, 2, tzinfo=UTC),
        "categories": ["大陆新闻"],
        "authors": ["李明"] if number % 2 else [],
        "images": [Image(url=f"https://i.epochtimes.com/{number}.jpg", caption="图", credit=None)],
        "char_count": 8,
        "content_hash": f"{number:064x}",
        "simhash": -(2**63) + number,
        "version": 1,
    }
    values.update(overrides)
    return ArticleItem(**values)


# The exporter and the run it writes (crawler.extensions.run), as the project's settings enable them.
RUN_SETTINGS = {"ITEM_PIPELINES": {ParquetPipeline: 300}, "EXTENSIONS": {RunLifecycle: 100}}


def make_pipeline(root: Path, **settings: Any) -> ParquetPipeline:
    crawler = get_crawler(MinimalSpider, {"PARQUET_URI": str(root), **RUN_SETTINGS, **settings})
    crawler.spider = MinimalSpider.from_crawler(crawler)
    crawler.crawling = True  # as inside a crawl: a run closed while it is False was stopped (SIGTERM)
    return ParquetPipeline.from_crawler(crawler)


def close_run(pipeline: ParquetPipeline) -> None:
    """As Scrapy closes a crawl: the pipelines' close_spider, then the spider_closed signal (the run closes)."""
    pipeline.close_spider()
    pipeline.run.spider_closed()


def write_items(root: Path, items: Iterable[ArticleItem], **settings: Any) -> ParquetPipeline:
    """One whole run: open, every item, close."""
    pipeline = make_pipeline(root, **settings)
    pipeline.open_spider()
    for item in items:
        pipeline.process_item(item)
    close_run(pipeline)
    return pipeline


def stats_of(pipeline: ParquetPipeline) -> dict[str, Any]:
    crawler: Crawler = pipeline.crawler
    assert crawler.stats is not None
    stats: dict[str, Any] = crawler.stats.get_stats()
    return stats


def duck(query: str) -> duckdb.DuckDBPyRelation:
    relation = duckdb.sql(query)
    assert relation is not None, query
    return relation


def data_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def hidden_files(root: Path) -> list[Path]:
    return list(root.rglob(".*"))


@pytest.fixture
def two_days(tmp_path: Path) -> tuple[Path, ParquetPipeline]:
    root = tmp_path / "articles"
    items = [make_item(1), make_item(2), make_item(3, DAY_ONE + timedelta(days=1))]
    return root, write_items(root, items)


def test_pyarrow_reads_exact_schema_and_partition_column(two_days: tuple[Path, ParquetPipeline]) -> None:
    root, _ = two_days
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 3
    assert table.schema.names == [*ARTICLE_SCHEMA.names, "date"]
    for field in ARTICLE_SCHEMA:
        assert table.schema.field(field.name).type == field.type, field.name
    assert sorted(table.column("date").to_pylist()) == ["2024-03-01", "2024-03-01", "2024-03-02"]
    row = table.filter(pads.field("article_id") == "n1").to_pylist()[0]
    assert row["published_at"] == DAY_ONE
    assert row["images"] == [{"url": "https://i.epochtimes.com/1.jpg", "caption": "图", "credit": None}]
    assert row["simhash"] == -(2**63) + 1


def column_chunks(path: Path) -> list[pq.ColumnChunkMetaData]:
    """The column chunks of a part file's first row group, as its footer describes them."""
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    return [row_group.column(i) for i in range(row_group.num_columns)]


def test_every_column_is_either_dictionary_encoded_or_plain() -> None:
    assert set(ARTICLE_SCHEMA.names) == DICTIONARY_COLUMNS | PLAIN_COLUMNS
    assert not DICTIONARY_COLUMNS & PLAIN_COLUMNS


def test_part_files_dictionary_encode_the_repeating_columns_alone(
    two_days: tuple[Path, ParquetPipeline],
) -> None:
    root, _ = two_days
    for path in data_files(root):
        encoded = {
            column.path_in_schema for column in column_chunks(path) if "RLE_DICTIONARY" in column.encodings
        }
        assert encoded == set(dictionary_paths(ARTICLE_SCHEMA)), path
        assert "categories.list.element" in encoded  # a list column's values, not the list


def test_part_files_have_statistics_for_every_column_but_the_article_text(
    two_days: tuple[Path, ParquetPipeline],
) -> None:
    root, _ = two_days
    for path in data_files(root):
        summarised = {column.path_in_schema for column in column_chunks(path) if column.is_stats_set}
        assert summarised == set(statistics_paths(ARTICLE_SCHEMA)), path
        assert {"published_at", "article_id", "categories.list.element"} <= summarised
        assert not {"body_text", "body_html", "title"} & summarised


def test_files_carry_schema_version_and_no_partition_column(two_days: tuple[Path, ParquetPipeline]) -> None:
    root, _ = two_days
    for path in data_files(root):
        schema = pq.read_schema(path)
        assert schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
        assert "date" not in schema.names
        assert schema.equals(ARTICLE_SCHEMA)  # nullability included
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_duckdb_reads_hive_dataset(two_days: tuple[Path, ParquetPipeline]) -> None:
    root, _ = two_days
    relation = duck(f"select * from read_parquet('{root}/**/*.parquet', hive_partitioning=true)")
    types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["version"] == "INTEGER"
    assert types["simhash"] == "BIGINT"
    assert types["images"] == "STRUCT(url VARCHAR, caption VARCHAR, credit VARCHAR)[]"
    assert types["date"] == "DATE"
    counts = duck(
        f"select cast(date as varchar), count(*) from read_parquet('{root}/**/*.parquet', hive_partitioning=true) "
        "group by all order by 1"
    ).fetchall()
    assert counts == [("2024-03-01", 2), ("2024-03-02", 1)]


def test_polars_reads_hive_dataset(two_days: tuple[Path, ParquetPipeline]) -> None:
    root, _ = two_days
    frame = pl.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True).collect()
    assert frame.height == 3
    assert frame.schema["published_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["version"] == pl.Int32
    assert frame.schema["authors"] == pl.List(pl.String)
    assert sorted(str(d) for d in frame["date"].to_list()) == ["2024-03-01", "2024-03-01", "2024-03-02"]


def test_run_id_names_files_and_rows_and_no_hidden_file_is_left(
    two_days: tuple[Path, ParquetPipeline],
) -> None:
    root, pipeline = two_days
    run_id = stats_of(pipeline)["run/id"]
    assert RUN_ID_PATTERN.match(run_id)
    names = sorted(p.relative_to(root).as_posix() for p in data_files(root))
    assert names == [f"date=2024-03-01/part-{run_id}-1.parquet", f"date=2024-03-02/part-{run_id}-2.parquet"]
    rows = pads.dataset(root, format="parquet", partitioning="hive").to_table(columns=["run_id"])
    assert set(rows.column("run_id").to_pylist()) == {run_id}
    assert hidden_files(root) == []


def test_partition_is_the_utc_date_of_publication() -> None:
    just_after_midnight_in_beijing = datetime(2024, 1, 1, 2, 0, tzinfo=BEIJING)
    assert partition_dir("date", just_after_midnight_in_beijing) == "date=2023-12-31"
    assert partition_dir("month", just_after_midnight_in_beijing) == "month=2023-12"


def test_month_partitions(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    write_items(root, [make_item(1), make_item(2, DAY_ONE + timedelta(days=40))], PARQUET_PARTITION="month")
    assert sorted(p.parent.name for p in data_files(root)) == ["month=2024-03", "month=2024-04"]
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("month").to_pylist()) == ["2024-03", "2024-04"]


def test_flushes_every_flush_rows_and_at_close(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    pipeline = make_pipeline(root, PARQUET_FLUSH_ROWS=2)
    pipeline.open_spider()
    for number in range(5):
        pipeline.process_item(make_item(number))
    assert len(data_files(root)) == 2
    close_run(pipeline)
    assert len(data_files(root)) == 3
    stats = stats_of(pipeline)
    assert stats["parquet/rows_written"] == 5
    assert stats["parquet/files_written"] == 3


def test_flushes_when_the_buffered_text_reaches_flush_bytes(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    items = [make_item(number, body_text="正文" * 5_000) for number in range(5)]
    pipeline = make_pipeline(root, PARQUET_FLUSH_BYTES=2 * text_bytes(items[0]))
    pipeline.open_spider()
    for item in items:
        pipeline.process_item(item)
    assert len(data_files(root)) == 2  # after the second and the fourth item, far below PARQUET_FLUSH_ROWS
    close_run(pipeline)
    assert stats_of(pipeline)["parquet/rows_written"] == 5
    assert len(data_files(root)) == 3


def test_coverage_counts_non_null_non_empty_values(two_days: tuple[Path, ParquetPipeline]) -> None:
    _, pipeline = two_days
    stats = stats_of(pipeline)
    assert stats["coverage/article_id"] == 3
    assert stats["coverage/authors"] == 2  # odd numbers have an author
    assert stats["coverage/images"] == 3
    assert stats["coverage/editor"] == 0
    assert stats["coverage/updated_at"] == 0


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PARQUET_PARTITION", "week"),
        ("PARQUET_FLUSH_ROWS", "0"),
        ("PARQUET_FLUSH_ROWS", "many"),
        ("PARQUET_FLUSH_BYTES", "0"),
        ("PARQUET_FLUSH_BYTES", "32MB"),
        ("PARQUET_ROW_GROUP_SIZE", "-5"),
        ("PARQUET_COMPRESSION", "zip"),
    ],
)
def test_bad_settings_are_rejected_naming_the_setting(tmp_path: Path, setting: str, value: str) -> None:
    with pytest.raises(ParquetConfigError, match=setting):
        make_pipeline(tmp_path / "articles", **{setting: value})
    assert not (tmp_path / "articles").exists()


@pytest.mark.parametrize("value", ["1.5", "-0.1", "lots"])
def test_bad_health_ratio_is_rejected(tmp_path: Path, value: str) -> None:
    with pytest.raises(HealthConfigError, match="HEALTH_MAX_FAILED_RATIO"):
        make_pipeline(tmp_path / "articles", HEALTH_MAX_FAILED_RATIO=value)


def test_unwritable_root_fails_at_open_before_anything_is_written(tmp_path: Path) -> None:
    # Tests run as root, which chmod does not stop: a root below a regular file cannot be created by anyone.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    root = blocker / "articles"
    pipeline = make_pipeline(root)
    with pytest.raises(OutputNotWritableError, match=re.escape(str(root))):
        pipeline.open_spider()
    close_run(pipeline)  # Scrapy still closes the pipelines after a failed open: must be harmless
    assert blocker.read_text() == "x"
    assert list(tmp_path.iterdir()) == [blocker]


def test_stale_temporary_files_are_removed_at_open(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    stale = root / "date=2024-03-01" / ".part-20240101T000000Z-abcdef-1.parquet.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    write_items(root, [make_item(1)])
    assert not stale.exists()
    assert len(data_files(root)) == 1


def test_invalid_item_is_dropped_alone(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    pipeline = make_pipeline(root)
    pipeline.open_spider()
    with pytest.raises(DropItem, match="naive datetime"):
        pipeline.process_item(make_item(1, datetime(2024, 3, 1)))  # naive: the bug under test
    with pytest.raises(DropItem, match="version"):
        pipeline.process_item(make_item(2, version=None))
    pipeline.process_item(make_item(3))
    close_run(pipeline)
    stats = stats_of(pipeline)
    assert stats["articles/dropped/invalid_row"] == 2
    assert stats["parquet/rows_written"] == 1


def test_write_failure_at_close_fails_health_and_leaves_no_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    pipeline = make_pipeline(root)
    pipeline.open_spider()
    pipeline.process_item(make_item(1))
    # A regular file where the partition directory must go makes the flush fail for real.
    (root / "date=2024-03-01").write_text("in the way")
    close_run(pipeline)
    stats = stats_of(pipeline)
    assert stats["health/ok"] == 0
    assert "could not be written" in stats["health/reasons"][0]
    assert data_files(root) == []
    assert hidden_files(root) == []
    manifest = read_manifest(pipeline.run.fs, pipeline.run.root, pipeline.run.run_id)
    assert manifest is not None and manifest["health"]["ok"] is False
    assert manifest["status"] == "failed"


def test_non_article_items_pass_through(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path / "articles")
    pipeline.open_spider()
    other = {"kind": "not an article"}
    assert pipeline.process_item(other) is other
    close_run(pipeline)


def test_table_matches_items_exactly(tmp_path: Path) -> None:
    item = make_item(7, updated_at=datetime(2024, 3, 1, 12, tzinfo=BEIJING), editor="王五", tags=["a", "b"])
    write_items(tmp_path / "articles", [item])
    row = pq.read_table(data_files(tmp_path / "articles")[0]).to_pylist()[0]
    assert row["updated_at"] == datetime(2024, 3, 1, 4, tzinfo=UTC)
    assert row["editor"] == "王五"
    assert row["tags"] == ["a", "b"]
    assert row["version"] == 1
    assert pa.types.is_int32(pq.read_schema(data_files(tmp_path / "articles")[0]).field("char_count").type)


def test_scrapy_builds_the_pipeline_without_deprecation_warnings(tmp_path: Path) -> None:
    # Warnings are errors here: a spider argument on open/close/process_item would fail this.
    settings = {"PARQUET_URI": str(tmp_path), **RUN_SETTINGS}
    manager = ItemPipelineManager.from_crawler(get_crawler(MinimalSpider, settings))
    assert [type(m) for m in manager.middlewares] == [ParquetPipeline]


# Items come from a callback: Scrapy 2.19 does not finish closing a spider early while start() yields items.
ITEMS_SPIDER = """
import warnings

import scrapy
from scrapy.exceptions import ScrapyDeprecationWarning

from tests.test_parquet import make_item

warnings.simplefilter("error", ScrapyDeprecationWarning)


class ItemsSpider(scrapy.Spider):
    name = "items"
    start_urls = ["data:,items"]

    def parse(self, response):
        for number in range(5):
            yield make_item(number)
"""


def crawl_items(tmp_path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """A real Scrapy crawl of five items through the exporter alone, deprecation warnings as errors."""
    spider = tmp_path / "items_spider.py"
    spider.write_text(ITEMS_SPIDER)
    pipelines = json.dumps({"pipelines.parquet.ParquetPipeline": 300})
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider), "-s", f"PARQUET_URI={root}"]
    command += ["-s", f"ITEM_PIPELINES={pipelines}", "-s", "PARQUET_FLUSH_ROWS=2", "-s", "ROBOTSTXT_OBEY=0"]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_real_crawl_writes_every_item(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    result = crawl_items(tmp_path, root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr
    assert pads.dataset(root, format="parquet", partitioning="hive").count_rows() == 5
    assert "'parquet/files_written': 3" in result.stderr
    assert "'health/ok': 1" in result.stderr


def test_real_crawl_stops_when_the_output_fails_midway(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    # A regular file where the partition directory must go: the first flush fails for real.
    (root / "date=2024-03-01").write_text("in the way")
    result = crawl_items(tmp_path, root)
    assert "Cannot write the dataset" in result.stderr
    assert "Closing spider (output_error)" in result.stderr
    assert "'health/ok': 0" in result.stderr
    assert data_files(root) == []
    assert hidden_files(root) == []
