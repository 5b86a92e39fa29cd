"""The item that flows spider -> clean -> dedupe -> parquet: one row of SPEC.md's dataset."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from crawler.extract.model import Article
from crawler.urls import alternate_urls as distinct_alternates


@dataclass(slots=True, kw_only=True)
class ArticleItem(Article):
    """An extracted article plus what the crawl and the pipelines add to make it a row."""

    crawled_at: datetime
    # Other URLs seen for the same article during the crawl (other edition, http variants).
    alternate_urls: list[str] = field(default_factory=list)
    # Where the response this row was extracted from is kept: a WARC file (URI) and its record's byte offset.
    warc_file: str | None = None
    warc_offset: int | None = None
    # Filled by the pipelines (clean: hashes; dedupe: version, near_duplicate_of; parquet: run_id).
    content_hash: str | None = None
    # Not a column: content_hash as schema_version 1 defined it, to recognise text archived before (dedupe).
    schema1_hash: str | None = None
    simhash: int | None = None
    version: int | None = None
    near_duplicate_of: str | None = None
    run_id: str | None = None
    # HTTP validators of the response, sent back by the next refresh check (If-None-Match, If-Modified-Since).
    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_article(
        cls,
        article: Article,
        *,
        crawled_at: datetime,
        alternate_urls: list[str] | None = None,
        warc_file: str | None = None,
        warc_offset: int | None = None,
    ) -> ArticleItem:
        """The row of ``article`` (normalized by extraction); ``alternate_urls`` kept as web URLs without query,
        each once, never the article's own URL."""
        page_fields = {f.name: getattr(article, f.name) for f in fields(Article)}
        return cls(
            **page_fields,
            crawled_at=crawled_at,
            alternate_urls=distinct_alternates(alternate_urls or [], article.url),
            warc_file=warc_file,
            warc_offset=warc_offset,
        )
