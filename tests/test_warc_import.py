"""Import of WARC files written by others (`scrapy crawl articles -a warc=...`): a `wget --warc-file` mirror of the
replica, the public example WARCs shipped in Warcat's source package, and our own captures of two revisions of
the site, read in any order."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.dataset import warc
from pipelines.dataset.warc import read_captures
from tests.crawling import crawl, scrapy
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete
from tests.test_warc import ONE_AT_A_TIME

ARTICLES = 60
pytestmark = pytest.mark.slow
# Compared with the replica's truth exactly (published_at separately: the truth writes it as ISO text).
TEXT_FIELDS = (
    "url", "edition", "language", "title", "date_source", "section", "categories", "tags",
    "authors", "editor", "dateline", "body_text", "char_count",
)  # fmt: skip
# A public corpus of WARC files that no code of ours wrote: the examples in Warcat's source distribution on PyPI
# (a capture of archiveteam.org by wget, and edge cases: a bad chunked body, a non-UTF-8 header, a long URL).
CORPUS_PACKAGE = "Warcat==2.2.5"
CORPUS_FOLDER = "Warcat-2.2.5/example"


def rows(dataset: Path) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = (
        ds.dataset(dataset, format="parquet", partitioning="hive").to_table().to_pylist()
    )
    return table


def wget_mirror(site: str, folder: Path) -> Path:
    """What a user's ``wget --warc-file`` makes of the site: the gb home page followed 4 links deep (only links to
    the same host: the replica writes most links with the real site's host), plus every gb article by URL."""
    urls = folder / "urls.txt"
    urls.write_text(
        "".join(
            f"{site}{row['url'].removeprefix('https://www.epochtimes.com')}\n"
            for row in Site(articles=ARTICLES).truth()
            if row["edition"] == "gb"
        ),
        encoding="utf-8",
    )
    wget = shutil.which("wget")
    assert wget is not None, "wget is missing: `make services` installs it"
    command = [wget, "--quiet", "--warc-file=mirror", "--recursive", "--level=4", "--delete-after"]
    done = subprocess.run(
        [*command, f"--input-file={urls}", f"{site}/gb/"], cwd=folder, capture_output=True, check=False
    )
    assert done.returncode in (0, 8), done.stderr[-2000:]  # 8: some pages answered 404 (search, robots)
    return folder / "mirror.warc.gz"


def test_a_wget_mirror_imports_every_article_equal_to_the_truth(tmp_path: Path) -> None:
    with serve_replica(articles=ARTICLES) as site:
        mirror = wget_mirror(site, tmp_path)
        # The site is served elsewhere by the time the import runs: it must not be asked for anything.
        result = crawl(site, tmp_path / "articles", args={"warc": str(mirror)})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("downloader/request_count", 0) == 0
    site_truth = Site(articles=ARTICLES)
    truth = {r["article_id"]: r for r in site_truth.truth() if r["edition"] == "gb"}
    stored = rows(tmp_path / "articles")
    assert_complete([r["article_id"] for r in stored], site_truth)
    for row in stored:
        expected = truth[row["article_id"]]
        mismatches = {f: (row[f], expected[f]) for f in TEXT_FIELDS if row[f] != expected[f]}
        assert not mismatches, f"{row['url']}: {mismatches}"
        assert row["published_at"].isoformat() == expected["published_at"]
        assert row["warc_file"] == str(mirror)
    skipped = {k: v for k, v in result.stats.items() if k.startswith("warc/skipped/")}
    assert skipped.get("warc/skipped/record_request", 0) > 0, skipped  # wget keeps requests too
    assert skipped.get("warc/skipped/not_article", 0) > 0, skipped  # robots.txt, the home page


