"""The item that flows spider -> clean -> dedupe -> parquet: one row of SPEC.md's dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.extract.model import Article, Image


@dataclass(slots=True)
class ArticleItem:
    # From the page (see crawler.extract.model.Article).
    article_id: str
    url: str
    edition: str
    language: str
    title: str
    published_at: datetime
    date_source: str
    body_text: str
    crawled_at: datetime
    updated_at: datetime | None = None
    section: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    editor: str | None = None
    dateline: str | None = None
    body_html: str | None = None
    images: list[Image] = field(default_factory=list)
    char_count: int = 0
    # From the crawl.
    alternate_urls: list[str] = field(default_factory=list)
    # Filled by the pipelines (clean: hashes; dedupe: version, near_duplicate_of; parquet: run_id).
    content_hash: str | None = None
    simhash: int | None = None
    version: int | None = None
    near_duplicate_of: str | None = None
    run_id: str | None = None

    @classmethod
    def from_article(
        cls, article: Article, *, crawled_at: datetime, alternate_urls: list[str] | None = None
    ) -> ArticleItem:
        return cls(
            article_id=article.article_id,
            url=article.url,
            edition=article.edition,
            language=article.language,
            title=article.title,
            published_at=article.published_at,
            date_source=article.date_source,
            body_text=article.body_text,
            crawled_at=crawled_at,
            updated_at=article.updated_at,
            section=article.section,
            categories=list(article.categories),
            tags=list(article.tags),
            authors=list(article.authors),
            editor=article.editor,
            dateline=article.dateline,
            body_html=article.body_html,
            images=list(article.images),
            char_count=article.char_count,
            alternate_urls=list(alternate_urls or []),
        )
