"""Feeds (SITE.md 2.6): the article links of an RSS 2.0 or Atom feed, and whether a feed leaves a gap.

Pure functions over the feed's bytes. The parser never resolves entities nor fetches anything (a hostile feed
cannot read files or expand an entity bomb), and it recovers from broken XML as far as it can.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

import lxml.etree
import lxml.html

from crawler.urls import parse_article_url

# RSS 2.0 `item/link` holds the URL as text, Atom `entry/link` in `href`; namespaces vary, local names do not.
ITEM_TAGS = frozenset({"item", "entry"})
LINK_TAG = "link"
TITLE_TAG = "title"
# RSS `content:encoded` (S6 reads it), Atom `content`: the item's full text as HTML.
CONTENT_TAGS = ("encoded", "content")
# The blocks of a content element that are the article's paragraphs and subheads, one line each.
TEXT_BLOCKS_XPATH = "//p | //h2 | //h3 | //h4"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """An item's article link, title and full text (paragraphs one per line), as the feed shows them now."""

    url: str
    title: str
    text: str


def _parser() -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_comments=True
    )


def feed_links(body: bytes) -> list[str]:
    """The article URLs of the feed's items, in feed order (newest first on the site); other links skipped."""
    root = _root(body)
    if root is None:  # recover=True gives None for bytes with no element at all
        return []
    links: list[str] = []
    for element in root.iter("{*}" + LINK_TAG):
        parent = element.getparent()
        if parent is None or lxml.etree.QName(parent).localname not in ITEM_TAGS:
            continue
        url = (element.get("href") or element.text or "").strip()
        if parse_article_url(url) is not None:
            links.append(url)
    return links


def has_gap(feed_article_ids: Sequence[str], archived: Container[str], archive_has_gaps: bool) -> bool:
    """True when the feed may not reach back to what is archived, so the lists must be walked.

    Ids grow with time (SITE.md 2.1), so "the feed's oldest item is newer than the newest archived article" is
    "no item of the feed is archived": then articles between the two may exist that only the lists show. An
    empty feed proves nothing, and after an unfinished run the archive itself may have holes."""
    if archive_has_gaps or not feed_article_ids:
        return True
    return not any(article_id in archived for article_id in feed_article_ids)


def feed_items(body: bytes) -> list[FeedItem]:
    """The items of the feed that link to an article and carry a full-content element, in feed order.

    An item without full content (a summary-only feed) tells nothing about the article's text: skipped."""
    root = _root(body)
    if root is None:
        return []
    found = []
    for item in root.iter():
        if not isinstance(item.tag, str) or lxml.etree.QName(item).localname not in ITEM_TAGS:
            continue
        children = {lxml.etree.QName(child).localname: child for child in item if isinstance(child.tag, str)}
        link, content = (
            children.get(LINK_TAG),
            next((children[tag] for tag in CONTENT_TAGS if tag in children), None),
        )
        if link is None or content is None:
            continue
        url = (link.get("href") or link.text or "").strip()
        title = children[TITLE_TAG].text or "" if TITLE_TAG in children else ""
        if parse_article_url(url) is not None:
            found.append(FeedItem(url, title.strip(), content_text(content.text or "")))
    return found


def content_text(html: str) -> str:
    """The paragraphs and subheads of an item's HTML content, one per line (the whole text if it has none)."""
    if not html.strip():
        return ""
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    blocks = fragment.xpath(TEXT_BLOCKS_XPATH)
    if not blocks:
        return str(fragment.text_content())
    return "\n".join(str(block.text_content()) for block in blocks)


def _root(body: bytes) -> lxml.etree._Element | None:
    if not body.strip():
        return None
    try:
        return lxml.etree.fromstring(body, _parser())
    except lxml.etree.XMLSyntaxError:
        return None
