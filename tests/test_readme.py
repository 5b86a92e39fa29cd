"""The README's analyst examples run against a real crawled dataset, so the documentation stays true."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from tests.crawling import PROJECT_ROOT, crawl
from tests.old_schema import write_as_version_1
from tests.replica.testing import serve_replica

README = PROJECT_ROOT / "README.md"
EXAMPLE_ROOT = "output/articles"
ARTICLES = 60
_READER_IMPORT = r"^import (duckdb|polars|pandas|pyarrow)\b"

pytestmark = pytest.mark.slow


def analyst_examples() -> dict[str, str]:
    """The python blocks of the "For analysts" section, keyed by the reader each imports."""
    section = README.read_text(encoding="utf-8").split("## For analysts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return {re.search(_READER_IMPORT, block, re.MULTILINE).group(1): block for block in blocks}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A replica crawled twice: the second time after edits, so some articles have two versions. The first
    crawl's files are rewritten in schema version 1, as the code before `extractor` wrote them."""
    root = tmp_path_factory.mktemp("readme") / "articles"
    with serve_replica(articles=ARTICLES) as site:
        assert crawl(site, root).returncode == 0
    assert write_as_version_1(root)
    with serve_replica(articles=ARTICLES, revision=1) as site:
        assert crawl(site, root, args={"full": "1"}).returncode == 0
    yield root


def run_example(library: str, root: Path) -> dict[str, Any]:
    code = analyst_examples()[library].replace(EXAMPLE_ROOT, str(root))
    namespace: dict[str, Any] = {}
    exec(compile(code, f"README:{library}", "exec"), namespace)
    return namespace


def truth(root: Path) -> tuple[int, int, int]:
    """Distinct articles, rows, and articles whose latest text mentions 乌克兰, computed independently."""
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    rows = table.to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["version"] > latest.get(row["article_id"], {"version": 0})["version"]:
            latest[row["article_id"]] = row
    mentions = sum("乌克兰" in row["body_text"] for row in latest.values())
    return len(latest), len(rows), mentions


def test_the_dataset_has_several_versions(dataset: Path) -> None:
    distinct, rows, mentions = truth(dataset)
    assert rows > distinct > 0
    assert mentions > 0


def test_examples_cover_each_reader() -> None:
    assert set(analyst_examples()) == {"duckdb", "polars", "pandas", "pyarrow"}


def test_duckdb_latest_and_per_day(dataset: Path) -> None:
    result = run_example("duckdb", dataset)
    distinct, _, _ = truth(dataset)
    assert len(result["latest"]) == distinct
    assert result["latest"]["article_id"].is_unique
    assert int(result["per_day"]["articles"].sum()) == distinct


def test_polars_full_text_filter(dataset: Path) -> None:
    result = run_example("polars", dataset)
    _, _, mentions = truth(dataset)
    assert result["about_ukraine"].height == mentions


def test_pandas_latest_per_day(dataset: Path) -> None:
    result = run_example("pandas", dataset)
    distinct, _, _ = truth(dataset)
    assert len(result["latest"]) == distinct
    assert int(result["per_day"].sum()) == distinct


def test_pyarrow_latest_and_date_filter(dataset: Path) -> None:
    result = run_example("pyarrow", dataset)
    distinct, _, _ = truth(dataset)
    assert result["latest"].num_rows == distinct
    published = ds.dataset(dataset, format="parquet", partitioning="hive").to_table().column("published_at")
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    assert result["recent"].num_rows == int(pc.sum(pc.greater_equal(published, cutoff)).as_py())
    assert 0 < result["recent"].num_rows < len(published)


def _extractors(values: list[Any]) -> set[str | None]:
    """Null as None whatever the library's missing value (None, NaN)."""
    return {value if isinstance(value, str) else None for value in values}


def test_examples_read_extractor_by_name_null_for_rows_of_the_old_schema(dataset: Path) -> None:
    """Latest versions mix rows of the old schema (unedited articles) and new rows (edited ones)."""
    parsers = {"current", "legacy", "pre2013"}
    found = {
        "duckdb": run_example("duckdb", dataset)["latest"]["extractor"].tolist(),
        "polars": run_example("polars", dataset)["latest"].collect()["extractor"].to_list(),
        "pandas": run_example("pandas", dataset)["latest"]["extractor"].tolist(),
        "pyarrow": run_example("pyarrow", dataset)["dataset"]
        .to_table(columns=["extractor"])["extractor"]
        .to_pylist(),
    }
    for library, values in found.items():
        extractors = _extractors(values)
        assert None in extractors, library
        assert extractors - {None} and extractors - {None} <= parsers, library
