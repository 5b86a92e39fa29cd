"""Raw captures as WARC (ISO 28500) files: the writer a crawl feeds and the reader that rebuild and import use.

No Scrapy here: the crawler side turns responses into :class:`Exchange` values and captures back into
responses. Files are written under a hidden temporary name and renamed (on S3: uploaded hidden, then copied)
when complete, like the Parquet parts: a record is *committed* once its file is renamed. The exporter commits
the open file before every Parquet flush, so a row never points into a file that a crash could still lose.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import glob
import hashlib
import heapq
import io
import json
import logging
import os
import uuid
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any, Protocol

import brotli  # type: ignore[import-untyped]  # no stubs
import pyarrow as pa
import pyarrow.fs as pafs
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime

from pipelines.dataset import storage, wayback

logger = logging.getLogger(__name__)

# Captures live next to the dataset by default: output/articles -> output/warc, s3://b/articles -> s3://b/warc.
DEFAULT_FOLDER = "warc"
# Common Crawl and the Internet Archive rotate at about 1 GB; smaller files commit (and so survive) sooner.
DEFAULT_MAX_BYTES = 256 << 20
FILE_PREFIX = "capture-"
FILE_SUFFIX = ".warc.gz"
WARC_SUFFIXES = (".warc", ".warc.gz")
WARC_VERSION = "1.1"
# Beside each committed file, the index of its records (CDXJ): what ordering a file's captures needs, unread.
INDEX_SUFFIX = ".cdxj"
# Hop-by-hop framing that Twisted already undid: kept, a reader would try to de-chunk a plain body.
_DROPPED_RESPONSE_HEADERS = frozenset({b"transfer-encoding"})
# warcio's writer: the WARC Content-Type of each record type, and gzip at its compression level.
_CONTENT_TYPES = {
    "response": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
}
_GZIP_LEVEL = 9


class WarcConfigError(ValueError):
    """A WARC_* setting is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and the response to it, as sent and received."""

    url: str
    method: str
    request_headers: list[tuple[bytes, bytes]]
    protocol: str
    status: int
    response_headers: list[tuple[bytes, bytes]]
    body: bytes
    date: datetime


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """Where a response record is: the file (as its URI) and the byte offset of its record, and when it was made."""

    file: str
    offset: int
    date: datetime


@dataclass(frozen=True, slots=True)
class _Written:
    """One exchange's two records as the index describes them: the response at ``offset``, the request after."""

    url: str
    date: str
    protocol: str
    status: int
    mime: str
    offset: int
    response_length: int
    request_length: int


@dataclass(frozen=True, slots=True)
class Capture:
    """A response record read back: the payload with its transfer and content encodings undone."""

    ref: CaptureRef
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _Sink(Protocol):
    def write(self, data: bytes) -> Any: ...
    def close(self) -> Any: ...


def capture_location(setting: object, parquet_uri: str) -> str:
    """Where captures go: ``WARC_URI`` as set (empty: capture off), or unset, ``warc`` next to the dataset."""
    if setting is not None:
        return str(setting).strip()
    parent = parquet_uri.rstrip("/").rsplit("/", 1)[0] if "/" in parquet_uri.rstrip("/") else "."
    return f"{parent}/{DEFAULT_FOLDER}"


def display_uri(fs: pafs.FileSystem, path: str) -> str:
    """The URI a user or a reader can open: the absolute path, or ``s3://bucket/key``."""
    return path if isinstance(fs, pafs.LocalFileSystem) else f"{fs.type_name}://{path}"


def _iso(moment: datetime) -> str:
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _header_text(value: bytes) -> str:
    # HTTP header bytes are ISO-8859-1 on the wire; latin-1 round-trips every byte.
    return value.decode("latin-1")


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _request_line(exchange: Exchange) -> tuple[str, list[tuple[str, str]]]:
    parts = exchange.url.split("/", 3)
    target = "/" + (parts[3] if len(parts) > 3 else "")
    headers = [("Host", parts[2] if len(parts) > 2 else "")]
    headers += [(_header_text(k), _header_text(v)) for k, v in exchange.request_headers]
    return f"{exchange.method} {target.split('#', 1)[0]}", headers


def _http_block(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    """The HTTP head of a record as warcio's ``StatusAndHeaders.to_ascii_bytes`` writes it: ASCII, or its
    percent-encoding of the headers that are not (then warcio's own code, for the same bytes)."""
    text = "".join([first_line, "\r\n", *(f"{name}: {value}\r\n" for name, value in headers), "\r\n"])
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        protocol, _, rest = first_line.partition(" ")
        return bytes(StatusAndHeaders(rest, headers, protocol=protocol).to_ascii_bytes())


def _digest(digest: bytes) -> str:
    return "sha1:" + base64.b32encode(digest).decode("ascii")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _record(
    kind: str, uri: str, date: str, record_id: str, http: bytes, payload: bytes, concurrent_to: str | None
) -> bytes:
    """One record, uncompressed: the WARC headers in the order warcio's writer puts them, the HTTP head, the
    payload and the two line ends."""
    # SHA-1: what WARC digests are (ISO 28500), not a security measure.
    block = hashlib.sha1(http)
    block.update(payload)
    lines = [f"WARC/{WARC_VERSION}", f"WARC-Date: {date}"]
    if concurrent_to is not None:
        lines.append(f"WARC-Concurrent-To: {concurrent_to}")
    lines += [
        f"WARC-Type: {kind}",
        f"WARC-Record-ID: {record_id}",
        f"WARC-Target-URI: {uri}",
        f"WARC-Payload-Digest: {_digest(hashlib.sha1(payload).digest())}",
        f"WARC-Block-Digest: {_digest(block.digest())}",
        f"Content-Type: {_CONTENT_TYPES[kind]}",
        f"Content-Length: {len(http) + len(payload)}",
        "",
        "",
    ]
    return b"".join(["\r\n".join(lines).encode("utf-8"), http, payload, b"\r\n\r\n"])


def _gzip_member(data: bytes) -> bytes:
    """``data`` as one gzip member, compressed as warcio's writer does (level 9)."""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)  # + 16: a gzip member
    return compressor.compress(data) + compressor.flush()


