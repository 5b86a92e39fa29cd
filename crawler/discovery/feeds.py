"""Feeds (SITE.md 2.6): the article links of an RSS 2.0 or Atom feed, and whether a feed leaves a gap.

Pure functions over the feed's bytes. The parser never resolves entities nor fetches anything (a hostile feed
cannot read files or expand an entity bomb), and it recovers from broken XML as far as it can.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import lxml.etree

from crawler.urls import parse_article_url

# RSS 2.0 `item/link` holds the URL as text, Atom `entry/link` in `href`; namespaces vary, local names do not.
ITEM_TAGS = frozenset({"item", "entry"})
LINK_TAG = "link"


def _parser() -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_comments=True
    )


def feed_links(body: bytes) -> list[str]:
    """The article URLs of the feed's items, in feed order (newest first on the site); other links skipped."""
    if not body.strip():
        return []
    try:
        root = lxml.etree.fromstring(body, _parser())
    except lxml.etree.XMLSyntaxError:
        return []
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
