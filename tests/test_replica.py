"""The replica site itself: determinism, editions, truth vs pages, layouts, features, faults, revisions, server."""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import deque
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.replica import render, text
from tests.replica.export import export, file_for
from tests.replica.site import TOO_BIG_BYTES, Site
from tests.replica.testing import REPO_ROOT, serve_replica

NEW_YORK = ZoneInfo("America/New_York")
BEIJING = ZoneInfo("Asia/Shanghai")
HREF_RE = re.compile(r'href="([^"]+)"')
ARTICLE_PATH_RE = re.compile(r"^/(gb|b5)/\d{1,2}/\d{1,2}/\d{1,2}/n\d+\.htm$")
LIST_PATH_RE = re.compile(r"^/(gb|b5)/[a-z]+\d+(_\d+)?\.htm$")
Truth = list[dict[str, Any]]


def _html(site: Site, path: str) -> str:
    page = site.get(path)
    assert page.status == 200, path
    return page.body.decode()


def _by_edition(truth: Truth, edition: str) -> dict[str, dict[str, Any]]:
    return {row["article_id"]: row for row in truth if row["edition"] == edition}


def _path(url: str) -> str:
    return urlsplit(url).path


# ---- determinism and scale ----------------------------------------------------------------------------------


def test_same_arguments_give_the_same_site_byte_for_byte() -> None:
    first, second = Site(articles=60, seed=3, faults=True), Site(articles=60, seed=3, faults=True)
    paths = ["/gb/", "/b5/nsc413.htm", "/gb/nsc1025_2.htm", "/b5/feed", *first.article_urls()[::7]]
    for path in paths:
        assert first.get(_path(path)).body == second.get(_path(path)).body
    assert list(first.truth()) == list(second.truth())


def test_another_seed_gives_another_site() -> None:
    assert list(Site(articles=30, seed=1).truth()) != list(Site(articles=30, seed=2).truth())


def test_a_larger_site_keeps_the_first_articles_identical(replica_site: Site, replica_truth: Truth) -> None:
    larger = Site(articles=90)
    assert list(larger.truth())[: len(replica_truth)] == replica_truth
    for url in replica_site.article_urls()[::5]:
        assert larger.get(_path(url)).body == replica_site.get(_path(url)).body
    newest_small = replica_site.metadata()[-1]
    assert all(m.published > newest_small.published for m in larger.metadata()[60:])


def test_truth_is_ordered_by_id_gb_then_b5(replica_truth: Truth) -> None:
    numbers = [int(row["article_id"][1:]) for row in replica_truth]
    assert numbers == sorted(numbers)
    assert [row["edition"] for row in replica_truth[:4]] == ["gb", "b5", "gb", "b5"]


def test_ids_grow_with_publication_time(replica_site: Site) -> None:
    metas = replica_site.metadata()
    assert all(a.number < b.number and a.published < b.published for a, b in itertools.pairwise(metas))


# ---- editions -----------------------------------------------------------------------------------------------


def test_b5_is_the_s2t_conversion_of_gb_and_folds_back(replica_truth: Truth) -> None:
    gb, b5 = _by_edition(replica_truth, "gb"), _by_edition(replica_truth, "b5")
    assert gb.keys() == b5.keys()
    differing = 0
    for article_id, simplified in gb.items():
        traditional = b5[article_id]
        for key in ("title", "body_text", "editor", "dateline", "section"):
            if simplified[key] is None:
                assert traditional[key] is None
                continue
            assert traditional[key] == text.s2t(simplified[key]), (article_id, key)
            assert text.t2s(traditional[key]) == simplified[key], (article_id, key)
        for key in ("categories", "tags", "authors"):
            assert traditional[key] == [text.s2t(v) for v in simplified[key]]
        assert traditional["language"] == "zh-Hant" and simplified["language"] == "zh-Hans"
        assert traditional["url"] == simplified["url"].replace("/gb/", "/b5/")
        differing += traditional["body_text"] != simplified["body_text"]
    assert differing == len(gb)


def test_every_sentence_and_title_of_the_pools_round_trips() -> None:
    assert all(text.round_trips(s) for s in text.sentence_pool())
    assert all(text.round_trips(s) for s in text.title_pool())
    assert any(text.s2t(s) != s for s in text.SEED_SENTENCES)


