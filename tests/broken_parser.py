"""A deliberately broken parser, for the rebuild test: an extension that makes the spider lose the last paragraph
of every body (the kind of bug a rebuild repairs). Enabled with ``-s EXTENSIONS=...`` in a test's crawl only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scrapy.crawler import Crawler

from crawler.extract.model import Article
from crawler.spiders import articles


def _lose_last_paragraph(extract: Any) -> Any:
    def broken(html: str, url: str) -> Article:
        article: Article = extract(html, url)
        body = "\n".join(article.body_text.split("\n")[:-1]) or article.body_text
        return replace(article, body_text=body, char_count=len(body))

    return broken


class LoseLastParagraph:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LoseLastParagraph:
        articles.extract = _lose_last_paragraph(articles.extract)  # type: ignore[attr-defined]
        return cls()
