"""Typed extraction failures: the spider counts them by reason, never sees another exception."""

from __future__ import annotations


class ExtractionError(Exception):
    """Base class; ``reason`` is the stats/manifest key suffix."""

    reason = "extraction_error"


class NotAnArticle(ExtractionError):
    """The page is not an article page (no article markup at all)."""

    reason = "not_an_article"


class MissingField(ExtractionError):
    """An article page lacks a required field (title, body, id or publication date)."""

    reason = "missing_field"

    def __init__(self, field_name: str, url: str = "") -> None:
        super().__init__(f"missing required field {field_name!r} in {url}".strip())
        self.field_name = field_name
