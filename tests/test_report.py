"""`scrapy report` (issue 13, section 3): a self-contained HTML page, opened in a real headless Chromium: it loads
with no console error and no request, its charts are drawn (pixels of each chart's colours in the screenshot),
and its sections say what the dataset, the manifests and the removal records hold."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
from lxml import html as lxml_html
from PIL import Image

from crawler.extract.model import Image as StoredImage
from pipelines.dataset.removals import REAPPEARED, REMOVED, RemovalEvent, write_events
from publish.report import (
    DROPPED_COLOUR,
    EDITION_COLOURS,
    FALLBACK_COLOUR,
    REQUESTS_COLOUR,
    ROWS_COLOUR,
    STATUS_COLOURS,
    build_report,
    clusters,
)
from publish.svg import nice_step, shade
from publish.textdiff import inline_diff, side_by_side
from tests import browser
from tests.archive_data import sample_item
from tests.crawling import PROJECT_ROOT, crawl
from tests.replica.testing import serve_replica
from tests.test_mirror import write_dataset

ARTICLES = 60  # enough for the replica to hold a near copy
# A drawn chart has at least this many pixels of each of its series' exact colours (bars, dots, squares).
MIN_PIXELS = 30


def run_report(dataset: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", "report", "-o", str(out), "-s", f"PARQUET_URI={dataset}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def pixels(screenshot: Image.Image, box: dict[str, float], colour: str) -> int:
    """Pixels of exactly ``colour`` inside ``box`` of the screenshot."""
    region = screenshot.crop(
        (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    ).convert("RGB")
    counts = {value: count for count, value in region.getcolors(maxcolors=1 << 24) or []}
    return counts.get(rgb(colour), 0)


def latest(dataset: Path) -> dict[str, dict[str, Any]]:
    rows = ds.dataset(dataset, format="parquet", partitioning="hive").to_table().to_pylist()
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["version"] > found.get(row["article_id"], {"version": 0})["version"]:
            found[row["article_id"]] = row
    return found


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A replica crawled three times with edits in between, once more after a redesign (a failed run), two
    removal events recorded; its report written by `scrapy report` and opened in Chromium."""
    base = tmp_path_factory.mktemp("report")
    dataset = base / "articles"
    for revision in (0, 1, 2):
        with serve_replica(articles=ARTICLES, revision=revision) as site:
            args = {"editions": "gb,b5"} | ({"full": "1"} if revision else {})
            assert crawl(site, dataset, args=args).returncode == 0
    with serve_replica(articles=ARTICLES, revision=2, redesign=True) as site:
        assert crawl(site, dataset, args={"editions": "gb", "full": "1"}).returncode == 3
    articles = latest(dataset)
    gone, back = sorted(articles)[:2]
    now = datetime.now(UTC)

    def event(
        article_id: str, kind: str, reason: str | None, seen: timedelta, found: timedelta
    ) -> RemovalEvent:
        row = articles[article_id]
        return RemovalEvent(
            article_id, row["url"], kind, reason, now - seen, now - found, row["version"], "r"
        )

    # Through the refresh's own writer: the first run found one article gone, the second found it back
    # and another gone.
    fs = pafs.LocalFileSystem()
    write_events(
        fs, str(dataset), "r1", [event(back, REMOVED, "redirect_home", timedelta(days=3), timedelta(days=1))]
    )
    write_events(
        fs,
        str(dataset),
        "r2",
        [
            event(gone, REMOVED, "http_404", timedelta(days=2), timedelta(hours=1)),
            event(back, REAPPEARED, None, timedelta(days=1), timedelta(hours=2)),
        ],
    )
    report = base / "report.html"
    result = run_report(dataset, report)
    assert result.returncode == 0, result.stderr[-3000:]
    yield {"dataset": dataset, "report": report, "gone": gone, "back": back, "articles": articles}


@pytest.fixture(scope="module")
def opened(reported: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[browser.PageLoad]:
    """The report, a report of a hostile dataset and a control page that fetches things, in one Chromium."""
    assert browser.available(), "chromium is not installed: `make services` (part of `make test`) installs it"
    scratch = tmp_path_factory.mktemp("pages")
    hostile_dataset = scratch / "hostile"
    write_dataset(hostile_dataset, hostile_items())
    hostile = scratch / "hostile.html"
    hostile.write_text(build_report(str(hostile_dataset)), encoding="utf-8")
    control = scratch / "control.html"
    control.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>'
        "</body></html>",
        encoding="utf-8",
    )
    return browser.load(reported["report"], hostile, control, selector="svg.chart")


HOSTILE_TITLE = '<script>console.error("pwned")</script><img src="http://127.0.0.1:9/t.png">'


