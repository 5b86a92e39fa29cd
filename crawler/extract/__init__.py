"""Pure extraction of article pages (docs/DESIGN.md "Article pages", "Field rules"); no Scrapy here."""

from __future__ import annotations

from crawler.extract.api import extract
from crawler.extract.errors import ExtractionError, MissingField, NotAnArticle
from crawler.extract.model import Article, Image

__all__ = ["Article", "ExtractionError", "Image", "MissingField", "NotAnArticle", "extract"]
