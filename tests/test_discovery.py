"""Discovery's pure parts: one walk over any page (article links anywhere, the main list, channels of every shape,
paging) and feeds, on hand-written pages and on the replica's pages of every era."""

from __future__ import annotations

import re
from collections.abc import Iterator

import lxml.html
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.discovery import feeds, page
from crawler.urls import ListRef, parse_article_url
from tests.replica import era2018
from tests.replica.site import Site

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
<div class="sidebar"><ul><li><a href="https://www.epochtimes.com/gb/20/1/1/n11111111.htm">热门</a></li>
<li><a href="https://www.epochtimes.com/gb/20/1/2/n11111112.htm">热门</a></li>
<li><a href="https://www.epochtimes.com/gb/20/1/3/n11111113.htm">热门</a></li></ul></div></main></body></html>"""

LEGACY_LIST = """<html><body><div id="main"><div id="artlist">
  <div class="posts column"><div class="arttitle column">
    <a href="http://www.epochtimes.com/gb/16/5/3/n7777777.htm">标题</a></div>
    <div class="large-6 column"><a href="x"><img data-src="http://i.epochtimes.com/b.jpg"></a></div>
    <div class="content">摘要…</div></div>
</div>
<div class="menu_page"><a href="/gb/nsc1025_2.htm">2</a> <a href="/gb/nsc1025_3.htm">3</a>
  <a href="/gb/nsc1025_2.htm"> > </a></div></div></body></html>"""

# A list markup no selector knows, beside a bigger-looking but smaller sidebar block and a footer.
UNKNOWN_LIST = """<html><body><div id="wrap"><section class="stream">
<article><h3><a href="/gb/26/1/5/n105.htm">5</a></h3><p>..</p></article>
<article><h3><a href="/gb/26/1/4/n104.htm">4</a></h3><a href="/gb/26/1/4/n104.htm"><img></a></article>
<article><h3><a href="/gb/26/1/3/n103.htm">3</a></h3></article>
<article><h3><a href="/gb/26/1/2/n102.htm">2</a></h3></article></section>
<aside><ol><li><a href="/gb/26/1/9/n109.htm">hot</a> <a href="/gb/26/1/9/n109.htm">again</a></li>
<li><a href="/gb/26/1/8/n108.htm">hot</a></li><li><a href="/gb/26/1/7/n107.htm">hot</a></li></ol></aside>
<nav class="pager"><a href="/gb/nsc413.htm">1</a> <b>2</b> <a href="/gb/nsc413_3.htm">3</a>
<a href="/gb/nsc413_57.htm">57</a> <a href="/gb/nrw.htm">排行</a> <a href="/gb/nscrw413.htm">大陆排行</a></nav>
</div></body></html>"""


def _ids(urls: tuple[str, ...] | list[str]) -> list[str]:
    refs = [parse_article_url(url) for url in urls]
    return [ref.article_id for ref in refs if ref is not None]


def test_known_current_markup_is_the_main_list_and_every_article_link_is_found() -> None:
    links = page.scan(CURRENT_LIST, PAGE_URL)
    assert links.main_list_rule == page.RULE_KNOWN_MARKUP
    assert _ids(links.main_list) == ["n14870001", "n14870001", "n14869990"]
    assert links.main_list[2] == "http://127.0.0.1:8000/gb/26/11/2/n14869990.htm#c"
    # The sidebar's links are articles too (requested), just not the main list (paging).
    assert _ids(links.articles) == [*_ids(links.main_list), "n11111111", "n11111112", "n11111113"]
    assert links.last_page(ListRef("gb", "nsc413", 2)) == 1234


def test_known_legacy_markup() -> None:
    links = page.scan(LEGACY_LIST, PAGE_URL)
    assert links.main_list_rule == page.RULE_KNOWN_MARKUP
    assert links.main_list == ("http://www.epochtimes.com/gb/16/5/3/n7777777.htm",)
    assert links.last_page(ListRef("gb", "nsc1025", 2)) == 3


def test_unknown_markup_main_list_is_the_block_with_most_article_items_not_the_sidebar() -> None:
    links = page.scan(UNKNOWN_LIST, PAGE_URL)
    assert links.main_list_rule == page.RULE_LARGEST_BLOCK
    # The sidebar holds 4 links in 3 items, the stream 5 links in 4 items: items decide.
    assert _ids(links.main_list) == ["n105", "n104", "n104", "n103", "n102"]
    assert set(_ids(links.articles)) == {"n102", "n103", "n104", "n105", "n107", "n108", "n109"}
    assert links.last_page(ListRef("gb", "nsc413", 2)) == 57  # from the hrefs: no known pagination markup


def test_ranking_pages_are_not_lists_but_every_other_channel_shape_is() -> None:
    html = """<nav class="top-bar"><section class="top-bar-section"><ul id="col-1">
    <li><span class="top_main_sg"><a href="/gb/nsc413.htm">大陆</a></span></li>
    <li><span class="top_main_sg"><a href="http://www.epochtimes.com/gb/ncid1184623.htm">台湾</a></span></li>
    <li><a href="/gb/ncfreezone.htm">自由</a></li><li><a href="/gb/nf4830.htm#10232134">神韵</a></li>
    <li><a href="/gb/n24hr.htm">即时</a></li><li><a href="/gb/nimpart.htm">要闻</a></li>
    <li><a href="/gb/nrw.htm">排行</a></li><li><a href="/gb/nscrw413.htm">大陆排行</a></li></ul></section></nav>
    <ul class="tabs"><li class="tab-title"><a cid="414" slugid="nsc414" href="#nsc414">台湾</a></li>
    <li class="tab-title"><a slugid="../../etc/passwd" href="#x">bad</a></li></ul>
    <div class="content" cid="414" id="nsc414"></div>
    <a href="https://www.epochtimes.com/b5/nsc413.htm">正体</a><a href="/gb/tag/x.html">tag</a>"""
    links = page.scan(html, "http://127.0.0.1:8000/gb/")
    assert [ref.channel for ref in links.channels("gb")] == [
        "nsc413",
        "ncid1184623",
        "ncfreezone",
        "nf4830",
        "n24hr",
        "nimpart",
        "nsc414",
    ]
    assert [ref.channel for ref in links.channels("b5")] == ["nsc413"]
    assert all(ref.page == 1 for ref in links.channels("gb"))


HOSTILE_HREFS = """<a href=" /gb/26/1/2/n5.htm ">root</a><a href="//www.epochtimes.com/gb/26/1/2/n6.htm">proto</a>
    <a href="n7.htm">relative</a><a href="mailto:a@b">mail</a><a href="javascript:void(0)">js</a>
    <a href="http://[::1/gb/26/1/2/n9.htm">broken ipv6</a><a>no href</a><a href="#top">fragment</a>"""


def test_hrefs_of_every_form_are_made_absolute_and_hostile_ones_are_skipped() -> None:
    links = page.scan(HOSTILE_HREFS, "http://127.0.0.1:9/gb/26/1/3/n1.htm")
    assert links.articles == (
        "http://127.0.0.1:9/gb/26/1/2/n5.htm",
        "http://www.epochtimes.com/gb/26/1/2/n6.htm",
        "http://127.0.0.1:9/gb/26/1/3/n7.htm",
    )


@pytest.mark.parametrize("html", ["", "   ", "\x00\x01", "<html", "<!-- only a comment -->"])
def test_garbage_pages_yield_nothing(html: str) -> None:
    links = page.scan(html, PAGE_URL)
    assert links.articles == links.main_list == ()
    assert links.lists == ()
    assert links.last_page(ListRef("gb", "nsc413", 2)) is None


def test_a_page_of_100000_links_is_walked_once_element_by_element() -> None:
    """Linear by construction: every element is visited exactly once, whatever the number of links (the old
    nested XPath revisited the links of every enclosing block). Speed is in bench/bench_discovery.py."""
    count = 100_000
    items = "".join(f'<li><a href="/gb/26/1/2/n{n}.htm">t</a></li>' for n in range(count))
    html = f'<html><body><div class="x"><ul>{items}</ul></div><a href="/gb/nsc413_3.htm">3</a></body></html>'
    links = page.scan(html, PAGE_URL)
    elements = sum(1 for _ in lxml.html.document_fromstring(html).iter())
    assert links.nodes == elements == 2 * count + 5
    assert len(links.articles) == len(links.main_list) == count
    assert links.main_list_rule == page.RULE_LARGEST_BLOCK


def _replica_scan(site: Site, path: str) -> page.PageLinks:
    served = site.get(path)
    assert served.status == 200, path
    return page.scan(served.body.decode(), f"http://127.0.0.1:1{path}")


@pytest.mark.parametrize("edition", ["gb", "b5"])
def test_the_2018_home_page_yields_every_channel_and_every_article_it_links(edition: str) -> None:
    site = Site(articles=120, home_era="2018")
    links = _replica_scan(site, f"/{edition}/")
    channels = {ref.channel for ref in links.channels(edition)}
    assert channels == {*era2018.CHANNEL_SHAPES_2018, era2018.NIMPART}
    assert not channels & set(era2018.RANKINGS)
    shown = sum(size for _, size in era2018.BLOCK_SIZES)
    metas = site.metadata()
    expected = {m.article_id for m in metas[-shown:]} | {m.article_id for m in metas[: era2018.OLD_ITEMS]}
    assert set(_ids(links.articles)) == expected
    assert all(url.startswith("http") for url in links.articles)


def test_unknown_list_pages_of_the_replica_keep_the_hot_sidebar_out_of_the_main_list() -> None:
    site = Site(articles=200, list_markup="unknown")
    hot = {m.article_id for m in site.metadata()[-era2018.HOT_ITEMS :]}
    links = _replica_scan(site, "/gb/nsc413_3.htm")
    assert links.main_list_rule == page.RULE_LARGEST_BLOCK
    assert hot <= set(_ids(links.articles))
    assert not hot & set(_ids(links.main_list))
    assert len(set(_ids(links.main_list))) == 20
    assert links.last_page(ListRef("gb", "nsc413", 3)) == 4  # 200 articles, about 80 in nsc413


RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><link>https://www.epochtimes.com/gb/</link>
<item><title>&xxe;</title><link>https://www.epochtimes.com/gb/26/11/3/n14870001.htm</link></item>
<item><title>b</title><link> http://www.epochtimes.com/gb/26/11/2/n14869990.htm </link></item>
<item><title>tag</title><link>https://www.epochtimes.com/gb/tag/x.html</link></item>
</channel></rss>"""

ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><link href="https://www.epochtimes.com/gb/"/>
<entry><link rel="alternate" href="https://www.epochtimes.com/b5/26/11/3/n14870001.htm"/></entry></feed>"""


def test_feed_links_of_rss_and_atom_items_only() -> None:
    assert feeds.feed_links(RSS) == [
        "https://www.epochtimes.com/gb/26/11/3/n14870001.htm",
        "http://www.epochtimes.com/gb/26/11/2/n14869990.htm",
    ]
    assert feeds.feed_links(ATOM) == ["https://www.epochtimes.com/b5/26/11/3/n14870001.htm"]


@pytest.mark.parametrize("body", [b"", b"  ", b"not xml at all", b"<rss><channel><item><link>", b"\x00\xff"])
def test_broken_feeds_yield_no_link_and_no_error(body: bytes) -> None:
    assert feeds.feed_links(body) == []


def test_replica_feeds_list_the_newest_articles() -> None:
    site = Site(articles=60, home_era="2018")
    newest = [m.article_id for m in reversed(site.metadata()[-20:])]
    for path in ("/gb/feed", "/gb/nimpart.xml"):
        assert _ids(feeds.feed_links(site.get(path).body)) == newest


@pytest.mark.parametrize(
    ("items", "archived", "archive_has_gaps", "gap"),
    [
        (["n3", "n2"], {"n1"}, False, True),  # the feed's oldest item is newer than the archive
        (["n3", "n2", "n1"], {"n1"}, False, False),  # the feed reaches back into the archive
        (["n3", "n2", "n1"], {"n1"}, True, True),  # the archive itself may have holes
        ([], {"n1"}, False, True),  # an empty or failed feed proves nothing
    ],
)
def test_a_feed_shows_a_gap_unless_it_reaches_the_archive(
    items: list[str], archived: set[str], archive_has_gaps: bool, gap: bool
) -> None:
    assert feeds.has_gap(items, archived, archive_has_gaps) is gap


@pytest.mark.parametrize(
    ("markup", "home_era", "path"),
    [
        ("known", "2018", "/gb/"),
        ("known", "current", "/b5/"),
        ("known", "current", "/gb/nsc413_2.htm"),
        ("unknown", "2018", "/b5/nsc413.htm"),
        ("unknown", "current", "/gb/nsc413_3.htm"),
    ],
)
def test_the_article_links_alone_are_those_of_the_walk(markup: str, home_era: str, path: str) -> None:
    served = Site(articles=200, list_markup=markup, home_era=home_era).get(path)
    assert served.status == 200, path
    html, url = served.body.decode(), f"http://127.0.0.1:1{path}"
    assert len(page.scan_articles(html, url)) >= 10
    assert page.scan_articles(html, url) == page.scan(html, url).articles


@pytest.mark.parametrize(
    "html", [CURRENT_LIST, LEGACY_LIST, UNKNOWN_LIST, HOSTILE_HREFS, "", "<html", "\x00"]
)
def test_the_article_links_alone_of_hand_written_pages(html: str) -> None:
    assert page.scan_articles(html, PAGE_URL) == page.scan(html, PAGE_URL).articles


def test_article_pages_links_by_href_scan_match_the_walk() -> None:
    site = Site(articles=120)
    for meta in site.metadata()[60:70]:
        html = site.get(meta.path("gb")).body.decode()
        url = f"http://127.0.0.1:1{meta.path('gb')}"
        scanned = page.article_links(html, url)
        # Any href counts, so the page's own <link rel="canonical"> too: the spider has requested it already.
        assert [u for u in scanned if meta.article_id not in u] == list(page.scan(html, url).articles)
        assert len(scanned) > 1  # the related block


def test_href_scan_reads_every_quoting_and_entities() -> None:
    html = """<a href='/gb/26/1/2/n1.htm'>1</a><a class=x href=/gb/26/1/2/n2.htm>2</a>
    <a HREF = "https://www.epochtimes.com/gb/26/1/2/n3.htm?a=1&amp;b=2">3</a><a href="mailto:x">m</a>"""
    assert page.article_links(html, "http://127.0.0.1:1/gb/") == [
        "http://127.0.0.1:1/gb/26/1/2/n1.htm",
        "http://127.0.0.1:1/gb/26/1/2/n2.htm",
        "https://www.epochtimes.com/gb/26/1/2/n3.htm?a=1&b=2",
    ]


def test_href_scan_wants_a_word_boundary_before_the_name() -> None:
    html = """<a xhref="/gb/26/1/2/n1.htm" _href=/gb/26/1/2/n2.htm data-href=/gb/26/1/2/n3.htm>
    <b xhref="x href=/gb/26/1/2/n4.htm">é href=/gb/26/1/2/n5.htm éhref=/gb/26/1/2/n6.htm"""
    assert page.article_links(html, "http://127.0.0.1:1/gb/") == [
        "http://127.0.0.1:1/gb/26/1/2/n3.htm",
        "http://127.0.0.1:1/gb/26/1/2/n4.htm",
        "http://127.0.0.1:1/gb/26/1/2/n5.htm",
    ]


def test_href_scan_reads_each_href_as_its_page_does_when_it_recurs() -> None:
    # The same hrefs on pages of other paths and hosts: relative ones resolve against each page, root-relative
    # ones against its host, whatever an earlier page made of them.
    html = """<a href="../3/n5.htm">r</a><a href="/gb/26/1/2/n6.htm">root</a><a hReF="&#x2F;gb/26/1/2/n7.htm">e</a>
    <a href="https://www.epochtimes.com/gb/26/1/2/n8.htm">abs</a><a href="?x">self</a>"""
    for page_url, expected in [
        (
            "http://127.0.0.1:1/gb/26/1/2/n1.htm",
            [
                "http://127.0.0.1:1/gb/26/1/3/n5.htm",
                "http://127.0.0.1:1/gb/26/1/2/n6.htm",
                "http://127.0.0.1:1/gb/26/1/2/n7.htm",
                "https://www.epochtimes.com/gb/26/1/2/n8.htm",
                "http://127.0.0.1:1/gb/26/1/2/n1.htm?x",
            ],
        ),
        (
            "http://127.0.0.1:2/gb/25/7/8/n2.htm",
            [
                "http://127.0.0.1:2/gb/25/7/3/n5.htm",
                "http://127.0.0.1:2/gb/26/1/2/n6.htm",
                "http://127.0.0.1:2/gb/26/1/2/n7.htm",
                "https://www.epochtimes.com/gb/26/1/2/n8.htm",
                "http://127.0.0.1:2/gb/25/7/8/n2.htm?x",
            ],
        ),
    ]:
        assert page.article_links(html, page_url) == expected
        assert page.article_links(html, page_url) == expected  # and again, from the cache


def _href_values_by_name(html: str) -> list[str]:
    """Every href value read as the definition goes: find the name (any case), skip it after a word character,
    else match the attribute there; on no match, go on from the next character."""
    name_re = re.compile("href", re.IGNORECASE)
    attribute_re = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)

    def values() -> Iterator[str]:
        position = 0
        while (name := name_re.search(html, position)) is not None:
            start = name.start()
            before = html[start - 1] if start else ""
            attribute = None if before.isalnum() or before == "_" else attribute_re.match(html, start)
            if attribute is None:
                position = start + 1
                continue
            quoted, single, bare = attribute.groups(default="")
            yield quoted or single or bare
            position = attribute.end()

    return list(values())


_HREF_PIECES = [
    "href",
    "HREF",
    "hReF",
    "h",
    "H",
    "ref",
    "rEf",
    "reF",
    "=",
    " ",
    "\t",
    "\u3000",
    "\xa0",
    '"',
    "'",
    ">",
    "x",
    "_",
    "é",
    "中",
    "/gb/1",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_HREF_PIECES), max_size=14).map("".join))
@example('xhref="a href=b" href=c')
@example("href='' href=\"\" éhref=d _href=e")
@example("href=a hREF=b")  # one name not in lowercase: every name is looked for in any case
def test_href_scan_reads_the_values_the_definition_reads(html: str) -> None:
    assert list(page._href_values(html)) == _href_values_by_name(html)
