"""The article as extraction sees it: every SPEC.md column that comes from the page itself."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    caption: str | None = None
    credit: str | None = None


@dataclass(slots=True)
class Article:
    article_id: str
    url: str
    edition: str | None
    language: str
    title: str
    published_at: datetime
    date_source: str
    body_text: str
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
    # The parser that read the page: current, legacy, pre2013 (the site's layouts) or generic.
    extractor: str | None = None
    # Not a column: what went wrong with the byline (crawler.extract.byline), counted by the crawl.
    byline_issue: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """SPEC.md column names; timestamps as ISO 8601 with offset, images as plain dicts."""
        out = dataclasses.asdict(self)
        del out["byline_issue"]
        for key in ("published_at", "updated_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out
