"""The archive index: what the dataset already holds, read from the dataset itself at start (SPEC.md section 3).

For each archived article only its latest version is kept, as sorted numpy arrays (57 bytes per article for 1,000,000 articles):
article number, version, a 64-bit prefix of ``content_hash`` and ``simhash``, a hash-sorted copy for
``find_hash``, and a banded SimHash index for ``near_duplicate``. Articles accepted during the run go to a small
dict overlay on top of the frozen arrays.

Near duplicates: the 64-bit fingerprint is cut into 4 bands of 16 bits; two fingerprints within Hamming
distance 3 differ in at most 3 bands, so they agree on at least one whole band (pigeonhole). Each band is
bucketed on its top bits, which keeps that guarantee while sizing the bucket table to the archive, so only a
bucket's few members are compared instead of the whole archive.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from pipelines.dataset.layout import part_files
from pipelines.dataset.simhash import to_unsigned
from pipelines.dataset.storage import resolve

INDEX_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("content_hash", pa.string()),
        pa.field("simhash", pa.int64()),
    ]
)
INDEX_COLUMNS = tuple(INDEX_SCHEMA.names)
DEFAULT_MAX_DISTANCE = 3
BANDS = 4
BAND_BITS = 16
# Distances the bands guarantee to find; beyond it near_duplicate scans every fingerprint.
BANDED_MAX_DISTANCE = BANDS - 1
HASH_KEY_HEX_DIGITS = 16
# 2**(bit_length - 3) <= n / 4 buckets per band: at most 4 bytes of bucket offsets per article over all bands.
_BUCKET_BITS_BELOW_SIZE_BITS = 3
_NOT_HEX = 0xFF
_BAND_MASK = (1 << BAND_BITS) - 1
_BAND_SHIFTS = tuple(band * BAND_BITS for band in range(BANDS))

I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]


class Latest(NamedTuple):
    """An article's latest archived version and the :func:`hash_key` of its ``content_hash``."""

    version: int
    hash_key: int


class ArchiveUnreadableError(OSError):
    """The archive index cannot be read: every article would look new, so nothing may be written."""


class ArchiveLookup(Protocol):
    """The archive index: what the dedupe pipeline asks, and (``in``) the known-articles middleware. This local
    one, or the distributed mode's ``crawler.distributed.archive.RedisArchive``."""

    def __len__(self) -> int: ...

    def __contains__(self, article_id: object) -> bool: ...

    def latest(self, article_id: str) -> Latest | None: ...

    def find_hash(self, content_hash: str) -> str | None: ...

    def lookup(self, article_id: str, content_hashes: Sequence[str]) -> tuple[Latest | None, str | None]: ...

    def near_duplicate(
        self, simhash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, exclude: str | None = None
    ) -> str | None: ...

    def add(self, article_id: str, version: int, content_hash: str, simhash: int) -> None: ...


class ArchiveIndexClass(Protocol):
    """An ``ARCHIVE_INDEX_CLASS``: opens the index of the dataset at ``root`` for run ``run_id``."""

    def open(self, fs: pafs.FileSystem, root: str, run_id: str, settings: Any) -> ArchiveLookup: ...


def hash_key(content_hash: str) -> int:
    """The 64-bit prefix of a hex digest that the index keeps: a collision needs 2**32 articles to be likely."""
    return int(content_hash[:HASH_KEY_HEX_DIGITS].ljust(HASH_KEY_HEX_DIGITS, "0"), 16)


def article_number(article_id: str) -> int | None:
    """The number of an ``n<digits>`` id, None for anything else."""
    digits = article_id[1:]
    # isdecimal: the Unicode decimal digits, which int reads (not superscripts or other numerals).
    return int(digits) if article_id[:1] == "n" and digits.isdecimal() else None


def _hex_digit_values() -> npt.NDArray[np.uint8]:
    """Byte -> value of that ASCII hex digit, ``_NOT_HEX`` for any other byte."""
    table = np.full(256, _NOT_HEX, dtype=np.uint8)
    for value, char in enumerate("0123456789abcdef"):
        table[ord(char)] = table[ord(char.upper())] = value
    return table


