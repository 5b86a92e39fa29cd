"""Parsing and small DOM helpers shared by the layout parsers: one parse per page, precompiled XPath."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

from lxml import etree

from crawler.extract.errors import NotAnArticle
from crawler.extract.text import normalize_line, normalize_lines

# Parsing bytes with an explicit encoding makes libxml2 ignore any <meta charset> or XML declaration
# inside the (already decoded) text, which it would otherwise reject for str input.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_blank_text=False, no_network=True)

# Plain etree elements: lxml.html's element classes cost a lookup on every node access.
Element: TypeAlias = etree._Element

# Characters XML (hence lxml) refuses in text and attribute values; libxml2's HTML parser lets them through.
_NOT_XML_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The control characters among them, byte for byte in UTF-8 (no multi-byte sequence holds a byte below 0x20):
# bytes.translate replaces them at a third of the regex's cost on CJK text.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_CONTROL_BYTES_TO_SPACE = bytes.maketrans(_CONTROL_BYTES, b" " * len(_CONTROL_BYTES))

# What XPath's normalize-space treats as space, so that has_token splits a class as has_class reads it.
_XML_SPACE_RE = re.compile("[ \t\n\r]+")

NEWS_ARTICLE_TYPE = "NewsArticle"
_JSON_LD_TYPE = "application/ld+json"


def has_class(name: str) -> str:
    """XPath predicate body matching one class token, as CSS ``.name`` does."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def has_token(element: Element, attribute: str, name: str) -> bool:
    """Whether ``name`` is one of the attribute's space-separated tokens: :func:`has_class` in Python, for
    walks that replace a whole-document XPath (lxml's XPath costs more per call than a walk of these pages)."""
    value = element.get(attribute)
    return value is not None and name in value and name in _XML_SPACE_RE.split(value)


def with_token(elements: Iterable[Element], attribute: str, name: str) -> Iterator[Element]:
    """The elements for which ``has_token`` holds."""
    return (element for element in elements if has_token(element, attribute, name))


def first_with_class(elements: Iterable[Element], *names: str) -> Element | None:
    """The first element having one of the classes ``names``."""
    return next((e for e in elements if any(has_token(e, "class", name) for name in names)), None)


def parse_document(markup: str) -> Element:
    """The page's root element; empty or unparsable input is not an article."""
    try:
        root = etree.fromstring(_xml_safe_utf8(markup), _PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise NotAnArticle(f"unparsable document: {exc}") from exc
    if root is None:
        raise NotAnArticle("empty document")
    return root


def _xml_safe_utf8(markup: str) -> bytes:
    """``markup`` in UTF-8 with every character XML refuses replaced by a space."""
    if "\ufffe" not in markup and "\uffff" not in markup:
        try:
            return markup.encode("utf-8").translate(_CONTROL_BYTES_TO_SPACE)
        except UnicodeEncodeError:
            pass  # a lone surrogate
    return _NOT_XML_CHARS_RE.sub(" ", markup).encode("utf-8")


def is_element(node: Any) -> bool:
    """False for comments and processing instructions, whose ``tag`` is a factory function."""
    return isinstance(node.tag, str)


def visible_text(element: Element, skip: frozenset[str] = frozenset()) -> str:
    """Raw text of an element without the subtrees whose tag is in ``skip`` (and without comments)."""
    if not len(element) or not any(node.tag in skip for node in element.iterdescendants()):
        return text_content(element)
    parts: list[str] = []
    _collect_text(element, skip, parts)
    return "".join(parts)


def text_content(element: Element) -> str:
    """All the text inside an element (without comments): ``visible_text`` when nothing is to be skipped."""
    if not len(element):
        return element.text or ""
    # libxml2's own text serialization: the text and CDATA descendants, what the walk of visible_text collects
    # when nothing is skipped, at a fraction of a walk's cost.
    return str(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


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


def lines_of(elements: list[Element]) -> list[str]:
    """``line_of`` each element, normalized in one pass."""
    return normalize_lines([visible_text(element, INVISIBLE_TAGS) for element in elements])


def first(nodes: Iterable[Any]) -> Any | None:
    return next(iter(nodes), None)


def unique(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence kept, order preserved."""
    return [value for value in dict.fromkeys(values) if value]


def meta_value(root: Element, attribute: str, value: str) -> str | None:
    """``content`` of the first meta tag whose ``attribute`` is ``value`` and that has a content, as
    ``//meta[@attribute='value']/@content`` finds it; None when there is none."""
    return next(
        (
            content
            for meta in root.iter("meta")
            if meta.get(attribute) == value and (content := meta.get("content")) is not None
        ),
        None,
    )


def meta_content(root: Element, attribute: str, value: str) -> str | None:
    """Normalized :func:`meta_value`; None when absent or blank."""
    return normalize_line(meta_value(root, attribute, value) or "") or None


def head_title(root: Element) -> str:
    """``string(//head/title)``: the text of the first title that is a child of a head."""
    for title in root.iter("title"):
        parent = title.getparent()
        if parent is not None and parent.tag == "head":
            return normalize_line(visible_text(title))
    return ""


def news_article_ld(root: Element) -> dict[str, Any]:
    """The first JSON-LD object typed NewsArticle (top level, list or @graph); {} when none parses."""
    for script in root.iter("script"):
        raw = script.text
        if not raw or script.get("type") != _JSON_LD_TYPE:
            continue
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