# ---- truth vs pages -----------------------------------------------------------------------------------------


def test_truth_values_appear_on_the_pages(replica_site: Site, replica_truth: Truth) -> None:
    for row in replica_truth:
        html = _html(replica_site, _path(row["url"]))
        assert f">{row['title']}<" in html
        for tag in row["tags"]:
            assert tag in html
        if row["dateline"]:
            assert row["dateline"] in html
        if row["editor"]:
            assert row["editor"] in html
        for image in row["images"]:
            assert image["url"] in html or image["url"].replace(".jpg", "-600x400.jpg") in html
        assert len(row["body_text"]) == row["char_count"]


def test_url_date_is_the_new_york_date_of_publication(replica_site: Site, replica_truth: Truth) -> None:
    shifted = 0
    for meta in replica_site.metadata():
        assert meta.path("gb").startswith(
            f"/gb/{meta.url_date.year % 100}/{meta.url_date.month}/{meta.url_date.day}/"
        )
        assert meta.url_date == meta.published.astimezone(NEW_YORK).date()
        shifted += meta.url_date != meta.published.astimezone(BEIJING).date()
    assert shifted > 0


def test_every_truth_article_is_reachable_from_the_home_pages(
    replica_site: Site, replica_truth: Truth
) -> None:
    seen_articles: set[str] = set()
    queue, visited = deque(["/gb/", "/b5/"]), set()
    while queue:
        path = queue.popleft()
        if path in visited:
            continue
        visited.add(path)
        for href in HREF_RE.findall(_html(replica_site, path)):
            target = _path(href)
            if ARTICLE_PATH_RE.match(target):
                seen_articles.add(target)
            elif LIST_PATH_RE.match(target):
                queue.append(target)
    assert {_path(row["url"]) for row in replica_truth} <= seen_articles
    assert any(p.endswith("_2.htm") for p in visited)


def test_links_vary_like_the_real_site_and_never_name_the_replica(replica_site: Site) -> None:
    html = "".join(_html(replica_site, p) for p in ("/gb/nsc413.htm", "/gb/nsc413_2.htm", "/gb/nsc412_2.htm"))
    hrefs = HREF_RE.findall(html)
    assert any(h.startswith("https://www.epochtimes.com/") for h in hrefs)
    assert any(h.startswith("http://www.epochtimes.com/") for h in hrefs)
    assert any("?utm_source=" in h for h in hrefs)
    assert any("#" in h for h in hrefs)
    assert any(h.startswith("/gb/") for h in hrefs)
    assert not any("127.0.0.1" in h for h in hrefs)


# ---- site shape ---------------------------------------------------------------------------------------------


def test_robots_home_rss_feed_tags_and_404(replica_site: Site, replica_truth: Truth) -> None:
    robots = replica_site.get("/robots.txt").body.decode()
    assert "Disallow: /gb/search/" in robots and "Disallow: /b5/search/" in robots
    home = _html(replica_site, "/gb/")
    assert all(f"{c}.htm" in home for c in replica_site.channels())
    rss = replica_site.get("/b5/nsc413.xml")
    assert rss.headers["Content-Type"].startswith("application/rss+xml")
    assert "<content:encoded>" in rss.body.decode() and 'version="2.0"' in rss.body.decode()
    assert "<item>" in replica_site.get("/gb/feed").body.decode()
    tagged = next(row for row in replica_truth if row["tags"] and row["edition"] == "b5")
    tag_page = _html(replica_site, render.tag_url("b5", tagged["tags"][0]).split("epochtimes.com")[1])
    assert tagged["title"] in tag_page
    for unknown in ("/gb/nope.htm", "/gb/nsc413_99.htm", "/gb/nsc413_1.htm", "/gb/21/1/1/n1.htm", "/x"):
        assert replica_site.get(unknown).status == 404


def test_channel_pages_front_archive_and_legacy_layouts(replica_site: Site) -> None:
    for channel in replica_site.channels():
        assert replica_site.get(f"/gb/{channel}_2.htm").status == 200, channel
        assert 'class="featured"' in _html(replica_site, f"/gb/{channel}.htm")
    archive = _html(replica_site, "/gb/nsc413_2.htm")
    assert 'class="post_list left_col"' in archive and 'class="one_post"' in archive
    assert archive.count('class="one_post"') <= render.ITEMS_PER_PAGE
    legacy = _html(replica_site, "/b5/nsc1025_2.htm")
    assert 'id="artlist"' in legacy and 'class="arttitle column"' in legacy and 'class="menu_page"' in legacy