class WarcWriter:
    """Appends request/response pairs to ``<root>/capture-<run_id>-<n>.warc.gz``, one gzip member per record."""

    def __init__(self, fs: pafs.FileSystem, root: str, run_id: str, max_bytes: int) -> None:
        self.fs = fs
        self.root = root
        self.run_id = run_id
        self.max_bytes = max_bytes
        self._sequence = 0
        self._sink: _Sink | None = None
        self._position = 0
        self._final = ""
        self._temporary = ""
        self._committed: list[str] = []
        self._written: list[_Written] = []

    def write(self, exchange: Exchange) -> CaptureRef:
        """Write the response record, then the request record; returns where the response record starts.

        The records are built here rather than through warcio's writer, whose per-record header lists, stream
        reads and write calls cost as much again as the compression itself; warcio reads them back the same.
        """
        sink = self._open()
        date = _iso(exchange.date)
        response_id = _record_id()
        response_head = _http_block(
            f"{exchange.protocol} {_status_line(exchange.status)}",
            [
                (_header_text(k), _header_text(v))
                for k, v in exchange.response_headers
                if k.lower() not in _DROPPED_RESPONSE_HEADERS
            ],
        )
        request_head = _http_block(*_request_line(exchange))
        response = _gzip_member(
            _record("response", exchange.url, date, response_id, response_head, exchange.body, None)
        )
        request = _gzip_member(
            _record("request", exchange.url, date, _record_id(), request_head, b"", response_id)
        )
        offset = self._position
        sink.write(response + request)
        self._position += len(response) + len(request)
        self._written.append(
            _Written(
                exchange.url,
                date,
                exchange.protocol,
                exchange.status,
                _mime(exchange.response_headers),
                offset,
                len(response),
                len(request),
            )
        )
        ref = CaptureRef(display_uri(self.fs, self._final), offset, exchange.date)
        if self._position >= self.max_bytes:
            self._close_current()
        return ref

    def _open(self) -> _Sink:
        if self._sink is not None:
            return self._sink
        self._sequence += 1
        name = f"{FILE_PREFIX}{self.run_id}-{self._sequence}{FILE_SUFFIX}"
        self._final = f"{self.root}/{name}"
        self._temporary = f"{self.root}/{storage.temporary_name(name)}"
        self.fs.create_dir(self.root, recursive=True)
        self._sink = self._open_sink(self._temporary)
        self._position = 0
        self._written = []
        return self._sink

    def _open_sink(self, path: str) -> _Sink:
        if isinstance(self.fs, pafs.LocalFileSystem):
            # Held while the file is written: a starting run sweeps only temporaries nobody holds (dead writers).
            handle = open(path, "wb")  # noqa: SIM115 - closed by commit()
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        # S3 and the like: a multipart upload of the hidden key, invisible until closed, copied when committed.
        return self.fs.open_output_stream(path)  # type: ignore[no-any-return]

    def commit(self) -> list[str]:
        """Close and rename the open file, if any; returns every file committed since the last call."""
        self._close_current()
        committed, self._committed = self._committed, []
        return committed

    def discard(self) -> None:
        """Drop the open file unrenamed (a failed capture): its space is freed, no row may point into it."""
        if self._sink is not None:
            sink, self._sink = self._sink, None
            with contextlib.suppress(OSError):
                sink.close()
            with contextlib.suppress(OSError):
                self.fs.delete_file(self._temporary)

    def _close_current(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            try:
                sink.close()
                self.fs.move(self._temporary, self._final)
            except BaseException:
                with contextlib.suppress(OSError):
                    self.fs.delete_file(self._temporary)
                raise
            self._committed.append(display_uri(self.fs, self._final))
            self._commit_index()

    def _commit_index(self) -> None:
        """Write the committed file's index as the file was written: hidden, then renamed. After the file, so that
        a crash between the two leaves a file without an index (read by a scan), never an index without a file.
        The index is optional: a failure to write it only costs later readers a scan."""
        name = self._final.rsplit("/", 1)[-1] + INDEX_SUFFIX
        temporary = f"{self.root}/{storage.temporary_name(name)}"
        try:
            sink = self._open_sink(temporary)
            try:
                sink.write(index_text(self._final.rsplit("/", 1)[-1], self._written))
                sink.close()
                self.fs.move(temporary, f"{self.root}/{name}")
            except BaseException:
                with contextlib.suppress(OSError):
                    sink.close()
                with contextlib.suppress(OSError):
                    self.fs.delete_file(temporary)
                raise
        except (OSError, pa.ArrowException) as error:
            logger.warning("Cannot write the index %s (readers will scan its WARC file): %s", name, error)
        self._written = []


def _mime(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"content-type":
            return _header_text(value).split(";", 1)[0].strip().lower() or "-"
    return "-"


def index_text(filename: str, written: list[_Written]) -> bytes:
    """The CDXJ index of a file's records (``<SURT> <timestamp> {json}`` lines, sorted, as pywb and OutbackCDX
    read them), with every record in it (requests too) and the exact ``warc_date`` and ``warc_type`` of each,
    which the readers' ordering and record filters use."""
    lines = []
    for entry in written:
        key = f"{surt(entry.url)} {_timestamp(entry.date)}"
        response = {"url": entry.url, "mime": entry.mime, "status": str(entry.status)}
        if not _plain(entry.protocol):
            # A status line the reader would split elsewhere: the filter reads that record's status from the file.
            del response["status"]
        request = {"url": entry.url, "mime": "-"}
        records = (
            (response, "response", entry.offset, entry.response_length),
            (request, "request", entry.offset + entry.response_length, entry.request_length),
        )
        for fields, kind, offset, length in records:
            fields.update(
                length=str(length),
                offset=str(offset),
                filename=filename,
                warc_type=kind,
                warc_date=entry.date,
            )
            lines.append(f"{key} {json.dumps(fields)}\n")
    lines.sort()
    return "".join(lines).encode("utf-8")


def _timestamp(iso_date: str) -> str:
    """The 14 digits of a CDX timestamp (``YYYYmmddHHMMSS``) of a WARC-Date."""
    return "".join(c for c in iso_date[:19] if c.isdigit())


def surt(url: str) -> str:
    """The SURT key replay indexes sort on: ``com,example)/path?query`` for ``http://www.example.com/path?query``
    (host reversed, ``www`` and default ports dropped, lowercase, no fragment)."""
    _, separator, rest = url.partition("://")
    if not separator:
        return url.lower()
    cut = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, path = rest[:cut], rest[cut:].split("#", 1)[0]
    host, _, port = authority.rpartition("@")[2].lower().partition(":")
    labels = host.split(".")
    if len(labels) > 2 and labels[0] == "www":
        labels = labels[1:]
    kept_port = "" if port in ("", "80", "443") else f":{port}"
    key = f"{','.join(reversed(labels))}{kept_port}){path.lower() or '/'}"
    return key.replace(" ", "%20")  # a space ends the key


def _plain(text: str) -> bool:
    """Read back from a record exactly as written: nothing a header line's parsing would strip or split on, no
    ``<URI>`` a reader unwraps."""
    return bool(text) and text.isprintable() and " " not in text and not (text[0] == "<" and text[-1] == ">")


def committed_files(uri: str, run_id: str) -> list[str]:
    """The committed capture files of ``run_id`` under ``uri``, as URIs (none when the folder cannot be read)."""
    fs, root = storage.resolve(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except (OSError, pa.ArrowException):
        return []
    prefix = f"{FILE_PREFIX}{run_id}-"
    return sorted(
        display_uri(fs, i.path)
        for i in infos
        if i.base_name.startswith(prefix) and i.base_name.endswith(FILE_SUFFIX)
    )


def is_capture_temporary(name: str) -> bool:
    return storage.is_temporary(name) and name.startswith(f"{storage.TEMPORARY_PREFIX}{FILE_PREFIX}")


def remove_stale_temporaries(fs: pafs.FileSystem, root: str) -> list[str]:
    """Delete the hidden files of writers that died (local files only: no live writer holds their lock)."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return []
    removed = []
    for info in fs.get_file_info(pafs.FileSelector(root, allow_not_found=True)):
        if not is_capture_temporary(info.base_name):
            continue
        with contextlib.suppress(FileNotFoundError), open(info.path, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer's file
            os.unlink(info.path)
            removed.append(info.path)
    return removed


# ---- reading ----------------------------------------------------------------------------------------------


def _is_warc_name(name: str) -> bool:
    return name.endswith(WARC_SUFFIXES) and not name.startswith((".", "_"))


def expand_paths(spec: str) -> list[str]:
    """Comma-separated files, folders (every ``*.warc`` / ``*.warc.gz`` under them) or globs, as URIs, in order.

    Raises FileNotFoundError naming a part that matches nothing.
    """
    found: dict[str, None] = {}  # ordered, each file once
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        matches = _expand_one(part)
        if not matches:
            raise FileNotFoundError(f"no WARC file at {part!r}")
        found.update(dict.fromkeys(matches))
    return list(found)


def _expand_one(part: str) -> list[str]:
    if "://" in part:
        fs, path = pafs.FileSystem.from_uri(part)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return [part]
        selector = pafs.FileSelector(path.rstrip("/"), recursive=True, allow_not_found=True)
        names = sorted(i.path for i in fs.get_file_info(selector) if _is_warc_name(i.base_name))
        return [display_uri(fs, n) for n in names]
    # A glob's matches, but the indexes beside the files it matches (``*`` in a capture folder).
    paths = (
        sorted(p for p in glob.glob(part) if not p.endswith(INDEX_SUFFIX)) if glob.has_magic(part) else [part]
    )
    files: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(str(p.resolve()) for p in path.rglob("*") if _is_warc_name(p.name))
        elif path.is_file():
            files.append(str(path.resolve()))
    return files


def _open(uri: str) -> IO[bytes]:
    if "://" not in uri:
        return open(uri, "rb")
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs.open_input_file(path)  # type: ignore[no-any-return]


def _record_date(record: Any) -> datetime:
    text = record.rec_headers.get_header("WARC-Date") or ""
    try:
        moment: datetime = iso_date_to_datetime(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def capture_date(record: Any) -> datetime:
    """When the record's page was captured: ``WARC-Date``, or a Wayback replay's timestamp when the record is a
    later download of the replay."""
    return wayback.capture_time(wayback.unwrap(_raw_target(record)), _record_date(record))


@dataclass(frozen=True, slots=True)
class Damaged:
    """In place of what a damaged file does not let us read: a record it ends inside (``cut``, a download that
    stopped) or the rest of a file no record can be read from (``unreadable``). The record filter counts it as a
    record of that type (``warc/skipped/record_cut``, ``record_unreadable``); nothing of it is read."""

    rec_type: str
    http_headers: None = None


CUT = Damaged("cut")
UNREADABLE = Damaged("unreadable")


def scan(uri: str, keep: RecordFilter, start: int = 0) -> Iterator[tuple[datetime, int]]:
    """The capture date and offset of each of one file's records from offset ``start`` on that ``keep``
    accepts."""
    for offset, record in records(uri):
        if offset >= start and keep(record):
            yield capture_date(record), offset


def records(uri: str) -> Iterator[tuple[int, Any]]:
    """Each record of the file with its offset: a gzip-per-record file (what WARC writers make) member by member
    (:func:`_members`, :func:`_parse_member`), anything else by warcio.

    A record whose block the file ends inside (a download cut short) is left out with a warning, never read with
    a shorter body: warcio's records are judged once its iteration has moved past them (and drained them). Such a
    record, and the rest of a file that cannot be read, is given as :class:`Damaged`, to be counted.
    """
    with _open(uri) as stream:
        if stream.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC:
            stream.seek(0)
            for offset, member in _members(stream, uri):
                if member is None:
                    yield offset, CUT
                    return
                try:
                    parsed = _parse_member(member)
                except ArchiveLoadFailed:
                    logger.warning(
                        "%s: a gzip of the whole file, not one gzip member per record (offsets cannot be read "
                        "back): left out; `warcio recompress` makes a readable copy",
                        uri,
                    )
                    yield offset, UNREADABLE
                    return
                for record in parsed:
                    yield from _unless_cut(uri, offset, record)
            return
        stream.seek(0)
        records = ArchiveIterator(stream, no_record_parse=False)
        held: tuple[int, Any] | None = None
        for record in _until_unreadable(uri, records):
            if held is not None:
                yield from _unless_cut(uri, *held)
            held = (records.offset if record is UNREADABLE else records.get_record_offset(), record)
        if held is not None:
            yield from _unless_cut(uri, *held)
        if held is None or held[1] is not UNREADABLE:
            yield from _unless_whole(uri, stream, records.offset)


def _until_unreadable(uri: str, records: ArchiveIterator) -> Iterator[Any]:
    """warcio's records up to one it fails on (a file cut in a record's headers: warcio 1.8 fails with an
    AttributeError on a response record cut before its target URI). warcio cannot find a record after one it
    cannot parse, so the rest of the file is left out, with a warning saying where."""
    while True:
        try:
            yield next(records)
        except StopIteration:
            return
        except (ArchiveLoadFailed, AttributeError) as error:
            logger.warning(
                "%s: no record can be read from offset %d on (%s); left out", uri, records.offset, error
            )
            yield UNREADABLE
            return


def _unless_whole(uri: str, stream: IO[bytes], end: int) -> Iterator[tuple[int, Any]]:
    """A cut record where warcio's iteration ended before the end of the file: warcio ends quietly on a record cut
    inside its WARC headers (no blank line after them), leaving its bytes unread."""
    stream.seek(end)
    if stream.read(_READ_BYTES).strip(_BLANK):
        logger.warning("%s: the record at offset %d is cut short; left out", uri, end)
        yield end, CUT


def _unless_cut(uri: str, offset: int, record: Any) -> Iterator[tuple[int, Any]]:
    """``(offset, record)``, unless warcio's reading of the record (drained) ended before its Content-Length, or
    the file ended before or inside that header (mandatory in WARC; warcio reads an empty one as 0). Blank lines,
    which warcio gives as a record without a version line, are passed on as warcio gives them. (The fast reader's
    records are whole: it reads only what ``_FastRecord.parse`` checked.)"""
    raw = getattr(record, "raw_stream", None)
    if raw is not None:
        length = str(record.rec_headers.get_header("Content-Length") or "").strip()
        lengthless = record.format == "warc" and bool(record.rec_headers.protocol) and not length.isdigit()
        if lengthless or getattr(raw, "limit", 0) > 0:
            logger.warning("%s: the record at offset %d is cut short; left out", uri, offset)
            yield offset, CUT
            return
    yield offset, record


# Reading gzip-per-record files with zlib and the headers with plain string operations costs a fifth of reading
# them with warcio's stream classes, for the same values; any record outside the common form (below) is still
# parsed by warcio, from its decompressed bytes.
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_READ_BYTES = 1 << 16
_WARC_VERSIONS = ("WARC/1.1", "WARC/1.0", "WARC/0.17", "WARC/0.18")
_HTTP_RECORD_TYPES = ("response", "request", "revisit")
_HTTP_SCHEMES = ("http:", "https:")
# What warcio skips as blank lines between records.
_BLANK = b" \t\r\n"


class _Unusual(Exception):
    """A record the fast reader leaves to warcio."""


def _members(stream: IO[bytes], uri: str) -> Iterator[tuple[int, bytes | None]]:
    """The offset and decompressed bytes of each gzip member from the stream's position.

    Blank lines between or after members (files joined with newlines) are given as they are, for warcio to read
    as it does (an empty record); a last member cut short (a download that stopped) is given as ``None``, with a
    warning, never read as a shorter record.
    """
    offset = stream.tell()
    pending = stream.read(_READ_BYTES)
    while pending:
        blank = b""
        while pending and not (start := pending.lstrip(_BLANK)):
            blank += pending
            pending = stream.read(_READ_BYTES)
        if pending:
            blank += pending[: len(pending) - len(start)]
            pending = start
        if blank:
            yield offset, blank
            offset += len(blank)
        if not pending:
            return
        inflater = zlib.decompressobj(_GZIP_WBITS)
        parts, consumed = [], 0
        while True:
            parts.append(inflater.decompress(pending))
            if inflater.eof:
                consumed += len(pending) - len(inflater.unused_data)
                pending = inflater.unused_data
                break
            consumed += len(pending)
            pending = stream.read(_READ_BYTES)
            if not pending:
                logger.warning("%s: the record at offset %d is cut short; left out", uri, offset)
                yield offset, None
                return
        yield offset, b"".join(parts)
        offset += consumed
        if not pending:
            pending = stream.read(_READ_BYTES)


def _parse_member(member: bytes) -> list[Any]:
    """The record of one decompressed member, its headers only (warcio's iteration consumes a record's payload
    when it moves on). A member of several records (a gzip of a whole file) is refused as warcio refuses it: its
    records' offsets could not be read back."""
    try:
        return [_FastRecord.parse(member, lazy=True)]
    except _Unusual:
        records = list(ArchiveIterator(io.BytesIO(member), no_record_parse=False))
    if len(records) > 1:
        raise ArchiveLoadFailed(ArchiveIterator.GZIP_ERR_MSG.format("warc/arc", "WARC/ARC"))
    return records


class _Headers:
    """What the reader uses of warcio's ``StatusAndHeaders``, with its semantics (first match, any case)."""

    __slots__ = ("_first", "headers", "protocol", "statusline")

    def __init__(self, protocol: str, statusline: str, headers: list[tuple[str, str]]) -> None:
        self.protocol = protocol
        self.statusline = statusline
        self.headers = headers
        # Each name's first value, by lowercase name: built on the first lookup, for the several that follow.
        self._first: dict[str, str] | None = None

    def get_header(self, name: str, default: str | None = None) -> str | None:
        first = self._first
        if first is None:
            first = self._first = {}
            for key, value in self.headers:
                first.setdefault(key.lower(), value)
        return first.get(name.lower(), default)

    def get_statuscode(self) -> str:
        return self.statusline.split(" ", 1)[0]

    def replace_last(self, name: str, value: str) -> None:
        wanted = name.lower()
        for index in range(len(self.headers) - 1, -1, -1):
            if self.headers[index][0].lower() == wanted:
                self.headers[index] = (self.headers[index][0], value)
                self._first = None
                return


def _header_lines(data: bytes, start: int, end: int) -> tuple[list[str], int]:
    """Lines from ``start`` up to the first blank one (or ``end``), each decoded and right-stripped as warcio
    does; and the position after that blank line.

    Usually the lines up to the first empty line (``\n\r\n`` or ``\n\n``) are UTF-8 and none of them is
    blank: then they are decoded in one piece (UTF-8 never continues a character across a line break, so the
    whole decodes exactly when each line does), three times cheaper than line by line.
    """
    blank = data.find(b"\n\r\n", start, end)
    # An LF-only blank line before it (or anywhere, when there is no CRLF one): found within that span only,
    # never searched for through a whole body.
    bare = data.find(b"\n\n", start, end if blank < 0 else blank + 1)
    if bare >= 0:
        blank = bare
    if blank >= 0:
        try:
            lines = [line.rstrip() for line in data[start:blank].decode("utf-8").split("\n")]
        except UnicodeDecodeError:
            lines = []
        if lines and all(lines):
            return lines, data.index(b"\n", blank + 1) + 1
    return _header_lines_one_by_one(data, start, end)


def _header_lines_one_by_one(data: bytes, start: int, end: int) -> tuple[list[str], int]:
    """:func:`_header_lines` line by line: a line that is not UTF-8 is read as latin-1, a line of only
    whitespace other than the line break (a space, a no-break space) is the blank one."""
    lines: list[str] = []
    position = start
    while position < end:
        newline = data.find(b"\n", position, end)
        stop = end if newline < 0 else newline + 1
        raw = data[position:stop]
        position = stop
        try:
            line = raw.decode("utf-8").rstrip()
        except UnicodeDecodeError:
            line = raw.decode("iso-8859-1").rstrip()
        if not line:
            break
        lines.append(line)
    return lines, position


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    """``Name: value`` lines as warcio reads them; a continuation line (leading space or tab) is unusual here."""
    headers = []
    for line in lines:
        if line.startswith((" ", "\t")):
            raise _Unusual
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.rstrip(" \t"), value.lstrip()))
    return headers


