"""Layout parsers, tried in order; the first whose markup probe matches reads the page."""

from __future__ import annotations

from crawler.extract.dom import Element
from crawler.extract.parsers import current, legacy, pre2013
from crawler.extract.parsers.base import Parser

PARSERS: tuple[Parser, ...] = (current.PARSER, legacy.PARSER, pre2013.PARSER)


def parser_for(root: Element) -> Parser | None:
    return next((parser for parser in PARSERS if parser.matches(root)), None)
