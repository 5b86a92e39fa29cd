"""HTML and RSS of the replica's pages (docs/DESIGN.md "Site shape" and "Article pages")."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import quote

from tests.replica.content import CANONICAL_BASE, LANGUAGES, Block, Content, Image
from tests.replica.model import BEIJING, ArticleMeta

PLACEHOLDER_SRC = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
NEXT_TEXT = {"gb": "下一页", "b5": "下一頁"}
HOME_TEXT = {"gb": "首页", "b5": "首頁"}
RELATED_TEXT = {"gb": "相关文章", "b5": "相關文章"}
LEGACY_NEXT = " > "
UPDATED_LABEL = "更新"  # same character in both scripts
ITEMS_PER_PAGE = 20
EXCERPT_CHARS = 60


@dataclass(frozen=True, slots=True)
class ListItem:
    meta: ArticleMeta
    title: str
    excerpt: str
    image: Image | None


def link(path: str, rng: random.Random) -> str:
    """How the real site varies its links: mostly https, some http, query strings, fragments, root-relative."""
    roll = rng.random()
    if roll < 0.55:
        return f"{CANONICAL_BASE}{path}"
    if roll < 0.65:
        return f"http://www.epochtimes.com{path}"
    if roll < 0.75:
        return f"{CANONICAL_BASE}{path}?utm_source=rss&utm_medium=link"
    if roll < 0.82:
        return f"{CANONICAL_BASE}{path}#comments"
    return path


def tag_url(edition: str, tag: str, scheme: str = "https") -> str:
    return f"{scheme}://www.epochtimes.com/{edition}/tag/{quote(tag)}.html"


def channel_path(edition: str, channel: str, page: int = 1) -> str:
    return f"/{edition}/{channel}.htm" if page <= 1 else f"/{edition}/{channel}_{page}.htm"


def beijing_clock_12h(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    hour = local.hour % 12 or 12
    return f"{local:%Y-%m-%d} {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _iso_beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).isoformat()


def _json_ld_time(moment: datetime, kind: str) -> str:
    if kind == "false_z":  # the 2022+ bug: the Beijing wall clock labelled UTC
        return f"{moment.astimezone(BEIJING):%Y-%m-%dT%H:%M:%S}Z"
    if kind == "utc_z":
        return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
    return _iso_beijing(moment)


def _noisy(text_html: str, rng: random.Random, invisible: bool = True) -> str:
    """Whitespace and invisible characters where normalization removes them without leaving a space."""
    if invisible and rng.random() < 0.2 and len(text_html) > 2 and text_html[0] not in "<&":
        text_html = text_html[:1] + rng.choice(ZERO_WIDTH) + text_html[1:]
    roll = rng.random()
    if roll < 0.15:
        return f"\n  {text_html}\n "
    if roll < 0.25:
        return f"&nbsp;{text_html}"
    if roll < 0.35:
        return f"\u3000\u3000{text_html}"
    return text_html


def _linked_text(block_text: str, links: Sequence[str], edition: str, scheme: str) -> str:
    spans: list[tuple[int, int, str]] = []
    for word in links:
        start = block_text.find(word)
        if start >= 0 and all(start >= e or start + len(word) <= s for s, e, _ in spans):
            spans.append((start, start + len(word), word))
    out, cursor = [], 0
    for start, end, word in sorted(spans):
        out.append(escape(block_text[cursor:start]))
        out.append(f'<a href="{tag_url(edition, word, scheme)}">{escape(word)}</a>')
        cursor = end
    out.append(escape(block_text[cursor:]))
    return "".join(out)


def _figure(image: Image, rng: random.Random) -> str:
    caption = f"<figcaption>{escape(image.printed_caption)}</figcaption>" if image.printed_caption else ""
    if rng.random() < 0.5:
        inner = f'<a href="{image.url}"><img src="{image.sized_url}" alt=""></a>'
    else:
        inner = f'<img class="lazy" src="{PLACEHOLDER_SRC}" data-src="{image.sized_url}" alt="">'
    return f'<p><figure class="wp-caption">{inner}{caption}</figure></p>'


NOISE_BLOCKS: dict[str, str] = {
    "header": '<header><div class="share-top">分享</div></header>',
    "aside": "<aside><p>相关阅读：推荐文章</p></aside>",
    "below_article_ad": '<div id="below_article_ad"><p>广告</p></div>',
    "recommend_post": '<div id="recommend_post"><p>推荐阅读：热门文章</p></div>',
    "twitter-widget": "<twitter-widget><p>推文</p></twitter-widget>",
    "script": '<script>var slot = "<p>ad</p>";</script>',
    "style": "<style>p.ad { display: none; }</style>",
    "iframe": '<iframe src="https://www.youtube.com/embed/replica"></iframe>',
    "ins": '<ins class="adsbygoogle">广告位</ins>',
    "share": '<div class="share"><p>分享到脸书</p></div>',
    "comment": "<!-- article content begin <p>hidden</p> -->",
}
_LEADING_NOISE = ("header", "comment")
_MIDDLE_NOISE = ("aside", "ins")


def _noise(names: Sequence[str], chosen: frozenset[str]) -> str:
    return "".join(NOISE_BLOCKS[n] for n in names if n in chosen)


def article_body(meta: ArticleMeta, content: Content, rng: random.Random) -> str:
    """The inside of `div#artbody`: paragraphs with every quirk of DESIGN.md "Body (all layouts)"."""
    scheme = "https" if meta.layout == "current" else "http"
    edition = content.edition
    chosen = (
        frozenset(NOISE_BLOCKS)
        if meta.features.all_noise
        else frozenset(n for n in NOISE_BLOCKS if rng.random() < 0.4)
    )
    parts = [_noise(_LEADING_NOISE, chosen)]
    first = ""
    if content.byline_own_paragraph:
        parts.append(f"<p>{escape(content.byline)}</p>")
    else:
        first = escape((content.dateline or "") + content.byline)
    lead = _linked_text(content.lead_text, (), edition, scheme)
    if first or lead:
        parts.append(f"<p>{_noisy(first + lead, rng, invisible=not first)}</p>")
    text_blocks = [i for i, b in enumerate(content.blocks) if b.kind == "p"]
    last_text = text_blocks[-1] if text_blocks else -1
    middle = len(content.blocks) // 2
    for i, block in enumerate(content.blocks):
        if i == middle:
            parts.append(_noise(_MIDDLE_NOISE, chosen))
        parts.append(_block_html(block, edition, scheme, content.end_mark if i == last_text else "", rng))
    if content.editor_line:
        parts.append(f"<p>{escape(content.editor_line)}</p>")
    parts.append(_noise([n for n in NOISE_BLOCKS if n not in _LEADING_NOISE + _MIDDLE_NOISE], chosen))
    return "\n".join(p for p in parts if p)


def _block_html(block: Block, edition: str, scheme: str, end_mark: str, rng: random.Random) -> str:
    if block.kind == "figure" and block.image is not None:
        return _figure(block.image, rng)
    if block.kind in ("h2", "h3"):
        return f"<{block.kind}>{escape(block.text)}</{block.kind}>"
    inner = _noisy(_linked_text(block.text, block.links, edition, scheme) + escape(end_mark), rng)
    doubled = "</p>" if rng.random() < 0.1 else ""
    return f"<p>{inner}</p>{doubled}"


def _head(content: Content, extra: str = "") -> str:
    site = content.site_name
    keywords = ",".join([*content.tags, site])
    description = content.lead_text[:EXCERPT_CHARS] or content.title
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[content.edition]}"><head>\n<meta charset="utf-8">\n'
        f"<title>{escape(content.title)} - {site}</title>\n"
        f'<meta name="keywords" content="{escape(keywords)}">\n'
        f'<meta name="description" content="{escape(description)}">\n{extra}</head>\n'
    )


def _site_header(edition: str) -> str:
    return f'<header class="site-header"><a href="/{edition}/">{HOME_TEXT[edition]}</a></header>\n'


def current_article(
    meta: ArticleMeta, content: Content, related: Sequence[tuple[str, str]], rng: random.Random
) -> str:
    f = meta.features
    canonical = CANONICAL_BASE + meta.path(content.edition)
    site = content.site_name
    head = [f'<meta property="og:title" content="{escape(content.title)} - {site}">']
    if content.lead_image:
        head.append(f'<meta property="og:image" content="{content.lead_image.sized_url}">')
    if f.meta_published:
        head.append(f'<meta property="article:published_time" content="{_iso_beijing(meta.published)}">')
    if content.section:
        head.append(f'<meta property="article:section" content="{escape(content.section)}">')
    if f.json_ld != "none":
        head.append(_json_ld(canonical, content, meta))
    head.append(f'<link rel="canonical" href="{canonical}">')
    return (
        _head(content, "\n".join(head) + "\n")
        + f"<body>\n{_site_header(content.edition)}"
        + '<main id="main"><div class="main_content"><div class="article">\n'
        + _breadcrumbs(meta, content, rng)
        + f'<h1 class="title">{escape(content.title)}</h1>\n'
        + _info(meta, content, rng)
        + _featured_image(content.lead_image)
        + f'<div id="artbody" class="post_content" itemprop="articleBody">\n{article_body(meta, content, rng)}\n</div>\n'
        + _post_tags(content, "post_tags", "https")
        + _related(related, rng, content.edition)
        + "</div></div></main>\n</body></html>\n"
    )


def _json_ld(canonical: str, content: Content, meta: ArticleMeta) -> str:
    data: dict[str, str] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "url": canonical,
        "headline": content.title,
        "datePublished": _json_ld_time(meta.published, meta.features.json_ld),
        "dateModified": _json_ld_time(content.modified, meta.features.json_ld),
    }
    if content.section:
        data["articleSection"] = content.section
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _breadcrumbs(meta: ArticleMeta, content: Content, rng: random.Random) -> str:
    if not content.categories:
        return ""
    ed = content.edition
    crumbs = [(link(f"/{ed}/", rng), HOME_TEXT[ed])]
    crumbs += [(link(channel_path(ed, meta.channels[0]), rng), c) for c in content.categories]
    if meta.features.breadcrumbs == "duplicated":
        crumbs.append(crumbs[1])
    anchors = " ".join(f'<a class="breadcrumbs" href="{href}">{escape(name)}</a>' for href, name in crumbs)
    return f'<div class="breadcrumbs-wrap">{anchors}</div>\n'


def _info(meta: ArticleMeta, content: Content, rng: random.Random) -> str:
    stamp = ""
    if meta.features.time_element:
        clock = beijing_clock_12h(meta.published)
        stamp = f'<time datetime="{_iso_beijing(content.modified)}">{UPDATED_LABEL} {clock}</time>'
    return f'<div class="info">{stamp}<span class="pageview">{rng.randint(100, 99999):,}</span></div>\n'


def _featured_image(image: Image | None) -> str:
    if image is None:
        return ""
    caption = f'<div class="caption">{escape(image.printed_caption)}</div>' if image.printed_caption else ""
    return (
        f'<div class="featured_image"><a href="{image.url}"><img class="lazy" src="{PLACEHOLDER_SRC}" '
        f'data-src="{image.sized_url}" alt=""></a>'
        f'<noscript><img src="{image.sized_url}" alt=""></noscript>{caption}</div>\n'
    )


def _post_tags(content: Content, css_class: str, scheme: str) -> str:
    if not content.tags:
        return ""
    anchors = " ".join(
        f'<a href="{tag_url(content.edition, t, scheme)}" rel="tag">{escape(t)}</a>' for t in content.tags
    )
    return f'<div class="{css_class}">{anchors}</div>\n'


def _related(related: Sequence[tuple[str, str]], rng: random.Random, edition: str) -> str:
    if not related:
        return ""
    items = "".join(
        f'<div class="post-title"><a href="{link(path, rng)}">{escape(title)}</a></div>'
        for path, title in related
    )
    return f'<div class="related-posts"><h3>{RELATED_TEXT[edition]}</h3>{items}</div>\n'


LEGACY_COLUMNS = "mbottom10 large-12 medium-12 small-12 columns"


def legacy_article(meta: ArticleMeta, content: Content, rng: random.Random) -> str:
    ed = content.edition
    links = [
        f'<a href="{link(channel_path(ed, meta.channels[0]), rng)}">{escape(c)}</a>'
        for c in content.categories
    ]
    if meta.features.breadcrumbs == "duplicated" and links:
        links.append(links[0])
    arttop = ""
    if content.lead_image:
        image = content.lead_image
        caption = (
            f'<div class="caption">{escape(image.printed_caption)}</div>' if image.printed_caption else ""
        )
        arttop = f'<div class="arttop"><a href="{image.url}"><img src="{image.sized_url}" alt=""></a>{caption}</div>\n'
    stamp = beijing_clock_12h(meta.published)
    head = f'<meta property="og:title" content="{escape(content.title)} - {content.site_name}">\n'
    return (
        _head(content, head)
        + f'<body>\n{_site_header(ed)}<div id="main" class="row">\n'
        + f'<div class="{LEGACY_COLUMNS}">{" ".join(links)}</div>\n'
        + f'<h1 class="blue18 title">{escape(content.title)}</h1>\n'
        + f'<div class="{LEGACY_COLUMNS}"><time datetime="{_iso_beijing(meta.published)}">更新: {stamp}</time></div>\n'
        + arttop
        + f'<div id="artbody" itemprop="articleBody">\n{article_body(meta, content, rng)}\n</div>\n'
        + _post_tags(content, f"{LEGACY_COLUMNS} tags", "http")
        + "</div>\n</body></html>\n"
    )


def pre2013_article(meta: ArticleMeta, content: Content, rng: random.Random) -> str:
    local = meta.beijing
    stamp = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return (
        _head(content)
        + f'<body>\n{_site_header(content.edition)}<div id="main">\n'
        + f'<div class="art-head"><h1>{escape(content.title)}</h1><span>{stamp}</span></div>\n'
        + f'<div id="artbody">\n{article_body(meta, content, rng)}\n</div>\n'
        + "</div>\n</body></html>\n"
    )


def redesigned_article(content: Content) -> str:
    """A markup no parser knows: the health check must notice, list pages stay as they were."""
    paragraphs = "".join(f'<div class="story-v2__para">{escape(line)}</div>' for line in content.body_lines())
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(content.title)}</title></head>\n'
        f'<body><article class="story-v2"><div class="story-v2__headline">{escape(content.title)}</div>'
        f'<section class="story-v2__text">{paragraphs}</section></article></body></html>\n'
    )


def _list_shell(edition: str, title: str, inner: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{LANGUAGES[edition]}"><head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{_site_header(edition)}"
        f'<main id="main"><div class="main_content">\n{inner}</div></main>\n</body></html>\n'
    )


def _one_post(item: ListItem, edition: str, rng: random.Random) -> str:
    href = link(item.meta.path(edition), rng)
    image = (
        f'<div class="img"><a href="{href}"><img src="{PLACEHOLDER_SRC}" data-src="{item.image.sized_url}" alt=""></a></div>'
        if item.image
        else ""
    )
    return (
        f'<div class="one_post">{image}<div class="text">'
        f'<div class="title"><a href="{href}">{escape(item.title)}</a></div>'
        f'<div class="excerpt">{escape(item.excerpt)}</div>'
        f'<div class="date">{item.meta.url_date.isoformat()}</div> '
        f'<span class="pageview">{rng.randint(10, 9999):,}</span></div></div>\n'
    )


def pagination(edition: str, channel: str, page: int, last: int, rng: random.Random) -> str:
    """`a.page-numbers`, the second-to-last always being the last page (SITE.md 3.1), with thousands commas."""
    numbers = sorted({1, page - 1, page, page + 1, last} & set(range(1, last + 1)))
    parts = []
    for n in numbers:
        classes = "page-numbers current" if n == page else "page-numbers"
        parts.append(f'<a class="{classes}" href="{link(channel_path(edition, channel, n), rng)}">{n:,}</a>')
    if page < last:
        parts.append(
            f'<a class="next page-numbers" href="{link(channel_path(edition, channel, page + 1), rng)}">{NEXT_TEXT[edition]}</a>'
        )
    else:  # keeps the last page at [-2] on the last page as well
        parts.append(
            f'<a class="prev page-numbers" href="{link(channel_path(edition, channel, page - 1), rng)}">&lt;</a>'
        )
    return f'<div class="pagination">{" ".join(parts)}</div>\n'


def front_page(
    edition: str,
    channel: str,
    channel_title: str,
    items: Sequence[ListItem],
    last: int,
    extra_links: Sequence[tuple[str, str]],
    rng: random.Random,
) -> str:
    featured = "".join(
        f'<div class="top_post"><h2><a href="{link(i.meta.path(edition), rng)}">{escape(i.title)}</a></h2>'
        f'<p class="excerpt">{escape(i.excerpt)}</p></div>\n'
        for i in items[:4]
    )
    newest = "".join(
        f'<li><a href="{link(i.meta.path(edition), rng)}">{escape(i.title)}</a></li>' for i in items
    )
    hot = "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in extra_links)
    inner = (
        f'<h1 class="channel-title">{escape(channel_title)}</h1>\n<div class="featured">\n{featured}</div>\n'
        f'<div class="newest"><ul>{newest}</ul></div>\n'
        + (f'<div class="hot"><ul>{hot}</ul></div>\n' if hot else "")
        + (pagination(edition, channel, 1, last, rng) if last > 1 else "")
    )
    return _list_shell(edition, channel_title, inner)


def archive_page(
    edition: str,
    channel: str,
    channel_title: str,
    items: Sequence[ListItem],
    page: int,
    last: int,
    rng: random.Random,
) -> str:
    posts = "".join(_one_post(i, edition, rng) for i in items)
    inner = f'<div class="post_list left_col">\n{posts}</div>\n' + pagination(
        edition, channel, page, last, rng
    )
    return _list_shell(edition, f"{channel_title} - {page:,}", inner)


def legacy_list_page(
    edition: str,
    channel: str,
    channel_title: str,
    items: Sequence[ListItem],
    page: int,
    last: int,
    rng: random.Random,
) -> str:
    posts = []
    for item in items:
        href = link(item.meta.path(edition), rng).replace("https://", "http://", 1)
        image = (
            f'<div class="img column"><a href="{href}"><img data-src="{item.image.sized_url}"></a></div>'
            if item.image
            else ""
        )
        posts.append(
            f'<div class="posts column"><div class="arttitle column"><a href="{href}">{escape(item.title)}</a></div>'
            f'{image}<div class="content">{escape(item.excerpt)}</div>'
            f'<div class="large-6 medium-6 small-12 column post-date">{item.meta.url_date.isoformat()}</div></div>\n'
        )
    numbers = sorted({1, page - 1, page + 1, last} & set(range(1, last + 1)) - {page})
    menu = [f'<a href="{link(channel_path(edition, channel, n), rng)}">{n:,}</a>' for n in numbers]
    menu.insert(sum(1 for n in numbers if n < page), f"<span>{page:,}</span>")
    if page < last:
        menu.append(
            f'<a href="{link(channel_path(edition, channel, page + 1), rng)}">{escape(LEGACY_NEXT)}</a>'
        )
    inner = f'<div id="artlist">\n{"".join(posts)}</div>\n<div class="menu_page">{" ".join(menu)}</div>\n'
    return _list_shell(edition, f"{channel_title} - {page:,}", inner)


def tag_page(edition: str, tag: str, items: Sequence[ListItem], rng: random.Random) -> str:
    posts = "".join(_one_post(i, edition, rng) for i in items)
    return _list_shell(
        edition,
        tag,
        f'<h1 class="tag-title">{escape(tag)}</h1>\n<div class="post_list left_col">\n{posts}</div>\n',
    )


def home_page(
    edition: str, channels: Sequence[tuple[str, str]], items: Sequence[ListItem], rng: random.Random
) -> str:
    nav = " ".join(
        f'<a href="{link(channel_path(edition, name), rng)}">{escape(title)}</a>' for name, title in channels
    )
    featured = "".join(
        f'<li><a href="{link(i.meta.path(edition), rng)}">{escape(i.title)}</a></li>' for i in items
    )
    inner = f'<nav class="main-nav">{nav}</nav>\n<div class="home-featured"><ul>{featured}</ul></div>\n'
    return _list_shell(edition, "大纪元" if edition == "gb" else "大紀元", inner)


def rss(edition: str, title: str, self_path: str, entries: Sequence[tuple[ArticleMeta, Content]]) -> str:
    items = []
    for meta, content in entries:
        body = "".join(f"<p>{escape(line)}</p>" for line in content.body_lines())
        categories = "".join(f"<category><![CDATA[{c}]]></category>" for c in content.channel_titles)
        url = CANONICAL_BASE + meta.path(edition)
        items.append(
            f"<item><title><![CDATA[{content.title}]]></title><link>{url}</link>"
            f'<guid isPermaLink="true">{url}</guid><pubDate>{format_datetime(meta.published)}</pubDate>'
            f"{categories}<description><![CDATA[{content.lead_text[:EXCERPT_CHARS]}]]></description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>\n'
        f"<title>{escape(title)}</title><link>{CANONICAL_BASE}{self_path}</link>"
        f"<language>{LANGUAGES[edition]}</language>\n{''.join(items)}</channel>\n</rss>\n"
    )
