"""WARC capture, rebuild and import, end to end: the real commands against a real replica, files checked by
warcio's own command-line tools, datasets read back with pyarrow."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler import settings as project_settings
from pipelines.dataset.warc import INDEX_SUFFIX, read_capture
from tests.crawling import CrawlResult, crawl, scrapy
from tests.replica.testing import serve_replica
from tests.test_crashes import signal_when, start_crawl_of

ARTICLES = 60
pytestmark = pytest.mark.slow
WARCIO = str(Path(sys.executable).parent / "warcio")
# Which of two nearly identical articles is flagged (or of two identical ones kept) follows the order pages are
# processed in: one request at a time makes two crawls' orders equal, so that whole datasets can be compared.
ONE_AT_A_TIME = {"CONCURRENT_REQUESTS": "1", "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
# Small enough that the crawl rotates files several times.
ROTATE_BYTES = "150000"
BROKEN_PARSER = json.dumps({**project_settings.EXTENSIONS, "tests.broken_parser.LoseLastParagraph": 0})
# Columns that say which run wrote a row and where its capture is: a rebuild keeps the capture, a fresh crawl
# makes new ones; everything else must be equal.
RUN_COLUMNS = ("run_id", "crawled_at", "warc_file", "warc_offset")


@dataclass(frozen=True)
class Captured:
    site: str
    dataset: Path
    warc: Path
    result: CrawlResult


def rows(dataset: Path) -> pa.Table:
    return ds.dataset(dataset, format="parquet", partitioning="hive").to_table()


def comparable(dataset: Path, *, without: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    table = rows(dataset).drop_columns([*RUN_COLUMNS, "date", *without])
    return sorted(table.to_pylist(), key=lambda row: (row["article_id"], row["version"]))


def alternates(dataset: Path) -> dict[tuple[str, int], list[str]]:
    return {(r["article_id"], r["version"]): r["alternate_urls"] for r in comparable(dataset)}


def manifest(dataset: Path) -> dict[str, Any]:
    (path,) = (dataset / "_runs").glob("*.json")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def broken_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    """A crawl whose parser loses the last paragraph of every body, its responses captured as WARC."""
    root = tmp_path_factory.mktemp("broken")
    with serve_replica(articles=ARTICLES) as site:
        settings = {
            "WARC_URI": str(root / "warc"),
            "WARC_MAX_BYTES": ROTATE_BYTES,
            "EXTENSIONS": BROKEN_PARSER,
            **ONE_AT_A_TIME,
        }
        result = crawl(site, root / "articles", settings=settings)
        assert result.returncode == 0, result.log[-3000:]
    yield Captured(site, root / "articles", root / "warc", result)


def test_every_response_is_captured_and_each_row_points_at_its_own(broken_crawl: Captured) -> None:
    files = sorted(broken_crawl.warc.glob("*.warc.gz"))
    run_id = broken_crawl.result.stats["run/id"]
    assert len(files) > 1, "WARC_MAX_BYTES should have rotated the files"
    indexes = [f.with_name(f.name + INDEX_SUFFIX) for f in files]
    assert sorted(broken_crawl.warc.iterdir()) == sorted(files + indexes), (
        "each file and its index, nothing else"
    )
    assert all(f.name.startswith(f"capture-{run_id}-") and f.name.endswith(".warc.gz") for f in files), files
    assert sorted(manifest(broken_crawl.dataset)["warc_files"]) == [str(f) for f in files]
    responses, requests, concurrent = 0, 0, set()
    response_ids = set()
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                headers = record.rec_headers
                assert headers.get_header("WARC-Target-URI").startswith(broken_crawl.site)
                assert headers.get_header("WARC-Date")
                if record.rec_type == "response":
                    responses += 1
                    response_ids.add(headers.get_header("WARC-Record-ID"))
                    assert headers.get_header("WARC-Payload-Digest").startswith("sha1:")
                    assert record.http_headers.get_statuscode()
                else:
                    assert record.rec_type == "request"
                    requests += 1
                    concurrent.add(headers.get_header("WARC-Concurrent-To"))
    assert responses == requests == broken_crawl.result.stats["response_received_count"]
    assert concurrent == response_ids, "every request record names its response"
    table = rows(broken_crawl.dataset)
    assert table.num_rows == broken_crawl.result.stats["parquet/rows_written"] > 0
    for row in table.select(["url", "crawled_at", "warc_file", "warc_offset"]).to_pylist():
        capture = read_capture(row["warc_file"], row["warc_offset"])
        assert capture.url.endswith(row["url"].removeprefix("https://www.epochtimes.com"))
        assert capture.status == 200
        assert capture.ref.date == row["crawled_at"]


def test_warcio_index_and_check_accept_every_file(broken_crawl: Captured) -> None:
    files = [str(f) for f in sorted(broken_crawl.warc.glob("*.warc.gz"))]
    checked = subprocess.run([WARCIO, "check", "-v", *files], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "digest pass" in checked.stdout and "fail" not in checked.stdout
    indexed = subprocess.run([WARCIO, "index", *files], capture_output=True, text=True, check=False)
    assert indexed.returncode == 0, indexed.stderr[-2000:]
    entries = [json.loads(line) for line in indexed.stdout.splitlines()]
    assert (
        sum(e["warc-type"] == "response" for e in entries)
        == broken_crawl.result.stats["response_received_count"]
    )


def test_rebuild_after_a_parser_fix_equals_a_fresh_crawl_without_one_request(
    broken_crawl: Captured, tmp_path: Path
) -> None:
    rebuilt = tmp_path / "rebuilt"
    # The replica of broken_crawl is gone: a request to it could only fail.
    result = scrapy(
        ["rebuild", "-a", f"site={broken_crawl.site}", "--compare", str(broken_crawl.dataset)],
        {"WARC_URI": str(broken_crawl.warc), "PARQUET_URI": str(rebuilt)},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("downloader/request_count", 0) == 0
    with serve_replica(articles=ARTICLES) as site:
        fresh = crawl(site, tmp_path / "fresh", settings=ONE_AT_A_TIME)
        assert fresh.returncode == 0, fresh.log[-3000:]
    # alternate_urls are the links seen before the article was parsed: a crawl's timing, which the captured
    # list pages record (the rebuild gives the captured crawl's) and no other crawl repeats exactly.
    assert comparable(rebuilt, without=("alternate_urls",)) == comparable(
        tmp_path / "fresh", without=("alternate_urls",)
    )
    assert alternates(rebuilt) == alternates(broken_crawl.dataset)
    assert comparable(rebuilt) != comparable(broken_crawl.dataset)
    written = result.stats["parquet/rows_written"]
    assert f"rows: {written} rebuilt, {written} before; {written} from the same capture" in result.log
    assert f"body_text: {written} row(s) changed" in result.log
    assert f"char_count: {written} row(s) changed" in result.log
    assert "title:" not in result.log, "only the broken fields changed"
    assert manifest(rebuilt)["status"] == "finished"


def test_rebuild_refuses_a_non_empty_target_and_restarts_an_interrupted_one(
    broken_crawl: Captured, tmp_path: Path
) -> None:
    settings = {"WARC_URI": str(broken_crawl.warc), "PARQUET_URI": str(broken_crawl.dataset)}
    before = comparable(broken_crawl.dataset)
    refused = scrapy(["rebuild", "-a", f"site={broken_crawl.site}"], settings)
    assert refused.returncode == 1
    assert "not empty" in refused.log
    assert comparable(broken_crawl.dataset) == before
    target = tmp_path / "rebuilt"
    settings["PARQUET_URI"] = str(target)
    first = scrapy(["rebuild", "-a", f"site={broken_crawl.site}"], settings)
    assert first.returncode == 0, first.log[-3000:]
    expected = comparable(target)
    # As a run stopped midway leaves it: the marker still says running, part of the rows written.
    marker = json.loads((target / "_rebuild.json").read_text(encoding="utf-8"))
    (target / "_rebuild.json").write_text(json.dumps({**marker, "status": "running"}), encoding="utf-8")
    next(target.glob("date=*/*.parquet")).unlink()
    again = scrapy(["rebuild", "-a", f"site={broken_crawl.site}"], settings)
    assert again.returncode == 0, again.log[-3000:]
    assert "interrupted rebuild; emptied, starting again" in again.log
    assert comparable(target) == expected
    assert len(list((target / "_runs").glob("*.json"))) == 1


def test_capture_off_writes_no_file_and_leaves_the_columns_null(tmp_path: Path) -> None:
    with serve_replica(articles=ARTICLES) as site:
        result = crawl(site, tmp_path / "articles", settings={"WARC_URI": ""})
    assert result.returncode == 0, result.log[-3000:]
    assert not (tmp_path / "articles-warc").exists()
    table = rows(tmp_path / "articles")
    assert table.num_rows > 0
    assert table.column("warc_file").null_count == table.num_rows
    assert table.column("warc_offset").null_count == table.num_rows


def test_sigkill_leaves_no_half_capture_visible_and_every_row_still_finds_its_capture(tmp_path: Path) -> None:
    dataset, captures = tmp_path / "articles", tmp_path / "warc"
    settings = {"PARQUET_FLUSH_ROWS": "20", "PARQUET_PARTITION": "month", "WARC_URI": str(captures)}

    def rows_committed_and_capture_open() -> bool:
        return any(dataset.glob("month=*/*.parquet")) and any(captures.glob(".capture-*.tmp"))

    with serve_replica(articles=150) as site:
        victim = start_crawl_of(site, dataset, settings)
        assert signal_when(victim, rows_committed_and_capture_open, signal.SIGKILL), "the crawl ended first"
        left = list(captures.glob(".capture-*.tmp"))
        assert left, "the kill should leave the open capture file behind, hidden"
        assert_rows_find_their_captures(dataset)
        again = crawl(site, dataset, args={"refresh_days": "0"}, settings=settings)
    assert again.returncode == 0, again.log[-3000:]
    assert "left by a capture that was killed" in again.log
    assert not list(captures.glob(".*")), "the next run sweeps what the killed one left"
    assert_rows_find_their_captures(dataset)
    # The killed run's manifest, reconciled by the next run, lists the capture files it committed.
    manifests = {
        m["run_id"]: m for m in map(json.loads, map(Path.read_text, (dataset / "_runs").glob("*.json")))
    }
    (killed,) = [m for m in manifests.values() if m["status"] == "interrupted"]
    assert killed["warc_files"] == [
        str(p) for p in sorted(captures.glob(f"capture-{killed['run_id']}-*.warc.gz"))
    ]
    assert killed["warc_files"], "the killed run had committed captures before its rows"


def assert_rows_find_their_captures(dataset: Path) -> None:
    visible = [str(p) for p in sorted((dataset.parent / "warc").glob("*.warc.gz"))]
    checked = subprocess.run([WARCIO, "check", *visible], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout[-2000:]
    table = rows(dataset)
    assert table.num_rows > 0
    for row in table.select(["url", "warc_file", "warc_offset"]).to_pylist():
        assert row["warc_file"] in visible, "a row points into a capture file that is not committed"
        capture = read_capture(row["warc_file"], row["warc_offset"])
        assert capture.url.endswith(row["url"].removeprefix("https://www.epochtimes.com"))
