"""The WARC writer and reader without Scrapy: hidden until committed, rotation, the sweep of dead writers' files,
S3 (moto server), and datasets written before the capture columns existed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from crawler.items import ArticleItem
from pipelines.dataset.compact import compact
from pipelines.dataset.schema import (
    ARTICLE_SCHEMA,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    conform,
    items_to_table,
)
from pipelines.dataset.warc import (
    Exchange,
    WarcWriter,
    expand_paths,
    indexed_records,
    read_capture,
    read_captures,
    records,
    remove_stale_temporaries,
)
from tests.services import S3Server, s3_server

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def exchange(n: int, body: bytes | None = None) -> Exchange:
    return Exchange(
        url=f"http://127.0.0.1:8000/gb/26/11/20/n{n}.htm",
        method="GET",
        request_headers=[(b"User-Agent", b"test"), (b"Accept-Encoding", b"gzip")],
        protocol="HTTP/1.1",
        status=200,
        response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), (b"Transfer-Encoding", b"chunked")],
        body=body if body is not None else f"<html><p>文章 {n}</p></html>".encode() * 50,
        date=START + timedelta(seconds=n),
    )


def test_records_are_hidden_until_committed_and_read_back_as_written(tmp_path: Path) -> None:
    writer = WarcWriter(pafs.LocalFileSystem(), str(tmp_path), "run1", max_bytes=1 << 30)
    refs = [writer.write(exchange(n)) for n in range(3)]
    assert [p.name for p in tmp_path.iterdir()] == [".capture-run1-1.warc.gz.tmp"]
    assert writer.commit() == [str(tmp_path / "capture-run1-1.warc.gz")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "capture-run1-1.warc.gz",
        "capture-run1-1.warc.gz.cdxj",
    ]
    assert writer.commit() == [], "nothing new to commit"
    for n, ref in enumerate(refs):
        capture = read_capture(ref.file, ref.offset)
        assert (capture.url, capture.status, capture.ref.date) == (exchange(n).url, 200, exchange(n).date)
        assert capture.body == exchange(n).body
        assert ("Content-Type", "text/html; charset=utf-8") in capture.headers
        assert all(name.lower() != "transfer-encoding" for name, _ in capture.headers)


def test_files_rotate_by_size_and_are_read_in_capture_order(tmp_path: Path) -> None:
    writer = WarcWriter(pafs.LocalFileSystem(), str(tmp_path), "run1", max_bytes=1)
    for n in (5, 1, 4, 2, 3):  # written out of order: the reader orders by WARC-Date
        writer.write(exchange(n))
    files = writer.commit()
    assert len(files) == 5, "each record pair is over the size: one file each"
    captures = list(read_captures(list(reversed(files)), lambda r: r.rec_type == "response"))
    assert [c.url for c in captures] == [exchange(n).url for n in (1, 2, 3, 4, 5)]


def test_the_sweep_removes_dead_writers_files_and_spares_live_ones(tmp_path: Path) -> None:
    live = WarcWriter(pafs.LocalFileSystem(), str(tmp_path), "live", max_bytes=1 << 30)
    live.write(exchange(1))
    dead = tmp_path / ".capture-dead-1.warc.gz.tmp"
    dead.write_bytes(b"half a record")  # what a SIGKILL leaves: nobody holds its lock any more
    dead_index = tmp_path / ".capture-dead-0.warc.gz.cdxj.tmp"
    dead_index.write_bytes(b"half an index")
    other = tmp_path / ".part-x.parquet.tmp"
    other.write_bytes(b"not ours")
    assert sorted(remove_stale_temporaries(pafs.LocalFileSystem(), str(tmp_path))) == [
        str(dead_index),
        str(dead),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".capture-live-1.warc.gz.tmp",
        ".part-x.parquet.tmp",
    ]
    assert live.commit() == [str(tmp_path / "capture-live-1.warc.gz")]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def test_on_s3_a_file_is_uploaded_hidden_then_copied_to_its_name(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    bucket = s3.new_bucket()
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/warc")
    writer = WarcWriter(fs, root, "run1", max_bytes=1 << 30)
    ref = writer.write(exchange(7))
    assert ref.file == f"s3://{bucket}/warc/capture-run1-1.warc.gz"
    assert fs.get_file_info(f"{root}/capture-run1-1.warc.gz").type == pafs.FileType.NotFound
    assert writer.commit() == [ref.file]
    names = sorted(i.base_name for i in fs.get_file_info(pafs.FileSelector(root, recursive=True)))
    assert names == ["capture-run1-1.warc.gz", "capture-run1-1.warc.gz.cdxj"], "the hidden uploads are gone"
    assert os.environ["AWS_ENDPOINT_URL"] == s3.endpoint
    assert read_capture(ref.file, ref.offset).body == exchange(7).body
    assert [offset for offset, _ in indexed_records(ref.file) or []] == [
        offset for offset, _ in records(ref.file)
    ]
    fs.delete_file(f"{root}/capture-run1-1.warc.gz.cdxj")
    with caplog.at_level(logging.WARNING):
        assert indexed_records(ref.file) is None
    assert not caplog.records, "a file without an index is read by a scan, quietly"
    assert expand_paths(f"s3://{bucket}/warc") == [ref.file]


def _item(article_id: str, **changes: object) -> ArticleItem:
    base: dict[str, object] = {
        "article_id": article_id,
        "url": f"https://www.epochtimes.com/gb/26/11/20/{article_id}.htm",
        "edition": "gb",
        "language": "zh-Hans",
        "title": "标题",
        "published_at": START,
        "date_source": "page",
        "updated_at": None,
        "section": None,
        "categories": [],
        "tags": [],
        "authors": [],
        "editor": None,
        "dateline": None,
        "body_text": "正文",
        "body_html": "<p>正文</p>",
        "images": [],
        "char_count": 2,
        "crawled_at": START,
        "version": 1,
        "content_hash": "0" * 64,
        "simhash": 0,
        "run_id": "old",
    }
    return ArticleItem(**{**base, **changes})  # type: ignore[arg-type]


def test_a_file_from_before_the_capture_columns_reads_with_nulls_and_compacts_with_new_ones(
    tmp_path: Path,
) -> None:
    """schema_version 1 files (no warc_file, warc_offset) next to new ones: conform() and compaction fill nulls."""
    partition = tmp_path / "date=2026-11-20"
    partition.mkdir()
    old = items_to_table([_item("n1")]).drop_columns(["warc_file", "warc_offset"])
    old = old.replace_schema_metadata({SCHEMA_VERSION_KEY: b"1"})
    pq.write_table(old, partition / "part-old-1.parquet")
    new = items_to_table([_item("n2", warc_file="/w/capture-x-1.warc.gz", warc_offset=512, run_id="new")])
    pq.write_table(new, partition / "part-new-1.parquet")
    assert conform(old).column("warc_file").to_pylist() == [None]
    assert conform(old).schema == ARTICLE_SCHEMA
    compact(pafs.LocalFileSystem(), str(tmp_path), "c1", compression="zstd", row_group_size=100)
    (merged,) = partition.glob("*.parquet")
    table = pq.read_table(merged)
    by_id = {r["article_id"]: r for r in table.to_pylist()}
    assert (by_id["n1"]["warc_file"], by_id["n1"]["warc_offset"]) == (None, None)
    assert (by_id["n2"]["warc_file"], by_id["n2"]["warc_offset"]) == ("/w/capture-x-1.warc.gz", 512)
    assert table.schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    assert isinstance(table, pa.Table)
