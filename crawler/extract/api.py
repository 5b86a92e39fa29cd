"""``extract(html, url)``: one saved article page to an Article, or a typed ExtractionError."""

from __future__ import annotations

from crawler.extract.dom import parse_document
from crawler.extract.errors import NotAnArticle
from crawler.extract.model import Article
from crawler.extract.parsers import parser_for
from crawler.extract.parsers.base import assemble
from crawler.urls import parse_article_url


def extract(html: str, url: str) -> Article:
    """The article on ``html`` fetched from ``url``.

    Raises NotAnArticle when the URL is not an article URL or no layout recognises the markup (the usual
    sign of a site redesign), MissingField when a recognised article lacks its title or body.
    """
    ref = parse_article_url(url)
    if ref is None:
        raise NotAnArticle(f"not an article URL: {url}")
    root = parse_document(html)
    parser = parser_for(root)
    if parser is None:
        raise NotAnArticle(f"no known article layout: {url}")
    return assemble(root, ref, parser.read(root, ref.canonical_url), parser.name)
