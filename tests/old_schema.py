"""Datasets as the code before schema version 2 wrote them: the columns of version 1 only (every column added
since, `extractor` in 2, `warc_file` and `warc_offset` in 3, `etag` and `last_modified` in 4, is left out)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dataset.schema import ARTICLE_SCHEMA, SCHEMA_VERSION_KEY

OLD_VERSION = "1"
# Version 1's columns, frozen: a column added later must not leak into "old" files.
V1_COLUMNS = (
    "article_id", "version", "url", "alternate_urls", "edition", "language", "title", "published_at",
    "date_source", "updated_at", "section", "categories", "tags", "authors", "editor", "dateline", "body_text",
    "body_html", "images", "char_count", "content_hash", "simhash", "near_duplicate_of", "crawled_at", "run_id",
)  # fmt: skip
ADDED_SINCE_1 = tuple(name for name in ARTICLE_SCHEMA.names if name not in V1_COLUMNS)
V1_SCHEMA = pa.schema(
    [ARTICLE_SCHEMA.field(name) for name in V1_COLUMNS],
    metadata={SCHEMA_VERSION_KEY: OLD_VERSION.encode()},
)


def write_as_version_1(root: Path) -> list[Path]:
    """Rewrite every part file under ``root`` in schema version 1 (in place); returns the files."""
    files = sorted(path for path in root.rglob("part-*.parquet") if not path.name.startswith("."))
    for path in files:
        table = pq.read_table(path, partitioning=None).select(list(V1_COLUMNS))
        pq.write_table(table.cast(V1_SCHEMA), path, compression="zstd")
    return files
