"""Pages before 2013: div.art-head with the title and a Chinese-format Beijing time, no og/JSON-LD."""

from __future__ import annotations

from lxml import etree

from crawler.extract.dom import Element, first, has_class, line_of
from crawler.extract.fields import body_of
from crawler.extract.parsers.base import LayoutFields, Parser, published_meta
from crawler.extract.times import parse_chinese_datetime

ART_HEAD = f"div[{has_class('art-head')}]"
PROBE = etree.XPath(f"//{ART_HEAD}")
HEADING = etree.XPath(f"//{ART_HEAD}/h1")
TIME = etree.XPath(f"//{ART_HEAD}/span")


def head_of(root: Element) -> Element | None:
    return first(PROBE(root))


def read(root: Element, _head: Element, _base_url: str) -> LayoutFields:
    """The fields of a page that has a ``head_of``. No lead image on these pages, so the base URL (for image
    links) is not needed here."""
    return LayoutFields(
        heading=line_of(first(HEADING(root))),
        body=body_of(root),
        page_times=[published_meta(root), *map(parse_chinese_datetime, map(line_of, TIME(root)))],
    )


PARSER = Parser("pre2013", head_of, read)
