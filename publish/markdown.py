"""Markdown of the mirror (issue 14): pure functions from an article's stored fields to CommonMark text.

Everything that comes from the site is inert in the output: text is escaped so that a renderer shows it as
is (no emphasis, heading, list, table, HTML or autolink can come out of it), and only http(s) URLs become link
or image destinations. The body is rebuilt from ``body_html`` (paragraphs, subheads, figures, links) but its
text is held to ``body_text``: each text block is matched to its line of ``body_text``, so the dateline, the
byline and the editor line that ``body_html`` still holds are left out as ``body_text`` leaves them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from crawler.extract.dom import Element, is_element, parse_document, visible_text
from crawler.extract.errors import NotAnArticle
from crawler.extract.text import normalize_line

BEIJING = ZoneInfo("Asia/Shanghai")
WEB_SCHEMES = frozenset({"http", "https"})
HEADING_LEVELS = {"h2": 2, "h3": 3, "h4": 4}
TEXT_BLOCK_TAGS = frozenset({"p", *HEADING_LEVELS})
FIGURE_TAG = "figure"
# Not body text (captions, lazy-image fallbacks): the same subtrees extraction leaves out of body_text.
_NOT_BODY_TEXT = frozenset({"figure", "figcaption", "noscript"})
# CommonMark lets any ASCII punctuation be backslash-escaped, and only ASCII punctuation has a meaning in
# Markdown. Escaped: every character that CommonMark or GFM (tables, strikethrough, autolinks of URLs, bare
# domains and e-mail addresses) or a Git host (math, emoji codes, mentions) may read as syntax. Left as is:
# the ones that never are, so that numbers and prose stay readable (5,240 and a/b, not 5\,240).
MARKDOWN_SYNTAX = "\\`*_{}[]()#+-.!|<>&~:@$^="
_PUNCTUATION_RE = re.compile(f"([{re.escape(MARKDOWN_SYNTAX)}])")
_LINE_BREAKS_RE = re.compile(r"[\r\n]+")
# URL characters kept as they are in a link destination; the rest is percent-encoded, which is also what
# CommonMark renderers do to a destination, so the rendered href is the destination written here.
_URL_SAFE = "!#$%&'()*+,-./:;=?@_~"
_STRAY_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
HARD_BREAK = "\\\n"
RULE = "---"
_MINUTE_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    caption: str | None = None
    credit: str | None = None


@dataclass(frozen=True, slots=True)
class EarlierVersion:
    version: int
    crawled_at: datetime
    title: str


@dataclass(frozen=True, slots=True)
class PageArticle:
    """The stored fields a page shows: an article's latest version and what its earlier versions were."""

    article_id: str
    version: int
    url: str
    edition: str
    title: str
    published_at: datetime
    updated_at: datetime | None
    crawled_at: datetime
    authors: Sequence[str]
    tags: Sequence[str]
    body_text: str
    body_html: str | None
    images: Sequence[Image]
    earlier: Sequence[EarlierVersion] = ()


@dataclass(frozen=True, slots=True)
class Labels:
    published: str
    updated: str
    beijing_time: str
    authors: str
    tags: str
    original: str
    versions: str
    this_version: str
    earlier_versions: str
    version: str
    crawled: str
    title_then: str
    list_separator: str


LABELS = {
    "gb": Labels(
        "发布时间", "更新时间", "北京时间", "作者", "标签", "原文", "版本", "本页为第 {n} 版", "早先版本", "第 {n} 版",
        "{when} 抓取", "标题：", "、",
    ),
    "b5": Labels(
        "發佈時間", "更新時間", "北京時間", "作者", "標籤", "原文", "版本", "本頁為第 {n} 版", "早先版本", "第 {n} 版",
        "{when} 抓取", "標題：", "、",
    ),
}  # fmt: skip


def labels_for(edition: str) -> Labels:
    return LABELS.get(edition, LABELS["gb"])


# --- inline text and URLs -------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` as Markdown that renders to exactly ``text`` (line breaks become spaces)."""
    return _PUNCTUATION_RE.sub(r"\\\1", _LINE_BREAKS_RE.sub(" ", text))


def destination(url: str) -> str | None:
    """A link or image destination for ``url``; None unless it is an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        return None
    return quote(_STRAY_PERCENT_RE.sub("%25", url), safe=_URL_SAFE)


def link(text: str, url: str) -> str:
    """A Markdown link, or the escaped text alone when ``url`` may not be linked to. Spaces at the ends of
    the text stay outside the link (same rendered text, tidier source)."""
    target = destination(url)
    words = text.strip(" ")
    if target is None or not words:
        return escape(text)
    before, after = " " * (len(text) - len(text.lstrip(" "))), " " * (len(text) - len(text.rstrip(" ")))
    return f"{before}[{escape(words)}](<{target}>){after}"


def image(alt: str, url: str) -> str:
    target = destination(url)
    return "" if target is None else f"![{escape(alt)}](<{target}>)"


def beijing_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(_MINUTE_FORMAT)


# --- the body -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A run of a text block's normalized text, linked to ``href`` or plain."""

    text: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class TextBlock:
    level: int  # 0 for a paragraph, 2-4 for a subhead
    spans: tuple[Span, ...]

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class Figure:
    url: str
    alt: str
    caption: str | None


