"""Layout parsers, tried in order; the first whose markup probe matches reads the page."""

from __future__ import annotations

from lxml import html

from crawler.extract.parsers import current, legacy, pre2013
from crawler.extract.parsers.base import Parser

PARSERS: tuple[Parser, ...] = (current.PARSER, legacy.PARSER, pre2013.PARSER)


def parser_for(root: html.HtmlElement) -> Parser | None:
    return next((parser for parser in PARSERS if parser.matches(root)), None)