def hostile_items() -> list[Any]:
    one = sample_item(13000001, title=HOSTILE_TITLE, body_text='<iframe src="http://127.0.0.1:9/"></iframe>')
    two = sample_item(
        13000001,
        title=HOSTILE_TITLE + " 2",
        body_text='<iframe src="http://127.0.0.1:9/"></iframe>\n<img src=x onerror="console.error(1)">',
        version=2,
        images=[StoredImage("http://127.0.0.1:9/i.png", None, None)],
    )
    three = sample_item(13000002, title="<b>near</b>", near_duplicate_of="n13000001")
    return [one, two, three]


# ---- in the browser ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_report_loads_offline_with_no_console_error_and_no_request(
    reported: dict[str, Any], opened: list[browser.PageLoad]
) -> None:
    page = opened[0]
    assert page.requests == [reported["report"].resolve().as_uri()]
    assert page.errors == []


@pytest.mark.slow
def test_the_screenshot_shows_every_chart_drawn(opened: list[browser.PageLoad]) -> None:
    page = opened[0]
    shot = Image.open(io.BytesIO(page.screenshot))
    expected = {
        "chart-runs": [REQUESTS_COLOUR, ROWS_COLOUR],
        "chart-failures": [FALLBACK_COLOUR],
        "chart-health": [STATUS_COLOURS["ok"], STATUS_COLOURS["failed"]],
        "chart-per-day": [EDITION_COLOURS["gb"], EDITION_COLOURS["b5"]],
        "chart-per-period": [EDITION_COLOURS["gb"], EDITION_COLOURS["b5"]],
        "chart-coverage": [shade(1.0)],
    }
    assert set(expected) <= set(page.boxes)
    for chart, colours in expected.items():
        box = page.boxes[chart]
        assert box["width"] > 0 and box["height"] > 0
        for colour in colours:
            assert pixels(shot, box, colour) >= MIN_PIXELS, (chart, colour)
    # The control: a colour no chart of the section uses is not there (the count is not always positive).
    assert pixels(shot, page.boxes["chart-runs"], DROPPED_COLOUR) == 0


@pytest.mark.slow
def test_hostile_text_in_the_report_stays_text_and_runs_nothing(opened: list[browser.PageLoad]) -> None:
    page = opened[1]
    assert page.requests == [page.url]
    assert page.errors == []
    assert HOSTILE_TITLE in page.text
    assert '<img src=x onerror="console.error(1)">' in page.text


@pytest.mark.slow
def test_the_browser_harness_sees_requests_and_console_errors(opened: list[browser.PageLoad]) -> None:
    """Without this, an empty request list or error list could mean the harness saw nothing."""
    control = opened[2]
    assert "http://127.0.0.1:9/x.png" in control.requests
    assert any("boom" in error for error in control.errors)


# ---- what the sections say ---------------------------------------------------------------------------------------


def sections(report: Path) -> dict[str, lxml_html.HtmlElement]:
    root = lxml_html.fromstring(report.read_text(encoding="utf-8"))
    found: dict[str, lxml_html.HtmlElement] = {}
    for h2 in root.iter("h2"):
        holder = lxml_html.Element("div")
        for sibling in h2.itersiblings():
            if sibling.tag == "h2":
                break
            holder.append(lxml_html.fromstring(lxml_html.tostring(sibling)))
        found[h2.text_content()] = holder
    return found


@pytest.mark.slow
def test_runs_and_coverage_come_from_every_manifest(reported: dict[str, Any]) -> None:
    report = reported["report"].read_text(encoding="utf-8")
    assert "4 runs" in report
    root = lxml_html.fromstring(report)
    health = root.get_element_by_id("chart-health")
    squares = [t.text_content() for t in health.iter("{http://www.w3.org/2000/svg}title", "title")][1:]
    assert [s.rsplit(": ", 1)[1] for s in squares] == ["ok", "ok", "ok", "failed"]
    coverage = root.get_element_by_id("chart-coverage")
    cells = [t.text_content() for t in coverage.iter("title")][1:]
    # The failed run wrote no row: no coverage column for it; the three others have body_text everywhere.
    assert len([c for c in cells if c.startswith("body_text,")]) == 3
    assert all(c.endswith("100%") for c in cells if c.startswith("body_text,"))