def _http_part(data: bytes, start: int, end: int) -> tuple[_Headers, int]:
    """The HTTP headers of a block and where its payload starts; :class:`_Unusual` for folded headers, none at
    all, and payloads warcio would decode (content or chunked transfer encoding)."""
    http_lines, payload_start = _header_lines(data, start, end)
    if not http_lines:
        raise _Unusual
    protocol, _, statusline = http_lines[0].partition(" ")
    http_headers = _Headers(protocol, statusline.strip(), _headers(http_lines[1:]))
    encoding = (http_headers.get_header("Content-Encoding") or "").lower()
    if encoding in BufferedReader.get_supported_decompressors() or (
        http_headers.get_header("Transfer-Encoding") == "chunked"
    ):
        raise _Unusual
    return http_headers, payload_start


class _FastRecord:
    """A WARC record in the common form, with warcio's record attributes the reader uses.

    A lazy record (what a scan reads) parses its HTTP headers when they are first read: a scan needs them for few
    records (no request's, no other site's). When only warcio reads that part right, warcio reads the record
    then, and answers for its HTTP headers and payload; its WARC headers are the same as ours (anything unusual
    there is refused before a record is made).
    """

    __slots__ = (
        "_block_end",
        "_data",
        "_http",
        "_http_start",
        "_payload_start",
        "_warcio",
        "rec_headers",
        "rec_type",
    )

    def __init__(self, data: bytes, rec_type: str, rec_headers: _Headers, block: tuple[int, int], http: bool):
        self._data = data
        self.rec_type = rec_type
        self.rec_headers = rec_headers
        # Where the HTTP headers start while they are unread; the payload is the block until they are read.
        self._http_start: int | None = block[0] if http else None
        self._payload_start, self._block_end = block
        self._http: _Headers | None = None
        self._warcio: Any = None

    @property
    def http_headers(self) -> Any:
        self._read_http()
        return self._http if self._warcio is None else self._warcio.http_headers

    def content_stream(self) -> IO[bytes]:
        self._read_http()
        if self._warcio is not None:
            return self._warcio.content_stream()  # type: ignore[no-any-return]
        return io.BytesIO(self._data[self._payload_start : self._block_end])

    def _read_http(self) -> None:
        if self._http_start is None:
            return
        try:
            self._http, self._payload_start = _http_part(self._data, self._http_start, self._block_end)
        except _Unusual:
            self._warcio = next(iter(ArchiveIterator(io.BytesIO(self._data), no_record_parse=False)))
        self._http_start = None

    @classmethod
    def parse(cls, data: bytes, lazy: bool = False) -> _FastRecord:
        """The one record ``data`` holds; :class:`_Unusual` for what warcio alone reads right: other versions or
        formats, a damaged length, a target URI it would correct, encoded payloads, folded headers, more than one
        record (a lazy record leaves its HTTP part's to warcio later)."""
        lines, block_start = _header_lines(data, 0, len(data))
        version = next((v for v in _WARC_VERSIONS if lines and lines[0].upper().startswith(v)), None)
        if version is None:
            raise _Unusual
        rec_headers = _Headers(version, lines[0][len(version) :].strip(), _headers(lines[1:]))
        try:
            length = int(rec_headers.get_header("Content-Length") or "")
        except ValueError:
            raise _Unusual from None
        block_end = block_start + length
        if length < 0 or block_end > len(data) or data[block_end:].strip():
            raise _Unusual
        rec_type = rec_headers.get_header("WARC-Type") or ""
        uri = rec_headers.get_header("WARC-Target-URI")
        if uri is not None and uri.startswith("<") and uri.endswith(">"):
            # wget 1.19 and later write <URI>: warcio corrects it in its headers, its last such header.
            uri = uri[1:-1]
            rec_headers.replace_last("WARC-Target-URI", uri)
        if uri is not None and " " in uri:
            raise _Unusual
        http = length > 0 and rec_type in _HTTP_RECORD_TYPES and (uri or "").startswith(_HTTP_SCHEMES)
        record = cls(data, rec_type, rec_headers, (block_start, block_end), http)
        if not lazy:
            record._http_start = None
            if http:
                record._http, record._payload_start = _http_part(data, block_start, block_end)
        return record


