"""Head metadata and field helpers every layout shares: title, tags, categories, section."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from crawler.extract.dom import Element, head_title, ld_string, line_of, meta_content, unique
from crawler.extract.text import normalize_line

BODY = etree.XPath("//*[@id='artbody'] | //*[@itemprop='articleBody']")
OG_TITLE = etree.XPath("//meta[@property='og:title']/@content")
META_KEYWORDS = etree.XPath("//meta[@name='keywords']/@content")
META_PUBLISHED_TIME = etree.XPath("//meta[@property='article:published_time']/@content")
META_SECTION = etree.XPath("//meta[@property='article:section']/@content")
REL_TAG_LINKS = etree.XPath(
    "//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')][not(ancestor::*[@id='artbody'])]"
)

SITE_NAMES = frozenset({"大纪元", "大紀元"})
_SITE_SUFFIX_RE = re.compile(r"\s*[-–—|]\s*(?:大纪元|大紀元)$")
_KEYWORD_SPLIT_RE = re.compile(r"[,，]")


def title_from(heading: str, root: Element) -> str:
    """The layout's h1 text, else og:title, else <title>, without the site suffix."""
    for candidate in (heading, meta_content(root, OG_TITLE) or "", head_title(root)):
        title = _SITE_SUFFIX_RE.sub("", candidate).strip()
        if title:
            return title
    return ""


def texts(elements: list[Element]) -> list[str]:
    return [line_of(element) for element in elements]


def tags_from(root: Element) -> list[str]:
    """``a[rel=tag]`` texts, else the keywords meta minus the site name."""
    linked = unique(texts(REL_TAG_LINKS(root)))
    if linked:
        return linked
    keywords = meta_content(root, META_KEYWORDS) or ""
    words = (normalize_line(word) for word in _KEYWORD_SPLIT_RE.split(keywords))
    return unique(word for word in words if word not in SITE_NAMES)


def section_from(root: Element, ld: dict[str, Any], categories: list[str]) -> str | None:
    return (
        meta_content(root, META_SECTION)
        or ld_string(ld, "articleSection")
        or (categories[0] if categories else None)
    )
