"""The Foundation theme (about 2013-2018): h1.blue18.title, div.mbottom10 blocks, div.arttop lead image."""

from __future__ import annotations

from lxml import etree

from crawler.extract.dom import Element, first, has_class, line_of, lines_of, unique
from crawler.extract.fields import body_of
from crawler.extract.images import image_of
from crawler.extract.model import Image
from crawler.extract.parsers.base import LayoutFields, Parser, published_meta
from crawler.extract.times import parse_iso, parse_visible_time

HEADING = etree.XPath(f"//h1[{has_class('blue18')}]")
_ROW = f"div[{has_class('mbottom10')}]"
TIME = etree.XPath(f"//{_ROW}/time")
# The category row is the mbottom10 row that holds neither the time nor the tags.
CATEGORY_LINKS = etree.XPath(
    f"(//{_ROW}[not(.//time)][not({has_class('tags')})]"
    "[not(.//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')])])[1]//a"
)
LEAD_IMAGE = etree.XPath(f"//div[{has_class('arttop')}]")
CAPTION = etree.XPath(f".//div[{has_class('caption')}]")


def heading_of(root: Element) -> Element | None:
    return first(HEADING(root))


def read(root: Element, heading: Element, base_url: str) -> LayoutFields:
    """The fields of a page whose ``heading_of`` is ``heading``."""
    time_element = first(TIME(root))
    published_attr = time_element.get("datetime") if time_element is not None else None
    return LayoutFields(
        heading=line_of(heading),
        body=body_of(root),
        page_times=[
            published_meta(root),
            parse_iso(published_attr),
            parse_visible_time(line_of(time_element)),
        ],
        categories=unique(lines_of(CATEGORY_LINKS(root))),
        lead_image=_lead_image(root, base_url),
    )


def _lead_image(root: Element, base_url: str) -> Image | None:
    container = first(LEAD_IMAGE(root))
    if container is None:
        return None
    return image_of(container, first(CAPTION(container)), base_url)


PARSER = Parser("legacy", heading_of, read)
