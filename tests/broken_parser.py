"""A deliberately broken parser, for the rebuild test: an extension that makes the spider lose the last paragraph
of every body (the kind of bug a rebuild repairs). Enabled with ``-s EXTENSIONS=...`` in a test's crawl only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scrapy.crawler import Crawler

from crawler.extract.model import Article
from crawler.spiders import articles


def _lose_last_paragraph(extract_page: Any) -> Any:
    def broken(page: bytes, url: str, content_type: str | None = None) -> Article:
        article: Article = extract_page(page, url, content_type)
        text = "\n".join(article.body_text.split("\n")[:-1]) or article.body_text
        return replace(article, body_text=text, char_count=len(text))

    return broken


class LoseLastParagraph:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LoseLastParagraph:
        articles.extract_page = _lose_last_paragraph(articles.extract_page)  # type: ignore[attr-defined]
        return cls()