def test_pagination_marks_the_last_page_second_to_last_with_thousands_commas() -> None:
    rng = random.Random(0)
    for page in (1, 2, 1233, 1234):
        html = render.pagination("gb", "nsc413", page, 1234, rng)
        numbers = re.findall(r'<a class="[^"]*page-numbers[^"]*" href="[^"]*">([^<]*)</a>', html)
        assert numbers[-2] == "1,234", page


def test_list_pages_are_newest_first(replica_site: Site) -> None:
    ids = [
        int(n)
        for n in re.findall(
            r'class="title"><a href="[^"]*/n(\d+)\.htm', _html(replica_site, "/gb/nsc412_2.htm")
        )
    ]
    assert ids == sorted(ids, reverse=True) and ids


# ---- layouts and features -----------------------------------------------------------------------------------


def test_the_small_site_has_every_layout_and_date_source(replica_site: Site, replica_truth: Truth) -> None:
    assert {m.layout for m in replica_site.metadata()} == {"pre2013", "legacy", "current"}
    assert {row["date_source"] for row in replica_truth} == {"page", "dateline", "url"}
    pages = {m.layout: _html(replica_site, m.path("gb")) for m in replica_site.metadata()}
    assert '<div class="art-head"><h1>' in pages["pre2013"]
    assert 'class="blue18 title"' in pages["legacy"] and "更新: " in pages["legacy"]
    assert 'itemprop="articleBody"' in pages["current"] and '<div class="info"><time' in pages["current"]


def _all_article_html(site: Site, edition: str = "gb") -> str:
    return "\n".join(_html(site, m.path(edition)) for m in site.metadata())


def test_every_feature_shows_up_in_the_small_site(replica_site: Site, replica_truth: Truth) -> None:
    html = _all_article_html(replica_site)
    for marker in (
        'property="article:published_time"',
        '"datePublished": "20',
        "<h2>",
        "<h3>",
        '<p><figure class="wp-caption">',
        "<figcaption>",
        '<div class="featured_image">',
        "<noscript><img",
        '<div class="arttop">',
        'rel="tag"',
        "/gb/tag/",
        "http://www.epochtimes.com/gb/tag/",
        "&nbsp;",
        "\u3000\u3000",
        "</p></p>",
        "（Getty Images）",
        "（大纪元）",
        "(AFP via Getty Images)",
        " #</p>",
        "。#</p>",
        "#</p>",
        "责任编缉：",
        'class="related-posts"',
        'class="breadcrumbs"',
        " 12:",
        " AM</time>",
        " PM</time>",
    ):
        assert marker in html, marker
    assert any(z in html for z in render.ZERO_WIDTH)
    assert re.search(r"<p>责任编辑：\w+#</p>", html)
    assert re.search(r"更新 \d{4}-\d\d-\d\d 12:\d\d (AM|PM)", html)
    for noise in render.NOISE_BLOCKS.values():
        assert noise in html, noise
    gb = list(_by_edition(replica_truth, "gb").values())
    assert any(row["title"].startswith("更新：") for row in gb)
    assert any(not row["categories"] for row in gb if row["section"])
    assert any(not row["images"] for row in gb)
    assert any(row["dateline"] is None and row["date_source"] == "page" for row in gb)
    assert any(row["updated_at"] and row["updated_at"] > row["published_at"] for row in gb)
    assert min(row["char_count"] for row in gb) < 250
    assert max(row["char_count"] for row in gb) > 7500
    assert any(any(i["credit"] is None for i in row["images"]) for row in gb)


def test_json_ld_has_a_false_z_from_2022_and_a_few_genuine_utc_stamps(replica_site: Site) -> None:
    false_z = genuine_z = 0
    for meta in replica_site.metadata():
        html = _html(replica_site, meta.path("gb"))
        match = re.search(r'"datePublished": "([^"]+)"', html)
        if match is None or not match.group(1).endswith("Z"):
            continue
        stamp = match.group(1)
        beijing = meta.published.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%SZ")
        utc = meta.published.strftime("%Y-%m-%dT%H:%M:%SZ")
        false_z += stamp == beijing
        genuine_z += stamp == utc
        assert stamp in (beijing, utc)
    assert false_z > 10 and genuine_z >= 2


