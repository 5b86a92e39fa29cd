"""A human-readable summary of a dataset: what `make demo` prints and what an analyst checks first."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.dataset.storage import resolve

SAMPLE_TITLES = 5


def filled_count(column: pa.ChunkedArray) -> int:
    """Rows with a value: not null and, for strings and lists, not empty."""
    if pa.types.is_string(column.type):
        lengths = pc.utf8_length(column)
    elif pa.types.is_list(column.type):
        lengths = pc.list_value_length(column)
    else:
        return int(len(column) - column.null_count)
    return int(pc.sum(pc.greater(lengths, 0)).as_py() or 0)


def dataset_summary(uri: str) -> str:
    fs, root = resolve(uri)
    dataset = ds.dataset(root, filesystem=fs, format="parquet", partitioning="hive")
    table = dataset.to_table()
    partition = next(name for name in ("date", "month") if name in table.column_names)
    partitions = sorted(set(table.column(partition).to_pylist()))
    lines = [
        f"dataset: {uri}",
        f"rows: {table.num_rows}  files: {len(dataset.files)}  partitions ({partition}): {len(partitions)}"
        + (f" from {partitions[0]} to {partitions[-1]}" if partitions else ""),
    ]
    if table.num_rows:
        editions = table.group_by("edition").aggregate([("article_id", "count")]).to_pylist()
        lines.append("editions: " + ", ".join(f"{r['edition']}={r['article_id_count']}" for r in editions))
        newest = table.sort_by([("published_at", "descending")]).slice(0, SAMPLE_TITLES)
        lines.append("newest titles:")
        for row in newest.select(["published_at", "article_id", "title"]).to_pylist():
            lines.append(f"  {row['published_at']:%Y-%m-%d %H:%M} {row['article_id']} {row['title']}")
        lines.append("coverage (rows with a value):")
        for name in table.column_names:
            if name == partition:
                continue
            filled = filled_count(table.column(name))
            lines.append(f"  {name:<18} {filled / table.num_rows:6.1%}")
    return "\n".join(lines)