_HEX_VALUES = _hex_digit_values()


def _article_id(number: int) -> str:
    return f"n{number}"


@dataclass(frozen=True, slots=True)
class _BandIndex:
    """For each band, row positions grouped by bucket (``perm``) and where each bucket starts (``offsets``)."""

    bucket_shift: int
    perms: tuple[I32Array, ...]
    offsets: tuple[I32Array, ...]

    def bucket(self, simhash: int, band: int) -> int:
        return ((simhash >> (band * BAND_BITS)) & ((1 << BAND_BITS) - 1)) >> self.bucket_shift

    def candidates(self, simhash: int) -> I32Array:
        """Positions sharing at least one band bucket with ``simhash`` (repeats possible)."""
        slices = []
        for band in range(BANDS):
            key = self.bucket(simhash, band)
            start, end = self.offsets[band][key], self.offsets[band][key + 1]
            slices.append(self.perms[band][start:end])
        return np.concatenate(slices)

    def everyone(self) -> I32Array:
        return self.perms[0]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.perms, *self.offsets))


@dataclass(frozen=True, slots=True)
class _Frozen:
    """The archive as loaded: one row per article (latest version), sorted by article number."""

    numbers: I64Array
    versions: I32Array
    hash_keys: U64Array
    simhashes: U64Array
    hashes_sorted: U64Array
    hash_positions: I32Array
    bands: _BandIndex

    @property
    def nbytes(self) -> int:
        arrays = (
            self.numbers,
            self.versions,
            self.hash_keys,
            self.simhashes,
            self.hashes_sorted,
            self.hash_positions,
        )
        return sum(a.nbytes for a in arrays) + self.bands.nbytes

    def position(self, number: int) -> int | None:
        if self.numbers.size == 0:
            return None  # a rebuild, a first crawl: no numpy call per item for an empty archive
        pos = int(np.searchsorted(self.numbers, number))
        return pos if pos < self.numbers.size and self.numbers[pos] == number else None

    def find_hash(self, key: int) -> int | None:
        if self.hashes_sorted.size == 0:
            return None
        pos = int(np.searchsorted(self.hashes_sorted, np.uint64(key)))
        if pos < self.hashes_sorted.size and self.hashes_sorted[pos] == key:
            return int(self.numbers[self.hash_positions[pos]])
        return None

    def near_duplicate(self, simhash: int, max_distance: int, exclude: int | None) -> int | None:
        """The lowest article number within ``max_distance`` of ``simhash`` (an unsigned fingerprint)."""
        if self.numbers.size == 0:
            return None  # as position()
        if max_distance <= BANDED_MAX_DISTANCE:
            candidates = self.bands.candidates(simhash)
        else:
            candidates = self.bands.everyone()
        if candidates.size == 0:
            return None
        distances = np.bitwise_count(self.simhashes[candidates] ^ np.uint64(simhash))
        hits = candidates[distances <= max_distance]
        excluded = self.position(exclude) if exclude is not None else None
        if excluded is not None:
            hits = hits[hits != excluded]
        return int(self.numbers[hits.min()]) if hits.size else None


@dataclass(slots=True)
class _Added:
    version: int
    hash_key: int
    simhash: int


