"""Discovery's hard cases in the replica: the 2018 home page, list pages in a markup no parser knows, rankings.

- `home_2018`: the home page of the Foundation theme as SITE.md 2.3 describes the March 2018 capture (S20),
  markup reconstructed from that description: channels in `nav.top-bar > section.top-bar-section > ul#col-N`,
  channels shown only as tabs (`a[slugid][href="#slug"]`, their panes empty), a section head
  (`div.focus_leftnavi_top > a`) and a "more" link (`a.more`) as the only links to some channels, the 要闻 list
  `nimpart` and its feed, ranking pages (`nrw`, `nscrw<N>`), and article links in `ul.bxslider`, `div.newslist`,
  `div.picsdiv`, `ul.video_list` and `div.imagepost`: absolute `http://` links, root-relative ones, and a list
  URL carrying an article id in its fragment. No `<main>`, no `#main`, no `nav.main-nav`.
- `unknown_list_page`: a list page whose list markup is none of SITE.md 3 (`section.stream > article.entry`,
  `nav.pager`), beside a sidebar of the site's newest ("hot") articles that changes on every new article.
- `ranking_page`: what `nrw`/`nscrw<N>` show: articles of other lists by popularity (never to be walked).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from tests.replica.content import LANGUAGES
from tests.replica.render import NEXT_TEXT, PLACEHOLDER_SRC, ListItem, channel_path, link

# How the 2018 home page shows each replica channel (SITE.md 2.3); every shape but "nav" hides it from a crawler
# that reads only navigation menus.
CHANNEL_SHAPES_2018: dict[str, str] = {
    "nsc413": "nav",
    "ncid277": "nav",
    "nsc412": "tab",
    "nsc1025": "tab",
    "nf2283": "section_head",
}
NIMPART = "nimpart"  # 要闻: every article, newest first, with a feed
RANKINGS = ("nrw", "nscrw413")  # SITE.md 2.3: ranking pages, never walked
RANKING_ITEMS = 10
HOT_ITEMS = 5
SITE_TITLE = {"gb": "大纪元新闻网", "b5": "大紀元新聞網"}

# How many of the newest articles each home block shows (the real page: 28, 124, 48, 28 and 4 links).
BLOCK_SIZES = (("bxslider", 6), ("newslist", 12), ("picsdiv", 4), ("video_list", 4), ("imagepost", 2))
OLD_ITEMS = 2  # the real page also links a few very old articles (the 2004 九评 series)


@dataclass(frozen=True, slots=True)
class Home2018:
    edition: str
    channel_titles: dict[str, str]
    newest: Sequence[ListItem]  # newest first, at least sum of BLOCK_SIZES
    oldest: Sequence[ListItem]


def _http(path: str) -> str:
    return f"http://www.epochtimes.com{path}"


def _nav(home: Home2018) -> str:
    ed = home.edition
    nav = [name for name, shape in CHANNEL_SHAPES_2018.items() if shape == "nav"]
    columns = [
        "".join(
            f'<li><span class="top_main_sg"><a target="_blank" href="{channel_path(ed, name)}">'
            f"{escape(home.channel_titles[name])}</a></span></li>"
            for name in nav
        ),
        f'<li><span class="top_main_sg"><a target="_blank" href="/{ed}/{RANKINGS[0]}.htm">排行</a></span></li>'
        '<li><span class="top_main_sg"><a target="_blank" href="http://blog.epochtimes.com">博客</a></span></li>',
    ]
    body = "".join(f'<ul id="col-{n}">{column}</ul>' for n, column in enumerate(columns, start=1))
    return (
        '<nav class="top-bar" data-topbar="" role="navigation"><ul class="title-area"><li class="name"></li>'
        '<li class="toggle-topbar menu-icon"><a href="/"><span></span></a></li></ul>'
        f'<section class="top-bar-section">{body}</section></nav>\n'
    )


def _bxslider(items: Sequence[ListItem], edition: str) -> str:
    slides = "".join(
        f'<li id="big{i.meta.number}"><div class="slideImage"><a target="_blank" href="{_http(i.meta.path(edition))}"'
        f' title="{escape(i.title)}"><img src="{i.image.sized_url if i.image else PLACEHOLDER_SRC}"></a></div>'
        f'<div class="slide_title"><a target="_blank" href="{_http(i.meta.path(edition))}"><h1>{escape(i.title)}</h1>'
        "</a></div></li>\n"
        for i in items
    )
    pager = "".join(f'<a data-slide-index="{n}" href=""><img src=""></a>' for n in range(len(items)))
    return f'<div id="focus_left_photo"><ul class="bxslider">\n{slides}</ul><div id="bx-pager">{pager}</div></div>\n'


def _newslist(items: Sequence[ListItem], edition: str) -> str:
    rows = []
    for n, i in enumerate(items):
        href = _http(i.meta.path(edition)) if n % 4 else i.meta.path(edition)  # some root-relative
        marker = '<font class="tu">图</font>' if n % 3 == 0 else '<span class="title_video">视频</span>'
        rows.append(
            f'<div class="newslist"><a target="_blank" href="{href}">{escape(i.title)}</a>{marker}</div>'
        )
    return "\n".join(rows) + "\n"


def _section(home: Home2018, name: str, inner: str) -> str:
    ed = home.edition
    return (
        '<div class="focus_cont"><div class="focus_left_navi"><div class="focus_leftnavi_top">'
        f'<a title="点击显示更多" href="{channel_path(ed, name)}" target="_blank">{escape(home.channel_titles[name])}</a>'
        f'</div></div><div class="focus_cont_main_left">{inner}</div></div>\n'
    )


def _picsdiv(items: Sequence[ListItem], edition: str) -> str:
    return "".join(
        f'<div class="picsdiv"><div class="imgdiv"><a href="{_http(i.meta.path(edition))}" target="_blank">'
        f'<img class="lazy" data-src="{i.image.sized_url if i.image else ""}" src="{PLACEHOLDER_SRC}">'
        f'<noscript><img src="{i.image.sized_url if i.image else ""}"></noscript></a></div>'
        f'<span class="picspan"><a href="{_http(i.meta.path(edition))}" target="_blank">{escape(i.title)}</a>'
        "</span></div>\n"
        for i in items
    )


def _video_list(items: Sequence[ListItem], edition: str, rng: random.Random) -> str:
    rows = "".join(
        f'<li class="clear"><div class="title"><a href="{_http(i.meta.path(edition))}" target="_blank">'
        f'{escape(i.title)}</a></div><div class="date_pageview"><span class="date">'
        f'{i.meta.url_date.month}月{i.meta.url_date.day}日</span><span class="pageview">人气 {rng.randint(100, 9999)}'
        "</span></div></li>"
        for i in items
    )
    return f'<ul class="video_list">{rows}</ul>\n'


def _imagepost(items: Sequence[ListItem], edition: str) -> str:
    return "".join(
        f'<div class="imagepost"><a href="{i.meta.path(edition)}"><img src="{PLACEHOLDER_SRC}"></a>'
        f'<a href="{i.meta.path(edition)}">{escape(i.title)}</a></div>\n'
        for i in items
    )


def _tabs(home: Home2018) -> str:
    tabs = [name for name, shape in CHANNEL_SHAPES_2018.items() if shape == "tab"]
    heads = "".join(
        f'<li class="tab-title"><a cid="{name.lstrip("nscidf")}" slugid="{name}" href="#{name}">'
        f"{escape(home.channel_titles[name])}</a></li>"
        for name in tabs
    )
    # The panes are filled by JavaScript from /assets/uploads/segments/{ed}/{cid}.html: empty in the HTML.
    panes = "".join(f'<div class="content" cid="{name.lstrip("nscidf")}" id="{name}"></div>' for name in tabs)
    return f'<ul class="tabs" data-tab="">{heads}</ul><div class="tabs-content">{panes}</div>\n'


def home_2018(home: Home2018, rng: random.Random) -> str:
    ed = home.edition
    blocks: dict[str, Sequence[ListItem]] = {}
    start = 0
    for name, size in BLOCK_SIZES:
        blocks[name] = home.newest[start : start + size]
        start += size
    fragment = home.newest[
        0
    ]  # SITE.md 2.3: `/gb/nf4830.htm#10232134`, an article id in a list URL's fragment
    section_heads = [name for name, shape in CHANNEL_SHAPES_2018.items() if shape == "section_head"]
    sections = "".join(
        _section(home, name, _newslist(blocks["newslist"], ed) + _picsdiv(blocks["picsdiv"], ed))
        for name in section_heads
    )
    inner = (
        f'<div id="focus_are" class="row"><div id="focus_left_bx">{_bxslider(blocks["bxslider"], ed)}</div>\n'
        f"{sections}"
        f'<div class="focus_right"><div class="focus_leftnavi_top"><a href="/{ed}/{NIMPART}.htm">要闻</a></div>'
        f'<a class="more" href="{channel_path(ed, "nf2283")}#{fragment.meta.number}">更多</a>'
        f'<a class="more" href="/{ed}/{NIMPART}.htm">更多要闻</a> <a href="/{ed}/{NIMPART}.xml">RSS</a>'
        f'<a href="/{ed}/{RANKINGS[1]}.htm">大陆排行</a></div></div>\n'
        f"{_tabs(home)}"
        f'<div id="video_area">{_video_list(blocks["video_list"], ed, rng)}</div>\n'
        f'<div id="image_area">{_imagepost(blocks["imagepost"], ed)}</div>\n'
        f'<div id="old_area"><ul>{_old(home.oldest, ed)}</ul></div>\n'
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[ed]}"><head>\n<meta charset="UTF-8">\n'
        f"<title>{SITE_TITLE[ed]} - 海外最大中文媒体</title>\n</head>\n<body>\n"
        '<div id="container" class="row"><div id="head" class="row">'
        f'<div id="top1"><span class="top_sign"><a href="/b5/">正体</a></span>'
        f'<span class="top_sign"><a href="/gb/">简体</a></span>'
        f'<span class="top_sign"><a href="/{ed}/djy-rss.htm" target="_blank">RSS</a></span></div>'
        f"{_nav(home)}</div>\n{inner}</div>\n</body></html>\n"
    )


def _old(items: Sequence[ListItem], edition: str) -> str:
    return "".join(f'<li><a href="{_http(i.meta.path(edition))}">{escape(i.title)}</a></li>' for i in items)


def _pager(edition: str, channel: str, page: int, last: int, rng: random.Random) -> str:
    numbers = sorted({1, page - 1, page + 1, last} & set(range(1, last + 1)) - {page})
    parts = [f'<a href="{link(channel_path(edition, channel, n), rng)}">{n:,}</a>' for n in numbers]
    parts.insert(sum(1 for n in numbers if n < page), f"<b>{page:,}</b>")
    if page < last:
        parts.append(
            f'<a rel="next" href="{channel_path(edition, channel, page + 1)}">{NEXT_TEXT[edition]}</a>'
        )
    return f'<nav class="pager">{" ".join(parts)}</nav>\n'


def _hot(items: Sequence[ListItem], edition: str, rng: random.Random) -> str:
    rows = "".join(
        f'<li><a href="{link(i.meta.path(edition), rng)}">{escape(i.title)}</a></li>' for i in items
    )
    return f'<aside class="trending"><h4>热门</h4><ol>{rows}</ol></aside>\n'


def unknown_list_page(
    edition: str,
    channel: str,
    channel_title: str,
    items: Sequence[ListItem],
    hot: Sequence[ListItem],
    page: int,
    last: int,
    rng: random.Random,
) -> str:
    entries = "".join(
        f'<article class="entry"><h3 class="headline"><a href="{link(i.meta.path(edition), rng)}">'
        f'{escape(i.title)}</a></h3><p class="summary">{escape(i.excerpt)}</p>'
        f"<time>{i.meta.url_date.isoformat()}</time></article>\n"
        for i in items
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[edition]}"><head>\n<meta charset="utf-8">\n'
        f"<title>{escape(channel_title)} - {page:,}</title>\n</head>\n<body>\n"
        f'<div id="wrap"><div class="col-left"><section class="stream">\n{entries}</section>\n'
        f"{_pager(edition, channel, page, last, rng)}</div>\n"
        f'<div class="col-right">{_hot(hot, edition, rng)}</div></div>\n</body></html>\n'
    )


def ranking_page(edition: str, title: str, items: Sequence[ListItem], rng: random.Random) -> str:
    rows = "".join(
        f'<li><a href="{link(i.meta.path(edition), rng)}">{escape(i.title)}</a></li>' for i in items
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[edition]}"><head>\n<meta charset="utf-8">\n'
        f'<title>{escape(title)}</title>\n</head>\n<body>\n<ol class="rank">{rows}</ol>\n</body></html>\n'
    )
