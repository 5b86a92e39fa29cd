"""Wayback Machine replay URLs: unwrapped to the page they replay (every flavour, http, percent-encoded), and a
WARC that ``wget`` wrote while downloading replays from a local server with the Wayback Machine's URL grammar
imported as the site's articles, dated by the replay's timestamp."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.dataset import wayback
from tests.crawling import crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete
from tests.test_warc_import import TEXT_FIELDS, rows

ARTICLES = 12
ORIGINAL = "https://www.epochtimes.com/gb/21/12/30/n13478910.htm"
CAPTURED = datetime(2021, 12, 30, 15, 35, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "replay",
    [
        f"https://web.archive.org/web/20211230153500/{ORIGINAL}",
        f"https://web.archive.org/web/20211230153500id_/{ORIGINAL}",
        f"https://web.archive.org/web/20211230153500if_/{ORIGINAL}",
        f"https://web.archive.org/web/20211230153500im_/{ORIGINAL}",
        f"http://web.archive.org/web/20211230153500/{ORIGINAL}",
        "https://web.archive.org/web/20211230153500/https%3A%2F%2Fwww.epochtimes.com%2Fgb%2F21%2F12%2F30%2Fn13478910.htm",
        "https://web.archive.org/web/20211230153500/https:/www.epochtimes.com/gb/21/12/30/n13478910.htm",
    ],
)
def test_replay_urls_unwrap_to_the_original_and_its_capture_time(replay: str) -> None:
    assert wayback.unwrap(replay) == wayback.Replay(ORIGINAL, CAPTURED)


def test_other_urls_are_not_replays() -> None:
    assert wayback.unwrap(ORIGINAL) is None
    assert wayback.unwrap("https://web.archive.org/details/epochtimes") is None
    assert wayback.unwrap("https://www.epochtimes.com/web/about.htm") is None
    assert wayback.original_url(ORIGINAL) == ORIGINAL
    # A partial timestamp names no moment: the record's own date is used.
    partial = wayback.unwrap(f"https://web.archive.org/web/2021/{ORIGINAL}")
    assert partial == wayback.Replay(ORIGINAL, None)
    assert wayback.unwrap("https://web.archive.org/web/2021/www.epochtimes.com/gb/") == wayback.Replay(
        "http://www.epochtimes.com/gb/", None
    )


def test_the_capture_time_is_the_timestamp_only_for_a_later_download() -> None:
    replay = wayback.unwrap(f"https://web.archive.org/web/20211230153500/{ORIGINAL}")
    downloaded = datetime(2026, 1, 2, tzinfo=UTC)
    assert wayback.capture_time(replay, downloaded) == CAPTURED
    # The archive's own record of that capture: its date, to the microsecond, is the better one.
    own = CAPTURED.replace(microsecond=250000)
    assert wayback.capture_time(replay, own) == own
    assert wayback.capture_time(None, downloaded) == downloaded


def test_a_replayed_page_loses_the_archive_rewriting() -> None:
    page = (
        b'<html><head><script src="//archive.org/_static/js/bundle.js"></script>'
        b"<!-- End Wayback Rewrite JS Include --><title>t</title></head><body>"
        b"<!-- BEGIN WAYBACK TOOLBAR INSERT --><div>toolbar</div><!-- END WAYBACK TOOLBAR INSERT -->"
        b'<a href="/web/20211230153500/https://www.epochtimes.com/gb/21/1/2/n1.htm">a</a>'
        b'<a href="https://web.archive.org/web/20211230153500im_/http://i.epochtimes.com/x.jpg">i</a>'
        b"<p>/web/ in the text stays</p></body></html>"
    )
    assert wayback.unrewrite(page) == (
        b"<html><head><title>t</title></head><body>"
        b'<a href="https://www.epochtimes.com/gb/21/1/2/n1.htm">a</a>'
        b'<a href="http://i.epochtimes.com/x.jpg">i</a>'
        b"<p>/web/ in the text stays</p></body></html>"
    )


# ---- end to end: wget downloading replays -------------------------------------------------------------------

_REPLAY_REQUEST = re.compile(r"^/web/(\d{14})([a-z]{2}_)?/(https?://[^/]+)(/.*)$")
_SITE_LINK = re.compile(rb'(href=")(https://www\.epochtimes\.com/)')


@contextmanager
def serve_wayback(site: str) -> Iterator[str]:
    """A local archive with the Wayback Machine's URL grammar, replaying the replica: ``id_`` gives the page as
    served, the plain flavour rewrites the site's links to replay URLs and inserts a toolbar, as the real one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            match = _REPLAY_REQUEST.match(self.path)
            if match is None:
                self.send_error(404)
                return
            timestamp, flavour, _host, path = match.groups()
            with urllib.request.urlopen(f"{site}{path}") as upstream:
                body, content_type = upstream.read(), upstream.headers["Content-Type"]
            if flavour != "id_":
                body = _SITE_LINK.sub(rb"\1/web/" + timestamp.encode() + rb"/\2", body)
                body = body.replace(
                    b"<body>",
                    b"<body><!-- BEGIN WAYBACK TOOLBAR INSERT --><div>Wayback</div>"
                    b"<!-- END WAYBACK TOOLBAR INSERT -->",
                    1,
                )
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_a_wget_download_of_replays_imports_the_articles_dated_by_the_replay(tmp_path: Path) -> None:
    truth = {r["article_id"]: r for r in Site(articles=ARTICLES).truth() if r["edition"] == "gb"}
    stamps = {aid: f"2021{index % 12 + 1:02d}{index % 28 + 1:02d}153500" for index, aid in enumerate(truth)}
    with serve_replica(articles=ARTICLES) as site, serve_wayback(site) as archive:
        urls = tmp_path / "urls.txt"
        # Half in the id_ flavour (the original bytes), half as the Wayback Machine rewrites them.
        urls.write_text(
            "".join(
                f"{archive}/web/{stamps[aid]}{'id_' if index % 2 else ''}/{row['url']}\n"
                for index, (aid, row) in enumerate(truth.items())
            ),
            encoding="utf-8",
        )
        wget = shutil.which("wget")
        assert wget is not None, "wget is missing: `make services` installs it"
        done = subprocess.run(
            [wget, "--quiet", "--warc-file=replays", "--delete-after", f"--input-file={urls}"],
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    result = crawl("https://www.epochtimes.com", tmp_path / "articles", args={"warc": str(tmp_path)})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("downloader/request_count", 0) == 0
    stored = {r["article_id"]: r for r in rows(tmp_path / "articles")}
    assert_complete(list(stored), Site(articles=ARTICLES))
    for aid, row in stored.items():
        expected = truth[aid]
        mismatches = {f: (row[f], expected[f]) for f in TEXT_FIELDS if row[f] != expected[f]}
        assert not mismatches, f"{row['url']}: {mismatches}"
        assert row["crawled_at"] == datetime.strptime(stamps[aid], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        assert row["warc_file"] == str(tmp_path / "replays.warc.gz")
