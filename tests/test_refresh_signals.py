"""The free signals of the refresh (crawler.discovery.feeds.feed_items, crawler.middlewares.refresh.feed_hash)
and the sightings the refresh state keeps (pipelines.dataset.refresh_state): pure functions, real files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.discovery.feeds import FeedItem, feed_items
from crawler.middlewares.refresh import feed_hash
from crawler.urls import parse_article_url
from pipelines.dataset.refresh_state import read_sightings, sightings_path, write_sightings
from pipelines.dataset.storage import resolve
from pipelines.fingerprint import text_fingerprints
from tests.replica.model import build_metadata
from tests.replica.site import FEED_ITEMS, Site

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<item><title><![CDATA[更新：标题]]></title><link>https://www.epochtimes.com/gb/26/11/3/n14870001.htm</link>
<description>摘要</description><content:encoded><![CDATA[<p>第一段。</p><figure><img src="x.jpg"/></figure>
<h2>小标题</h2><p>第二 段<a href="/gb/tag/x.html">链接</a>。</p>]]></content:encoded></item>
<item><title>summary only</title><link>https://www.epochtimes.com/gb/26/11/3/n14870002.htm</link>
<description>only this</description></item>
<item><title>not an article</title><link>https://www.epochtimes.com/gb/tag/x.html</link>
<content:encoded><![CDATA[<p>x</p>]]></content:encoded></item>
</channel></rss>""".encode()

ATOM = """<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>标题</title>
<link rel="alternate" href="https://www.epochtimes.com/b5/26/11/3/n14870001.htm"/>
<content type="html">&lt;p&gt;第一段。&lt;/p&gt;</content></entry></feed>""".encode()


def test_feed_items_carry_the_full_text_of_article_items_only() -> None:
    assert feed_items(RSS) == [
        FeedItem(
            "https://www.epochtimes.com/gb/26/11/3/n14870001.htm",
            "更新：标题",
            "第一段。\n小标题\n第二 段链接。",
        )
    ]
    assert feed_items(ATOM) == [
        FeedItem("https://www.epochtimes.com/b5/26/11/3/n14870001.htm", "标题", "第一段。")
    ]


@pytest.mark.parametrize("body", [b"", b"not xml", b"<rss><channel><item><link>", b"\x00\xff"])
def test_broken_feeds_give_no_item_and_no_error(body: bytes) -> None:
    assert feed_items(body) == []


def test_a_feed_item_hashes_as_its_page_text_whatever_the_whitespace_or_script() -> None:
    item = FeedItem("u", "标题", "第一段。\n第二段。")
    assert feed_hash(item) == text_fingerprints("标题", "第一段。第二段。").content_hash
    assert feed_hash(FeedItem("u", "標題", "第一段。 第二段。")) == feed_hash(item)
    assert feed_hash(FeedItem("u", "标题", "第一段。\n第二段!")) != feed_hash(item)


def test_replica_feeds_show_the_current_text_of_the_newest_articles() -> None:
    metas = build_metadata(1, 200)
    clock = metas[-1].published + timedelta(hours=6)
    site = Site(articles=200, seed=1, clock=clock)
    items = feed_items(site.get("/gb/feed").body)
    assert len(items) == FEED_ITEMS
    by_id = {m.article_id: m for m in metas}
    for item in items:
        ref = parse_article_url(item.url)
        assert ref is not None
        meta = by_id[ref.article_id]
        content = site.content(meta, "gb")
        assert item.title == content.title
        assert item.text == "\n".join(content.body_lines())


def test_sightings_are_committed_whole_and_the_latest_per_article_is_read(tmp_path: Path) -> None:
    fs, root = resolve(str(tmp_path / "articles"))
    early, late = datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert write_sightings(fs, root, "20261120T080000Z-aaaaaa", {}) is None
    write_sightings(fs, root, "20261120T080000Z-aaaaaa", {"n1": early, "n2": early})
    path = write_sightings(fs, root, "20261121T090000Z-bbbbbb", {"n1": late})
    assert path == sightings_path(root, "20261121T090000Z-bbbbbb")
    # A hidden temporary left by a crash is never read.
    (tmp_path / "articles" / "_refresh" / ".seen-20261122T000000Z-cccccc.parquet").write_bytes(b"partial")
    assert read_sightings(fs, root, datetime(2026, 11, 1, tzinfo=UTC)) == {"n1": late, "n2": early}
    # Runs that started before the watch are not read.
    assert read_sightings(fs, root, datetime(2026, 11, 21, tzinfo=UTC)) == {"n1": late}
