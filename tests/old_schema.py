"""Datasets as the code before schema version 2 wrote them: the same columns without `extractor` (version 2) and
`warc_file`, `warc_offset` (version 3)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dataset.schema import ARTICLE_SCHEMA, SCHEMA_VERSION_KEY

OLD_VERSION = "1"
ADDED_SINCE_1 = ("extractor", "warc_file", "warc_offset")
V1_SCHEMA = pa.schema(
    [field for field in ARTICLE_SCHEMA if field.name not in ADDED_SINCE_1],
    metadata={SCHEMA_VERSION_KEY: OLD_VERSION.encode()},
)


def write_as_version_1(root: Path) -> list[Path]:
    """Rewrite every part file under ``root`` in schema version 1 (in place); returns the files."""
    files = sorted(path for path in root.rglob("part-*.parquet") if not path.name.startswith("."))
    for path in files:
        table = pq.read_table(path, partitioning=None).drop_columns(list(ADDED_SINCE_1))
        pq.write_table(table.cast(V1_SCHEMA), path, compression="zstd")
    return files
