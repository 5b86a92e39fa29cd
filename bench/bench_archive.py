"""Archive index at start: load time and memory per article for a synthetic archive of 1,000,000 articles."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.figures import Figure, Target, measured, single
from pipelines.dataset.archive import ArchiveIndex
from tests.archive_data import make_synthetic_dataset

ROWS = 1_000_000
REPETITIONS = 3
MAX_LOAD_SECONDS = 2.0
MAX_BYTES_PER_ARTICLE = 64


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as scratch:
        make_synthetic_dataset(Path(scratch), ROWS)
        seconds: list[float] = []
        for _ in range(REPETITIONS):
            started = time.perf_counter()
            index = ArchiveIndex.load(scratch)
            seconds.append(time.perf_counter() - started)
    return [
        measured(
            f"archive index load ({ROWS:,} rows, {len(index):,} articles)",
            seconds,
            "s",
            Target("<", MAX_LOAD_SECONDS),
        ),
        single(
            "archive index memory per article",
            index.nbytes / len(index),
            "bytes",
            Target("<=", MAX_BYTES_PER_ARTICLE),
        ),
    ]