@dataclass(slots=True)
class _Overlay:
    """Articles accepted during this run, on top of the frozen arrays."""

    entries: dict[int, _Added] = field(default_factory=dict)
    by_hash: dict[int, int] = field(default_factory=dict)
    # For each band, band key -> (fingerprint, number) of the entries in that bucket: the fingerprint beside the
    # number, so that a candidate costs no lookup (texts of one site share enough shingles for hundreds of
    # candidates an item, and this runs for every item).
    by_band: tuple[dict[int, list[tuple[int, int]]], ...] = field(
        default_factory=lambda: tuple({} for _ in range(BANDS))
    )

    def add(self, number: int, entry: _Added) -> None:
        previous = self.entries.get(number)
        if previous is not None:
            # A later version in the same run: its fingerprint replaces the earlier one in the buckets.
            for table, key in zip(self.by_band, _band_keys(previous.simhash), strict=True):
                table[key].remove((previous.simhash, number))
        self.entries[number] = entry
        self.by_hash[entry.hash_key] = min(number, self.by_hash.get(entry.hash_key, number))
        member = (entry.simhash, number)
        for table, key in zip(self.by_band, _band_keys(entry.simhash), strict=True):
            bucket = table.get(key)
            if bucket is None:
                table[key] = [member]
            else:
                bucket.append(member)

    def near_duplicate(self, simhash: int, max_distance: int, exclude: int | None) -> int | None:
        """Both fingerprints are unsigned here (see ``ArchiveIndex.add``), so their distance needs no mask."""
        if max_distance > BANDED_MAX_DISTANCE:
            candidates = [(entry.simhash, n) for n, entry in self.entries.items()]
        else:
            # One comprehension over the buckets joined: a candidate costs less than a comprehension's setup.
            candidates = []
            for table, key in zip(self.by_band, _band_keys(simhash), strict=True):
                candidates += table.get(key, ())
        hits = [
            n for other, n in candidates if (other ^ simhash).bit_count() <= max_distance and n != exclude
        ]
        return min(hits, default=None)


# An item's fingerprint is asked for (near_duplicate) and then added: its keys are computed once.
@functools.lru_cache(maxsize=1)
def _band_keys(simhash: int) -> tuple[int, ...]:
    return tuple([(simhash >> shift) & _BAND_MASK for shift in _BAND_SHIFTS])


def _lowest(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a, b)


class ArchiveIndex:
    """The local archive index; see the module docstring. Implements :class:`ArchiveLookup`."""

    def __init__(self, frozen: _Frozen) -> None:
        self._frozen = frozen
        self._overlay = _Overlay()
        self._added_unknown = 0

    @classmethod
    def load(cls, uri: str) -> ArchiveIndex:
        """The index of the dataset at ``uri``; empty when the dataset does not exist yet."""
        fs, root = resolve(uri)
        return cls.from_batches(read_index_columns(fs, root))

    @classmethod
    def open(cls, fs: pafs.FileSystem, root: str, run_id: str, settings: Any = None) -> ArchiveIndex:
        """The ``ARCHIVE_INDEX_CLASS`` entry point (the default): read from the dataset itself."""
        return cls.from_batches(read_index_columns(fs, root))

    @classmethod
    def from_batches(cls, batches: Iterable[pa.RecordBatch]) -> ArchiveIndex:
        """The index of dataset rows (at least the ``INDEX_COLUMNS``); each batch is compacted as it comes,
        so the peak memory is the arrays plus one batch, not the whole Arrow table."""
        index = cls(_freeze(_RowColumns.concatenate([_RowColumns.of(batch) for batch in batches])))
        # Arrow's allocator keeps freed pages for reuse; the crawl will not need them.
        pa.default_memory_pool().release_unused()
        return index

    @classmethod
    def from_rows(cls, table: pa.Table) -> ArchiveIndex:
        return cls.from_batches(table.to_batches())

    @classmethod
    def empty(cls) -> ArchiveIndex:
        return cls.from_batches([])

    @property
    def nbytes(self) -> int:
        """Bytes held by the frozen arrays (the overlay is this run's additions only)."""
        return self._frozen.nbytes

    @property
    def archived_count(self) -> int:
        """Articles loaded from the dataset, without this run's additions."""
        return int(self._frozen.numbers.size)

    def __len__(self) -> int:
        return self.archived_count + self._added_unknown

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.latest(article_id) is not None

    def latest(self, article_id: str) -> Latest | None:
        number = article_number(article_id)
        if number is None:
            return None
        added = self._overlay.entries.get(number)
        if added is not None:
            return Latest(added.version, added.hash_key)
        pos = self._frozen.position(number)
        if pos is None:
            return None
        return Latest(int(self._frozen.versions[pos]), int(self._frozen.hash_keys[pos]))

    def lookup(self, article_id: str, content_hashes: Sequence[str]) -> tuple[Latest | None, str | None]:
        """``latest(article_id)`` and, for an article not archived yet, the owner of the first of
        ``content_hashes`` that has one (``find_hash``): what the dedupe pipeline asks of each item, in one call
        (one round trip for a shared index)."""
        latest = self.latest(article_id)
        if latest is not None:
            return latest, None
        return None, next((owner for h in content_hashes if (owner := self.find_hash(h)) is not None), None)

    def find_hash(self, content_hash: str) -> str | None:
        """An article whose latest text has this ``content_hash`` (the lowest id if several), or None."""
        key = hash_key(content_hash)
        found = _lowest(self._frozen.find_hash(key), self._overlay.by_hash.get(key))
        return _article_id(found) if found is not None else None

    def near_duplicate(
        self, simhash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, exclude: str | None = None
    ) -> str | None:
        """The lowest-numbered (so earliest) article within ``max_distance`` bits of ``simhash``, or None.

        The lowest id wins so that every copy in a cluster points at the same original. ``exclude`` leaves
        out one article (a new version must not be flagged as a near duplicate of itself).
        """
        unsigned = to_unsigned(simhash)
        skip = article_number(exclude) if exclude is not None else None
        found = _lowest(
            self._frozen.near_duplicate(unsigned, max_distance, skip),
            self._overlay.near_duplicate(unsigned, max_distance, skip),
        )
        return _article_id(found) if found is not None else None

    def add(self, article_id: str, version: int, content_hash: str, simhash: int) -> None:
        number = article_number(article_id)
        if number is None:
            raise ValueError(f"article_id {article_id!r} is not of the form n<digits>")
        if number not in self._overlay.entries and self._frozen.position(number) is None:
            self._added_unknown += 1
        self._overlay.add(number, _Added(version, hash_key(content_hash), to_unsigned(simhash)))