def test_every_byline_form_gives_its_authors(replica_truth: Truth, replica_site: Site) -> None:
    html = _all_article_html(replica_site)
    for template in (
        "综合报导）",
        "、",
        "／",
        "英文大纪元记者",
        "编译）",
        "综合编译）",
        "（记者",
        "文：",
        "作者：",
        "（大纪元综合报导）",
    ):
        assert template in html, template
    assert any(place + "报导）" in html for place in text.PLACES)
    counts = {len(row["authors"]) for row in replica_truth}
    assert counts == {0, 1, 2}
    assert any("‧" in a or "·" in a for row in replica_truth for a in row["authors"])


def test_exact_and_near_copies(replica_truth: Truth, replica_site: Site) -> None:
    gb = _by_edition(replica_truth, "gb")
    exact, near = replica_site.exact_copies(), replica_site.near_copies()
    assert exact and near
    for copy, original in exact.items():
        assert (gb[copy]["title"], gb[copy]["body_text"]) == (
            gb[original]["title"],
            gb[original]["body_text"],
        )
    for copy, original in near.items():
        assert gb[copy]["body_text"] != gb[original]["body_text"]
        assert abs(len(gb[copy]["body_text"]) - len(gb[original]["body_text"])) < 20


# ---- revisions ----------------------------------------------------------------------------------------------


def test_revision_edits_about_a_tenth_and_moves_date_modified() -> None:
    base, edited = Site(articles=400), Site(articles=400, revision=1)
    changed = edited.edited_ids(0)
    assert 20 <= len(changed) <= 60
    before = {(r["article_id"], r["edition"]): r for r in base.truth()}
    for row in edited.truth():
        old = before[(row["article_id"], row["edition"])]
        assert (row["body_text"] != old["body_text"]) == (row["article_id"] in changed)
        if row["article_id"] in changed and old["updated_at"]:
            assert row["updated_at"] > old["updated_at"]
    assert Site(articles=400, revision=2).edited_ids(1) != changed
    assert changed <= Site(articles=400, revision=2).edited_ids(0)


# ---- faults -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Site:
    return Site(articles=60, faults=True)


def test_fault_paths_are_linked_from_channel_front_pages(faulty: Site) -> None:
    kinds = faulty.fault_paths()
    assert set(kinds) == {
        "flaky", "dead", "slow", "truncated", "redirect", "too_big", "gzip_bomb", "not_article",
        "gbk", "gb18030", "big5", "malformed",
    }  # fmt: skip
    front = _html(faulty, "/gb/ncid277.htm") + _html(faulty, "/b5/ncid277.htm")
    for kind, paths in kinds.items():
        if kind != "flaky":
            assert all(p in front for p in paths), kind
    truth_paths = {_path(r["url"]) for r in faulty.truth()}
    pure = ("dead", "slow", "truncated", "redirect", "too_big", "gzip_bomb", "not_article")
    assert not any(p in truth_paths for k in pure for p in kinds[k])
    assert all(p in truth_paths for k in ("flaky", "gbk", "gb18030", "big5", "malformed") for p in kinds[k])


def test_flaky_articles_fail_once_then_succeed(faulty: Site) -> None:
    path = faulty.fault_paths()["flaky"][0]
    assert [faulty.get(path).status for _ in range(3)] == [500, 200, 200]
    assert faulty.get(path + "?again=1").status == 200


def test_encoded_pages_decode_to_the_same_article(faulty: Site, replica_site: Site) -> None:
    kinds = faulty.fault_paths()
    for kind, codec, header in (("gbk", "gbk", True), ("gb18030", "gb18030", False), ("big5", "big5", True)):
        path = kinds[kind][0]
        page = faulty.get(path)
        assert page.headers["Content-Type"] == (f"text/html; charset={codec}" if header else "text/html")
        decoded = unescape(page.body.decode(codec))  # characters the codec lacks are numeric references
        assert f'<meta charset="{codec}">' in decoded
        with pytest.raises(UnicodeDecodeError):
            page.body.decode("utf-8")
        clean = replica_site.get(path).body.decode()
        title = re.search(r'<h1 class="title">([^<]+)</h1>', clean)
        assert title is not None and title.group(1) in decoded
    malformed = faulty.get(kinds["malformed"][0]).body.decode()
    assert "</p>\n</p>" in malformed and "</main>" not in malformed


