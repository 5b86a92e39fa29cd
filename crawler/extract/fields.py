"""Head metadata and field helpers every layout shares: title, tags, categories, section."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from crawler.extract.dom import Element, head_title, ld_string, lines_of, meta_content, unique, with_token
from crawler.extract.text import normalize_line

# The body container: the first element with this id or this itemprop.
BODY_ID = "artbody"
BODY_ITEMPROP = "articleBody"

SITE_NAMES = frozenset({"大纪元", "大紀元"})
_SITE_SUFFIX_RE = re.compile(r"\s*[-–—|]\s*(?:大纪元|大紀元)$")
_KEYWORD_SPLIT_RE = re.compile(r"[,，]")


def body_of(root: Element) -> Element | None:
    """``//*[@id='artbody'] | //*[@itemprop='articleBody']``, the first in document order."""
    return next(
        (
            element
            for element in root.iter(etree.Element)
            if element.get("id") == BODY_ID or element.get("itemprop") == BODY_ITEMPROP
        ),
        None,
    )


def rel_tag_links(root: Element) -> list[Element]:
    """Links whose rel names them a tag (``rel~=tag``), outside the body."""
    return [
        link
        for link in with_token(root.iter("a"), "rel", "tag")
        if not any(ancestor.get("id") == BODY_ID for ancestor in link.iterancestors())
    ]


def title_from(heading: str, root: Element) -> str:
    """The layout's h1 text, else og:title, else <title>, without the site suffix."""
    return (
        _without_site_suffix(heading)
        or _without_site_suffix(meta_content(root, "property", "og:title") or "")
        or _without_site_suffix(head_title(root))
    )


def _without_site_suffix(title: str) -> str:
    return _SITE_SUFFIX_RE.sub("", title).strip()


def tags_from(root: Element) -> list[str]:
    """``a[rel=tag]`` texts, else the keywords meta minus the site name."""
    linked = unique(lines_of(rel_tag_links(root)))
    if linked:
        return linked
    keywords = meta_content(root, "name", "keywords") or ""
    words = (normalize_line(word) for word in _KEYWORD_SPLIT_RE.split(keywords))
    return unique(word for word in words if word not in SITE_NAMES)


def section_from(root: Element, ld: dict[str, Any], categories: list[str]) -> str | None:
    return (
        meta_content(root, "property", "article:section")
        or ld_string(ld, "articleSection")
        or (categories[0] if categories else None)
    )
