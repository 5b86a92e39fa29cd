"""Bookkeeping a reliable run satisfies: every article page it asked for is a row or a counted loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads


def read_manifest(dataset: Path, run_id: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((dataset / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))
    return document


def _top_level(counts: dict[str, int]) -> dict[str, int]:
    """Reasons without their refinements (``missing_field/title`` refines ``missing_field``)."""
    return {reason: count for reason, count in counts.items() if "/" not in reason}


def assert_every_page_accounted(stats: dict[str, Any], manifest: dict[str, Any], dataset: Path) -> None:
    """requested = fetched + lost; fetched = extracted + failed; extracted = written + dropped; and the
    manifest and the dataset agree with the stats."""
    lost = manifest["pages_failed"]
    lost_reasons = {k: v for k, v in lost.items() if k not in ("articles", "lists")}
    assert sum(lost_reasons.values()) == lost.get("articles", 0) + lost.get("lists", 0), lost
    requested = stats["articles/requested"]
    fetched = stats.get("articles/pages", 0)
    assert requested == fetched + lost.get("articles", 0), (requested, fetched, lost)
    failures = manifest["extraction_failures"]
    assert fetched == stats.get("articles/extracted", 0) + sum(_top_level(failures).values()), failures
    dropped = sum(_top_level(manifest["items_dropped"]).values())
    assert stats.get("articles/extracted", 0) == manifest["items_written"] + dropped, manifest[
        "items_dropped"
    ]
    assert manifest["items_written"] == stats.get("parquet/rows_written", 0)
    rows = pads.dataset(dataset, format="parquet", partitioning="hive").count_rows()
    assert rows >= manifest["items_written"]