@pytest.fixture(scope="module")
def public_corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Warcat's example WARC files, downloaded from PyPI once into pytest's cache folder (never committed), or
    into this session's temporary folder when the cache is off (``-p no:cacheprovider``)."""
    cache_plugin = getattr(request.config, "cache", None)
    cache = Path(cache_plugin.mkdir("warcat-corpus")) if cache_plugin else tmp_path_factory.mktemp("warcat")
    folder = cache / CORPUS_FOLDER
    if not folder.is_dir():
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        subprocess.run(
            [*pip, "--dest", str(cache), CORPUS_PACKAGE],
            check=True,
            capture_output=True,
        )
        (archive,) = cache.glob("[Ww]arcat-*.tar.gz")
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(CORPUS_FOLDER) and m.isfile()]
            tar.extractall(cache, members=members, filter="data")
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".warc", ".warc.gz")))
    assert len(files) >= 5, files
    return files


def test_public_warc_files_are_read_and_their_other_site_records_counted_not_stored(
    public_corpus: list[Path], tmp_path: Path
) -> None:
    every_response = list(read_captures([str(p) for p in public_corpus], lambda r: r.rec_type == "response"))
    assert len(every_response) >= 5
    assert all(c.url.startswith("http://www.archiveteam.org/") and c.status for c in every_response)
    assert any(b"<html" in c.body.lower() for c in every_response), "payloads are decoded"
    spec = f"{public_corpus[0].parent},{public_corpus[0]}"  # a folder and a file (listed once)
    result = crawl("https://www.epochtimes.com", tmp_path / "articles", args={"warc": spec})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("downloader/request_count", 0) == 0
    assert result.stats.get("parquet/rows_written", 0) == 0
    assert result.stats["warc/skipped/other_site"] == len(every_response)
    assert result.stats["warc/skipped/record_request"] > 0
    assert result.stats["warc/skipped/record_warcinfo"] > 0


def test_a_missing_warc_path_stops_the_run_naming_it(tmp_path: Path) -> None:
    result = crawl(
        "https://www.epochtimes.com", tmp_path / "articles", args={"warc": str(tmp_path / "nope*")}
    )
    assert result.returncode == 1
    assert "no WARC file at" in result.log
    assert not (tmp_path / "articles").exists()