def read_index_columns(fs: pafs.FileSystem, root: str) -> Iterator[pa.RecordBatch]:
    """The index columns of every committed part file under ``root``, batch by batch (none if no dataset)."""
    files = part_files(fs, root)
    if files:
        dataset = pads.dataset(files, format="parquet", filesystem=fs)
        yield from dataset.to_batches(columns=list(INDEX_COLUMNS))


@dataclass(frozen=True, slots=True)
class _RowColumns:
    """Dataset rows reduced to what the index keeps: 30 bytes a row instead of about 100 in Arrow."""

    numbers: I64Array
    versions: I32Array
    hash_keys: U64Array
    hash_valid: npt.NDArray[np.bool_]
    simhashes: U64Array
    simhash_valid: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, rows: pa.RecordBatch) -> _RowColumns:
        # One column layout whatever wrote the files (large_string, int64 versions...); a no-op when it matches.
        batch = rows.select(list(INDEX_COLUMNS)).cast(INDEX_SCHEMA)
        hashes, simhashes = batch.column("content_hash"), batch.column("simhash")
        return cls(
            numbers=_article_numbers(batch.column("article_id")),
            versions=batch.column("version").to_numpy().astype(np.int32, copy=False),
            hash_keys=_hash_keys(hashes),
            hash_valid=_is_valid(hashes),
            simhashes=simhashes.fill_null(0).to_numpy().view(np.uint64),
            simhash_valid=_is_valid(simhashes),
        )

    @classmethod
    def concatenate(cls, parts: list[_RowColumns]) -> _RowColumns:
        if not parts:
            return cls.of(_EMPTY_BATCH)
        return cls(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls)))


_EMPTY_BATCH = pa.RecordBatch.from_pylist([], schema=INDEX_SCHEMA)


