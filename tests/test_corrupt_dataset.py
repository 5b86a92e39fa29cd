"""A corrupted Parquet file already in the dataset stops the run with a clear error and changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.crawling import crawl
from tests.replica.testing import serve_replica

pytestmark = pytest.mark.slow


def fingerprint(root: Path) -> dict[str, str]:
    """Every data file and its content hash: what an analyst's reader would see."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.parquet"))
    }


def test_corrupted_file_stops_the_run_naming_the_cause_and_leaves_the_dataset_unchanged(
    tmp_path: Path,
) -> None:
    dataset = tmp_path / "articles"
    with serve_replica(articles=30) as site:
        assert crawl(site, dataset).returncode == 0
        victim = sorted(dataset.rglob("*.parquet"))[0]
        victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])  # a torn copy, say
        before = fingerprint(dataset)
        result = crawl(site, dataset, args={"full": "1"})
    assert result.returncode != 0
    assert "cannot read the archive" in result.log
    assert victim.name in result.log
    assert result.stats.get("parquet/rows_written", 0) == 0
    extracted = result.stats.get("articles/extracted", 0)
    assert result.stats.get("articles/dropped/archive_unreadable", 0) == extracted
    assert fingerprint(dataset) == before