def test_captures_of_two_revisions_become_versions_in_capture_order(tmp_path: Path) -> None:
    """Our own captures of the site before and after a round of edits, imported newest file first; then the
    older ones imported into the archive of the newer ones (backfill)."""
    port = 0
    for revision in (0, 1):
        # Both revisions at one address, as the real site's captures all have its one host.
        with serve_replica(articles=ARTICLES, revision=revision, port=port) as site:
            port = int(site.rsplit(":", 1)[1])
            # One request at a time: both crawls keep the same one of two identical articles (the first seen).
            settings = {"WARC_URI": str(tmp_path / f"w{revision}"), **ONE_AT_A_TIME}
            result = crawl(site, tmp_path / f"rev{revision}", settings=settings)
            assert result.returncode == 0, result.log[-3000:]
    spec = f"{tmp_path / 'w1'},{tmp_path / 'w0'}"
    result = crawl(site, tmp_path / "imported", args={"warc": spec})
    assert result.returncode == 0, result.log[-3000:]
    imported = rows(tmp_path / "imported")
    by_version = {(r["article_id"], r["version"]): r for r in imported}
    before = {r["article_id"]: r for r in rows(tmp_path / "rev0")}
    after = {r["article_id"]: r for r in rows(tmp_path / "rev1")}
    edited = {aid for aid in after if before[aid]["content_hash"] != after[aid]["content_hash"]}
    assert edited, "the replica's revision 1 edits some articles"
    assert edited <= Site(articles=ARTICLES, revision=1).edited_ids()
    assert {aid for aid, _ in by_version} == set(before)
    for aid, row in before.items():
        assert by_version[(aid, 1)]["content_hash"] == row["content_hash"]
        assert by_version[(aid, 1)]["crawled_at"] == row["crawled_at"]
    for aid in edited:
        assert by_version[(aid, 2)]["content_hash"] == after[aid]["content_hash"]
        assert by_version[(aid, 2)]["crawled_at"] == after[aid]["crawled_at"]
    assert len(imported) == len(before) + len(edited)

    # Older captures imported into the archive that holds the newer ones: the edited articles' old texts are
    # inserted as their first versions, the stored rows renumbered; an unedited article keeps its one row.
    late = crawl(site, tmp_path / "rev1", args={"warc": str(tmp_path / "w0")})
    assert late.returncode == 0, late.log[-3000:]
    assert late.stats["backfill/held"] == len(before)
    assert late.stats["backfill/versions_inserted"] == len(edited)
    assert late.stats["articles/dropped/duplicate"] == len(before) - len(edited)
    backfilled = {(r["article_id"], r["version"]): r for r in rows(tmp_path / "rev1")}
    assert len(backfilled) == len(before) + len(edited)
    for aid in edited:
        assert backfilled[(aid, 1)]["content_hash"] == before[aid]["content_hash"]
        assert backfilled[(aid, 1)]["body_text"] == before[aid]["body_text"]
        assert backfilled[(aid, 1)]["crawled_at"] == before[aid]["crawled_at"]
        assert backfilled[(aid, 1)]["crawled_at"] < backfilled[(aid, 2)]["crawled_at"]
        assert backfilled[(aid, 2)] == {**after[aid], "version": 2}
    for aid in set(before) - edited:
        assert backfilled[(aid, 1)] == after[aid]
    # Rerunning the import adds nothing and rewrites nothing.
    files = sorted(p.name for p in (tmp_path / "rev1").rglob("part-*.parquet"))
    again = crawl(site, tmp_path / "rev1", args={"warc": str(tmp_path / "w0")})
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats["backfill/versions_inserted"] == 0
    assert sorted(p.name for p in (tmp_path / "rev1").rglob("part-*.parquet")) == files
    # Their place is found by a rebuild over both sets of captures: the same dataset as the import above.
    rebuilt = scrapy(
        ["rebuild", "-a", f"site={site}"], {"WARC_URI": spec, "PARQUET_URI": str(tmp_path / "rebuilt")}
    )
    assert rebuilt.returncode == 0, rebuilt.log[-3000:]
    assert key_columns(tmp_path / "rebuilt") == key_columns(tmp_path / "imported")
    # The backfilled archive has the same versions; an unedited article's row is its later capture (the
    # import does not move a version's first capture earlier).
    assert key_columns(tmp_path / "rev1", with_time=False) == key_columns(
        tmp_path / "imported", with_time=False
    )


def key_columns(dataset: Path, *, with_time: bool = True) -> list[tuple[Any, ...]]:
    return sorted(
        (r["article_id"], r["version"], r["content_hash"], r["crawled_at"] if with_time else None)
        for r in rows(dataset)
    )


def test_every_record_of_others_files_reads_as_warcio_reads_it(
    public_corpus: list[Path], tmp_path: Path
) -> None:
    """The reader parses gzip-per-record files itself (warcio for the rest, and for any record outside the common
    form): same records at the same offsets, same headers, same decoded payloads."""
    with serve_replica(articles=ARTICLES) as site:
        files = [wget_mirror(site, tmp_path), *public_corpus]
    for path in map(str, files):
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, no_record_parse=False)
            expected = [(records.get_record_offset(), _headers_of(record)) for record in records]
        assert [(offset, _headers_of(record)) for offset, record in warc.records(path)] == expected, path
        for offset, record in warc.records(path):
            if record.rec_type != "response":
                continue
            with open(path, "rb") as stream:
                stream.seek(offset)
                theirs = next(iter(ArchiveIterator(stream)))
                want = warc.capture_of(theirs, warc.CaptureRef(path, offset, warc.capture_date(theirs)))
            assert warc.read_capture(path, offset) == want, (path, offset)


def _headers_of(record: Any) -> tuple[Any, ...]:
    http = record.http_headers
    http_part = None if http is None else (http.protocol, http.statusline, http.headers)
    return record.rec_type, record.rec_headers.headers, http_part
