from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.dataset.archive import (
    INDEX_SCHEMA,
    ArchiveIndex,
    ArchiveLookup,
    Latest,
    article_number,
    hash_key,
)
from pipelines.dataset.simhash import hamming_distance, to_signed
from tests.archive_data import make_synthetic_dataset

UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
BASE_SIMHASH = 0x0123_4567_89AB_CDEF


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def flip_bits(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return to_signed(value)


def write_part(root: Path, partition: str, name: str, rows: list[tuple[str, int, str, int]]) -> None:
    """One part file holding only the index columns: reading must not need the others."""
    folder = root / partition
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(zip(*rows, strict=True))
    table = pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, INDEX_SCHEMA, strict=True)], schema=INDEX_SCHEMA
    )
    pq.write_table(table, folder / name)


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    root = tmp_path / "articles"
    write_part(
        root,
        "date=2024-01-01",
        "part-run1-0.parquet",
        [
            ("n100", 1, digest("a1"), to_signed(BASE_SIMHASH)),
            ("n200", 1, digest("b1"), flip_bits(BASE_SIMHASH, 60, 61, 62, 63)),
            ("n300", 1, digest("c1"), to_signed(~BASE_SIMHASH)),
        ],
    )
    write_part(
        root, "date=2024-01-02", "part-run2-0.parquet", [("n100", 3, digest("a3"), to_signed(BASE_SIMHASH))]
    )
    write_part(
        root, "month=2024-01", "part-run2-1.parquet", [("n100", 2, digest("a2"), to_signed(BASE_SIMHASH))]
    )
    # Uncommitted or private files that the index must not see.
    write_part(root, "date=2024-01-03", ".part-run3-0.parquet.tmp", [("n999", 1, digest("x"), 0)])
    write_part(root, "date=2024-01-03", ".part-run3-1.parquet", [("n998", 1, digest("x"), 0)])
    write_part(root, "_staging", "part-run3-2.parquet", [("n997", 1, digest("x"), 0)])
    (root / "_runs").mkdir()
    (root / "_runs" / "run1.json").write_text("{}")
    return root


def test_load_keeps_the_latest_version_of_each_committed_article(archive_root: Path) -> None:
    index = ArchiveIndex.load(str(archive_root))
    assert len(index) == 3
    assert "n100" in index and "n300" in index
    assert "n999" not in index and "n998" not in index and "n997" not in index
    assert index.latest("n100") == Latest(3, hash_key(digest("a3")))
    assert index.latest("n200") == Latest(1, hash_key(digest("b1")))
    assert index.latest("n400") is None
    assert index.latest("not-an-id") is None


def test_find_hash_looks_at_latest_versions(archive_root: Path) -> None:
    index = ArchiveIndex.load(str(archive_root))
    assert index.find_hash(digest("c1")) == "n300"
    assert index.find_hash(digest("a3")) == "n100"
    assert index.find_hash(digest("a1")) is None
    assert index.find_hash(digest("unknown")) is None


def test_lookup_answers_latest_and_for_a_new_article_the_owner_of_its_text(archive_root: Path) -> None:
    index = ArchiveIndex.load(str(archive_root))
    assert index.lookup("n100", [digest("c1")]) == (Latest(3, hash_key(digest("a3"))), None)
    assert index.lookup("n400", [digest("c1")]) == (None, "n300")
    assert index.lookup("n400", [digest("unknown"), digest("a3")]) == (None, "n100")
    assert index.lookup("n400", [digest("unknown")]) == (None, None)


def test_near_duplicate_within_three_bits_and_lowest_id_wins(archive_root: Path) -> None:
    index = ArchiveIndex.load(str(archive_root))
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 0, 17, 40)) == "n100"
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 0, 17, 40, 50)) is None
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 0, 17, 40, 50), max_distance=4) == "n100"
    # n100 and n200 are both within 6 bits; the earlier article is the original.
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 62), max_distance=6) == "n100"
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 62), max_distance=6, exclude="n100") == "n200"
    assert index.near_duplicate(to_signed(BASE_SIMHASH), exclude="n100") is None
    assert index.near_duplicate(flip_bits(BASE_SIMHASH, 62), max_distance=0) is None


def test_additions_of_the_run_are_visible(archive_root: Path) -> None:
    index: ArchiveLookup = ArchiveIndex.load(str(archive_root))
    index.add("n50", 1, digest("new"), flip_bits(~BASE_SIMHASH, 5))
    index.add("n100", 4, digest("a4"), to_signed(BASE_SIMHASH))
    assert len(index) == 4
    assert "n50" in index
    assert index.latest("n100") == Latest(4, hash_key(digest("a4")))
    assert index.find_hash(digest("new")) == "n50"
    assert index.near_duplicate(to_signed(~BASE_SIMHASH)) == "n50"
    assert index.near_duplicate(to_signed(~BASE_SIMHASH), exclude="n50") == "n300"


def test_add_rejects_ids_that_are_not_article_numbers() -> None:
    with pytest.raises(ValueError, match="n<digits>"):
        ArchiveIndex.empty().add("abc", 1, digest("x"), 0)


def test_a_dataset_that_does_not_exist_yet_is_an_empty_archive(tmp_path: Path) -> None:
    index = ArchiveIndex.load(str(tmp_path / "nothing-here"))
    assert len(index) == 0
    assert "n1" not in index
    assert index.find_hash(digest("x")) is None
    assert index.near_duplicate(0, max_distance=16) is None