Block = TextBlock | Figure


def body_blocks(body_html: str | None) -> list[Block]:
    """Text blocks (outermost p and h2-h4, as extraction reads them) and figures of ``body_html``, in order."""
    if not body_html or not body_html.strip():
        return []
    try:
        root = parse_document(f"<html><body>{body_html}</body></html>")
    except NotAnArticle:
        return []
    body = root.find("body")
    return [] if body is None else list(_walk(body))


def _walk(element: Element) -> Iterator[Block]:
    for child in element:
        if not is_element(child):
            continue
        if child.tag in TEXT_BLOCK_TAGS:
            yield TextBlock(HEADING_LEVELS.get(child.tag, 0), _spans(child))
            yield from (_figure(figure) for figure in _figures_and_images(child))
        elif child.tag in (FIGURE_TAG, "img"):
            yield _figure(child)
        else:
            yield from _walk(child)


def _figures_and_images(block: Element) -> Iterator[Element]:
    """Figures inside a text block, and images that are in no figure: shown after the block's text."""
    for node in block.iter("figure", "img"):
        if node.tag == FIGURE_TAG or next(node.iterancestors(FIGURE_TAG), None) is None:
            yield node


def _figure(element: Element) -> Figure:
    img = element if element.tag == "img" else element.find(".//img")
    caption = element.find(".//figcaption")
    caption_text = normalize_line(visible_text(caption)) if caption is not None else ""
    if img is None:
        return Figure(url="", alt="", caption=caption_text or None)
    return Figure(
        url=img.get("src") or "", alt=normalize_line(img.get("alt") or ""), caption=caption_text or None
    )


def _spans(block: Element) -> tuple[Span, ...]:
    """The block's text as spans whose concatenation is its normalized line (as in ``body_text``).

    Each piece is normalized between two sentinels so that it keeps one space where whitespace met its
    edges; spaces doubled at piece boundaries and at the ends are then removed, as normalizing the whole
    line would. If that ever disagrees with the whole line, the line is one plain span.
    """
    raw: list[tuple[str, str | None]] = []
    _collect(block, None, raw)
    pieces = [(normalize_line(f"x{text}x")[1:-1], href) for text, href in raw]
    spans: list[Span] = []
    for piece, href in pieces:
        text = piece
        if spans and spans[-1].text.endswith(" ") and text.startswith(" "):
            text = text[1:]
        if not spans and text.startswith(" "):
            text = text.lstrip(" ")
        if text:
            spans.append(Span(text, href))
    if spans:
        spans[-1] = Span(spans[-1].text.rstrip(" "), spans[-1].href)
    whole = normalize_line(visible_text(block, _NOT_BODY_TEXT))
    if "".join(span.text for span in spans) != whole:
        return (Span(whole),) if whole else ()
    return tuple(span for span in spans if span.text)


def _collect(element: Element, href: str | None, raw: list[tuple[str, str | None]]) -> None:
    if element.text:
        raw.append((element.text, href))
    for child in element:
        if is_element(child) and child.tag not in _NOT_BODY_TEXT:
            inner = href
            if child.tag == "a" and href is None:
                inner = child.get("href") or None
            if child.tag == "br":
                raw.append((" ", href))
            _collect(child, inner, raw)
        if child.tail:
            raw.append((child.tail, href))


def _slice(spans: Sequence[Span], start: int, end: int) -> tuple[Span, ...]:
    """The spans covering characters ``[start, end)`` of their concatenated text."""
    kept: list[Span] = []
    offset = 0
    for span in spans:
        low, high = max(start - offset, 0), min(end - offset, len(span.text))
        if low < high:
            kept.append(Span(span.text[low:high], span.href))
        offset += len(span.text)
    return tuple(kept)


def align(blocks: Sequence[Block], body_text: str) -> list[Block] | None:
    """``blocks`` held to ``body_text``: each text block is its line, or the line inside it (the opening or
    the end marker removed), or left out (the editor line, a paragraph that was only a dateline). None when
    the lines cannot all be placed in order: the caller falls back to the plain lines."""
    lines = [line for line in body_text.split("\n") if line]
    aligned: list[Block] = []
    index = 0
    for block in blocks:
        if isinstance(block, Figure):
            aligned.append(block)
            continue
        if index >= len(lines):
            continue
        text, line = block.text, lines[index]
        start = text.find(line)
        if text == line or (start >= 0 and (start == 0 or start + len(line) == len(text) or index == 0)):
            aligned.append(TextBlock(block.level, _slice(block.spans, start, start + len(line))))
            index += 1
    return aligned if index == len(lines) else None