class NotIndexed(Exception):
    """A record filter read of an :class:`IndexedRecord` what its file's index does not hold."""


# What an index does not say about a record (a request's HTTP headers): reading it raises NotIndexed.
_NOT_INDEXED: Any = object()


class _IndexedHeaders:
    """The WARC headers an index line holds, answered as :class:`_Headers` answers; any other is NotIndexed."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get_header(self, name: str, default: str | None = None) -> str | None:
        try:
            return self._values[name.lower()]
        except KeyError:
            raise NotIndexed(name) from None

    def __getattr__(self, name: str) -> Any:
        raise NotIndexed(name)


class _IndexedStatus:
    """A response's HTTP headers as far as the index holds them: its status code."""

    __slots__ = ("_code",)

    def __init__(self, code: str) -> None:
        self._code = code

    def get_statuscode(self) -> str:
        return self._code

    def get_header(self, name: str, default: str | None = None) -> str | None:
        raise NotIndexed(name)

    def __getattr__(self, name: str) -> Any:
        raise NotIndexed(name)


class IndexedRecord:
    """A record as its file's index gives it, with what a scan's record gives of it, read the same way: its type,
    its WARC-Type, WARC-Date and WARC-Target-URI headers, and a response's status code (``http_headers`` is None
    where a scan's is). Anything else raises :class:`NotIndexed`."""

    __slots__ = ("_http", "rec_headers", "rec_type")

    def __init__(self, rec_type: str, rec_headers: _IndexedHeaders, http: Any) -> None:
        self.rec_type = rec_type
        self.rec_headers = rec_headers
        self._http = http

    @property
    def http_headers(self) -> Any:
        if self._http is _NOT_INDEXED:
            raise NotIndexed("http_headers")
        return self._http

    def __getattr__(self, name: str) -> Any:
        raise NotIndexed(name)


