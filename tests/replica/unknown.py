"""Article pages the site's parsers do not know (issue 11): what a crawl meets when the real site differs.

- Unknown layouts (`Site(unknown_layouts=True)`): the video pages, whose text sits under `div#article_wrap`
  in a player page without the article theme, and the 文化网 / 文化網 (culture) pages, whose text sits under
  `div.whitebg`. Neither has the markup any layout parser probes for, so only the general extractor reads them.
- Half-broken (`Site(half_broken=True)`): every article page keeps its layout, but the body is split across two
  containers: `div#artbody` holds the first third of its blocks and a sibling `div.post_content_more` the rest.
  The site's parser reads the first third without any error: only the cross-check can notice.

The truth of these pages stays the article's real content (the whole body): what a right extraction gives.
"""

from __future__ import annotations

import random
from html import escape

import lxml.html

from tests.replica.content import CANONICAL_BASE, LANGUAGES, Content
from tests.replica.model import BEIJING, ArticleMeta
from tests.replica.render import HOME_TEXT, RELATED_TEXT, article_body

VIDEO = "video"
CULTURE = "culture"
# One article in UNKNOWN_PERIOD of each unknown layout: 2 of 50 (4%) stays under HEALTH_MAX_FALLBACK_RATIO's
# default 5%, so a crawl of such a site archives them with the general extractor and still passes.
UNKNOWN_PERIOD = 50
UNKNOWN_PHASES = {7: VIDEO, 32: CULTURE}
CULTURE_SITE = {"gb": "大纪元文化网", "b5": "大紀元文化網"}
HALF_BROKEN_CONTAINER = "post_content_more"
# The first container keeps the blocks that hold about this share of the body's text.
HALF_BROKEN_SHARE = 1 / 3


def unknown_layout(meta: ArticleMeta, protected: bool) -> str | None:
    """The unknown layout an article is served in, or None. Copies and their sources keep theirs: their
    rows must hash alike for the dedupe tests."""
    if protected:
        return None
    return UNKNOWN_PHASES.get(meta.index % UNKNOWN_PERIOD)


def _clock(meta: ArticleMeta) -> str:
    return f"{meta.published.astimezone(BEIJING):%Y-%m-%d %H:%M}"


def _head(content: Content, site_name: str, extra: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[content.edition]}"><head>\n<meta charset="utf-8">\n'
        f"<title>{escape(content.title)} - {escape(site_name)}</title>\n{extra}</head>\n"
    )


def _related_links(related: list[tuple[str, str]], css_class: str, edition: str) -> str:
    items = "".join(f'<li><a href="{path}">{escape(title)}</a></li>' for path, title in related)
    return f'<div class="{css_class}"><h3>{RELATED_TEXT[edition]}</h3><ul>{items}</ul></div>\n'


def video_article(
    meta: ArticleMeta, content: Content, related: list[tuple[str, str]], rng: random.Random
) -> str:
    """A video page: player, title and time, then the text in div#article_wrap; no article theme around it."""
    edition = content.edition
    canonical = CANONICAL_BASE + meta.path(edition)
    extra = (
        f'<meta property="og:title" content="{escape(content.title)} - {content.site_name}">\n'
        '<meta property="og:type" content="video.other">\n'
        f'<link rel="canonical" href="{canonical}">\n'
    )
    return (
        _head(content, content.site_name, extra)
        + f'<body>\n<div class="top-nav"><a href="/{edition}/">{HOME_TEXT[edition]}</a></div>\n'
        + '<div id="video_page">\n'
        + '<div class="video_player"><video controls preload="none" '
        + f'src="https://vod.example.org/{meta.article_id}.mp4"></video></div>\n'
        + f'<div class="video_info"><h1 class="video_title">{escape(content.title)}</h1>'
        + f'<span class="video_time">{_clock(meta)}</span></div>\n'
        + f'<div id="article_wrap">\n{article_body(meta, content, rng)}\n</div>\n'
        + _related_links(related, "related_videos", edition)
        + "</div>\n</body></html>\n"
    )


def culture_article(
    meta: ArticleMeta, content: Content, related: list[tuple[str, str]], rng: random.Random
) -> str:
    """A 文化网 page: its own site shell, the text in div.whitebg after a title block and a 发布时间 line."""
    edition = content.edition
    site_name = CULTURE_SITE[edition]
    published_label = "发布时间" if edition == "gb" else "發佈時間"
    return (
        _head(content, site_name)
        + f'<body>\n<div class="culture_nav"><a href="/{edition}/">{escape(site_name)}</a></div>\n'
        + '<div class="culture_main">\n<div class="whitebg">\n'
        + f'<div class="arttitle"><h1>{escape(content.title)}</h1></div>\n'
        + f'<div class="artinfo">{published_label}：{_clock(meta)}</div>\n'
        + f"{article_body(meta, content, rng)}\n</div>\n"
        + _related_links(related, "hotlist", edition)
        + "</div>\n</body></html>\n"
    )


def split_body(html: str) -> str:
    """The page with the second part of div#artbody's blocks moved to a sibling container after it."""
    root = lxml.html.document_fromstring(html)
    body = root.get_element_by_id("artbody")
    children = list(body)
    keep = _blocks_holding(children, HALF_BROKEN_SHARE)
    rest = lxml.html.Element("div", {"class": HALF_BROKEN_CONTAINER})
    rest.text = "\n"
    for child in children[keep:]:
        rest.append(child)
    rest.tail = "\n"
    body.addnext(rest)
    return str(lxml.html.tostring(root, doctype="<!DOCTYPE html>", encoding="unicode"))


def _blocks_holding(children: list[lxml.html.HtmlElement], share: float) -> int:
    """How many leading children hold ``share`` of their text (the one that crosses it included)."""
    sizes = [len(child.text_content().strip()) if isinstance(child.tag, str) else 0 for child in children]
    target, held = share * sum(sizes), 0
    for count, size in enumerate(sizes, start=1):
        held += size
        if held >= target:
            return count
    return len(children)
