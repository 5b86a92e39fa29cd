"""Storage that fails under a run with rows already in the dataset (README "What it survives"): a file size
limit, a read-only dataset, a full disk. Each stops the run with an error naming the cause and a non-zero exit,
leaves every committed file as it was and no partial file, counts what it could not write, and the next run on
healthy storage completes the dataset."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from tests.accounting import assert_every_page_accounted, read_manifest
from tests.crawling import CrawlResult, crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete

pytestmark = pytest.mark.slow

EARLIER_ARTICLES = 30
# The larger site keeps the earlier articles and adds newer ones on top: the second run has rows to write.
LATER_ARTICLES = 60
# Every part file of the replica is over 11 KiB; a manifest is about 3 KiB: manifests fit, part files do not.
FILE_SIZE_LIMIT = 8 * 1024
# Flush every few rows, so that the failure comes mid-run with items still arriving.
SMALL_FLUSH = {"PARQUET_FLUSH_ROWS": "5"}
# Free space left on the full disk: the probe and the manifest (a 4 KiB page each on tmpfs), not a part file.
FREE_BYTES = 12 * 1024
DISK_BYTES = 2 * 1024 * 1024
# Root ignores permission bits through these capabilities; without them it obeys them like any user.
PERMISSION_BYPASSING_CAPABILITIES = "-dac_override,-dac_read_search,-fowner"


def fingerprint(root: Path) -> dict[str, str]:
    """Every data file and its content hash: what an analyst's reader sees."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.parquet"))
    }


def temporaries(root: Path) -> list[Path]:
    return [path for path in root.rglob(".*") if path.is_file()]


def article_ids(root: Path) -> list[str]:
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table(columns=["article_id"])
    ids: list[str] = table.column("article_id").to_pylist()
    return ids


@pytest.fixture(scope="module")
def earlier_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset holding a finished run's rows; each test works on its own copy."""
    dataset = tmp_path_factory.mktemp("earlier") / "articles"
    with serve_replica(articles=EARLIER_ARTICLES) as site:
        result = crawl(site, dataset)
    assert result.returncode == 0, result.log[-3000:]
    return dataset


@pytest.fixture
def later_site() -> Iterator[str]:
    with serve_replica(articles=LATER_ARTICLES) as site:
        yield site


def assert_stopped_and_unchanged(result: CrawlResult, dataset: Path, before: dict[str, str]) -> None:
    """Non-zero exit, every earlier file intact, no partial file, and what could not be written counted."""
    assert result.returncode != 0, result.log[-3000:]
    after = fingerprint(dataset)
    assert {name: after.get(name) for name in before} == before
    assert temporaries(dataset) == []
    if result.stats.get("run/id"):
        manifest = read_manifest(dataset, result.stats["run/id"])
        assert manifest["status"] == "failed"
        assert_every_page_accounted(result.stats, manifest, dataset)
        assert sorted(manifest["files"]) == sorted(set(after) - set(before))


def test_a_file_size_limit_mid_run_fails_it_with_efbig_and_the_next_run_completes(
    earlier_dataset: Path, later_site: str, tmp_path: Path
) -> None:
    dataset = tmp_path / "articles"
    shutil.copytree(earlier_dataset, dataset)
    before = fingerprint(dataset)
    # CPython ignores SIGXFSZ at start-up, so a write past the limit fails with EFBIG instead of killing it.
    limited = crawl(
        later_site,
        dataset,
        settings=SMALL_FLUSH,
        wrapper=["prlimit", f"--fsize={FILE_SIZE_LIMIT}", "--"],
    )
    assert limited.returncode == 1, limited.log[-3000:]
    assert "Cannot write the dataset" in limited.log
    assert "File too large" in limited.log
    assert limited.stats["articles/dropped/output_error"] > 0
    assert_stopped_and_unchanged(limited, dataset, before)
    healthy = crawl(later_site, dataset, args={"refresh_days": "0"})
    assert healthy.returncode == 0, healthy.log[-3000:]
    assert_complete(article_ids(dataset), Site(articles=LATER_ARTICLES))


def test_a_read_only_dataset_stops_the_run_at_start_naming_the_cause(
    earlier_dataset: Path, later_site: str, tmp_path: Path
) -> None:
    dataset = tmp_path / "articles"
    shutil.copytree(earlier_dataset, dataset)
    before = fingerprint(dataset)
    manifests = sorted((dataset / "_runs").iterdir())
    for path in [dataset, *dataset.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    # Tests run as root (CI too), which permission bits do not stop. Dropping root's permission-bypassing
    # capabilities (rather than switching to another user, who could not run this venv under /root) makes
    # the crawl obey the bits as any user would, while it can still read the project and its venv.
    wrapper = (
        ["setpriv", f"--bounding-set={PERMISSION_BYPASSING_CAPABILITIES}", "--"] if os.geteuid() == 0 else []
    )
    try:
        result = crawl(later_site, dataset, wrapper=wrapper)
    finally:
        for path in [dataset, *dataset.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert result.returncode == 1, result.log[-3000:]
    assert f"output {dataset} is not writable" in result.log
    assert "Permission denied" in result.log
    assert result.stats.get("articles/pages", 0) == 0  # stopped before fetching anything
    assert_stopped_and_unchanged(result, dataset, before)
    assert sorted((dataset / "_runs").iterdir()) == manifests


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_BYTES mounted for the test, when this machine lets the test mount one."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a small tmpfs here (needs root outside a restricted container): {mounted.stderr}"
        )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def fill(disk: Path, leave: int) -> None:
    """Write a filler file so that only about ``leave`` bytes stay free on ``disk``."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / "filler").open("wb") as out:
        out.write(b"\0" * (free - leave))


def test_a_full_disk_mid_run_fails_it_naming_the_cause(
    earlier_dataset: Path, later_site: str, small_disk: Path
) -> None:
    dataset = small_disk / "articles"
    shutil.copytree(earlier_dataset, dataset)
    before = fingerprint(dataset)
    fill(small_disk, FREE_BYTES)
    result = crawl(later_site, dataset, settings=SMALL_FLUSH)
    assert "No space left on device" in result.log
    assert_stopped_and_unchanged(result, dataset, before)