def plain_blocks(body_text: str, figures: Sequence[Figure]) -> list[Block]:
    lines = [TextBlock(0, (Span(line),)) for line in body_text.split("\n") if line]
    return [*lines, *figures]


# --- the page -------------------------------------------------------------------------------------------


def figure_markdown(figure: Figure, credit: str | None = None) -> str:
    picture = image(figure.alt or figure.caption or "", figure.url)
    if not picture:
        return ""
    words = "".join(
        part for part in (figure.caption or "", f"（{credit}）" if credit else "") if part
    )  # a credit alone is still worth a line
    return f"{picture}{HARD_BREAK}*{escape(words)}*" if words else picture


def block_markdown(block: Block, credits: dict[str, str | None]) -> str:
    if isinstance(block, Figure):
        return figure_markdown(block, credits.get(block.url))
    inline = "".join(link(span.text, span.href) if span.href else escape(span.text) for span in block.spans)
    return f"{'#' * block.level} {inline}" if block.level else inline


def body_markdown(article: PageArticle, parsed: Sequence[Block]) -> tuple[list[str], bool]:
    """The body's Markdown blocks from its ``parsed`` blocks, and whether they keep ``body_html``'s structure
    (False: the plain lines of ``body_text``, then the figures)."""
    captions = {image.url: image for image in article.images}
    blocks: list[Block] = [_with_stored_caption(b, captions) for b in parsed]
    aligned = align(blocks, article.body_text)
    structured = aligned is not None
    if aligned is None:
        aligned = plain_blocks(article.body_text, [b for b in blocks if isinstance(b, Figure)])
    credits = {image.url: image.credit for image in article.images}
    rendered = (block_markdown(block, credits) for block in aligned)
    return [text for text in rendered if text], structured


def _with_stored_caption(block: Block, images: dict[str, Image]) -> Block:
    """A figure's caption as the dataset stores it (credit split off), when its image is in ``images``."""
    if isinstance(block, Figure) and block.url in images:
        return Figure(block.url, block.alt, images[block.url].caption)
    return block


def lead_image(article: PageArticle, parsed: Sequence[Block]) -> Image | None:
    """The first stored image unless it is one of the body's figures (then the article has no lead image)."""
    if not article.images:
        return None
    first = article.images[0]
    return None if any(isinstance(b, Figure) and b.url == first.url for b in parsed) else first


def header_lines(article: PageArticle) -> list[str]:
    labels = labels_for(article.edition)
    lines = [f"{labels.published}：{beijing_time(article.published_at)}（{labels.beijing_time}）"]
    if article.updated_at is not None and article.updated_at != article.published_at:
        lines.append(f"{labels.updated}：{beijing_time(article.updated_at)}（{labels.beijing_time}）")
    if article.authors:
        lines.append(f"{labels.authors}：{escape(labels.list_separator.join(article.authors))}")
    return lines


def versions_note(article: PageArticle) -> str:
    labels = labels_for(article.edition)
    crawled = labels.crawled.format(when=beijing_time(article.crawled_at))
    note = f"{labels.versions}：{labels.this_version.format(n=article.version)}（{crawled}）"
    if not article.earlier:
        return note
    earlier = []
    for version in sorted(article.earlier, key=lambda v: v.version):
        details = labels.crawled.format(when=beijing_time(version.crawled_at))
        if version.title != article.title:
            details += f"，{labels.title_then}{escape(version.title)}"
        earlier.append(f"{labels.version.format(n=version.version)}（{details}）")
    return f"{note}；{labels.earlier_versions}：{labels.list_separator.join(earlier)}"


def footer_lines(article: PageArticle) -> list[str]:
    labels = labels_for(article.edition)
    lines = []
    if article.tags:
        lines.append(f"{labels.tags}：{labels.list_separator.join(escape(tag) for tag in article.tags)}")
    target = destination(article.url)
    if target is not None:
        lines.append(f"{labels.original}：<{target}>")
    lines.append(versions_note(article))
    return lines


def article_page(article: PageArticle) -> tuple[str, bool]:
    """The whole page, and whether its body kept ``body_html``'s structure.

    Layout: title; publication time, authors; lead image with caption and credit; a rule; the body; a rule;
    tags, original URL, versions. The two rules delimit the body for readers and for tests.
    """
    parts = [f"# {escape(article.title)}", HARD_BREAK.join(header_lines(article))]
    parsed = body_blocks(article.body_html)
    lead = lead_image(article, parsed)
    if lead is not None:
        parts.append(
            figure_markdown(Figure(lead.url, lead.caption or article.title, lead.caption), lead.credit)
        )
    body, structured = body_markdown(article, parsed)
    parts += [RULE, *body, RULE, HARD_BREAK.join(footer_lines(article))]
    return "\n\n".join(part for part in parts if part) + "\n", structured
