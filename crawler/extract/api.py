"""``extract(html, url)``: a decoded page of the site to an Article; ``extract_page(body, url)``: any page's
bytes to an Article, by the site's own parser when the page is one of its layouts, else the general extractor.
Either way the Article leaves normalized (``crawler.extract.normalize``). Only ExtractionError subclasses escape."""

from __future__ import annotations

from crawler.decoding import decode_page
from crawler.extract.dom import parse_document
from crawler.extract.errors import MissingField, NotAnArticle
from crawler.extract.generic import extract_generic
from crawler.extract.model import Article
from crawler.extract.normalize import normalized_article
from crawler.extract.parsers import parser_for
from crawler.extract.parsers.base import assemble
from crawler.urls import ArticleRef, parse_article_url


def extract(html: str, url: str) -> Article:
    """The article on ``html`` fetched from ``url``.

    Raises NotAnArticle when the URL is not an article URL or no layout recognises the markup (the usual
    sign of a site redesign), MissingField when a recognised article lacks its title or body.
    """
    ref = parse_article_url(url)
    if ref is None:
        raise NotAnArticle(f"not an article URL: {url}")
    return _extract_site(html, url, ref)


def _extract_site(html: str, url: str, ref: ArticleRef) -> Article:
    root = parse_document(html)
    found = parser_for(root)
    if found is None:
        raise NotAnArticle(f"no known article layout: {url}")
    parser, element = found
    return normalized_article(assemble(root, ref, parser.read(root, element, ref.canonical_url), parser.name))


def extract_page(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    generic: bool = False,
    decoded: str | None = None,
) -> Article:
    """The article on a page's bytes fetched from ``url`` (``content_type``: the HTTP header, if any;
    ``decoded``: ``crawler.decoding.decode_page(body, content_type)``, when the caller has it already).

    An article URL of the site whose markup is one of the site's layouts goes to that layout's parser; any
    other page (another site's, the site's in an unknown layout, or one whose layout parser finds no title,
    body or date) to the general extractor, as does every page when ``generic`` is set. Raises NotAnArticle
    for list, index and error pages, MissingField when an article lacks its title, body or publication date.
    """
    html = decode_page(body, content_type) if decoded is None else decoded
    ref = None if generic else parse_article_url(url)
    if ref is not None:
        try:
            return _extract_site(html, url, ref)
        except (NotAnArticle, MissingField):
            pass  # not one of the site's layouts, or one its parser cannot read: read as any page
    return normalized_article(extract_generic(html, url))
