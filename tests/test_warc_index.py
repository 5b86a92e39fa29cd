"""The index beside each WARC file the writer commits (``<file>.cdxj``): what it holds, and that the order of a
file's captures read from it is the scan's (same captures, same order, same records skipped for the same
reasons), with or without it, whole or damaged."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

from crawler.spiders.articles import capture_skip_reason
from pipelines.dataset import warc
from pipelines.dataset.warc import INDEX_SUFFIX, CaptureRef, Exchange, WarcWriter
from tests.crawling import crawl
from tests.replica.testing import serve_replica

SITE = "http://127.0.0.1:8000"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ARTICLE = SITE + "/gb/26/11/20/n{}.htm"


def exchange(n: int, url: str | None = None, status: int = 200, protocol: str = "HTTP/1.1") -> Exchange:
    return Exchange(
        url=url or ARTICLE.format(n),
        method="GET",
        request_headers=[(b"User-Agent", b"test")],
        protocol=protocol,
        status=status,
        response_headers=[(b"Content-Type", b"text/html; charset=utf-8")],
        body=f"<html><p>文章 {n}</p></html>".encode(),
        date=START + timedelta(seconds=n, microseconds=n * 1001),
    )


# Every reason the record filter gives, a Wayback replay (its capture date is the replay's, not WARC-Date's) and
# what the index leaves to the file (a target URI with a space, a status line without a protocol).
VARIED = [
    exchange(5),
    exchange(1, status=301),
    exchange(4, status=404),
    exchange(2, url="http://elsewhere.example/gb/26/11/20/n2.htm"),
    exchange(3, url=SITE + "/about.html"),
    exchange(9, url=f"https://web.archive.org/web/20200101000000id_/{ARTICLE.format(9)}"),
    exchange(6, url="file:///tmp/n6.htm"),
    exchange(7, protocol=""),
    exchange(0),
    exchange(8, url=SITE + "/gb/26/11/20/n 8.htm"),
    exchange(10),
]


def write(root: Path, exchanges: list[Exchange], max_bytes: int = 1 << 30) -> list[str]:
    writer = WarcWriter(pafs.LocalFileSystem(), str(root), "run1", max_bytes)
    for one in exchanges:
        writer.write(one)
    return writer.commit()


def ordered(uri: str, site: str = SITE) -> tuple[list[CaptureRef], Counter[str], list[type]]:
    """:func:`warc.file_in_order` with the articles spider's filter, as rebuild calls it; and the classes of the
    records the filter was given."""
    skipped: Counter[str] = Counter()
    given: list[type] = []

    def keep(record: Any) -> bool:
        reason = capture_skip_reason(record, site)
        given.append(type(record))  # once judged: a record the index cannot answer for is judged by the scan
        if reason is not None:
            skipped[reason] += 1
        return reason is None

    return warc.file_in_order(uri, keep), skipped, given


def index_less_copy(uri: str, tmp_path: Path) -> str:
    """The file alone, under its name: what the scan reads."""
    copy = tmp_path / "alone" / Path(uri).name
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(uri, copy)
    return str(copy)


def scanned(uri: str, tmp_path: Path, site: str = SITE) -> tuple[list[CaptureRef], Counter[str]]:
    """What the scan finds (in :func:`index_less_copy`)."""
    refs, skipped, given = ordered(index_less_copy(uri, tmp_path), site)
    assert warc.IndexedRecord not in given
    return [replace(ref, file=uri) for ref in refs], skipped


def test_the_writer_commits_a_cdxj_index_of_every_record_beside_each_file(tmp_path: Path) -> None:
    files = write(tmp_path, VARIED[:4], max_bytes=1500)
    assert len(files) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [Path(f).name for f in files] + [Path(f).name + INDEX_SUFFIX for f in files]
    )
    for uri in files:
        lines = Path(uri + INDEX_SUFFIX).read_text(encoding="utf-8").splitlines()
        assert lines == sorted(lines), "sorted, as replay tools search it"
        entries = [(line.split(" ", 2), json.loads(line.split(" ", 2)[2])) for line in lines]
        in_file = {offset: record for offset, record in warc.records(uri)}
        assert sorted(int(fields["offset"]) for _, fields in entries) == sorted(in_file)
        for (key, timestamp, _), fields in entries:
            record = in_file[int(fields["offset"])]
            assert fields["filename"] == Path(uri).name
            assert fields["url"] == warc.target_uri(record)
            assert key == warc.surt(fields["url"])
            assert fields["warc_type"] == record.rec_type
            assert fields["warc_date"] == record.rec_headers.get_header("WARC-Date")
            assert timestamp == fields["warc_date"][:19].replace("-", "").replace("T", "").replace(":", "")
            if record.rec_type == "response":
                assert (fields["status"], fields["mime"]) == (str(warc.status_code(record)), "text/html")


def test_the_surt_key_reverses_the_host_and_drops_www_default_ports_and_fragments() -> None:
    assert warc.surt("https://www.Example.com:443/A/b.htm?x=1#top") == "com,example)/a/b.htm?x=1"
    assert warc.surt("http://127.0.0.1:8000") == "1,0,0,127:8000)/"
    assert warc.surt("http://user@example.com/a b") == "com,example)/a%20b"


def test_the_order_from_the_index_is_the_scans(tmp_path: Path) -> None:
    (uri,) = write(tmp_path, VARIED)
    refs, skipped, given = ordered(uri)
    assert (refs, skipped) == scanned(uri, tmp_path)
    assert {"redirect", "http_error", "other_site", "not_article", "record_request"} <= set(skipped)
    assert refs[0].date == datetime(2020, 1, 1, tzinfo=UTC), "a Wayback replay's date is its capture's"
    # Seven exchanges, a response and a request each, up to the status line without a protocol:
    assert given[:14] == [warc.IndexedRecord] * 14
    assert warc.IndexedRecord not in given[14:], "which the scan reads, from that record on"
    assert len(given) == 2 * len(VARIED), "each record judged once, from the index or by the scan"


def test_a_filter_that_reads_what_the_index_lacks_has_the_scan_judge_from_that_record_on(
    tmp_path: Path,
) -> None:
    (uri,) = write(tmp_path, VARIED)
    judged: list[type] = []

    def html_only(record: Any) -> bool:
        # The index has no Content-Type: asked for n4's (the fifth record), the scan takes over.
        kept = record.rec_type == "response" and (
            not warc.target_uri(record).endswith("n4.htm")
            or "html" in record.http_headers.get_header("Content-Type")
        )
        judged.append(type(record))
        return kept

    with_index = warc.file_in_order(uri, html_only)
    assert judged[:4] == [warc.IndexedRecord] * 4 and warc.IndexedRecord not in judged[4:]
    assert len(judged) == 2 * len(VARIED)
    assert with_index == [
        replace(r, file=uri) for r in warc.file_in_order(index_less_copy(uri, tmp_path), html_only)
    ]


def damage_by_truncating_mid_line(index: Path) -> None:
    index.write_bytes(index.read_bytes()[:-40])


def damage_by_dropping_a_line(index: Path) -> None:
    lines = index.read_text(encoding="utf-8").splitlines(keepends=True)
    index.write_text("".join(lines[:-1]), encoding="utf-8")


def damage_with_garbage(index: Path) -> None:
    index.write_bytes(b"\x00\xff not an index\n")


def damage_with_another_files_lines(index: Path) -> None:
    index.write_text(index.read_text(encoding="utf-8").replace("run1-1", "run1-2"), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        damage_by_truncating_mid_line,
        damage_by_dropping_a_line,
        damage_with_garbage,
        damage_with_another_files_lines,
    ],
)
def test_a_damaged_index_is_warned_about_and_the_file_scanned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    (uri,) = write(tmp_path, VARIED)
    damage(Path(uri + INDEX_SUFFIX))
    with caplog.at_level(logging.WARNING):
        refs, skipped, given = ordered(uri)
    assert "scanning the file instead" in caplog.text
    assert warc.IndexedRecord not in given
    assert (refs, skipped) == scanned(uri, tmp_path)


def test_an_index_shorter_than_its_file_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (uri,) = write(tmp_path / "a", VARIED[:5])
    (more,) = write(tmp_path / "b", VARIED[5:])
    indexed_bytes = Path(uri).stat().st_size
    with open(uri, "ab") as stream:  # records appended after the index was written
        stream.write(Path(more).read_bytes())
    with caplog.at_level(logging.WARNING):
        refs, skipped, _ = ordered(uri)
    assert "its index describes" in caplog.text
    assert max(ref.offset for ref in refs) >= indexed_bytes, "the appended records are read"
    assert (refs, skipped) == scanned(uri, tmp_path)


def test_a_file_without_an_index_is_scanned_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (uri,) = write(tmp_path, VARIED)
    with_index = ordered(uri)[:2]
    # An older capture, or a crash between the file's rename and its index's:
    Path(uri + INDEX_SUFFIX).unlink()
    with caplog.at_level(logging.WARNING):
        refs, skipped, given = ordered(uri)
    assert not [r for r in caplog.records if r.name == warc.__name__]
    assert warc.IndexedRecord not in given
    assert (refs, skipped) == with_index


def test_index_files_are_neither_captures_to_read_nor_a_runs_files(tmp_path: Path) -> None:
    files = write(tmp_path, VARIED[:4], max_bytes=1500)
    assert warc.expand_paths(str(tmp_path)) == files
    assert warc.expand_paths(str(tmp_path / "*")) == files
    assert warc.committed_files(str(tmp_path), "run1") == files


def test_a_failed_index_write_leaves_the_file_committed_and_nothing_hidden(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: Any) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(warc, "index_text", fail)
    with caplog.at_level(logging.WARNING):
        files = write(tmp_path, VARIED[:2])
    assert "Cannot write the index" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == [Path(f).name for f in files]


@pytest.fixture(scope="module")
def real_captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A crawl of a replica, its captures in several files."""
    root = tmp_path_factory.mktemp("captures")
    with serve_replica(articles=40) as site:
        result = crawl(
            site, root / "articles", settings={"WARC_URI": str(root / "warc"), "WARC_MAX_BYTES": "100000"}
        )
        assert result.returncode == 0, result.log[-3000:]
    yield site, warc.expand_paths(str(root / "warc"))


@pytest.mark.slow
def test_on_a_crawls_captures_the_order_from_the_index_is_the_scans(
    real_captures: tuple[str, list[str]], tmp_path: Path
) -> None:
    site, files = real_captures
    assert len(files) > 1
    skipped: Counter[str] = Counter()
    for uri in files:
        refs, file_skipped, given = ordered(uri, site)
        assert set(given) == {warc.IndexedRecord}, "read from the index alone"
        assert (refs, file_skipped) == scanned(uri, tmp_path, site)
        skipped += file_skipped
    assert {"record_request", "not_article"} <= set(skipped), skipped
