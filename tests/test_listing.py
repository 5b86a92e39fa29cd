"""List-page parsing over both list layouts of SITE.md section 3, plus the spider's argument validation."""

from __future__ import annotations

import pytest

from crawler import listing
from crawler.spiders.options import CrawlOptions

PAGE_URL = "http://127.0.0.1:8000/gb/nsc413_2.htm"

CURRENT_LIST = """<html><body><main id="main"><div class="x"><div class="post_list left_col">
  <div class="one_post"><div class="img"><a href="https://www.epochtimes.com/gb/26/11/3/n14870001.htm">
    <img src="data:image/gif;base64,R0lGOD" data-src="https://i.epochtimes.com/a.jpg"></a></div>
    <div class="text"><div class="title"><a href="https://www.epochtimes.com/gb/26/11/3/n14870001.htm?utm_source=x">
    标题一</a></div><div class="excerpt">摘要</div></div></div>
  <div class="one_post"><div class="text"><div class="title"><a href="/gb/26/11/2/n14869990.htm#c">标题二</a></div>
  </div></div>
  <div class="pagination"><a class="page-numbers" href="/gb/nsc413.htm">1</a>
    <span class="page-numbers current">2</span><a class="page-numbers" href="/gb/nsc413_3.htm">3</a>
    <a class="page-numbers" href="/gb/nsc413_1234.htm">1,234</a>
    <a class="next page-numbers" href="/gb/nsc413_3.htm">下一页</a></div>
</div></div>
<div class="sidebar"><a href="https://www.epochtimes.com/gb/20/1/1/n11111111.htm">热门</a></div></main></body></html>"""

LEGACY_LIST = """<html><body><div id="main"><div id="artlist">
  <div class="posts column"><div class="arttitle column">
    <a href="http://www.epochtimes.com/gb/16/5/3/n7777777.htm">标题</a></div>
    <div class="large-6 column"><a href="x"><img data-src="http://i.epochtimes.com/b.jpg"></a></div>
    <div class="content">摘要…</div></div>
</div>
<div class="menu_page"><a href="/gb/nsc1025_2.htm">2</a> <a href="/gb/nsc1025_3.htm">3</a>
  <a href="/gb/nsc1025_2.htm"> > </a></div></div></body></html>"""

HOME = """<html><body><nav class="main-nav"><a href="https://www.epochtimes.com/gb/nsc413.htm">大陆</a>
<a href="/gb/ncid277.htm">中国</a><a href="https://www.epochtimes.com/b5/nsc413.htm">大陸</a>
<a href="https://www.epochtimes.com/gb/nsc413.htm#top">again</a><a href="/gb/tag/x.html">tag</a></nav></body></html>"""


def test_current_layout_takes_only_list_items_in_order() -> None:
    links = listing.article_links(CURRENT_LIST, PAGE_URL)
    assert links == [
        "https://www.epochtimes.com/gb/26/11/3/n14870001.htm?utm_source=x",
        "http://127.0.0.1:8000/gb/26/11/2/n14869990.htm#c",
    ]


def test_legacy_layout_links() -> None:
    assert listing.article_links(LEGACY_LIST, PAGE_URL) == [
        "http://www.epochtimes.com/gb/16/5/3/n7777777.htm"
    ]


def test_unknown_list_markup_falls_back_to_article_links_in_main_column() -> None:
    html = '<div id="main"><ul><li><a href="/gb/26/1/2/n5.htm">x</a></li><li><a href="/gb/x.htm">y</a></li></ul></div>'
    assert listing.article_links(html, PAGE_URL) == ["http://127.0.0.1:8000/gb/26/1/2/n5.htm"]


@pytest.mark.parametrize(
    ("html", "expected"), [(CURRENT_LIST, 1234), (LEGACY_LIST, 3), ("<p>none</p>", None)]
)
def test_max_page_reads_thousands_commas_and_both_layouts(html: str, expected: int | None) -> None:
    assert listing.max_page(html) == expected


def test_channel_links_are_per_edition_and_unique() -> None:
    assert listing.channel_links(HOME, "http://127.0.0.1:8000/gb/", "gb") == [
        "https://www.epochtimes.com/gb/nsc413.htm",
        "http://127.0.0.1:8000/gb/ncid277.htm",
    ]


@pytest.mark.parametrize("html", ["", "   ", "\x00\x01", "<html"])
def test_garbage_list_pages_yield_nothing(html: str) -> None:
    assert listing.article_links(html, PAGE_URL) == []
    assert listing.max_page(html) is None


def test_crawl_options_defaults_and_parsing() -> None:
    options = CrawlOptions.parse(
        site="http://127.0.0.1:9/x?y", editions="gb,b5,gb", since="2026-01-02", full="1"
    )
    assert options.site == "http://127.0.0.1:9"
    assert options.editions == ("gb", "b5")
    assert options.since is not None and options.since.isoformat() == "2026-01-02"
    assert options.full is True
    assert options.refresh_days is None  # known articles are left to the refresh schedule
    assert CrawlOptions.parse(refresh_days="2").refresh_days == 2
    assert CrawlOptions.parse().site == "https://www.epochtimes.com"


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("editions", "gb,fr", "editions"),
        ("since", "2026-13-01", "since"),
        ("site", "ftp://x", "site"),
        ("full", "maybe", "full"),
        ("refresh_days", "-1", "refresh_days"),
        ("channels", "nsc413,../etc", "channels"),
    ],
)
def test_bad_spider_arguments_are_rejected_with_the_argument_named(
    argument: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CrawlOptions.parse(**{argument: value})