def indexed_records(uri: str) -> list[tuple[int, IndexedRecord]] | None:
    """The records of ``uri`` as its index (``<uri>.cdxj``, see :func:`index_text`) gives them, in file order.
    None when there is no index, and (with a warning) when it cannot be read or does not describe the file as it
    is, record after record from its first byte to its last."""
    try:
        with _open(uri + INDEX_SUFFIX) as stream:
            text = stream.read()
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as error:
        logger.warning("%s: cannot read its index, scanning the file instead: %s", uri, error)
        return None
    name = uri.rsplit("/", 1)[-1]
    try:
        entries = sorted((_index_entry(line, name) for line in text.decode("utf-8").splitlines()), key=_first)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        logger.warning("%s: its index is damaged (%s), scanning the file instead", uri, error)
        return None
    covered = 0
    for offset, length, _ in entries:
        if offset != covered:
            logger.warning(
                "%s: its index has no record at offset %d, scanning the file instead", uri, covered
            )
            return None
        covered += length
    size = _size(uri)
    if covered != size:
        logger.warning(
            "%s: its index describes %d bytes of %s, scanning the file instead", uri, covered, size
        )
        return None
    return [(offset, record) for offset, _, record in entries]


def _first(entry: tuple[int, int, IndexedRecord]) -> int:
    return entry[0]


