"""Layout parsers, tried in order; the first whose markup probe matches reads the page."""

from __future__ import annotations

from crawler.extract.dom import Element
from crawler.extract.parsers import current, legacy, pre2013
from crawler.extract.parsers.base import Parser

PARSERS: tuple[Parser, ...] = (current.PARSER, legacy.PARSER, pre2013.PARSER)


def parser_for(root: Element) -> tuple[Parser, Element] | None:
    """The first layout whose probe finds its element on the page, and that element."""
    for parser in PARSERS:
        found = parser.probe(root)
        if found is not None:
            return parser, found
    return None