def test_rows_without_fingerprints_are_never_matched(tmp_path: Path) -> None:
    folder = tmp_path / "date=2024-01-01"
    folder.mkdir()
    table = pa.table(
        {
            "article_id": ["n1"],
            "version": pa.array([1], pa.int32()),
            "content_hash": pa.array([None], pa.string()),
        }
    ).append_column("simhash", pa.array([None], pa.int64()))
    pq.write_table(table, folder / "part-0.parquet")
    index = ArchiveIndex.load(str(tmp_path))
    assert "n1" in index
    assert index.find_hash("0" * 64) is None
    assert index.near_duplicate(0, max_distance=16) is None


def test_malformed_article_ids_fail_loudly(tmp_path: Path) -> None:
    write_part(tmp_path, "date=2024-01-01", "part-0.parquet", [("x12", 1, digest("x"), 0)])
    with pytest.raises(ValueError, match="article_id"):
        ArchiveIndex.load(str(tmp_path))


def test_synthetic_dataset_round_trips(tmp_path: Path) -> None:
    data = make_synthetic_dataset(tmp_path, 2_000, seed=3)
    index = ArchiveIndex.load(str(tmp_path))
    assert len(index) == data.article_count
    latest: dict[str, tuple[int, str]] = {}
    for article_id, version, content_hash in zip(
        data.article_ids, data.versions, data.content_hashes, strict=True
    ):
        if article_id not in latest or version > latest[article_id][0]:
            latest[article_id] = (int(version), content_hash)
    for article_id, (version, content_hash) in list(latest.items())[:200]:
        assert index.latest(article_id) == Latest(version, hash_key(content_hash))
        assert index.find_hash(content_hash) == article_id


def test_frozen_arrays_take_at_most_64_bytes_per_article(tmp_path: Path) -> None:
    make_synthetic_dataset(tmp_path, 20_000)
    index = ArchiveIndex.load(str(tmp_path))
    assert index.nbytes / len(index) <= 64


@settings(max_examples=60, deadline=None)
@given(
    fingerprints=st.lists(UINT64, min_size=1, max_size=60, unique=True),
    archived=st.integers(0, 60),
    flips=st.lists(st.integers(0, 63), max_size=6),
    max_distance=st.integers(0, 8),
    pick=st.integers(0, 59),
)
def test_near_duplicate_matches_a_brute_force_scan(
    fingerprints: list[int], archived: int, flips: list[int], max_distance: int, pick: int
) -> None:
    """Archived rows and additions of the run together answer like a scan of every fingerprint."""
    ids = [f"n{i + 1}" for i in range(len(fingerprints))]
    rows = pa.table(
        {
            "article_id": ids[:archived],
            "version": pa.array([1] * len(ids[:archived]), pa.int32()),
            "content_hash": [digest(i) for i in ids[:archived]],
            "simhash": pa.array([to_signed(f) for f in fingerprints[:archived]], pa.int64()),
        }
    )
    index = ArchiveIndex.from_rows(rows)
    for article_id, fingerprint in zip(ids[archived:], fingerprints[archived:], strict=True):
        index.add(article_id, 1, digest(article_id), to_signed(fingerprint))
    query = flip_bits(fingerprints[pick % len(fingerprints)], *flips)
    close = [i for i, f in zip(ids, fingerprints, strict=True) if hamming_distance(f, query) <= max_distance]
    assert index.near_duplicate(query, max_distance) == (close[0] if close else None)


@settings(max_examples=60, deadline=None)
@given(
    additions=st.lists(st.tuples(st.integers(1, 8), UINT64), min_size=1, max_size=40),
    flips=st.lists(st.integers(0, 63), max_size=6),
    max_distance=st.integers(0, 8),
    pick=st.integers(0, 39),
    exclude=st.integers(0, 8),
)
def test_a_later_version_in_the_run_replaces_its_fingerprint(
    additions: list[tuple[int, int]], flips: list[int], max_distance: int, pick: int, exclude: int
) -> None:
    """Versions added in one run (an import's captures over the years): only each article's latest text is
    matched, like a scan of the latest fingerprints; ``exclude`` (0: none) leaves one article out."""
    index = ArchiveIndex.empty()
    latest: dict[int, int] = {}
    for version, (number, fingerprint) in enumerate(additions, start=1):
        index.add(f"n{number}", version, digest(f"{number}-{version}"), to_signed(fingerprint))
        latest[number] = fingerprint
    query = flip_bits(additions[pick % len(additions)][1], *flips)
    close = sorted(
        n for n, f in latest.items() if hamming_distance(f, query) <= max_distance and n != exclude
    )
    skip = f"n{exclude}" if exclude else None
    assert index.near_duplicate(query, max_distance, exclude=skip) == (f"n{close[0]}" if close else None)


@given(
    st.one_of(
        st.text(max_size=8),
        st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), max_size=6).map(lambda s: f"n{s}"),
        st.from_regex(r"n[0-9]+", fullmatch=True),
    )
)
def test_article_number_reads_n_and_decimal_digits_only(article_id: str) -> None:
    """Any Unicode decimal digits (what int reads), not other numerals (superscripts, Roman numerals)."""
    match = re.fullmatch(r"n(\d+)", article_id)
    assert article_number(article_id) == (int(match.group(1)) if match else None)