def _index_entry(line: str, filename: str) -> tuple[int, int, IndexedRecord]:
    """Offset, length and record of an index line; ValueError (and the like) for a line :func:`index_text` did
    not write for ``filename``."""
    fields = json.loads(line.split(" ", 2)[2])
    if fields["filename"] != filename:
        raise ValueError(f"a record of {fields['filename']!r}")
    kind, date, url = (_string(fields, key) for key in ("warc_type", "warc_date", "url"))
    headers = {"warc-type": kind, "warc-date": date}
    http = _NOT_INDEXED
    if _plain(url):
        headers["warc-target-uri"] = url
        if kind not in _HTTP_RECORD_TYPES or not url.startswith(_HTTP_SCHEMES):
            http = None  # as _FastRecord.parse decides
        elif kind == "response" and "status" in fields:
            http = _IndexedStatus(str(int(_string(fields, "status"))))
    return (
        int(_string(fields, "offset")),
        int(_string(fields, "length")),
        IndexedRecord(kind, _IndexedHeaders(headers), http),
    )


def _string(fields: dict[str, Any], key: str) -> str:
    value = fields[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _size(uri: str) -> int | None:
    try:
        if "://" not in uri:
            return os.path.getsize(uri)
        fs, path = pafs.FileSystem.from_uri(uri)
        return int(fs.get_file_info(path).size)
    except (OSError, TypeError, pa.ArrowException):
        return None


class RecordFilter(Protocol):
    def __call__(self, record: Any) -> bool: ...


def captures_in_order(
    uris: list[str], keep: RecordFilter, after: CaptureRef | None = None
) -> Iterator[CaptureRef]:
    """Where the records ``keep`` accepts are, in capture order (WARC-Date, then file, then offset), from the
    one that follows ``after`` when given (a resumed rebuild: the captures up to it are not read again).

    Each file is sorted on its own (:func:`file_in_order`) and the files merged (:func:`merge_in_order`), so
    memory holds one entry per kept record.
    """
    yield from merge_in_order(uris, (file_in_order(uri, keep) for uri in uris), after)


def file_in_order(uri: str, keep: RecordFilter) -> list[CaptureRef]:
    """Where one file's records that ``keep`` accepts are, in capture order (WARC-Date, then offset).

    From the file's index when it has a valid one (:func:`indexed_records`), nothing inflated; else by a scan.
    Should ``keep`` read of a record what the index does not hold, the scan answers from that record on: each
    record is given to ``keep`` once, as one or the other presents it.
    """
    found: list[tuple[datetime, int]] = []
    indexed = indexed_records(uri)
    scan_from = 0 if indexed is None else _judge_indexed(indexed, keep, found)
    if scan_from is not None:
        found += scan(uri, keep, scan_from)
    return [CaptureRef(uri, offset, date) for date, offset in sorted(found)]


def _judge_indexed(
    indexed: list[tuple[int, IndexedRecord]], keep: RecordFilter, found: list[tuple[datetime, int]]
) -> int | None:
    """Adds to ``found`` the records ``keep`` accepts; returns the offset of the first it could not judge from the
    index (for the scan to go on from), None when it judged them all."""
    for offset, record in indexed:
        try:
            accepted = keep(record)
        except NotIndexed:
            return offset
        if accepted:
            found.append((capture_date(record), offset))
    return None


def merge_in_order(
    uris: list[str], per_file: Iterable[list[CaptureRef]], after: CaptureRef | None = None
) -> Iterator[CaptureRef]:
    """:func:`file_in_order`'s lists, one for each of ``uris`` in that order, merged in capture order (WARC-Date,
    then file, then offset), from the one that follows ``after`` when given."""
    start = None if after is None else (after.date, _index_of(uris, after.file), after.offset)
    keyed = ([((ref.date, index, ref.offset), ref) for ref in refs] for index, refs in enumerate(per_file))
    for key, ref in heapq.merge(*keyed, key=_order_key):
        if start is None or key > start:
            yield ref


def _order_key(keyed: tuple[tuple[datetime, int, int], CaptureRef]) -> tuple[datetime, int, int]:
    return keyed[0]


def in_capture_order(
    uris: list[str], keep: RecordFilter, after: CaptureRef | None = None
) -> Iterator[tuple[str, int]]:
    """``(file, offset)`` of :func:`captures_in_order`."""
    for ref in captures_in_order(uris, keep, after):
        yield ref.file, ref.offset


def _index_of(uris: list[str], uri: str) -> int:
    try:
        return uris.index(uri)
    except ValueError:
        raise ValueError(f"the resume point's file {uri} is not among the captures to read") from None


def read_capture(uri: str, offset: int) -> Capture:
    """The response record at ``offset`` of ``uri``, with its payload decoded."""
    with _open(uri) as stream:
        return _capture_at(stream, uri, offset, None)


def read_refs(refs: Iterable[CaptureRef]) -> Generator[Capture, None, None]:
    """:func:`read_capture` of records :func:`captures_in_order` found, in order: their dates are known, not read
    again, and each file is opened once (captures in order come in runs of one file)."""
    streams: dict[str, IO[bytes]] = {}
    try:
        for ref in refs:
            stream = streams.get(ref.file)
            if stream is None:
                stream = streams[ref.file] = _open(ref.file)
            yield _capture_at(stream, ref.file, ref.offset, ref.date)
    finally:
        for stream in streams.values():
            stream.close()


def _capture_at(stream: IO[bytes], uri: str, offset: int, date: datetime | None) -> Capture:
    stream.seek(offset)
    if stream.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC:
        stream.seek(offset)
        _, member = next(_members(stream, uri), (offset, None))
        if member is None:
            raise OSError(f"{uri}: no whole record at offset {offset}")
        try:
            record: Any = _FastRecord.parse(member)
        except _Unusual:
            record = next(iter(ArchiveIterator(io.BytesIO(member))))
    else:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
    # Read before the stream moves on: warcio reads an uncompressed record's payload from it.
    return capture_of(record, CaptureRef(uri, offset, capture_date(record) if date is None else date))


def capture_of(record: Any, ref: CaptureRef) -> Capture:
    http = record.http_headers
    status = status_code(record)
    headers = [(str(k), str(v)) for k, v in (http.headers if http is not None else [])]
    body = _payload(record)
    raw_target = _raw_target(record)
    replay = wayback.unwrap(raw_target)
    if replay is not None:
        body = wayback.unrewrite(body)
    # target_uri(record), from the one unwrapping.
    return Capture(ref, raw_target if replay is None else replay.url, status, headers, body)


def _payload(record: Any) -> bytes:
    """The record's payload with its transfer and content encodings undone, as warcio's ``content_stream`` does,
    except brotli: warcio 1.8 sets an attribute Brotli 1.2's decompressor does not have (AttributeError)."""
    http = record.http_headers
    if http is None or (http.get_header("Content-Encoding") or "").lower() != "br":
        return bytes(record.content_stream().read())
    stream = record.raw_stream
    if http.get_header("Transfer-Encoding") == "chunked":
        stream = ChunkedDataReader(stream)
    data = bytes(stream.read())
    try:
        return bytes(brotli.decompress(data))
    except brotli.error:
        return data  # as warcio treats a payload its decoder refuses: not encoded after all


def read_captures(uris: list[str], keep: RecordFilter, after: CaptureRef | None = None) -> Iterator[Capture]:
    """The records ``keep`` accepts, read and decoded, in capture order (after ``after`` when given)."""
    for uri, offset in in_capture_order(uris, keep, after):
        yield read_capture(uri, offset)


def record_type(record: Any) -> str:
    return str(record.rec_type or "")


def _raw_target(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Target-URI") or "")


def target_uri(record: Any) -> str:
    """The URL the record is a capture of: ``WARC-Target-URI``, unwrapped when it is a Wayback replay URL."""
    return wayback.original_url(_raw_target(record))


def status_code(record: Any) -> int:
    http = record.http_headers
    try:
        return int(http.get_statuscode()) if http is not None else 0
    except (TypeError, ValueError):
        return 0