def _is_valid(column: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _freeze(rows: _RowColumns) -> _Frozen:
    keep = _latest_rows(rows.numbers, rows.versions)
    hash_keys, simhashes = rows.hash_keys[keep], rows.simhashes[keep]
    hash_valid = np.flatnonzero(rows.hash_valid[keep]).astype(np.int32)
    simhash_valid = np.flatnonzero(rows.simhash_valid[keep]).astype(np.int32)
    # Stable sorts keep positions ascending within equal keys, so the first match is the lowest id.
    by_hash = hash_valid[np.argsort(hash_keys[hash_valid], kind="stable")]
    return _Frozen(
        numbers=rows.numbers[keep],
        versions=rows.versions[keep],
        hash_keys=hash_keys,
        simhashes=simhashes,
        hashes_sorted=hash_keys[by_hash],
        hash_positions=by_hash,
        bands=_band_index(simhashes, simhash_valid),
    )


def _article_numbers(ids: pa.Array) -> I64Array:
    if len(ids) and (ids.null_count or not pc.all(pc.starts_with(ids, "n")).as_py()):
        raise ValueError("archive holds article_id values that are not of the form n<digits>")
    try:
        numbers = pc.cast(pc.utf8_slice_codeunits(ids, 1), pa.int64())
    except pa.ArrowInvalid as error:
        raise ValueError(
            f"archive holds article_id values that are not of the form n<digits>: {error}"
        ) from None
    return np.asarray(numbers.to_numpy(), dtype=np.int64)


def _latest_rows(numbers: I64Array, versions: I32Array) -> I64Array:
    """Row indices of each article's highest version, in ascending article number."""
    order = np.lexsort((versions, numbers))
    sorted_numbers = numbers[order]
    is_last = np.empty(order.size, dtype=bool)
    is_last[:-1] = sorted_numbers[1:] != sorted_numbers[:-1]
    is_last[-1:] = True
    return np.asarray(order[is_last], dtype=np.int64)


def _hash_keys(hashes: pa.Array) -> U64Array:
    """:func:`hash_key` of every hex digest at once (null digests give 0, and are left out of lookups)."""
    prefixes = pc.utf8_rpad(
        pc.utf8_slice_codeunits(hashes.fill_null(""), 0, HASH_KEY_HEX_DIGITS), HASH_KEY_HEX_DIGITS, "0"
    )
    chars = _fixed_width_bytes(prefixes, HASH_KEY_HEX_DIGITS)
    nibbles = _HEX_VALUES[chars]
    if (nibbles == _NOT_HEX).any():
        raise ValueError("archive holds content_hash values that are not hexadecimal")
    octets = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(octets).view(">u8").ravel().astype(np.uint64)


def _fixed_width_bytes(strings: pa.Array, width: int) -> npt.NDArray[np.uint8]:
    """The UTF-8 bytes of strings that all have ``width`` bytes, as an (n, width) array without copies."""
    n = len(strings)
    if n == 0:
        return np.empty((0, width), dtype=np.uint8)
    _validity, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[strings.offset : strings.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start != n * width:
        raise ValueError("archive holds content_hash values that are not hexadecimal")
    return np.frombuffer(data_buffer, dtype=np.uint8)[start:end].reshape(n, width)


def _band_index(simhashes: U64Array, positions: I32Array) -> _BandIndex:
    bucket_bits = int(np.clip(positions.size.bit_length() - _BUCKET_BITS_BELOW_SIZE_BITS, 0, BAND_BITS))
    shift = BAND_BITS - bucket_bits
    perms, offsets = [], []
    values = simhashes[positions]
    for band in range(BANDS):
        buckets = ((values >> np.uint64(band * BAND_BITS)) & np.uint64(0xFFFF)) >> np.uint64(shift)
        buckets16 = buckets.astype(np.uint16)
        perms.append(positions[np.argsort(buckets16, kind="stable")])
        counts = np.bincount(buckets16, minlength=1 << bucket_bits)
        offsets.append(np.concatenate(([0], np.cumsum(counts))).astype(np.int32))
    return _BandIndex(shift, tuple(perms), tuple(offsets))