def test_pure_faults_behave(faulty: Site) -> None:
    kinds = faulty.fault_paths()
    assert all(faulty.get(p).status == 404 for p in kinds["dead"])
    redirect = faulty.get(kinds["redirect"][0])
    assert redirect.status == 302 and redirect.headers["Location"].startswith("http://evil.example.net/")
    assert faulty.get(kinds["slow"][0]).delay == 40.0
    truncated = faulty.get(kinds["truncated"][0])
    assert truncated.truncate and int(truncated.headers["Content-Length"]) > len(truncated.body)
    big = faulty.get(kinds["too_big"][0])
    assert big.stream is not None and sum(len(c) for c in big.stream()) == TOO_BIG_BYTES
    assert "artbody" not in _html(faulty, kinds["not_article"][0])


def test_gzip_bomb_is_small_on_the_wire_and_over_a_gigabyte_inflated(faulty: Site) -> None:
    page = faulty.get(faulty.fault_paths()["gzip_bomb"][0])
    assert page.headers["Content-Encoding"] == "gzip" and len(page.body) < 2 * 1024 * 1024
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    total, data = 0, page.body
    while data and total <= 2**30:
        total += len(inflater.decompress(data, 64 * 1024 * 1024))
        data = inflater.unconsumed_tail
    assert total > 2**30
    assert page.body[:3] == b"\x1f\x8b\x08"


# ---- redesign, export, CLI, server --------------------------------------------------------------------------


def test_redesign_changes_article_markup_only(replica_site: Site) -> None:
    redesigned = Site(articles=60, redesign=True)
    meta = replica_site.metadata()[-1]
    html = _html(redesigned, meta.path("gb"))
    assert 'class="story-v2"' in html and "artbody" not in html and "<h1" not in html
    assert redesigned.get("/gb/nsc413_2.htm").body == replica_site.get("/gb/nsc413_2.htm").body


def test_export_writes_the_fault_free_site(tmp_path: Path) -> None:
    site = Site(articles=25)
    count = export(site, tmp_path)
    assert count == len(list(site.static_paths()))
    assert (tmp_path / "gb" / "index.html").read_bytes() == site.get("/gb/").body
    assert (tmp_path / "b5" / "feed" / "index.xml").exists()
    first = site.metadata()[0].path("b5")
    assert file_for(tmp_path, first).read_bytes() == site.get(first).body
    tag_file = tmp_path / "gb" / "tag" / f"{text.TAGS[0]}.html"
    assert tag_file.exists()


def test_truth_command_prints_the_truth_as_json_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.replica", "truth", "--articles", "12", "--seed", "4"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == list(Site(articles=12, seed=4).truth())
    datetime.fromisoformat(rows[0]["published_at"])


def test_server_answers_over_http_and_the_slow_page_blocks_nothing() -> None:
    site = Site(articles=60, faults=True)
    paths = site.fault_paths()
    with serve_replica(articles=60, faults=True, slow_seconds=3) as base:
        slow_result: list[float] = []

        def fetch_slow() -> None:
            started = time.monotonic()
            with urllib.request.urlopen(base + paths["slow"][0], timeout=10) as response:
                response.read()
            slow_result.append(time.monotonic() - started)

        slow = threading.Thread(target=fetch_slow)
        slow.start()
        started = time.monotonic()
        with urllib.request.urlopen(base + "/gb/nsc413_2.htm", timeout=10) as response:
            assert response.read() == site.get("/gb/nsc413_2.htm").body
        assert time.monotonic() - started < 2
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(base + paths["flaky"][0], timeout=10)
        assert failure.value.code == 500
        failure.value.close()
        with urllib.request.urlopen(base + paths["flaky"][0], timeout=10) as response:
            assert response.status == 200
        slow.join()
        assert slow_result and slow_result[0] >= 2.9
