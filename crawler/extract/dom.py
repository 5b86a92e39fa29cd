"""Parsing and small DOM helpers shared by the layout parsers: one parse per page, precompiled XPath."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

from lxml import etree

from crawler.extract.errors import NotAnArticle
from crawler.extract.text import normalize_line

# Parsing bytes with an explicit encoding makes libxml2 ignore any <meta charset> or XML declaration
# inside the (already decoded) text, which it would otherwise reject for str input.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_blank_text=False, no_network=True)

# Plain etree elements: lxml.html's element classes cost a lookup on every node access.
Element: TypeAlias = etree._Element

# Characters XML (hence lxml) refuses in text and attribute values; libxml2's HTML parser lets them through.
_NOT_XML_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

NEWS_ARTICLE_TYPE = "NewsArticle"
_JSON_LD = etree.XPath("//script[@type='application/ld+json']/text()")
_TITLE = etree.XPath("string(//head/title)")


def has_class(name: str) -> str:
    """XPath predicate body matching one class token, as CSS ``.name`` does."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def parse_document(markup: str) -> Element:
    """The page's root element; empty or unparsable input is not an article."""
    try:
        clean = _NOT_XML_CHARS_RE.sub(" ", markup)
        root = etree.fromstring(clean.encode("utf-8"), _PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise NotAnArticle(f"unparsable document: {exc}") from exc
    if root is None:
        raise NotAnArticle("empty document")
    return root


def is_element(node: Any) -> bool:
    """False for comments and processing instructions, whose ``tag`` is a factory function."""
    return isinstance(node.tag, str)


def visible_text(element: Element, skip: frozenset[str] = frozenset()) -> str:
    """Raw text of an element without the subtrees whose tag is in ``skip`` (and without comments)."""
    parts: list[str] = []
    _collect_text(element, skip, parts)
    return "".join(parts)


def _collect_text(element: Element, skip: frozenset[str], parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        if is_element(child) and child.tag not in skip:
            _collect_text(child, skip, parts)
        if child.tail:
            parts.append(child.tail)


# Their text is code or markup, never part of a title, a caption or a tag shown on the page.
INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})


def line_of(element: Element | None) -> str:
    return "" if element is None else normalize_line(visible_text(element, INVISIBLE_TAGS))


def first(nodes: Iterable[Any]) -> Any | None:
    return next(iter(nodes), None)


def unique(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence kept, order preserved."""
    return [value for value in dict.fromkeys(values) if value]


def meta_content(root: Element, selector: etree.XPath) -> str | None:
    """Normalized ``content`` of the first matching meta tag; None when absent or blank."""
    value = normalize_line(str(first(selector(root)) or ""))
    return value or None


def head_title(root: Element) -> str:
    return normalize_line(str(_TITLE(root)))


def news_article_ld(root: Element) -> dict[str, Any]:
    """The first JSON-LD object typed NewsArticle (top level, list or @graph); {} when none parses."""
    for raw in _JSON_LD(root):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for candidate in ld_objects(data):
            if _is_news_article(candidate):
                return candidate
    return {}


def ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    """Top-level objects and their @graph members; deliberately shallow (no recursion on hostile JSON)."""
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if isinstance(graph, list):
                yield from (member for member in graph if isinstance(member, dict))


def _is_news_article(candidate: dict[str, Any]) -> bool:
    kind = candidate.get("@type")
    return kind == NEWS_ARTICLE_TYPE or (isinstance(kind, list) and NEWS_ARTICLE_TYPE in kind)


def ld_string(ld: dict[str, Any], key: str) -> str | None:
    """A JSON-LD value as a normalized string (first item of a list); None when absent or not text."""
    value = ld.get(key)
    if isinstance(value, list):
        value = first(value)
    if not isinstance(value, str):
        return None
    return normalize_line(value) or None


def drop_keeping_tail(node: Element) -> None:
    """Remove a node and its subtree; the text that followed it stays in place."""
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        # libxml2's HTML parser keeps characters that lxml refuses to assign back (a control character in a
        # truncated page): the joined text is filtered as the parser's input was.
        tail = node.tail
        previous = node.getprevious()
        if previous is not None:
            previous.tail = _NOT_XML_CHARS_RE.sub("", (previous.tail or "") + tail)
        else:
            parent.text = _NOT_XML_CHARS_RE.sub("", (parent.text or "") + tail)
    parent.remove(node)
