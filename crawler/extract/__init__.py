"""Pure extraction of article pages (docs/DESIGN.md "Article pages", "Field rules"); no Scrapy here.

``extract(html, url)`` reads the site's own layouts; ``extract_page(body, url)`` reads any page's bytes (the
general extractor, ``crawler.extract.generic``, takes what the site's layouts do not).
"""

from __future__ import annotations

from crawler.extract.api import extract, extract_page
from crawler.extract.errors import ExtractionError, MissingField, NotAnArticle
from crawler.extract.model import Article, Image

__all__ = ["Article", "ExtractionError", "Image", "MissingField", "NotAnArticle", "extract", "extract_page"]
