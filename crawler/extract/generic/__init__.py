"""The general article extractor: any news page to an Article, with no knowledge of a particular site."""

from __future__ import annotations

from crawler.extract.generic.article import EXTRACTOR_NAME, GenericPage, extract_generic, read_generic

__all__ = ["EXTRACTOR_NAME", "GenericPage", "extract_generic", "read_generic"]