@pytest.mark.slow
def test_latest_edits_show_what_changed_between_the_two_versions(reported: dict[str, Any]) -> None:
    part = sections(reported["report"])["Latest edits"]
    edits = part.find_class("edit")
    rows = ds.dataset(reported["dataset"], format="parquet", partitioning="hive").to_table().to_pylist()
    texts = {(r["article_id"], r["version"]): r for r in rows}
    new_versions = sorted((r for r in rows if r["version"] > 1), key=lambda r: r["crawled_at"], reverse=True)
    assert edits and len(edits) == min(20, len(new_versions))
    for edit, row in zip(edits, new_versions, strict=False):
        article_id, version = row["article_id"], row["version"]
        assert edit.find(".//small").text_content().strip("()") == article_id
        assert f"version {version} (" in edit.find(".//th[2]").text_content()
        new, old = texts[(article_id, version)], texts[(article_id, version - 1)]
        if new["edition"] != old["edition"]:
            continue  # compared in one script: checked by the diff unit tests
        new_lines = {new["title"], *new["body_text"].split("\n")}
        old_lines = {old["title"], *old["body_text"].split("\n")}
        # Each side shows whole paragraphs of its own version, changes marked inside them.
        assert {td.text_content() for td in edit.find_class("new")} - {""} <= new_lines
        assert {td.text_content() for td in edit.find_class("old")} - {""} <= old_lines
        added = [el.text_content() for td in edit.find_class("new") for el in td.iter("ins")]
        removed = [el.text_content() for td in edit.find_class("old") for el in td.iter("del")]
        assert added or removed
        assert all(any(text in line for line in new_lines) for text in added)
        assert all(any(text in line for line in old_lines) for text in removed)


@pytest.mark.slow
def test_removals_list_each_articles_latest_event(reported: dict[str, Any]) -> None:
    part = sections(reported["report"])["Removals"]
    rows: dict[str, list[str]] = {}
    for tr in list(part.iter("tr"))[1:]:
        cells = [td.text_content() for td in tr.iter("td")]
        rows[tr.find(".//small").text_content()] = cells
    assert set(rows) == {reported["gone"], reported["back"]}
    assert rows[reported["gone"]][1:3] == ["removed", "http_404"]
    assert rows[reported["back"]][1] == "reappeared"
    assert "1 article gone now, 1 back after a removal" in part.text_content()


@pytest.mark.slow
def test_near_duplicate_clusters_group_the_flagged_articles(reported: dict[str, Any]) -> None:
    rows = ds.dataset(reported["dataset"], format="parquet", partitioning="hive").to_table().to_pylist()
    flagged = {r["article_id"]: r["near_duplicate_of"] for r in rows if r["near_duplicate_of"]}
    assert flagged
    part = sections(reported["report"])["Near-duplicate clusters"]
    shown = [
        {li.find(".//small").text_content() for li in div.iter("li")} for div in part.find_class("cluster")
    ]
    for article_id, original in flagged.items():
        assert any({article_id, original} <= group for group in shown)


def test_report_without_a_dataset_fails_with_a_message(tmp_path: Path) -> None:
    result = run_report(tmp_path / "nothing", tmp_path / "report.html")
    assert result.returncode == 1
    assert "no dataset at" in result.stderr
    assert not (tmp_path / "report.html").exists()


# ---- the parts ---------------------------------------------------------------------------------------------------


def test_chinese_is_diffed_character_by_character() -> None:
    left, right = inline_diff("中国经济增长继续放缓。", "中国经济增长明显放缓。")
    assert left == "中国经济增长<del>继续</del>放缓。"
    assert right == "中国经济增长<ins>明显</ins>放缓。"


def test_a_rewritten_paragraph_is_shown_whole_and_text_is_escaped() -> None:
    left, right = inline_diff("完全不同的一段话", "<b>另外</b>")
    assert left == "<del>完全不同的一段话</del>"
    assert right == "<ins>&lt;b&gt;另外&lt;/b&gt;</ins>"


def test_unchanged_paragraphs_are_folded_around_a_change() -> None:
    old = "\n".join(f"第{i}段" for i in range(10))
    new = old.replace("第5段", "第五段")
    table = lxml_html.fromstring(side_by_side(old, new, "v1", "v2"))
    rows = [(tr.get("class"), tr.text_content()) for tr in table.iter("tr")][1:]
    assert [kind for kind, _ in rows] == ["folded", "same", "changed", "same", "folded"]
    assert rows[0][1] == "… 4 unchanged paragraphs …" and rows[-1][1] == "… 3 unchanged paragraphs …"


def test_clusters_join_chains_of_near_duplicates() -> None:
    assert clusters([("b", "a"), ("c", "b"), ("e", "d")]) == [{"a", "b", "c"}, {"d", "e"}]


def test_axis_steps_are_round() -> None:
    assert [nice_step(m) for m in (7, 83, 100, 0.9, 12_345)] == [2.0, 20.0, 20.0, 0.2, 5000.0]
