"""The WARC reader (``pipelines.dataset.warc``) against warcio's own ``ArchiveIterator`` on files others write.

Our reader parses gzip-per-record files itself and leaves the rest to warcio; whatever path a record takes, it
must come out as warcio reads it: same records at the same offsets, same WARC and HTTP headers, and, read back
by offset, the same target, date, status, headers and decoded body. A file warcio cannot read in full (a gzip of
the whole file, a last record cut short) must give a clear error or leave the damaged record out, never a
record with another record's or a shortened body.

Files are made with warcio's writer where it can make them, and by hand for the forms it never writes (folded
or oddly spaced header lines, non-UTF-8 header bytes, Content-Length 0, chunked transfer encoding).
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]  # no stubs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.dataset import warc
from tests.crawling import crawl

PAGE = "<html><head><title>標題</title></head><body><p>正文 body text</p></body></html>".encode()
SITE = "https://www.epochtimes.com/gb/21/12/30/n{}.htm"


@dataclass(frozen=True)
class Expected:
    """What warcio reads of one record, its payload read while the iterator is on it."""

    offset: int
    rec_type: str
    rec_headers: list[tuple[str, str]]
    http: tuple[str, str, list[tuple[str, str]]] | None
    body: bytes


def reference(path: Path) -> list[Expected]:
    found = []
    with path.open("rb") as stream:
        records = ArchiveIterator(stream, no_record_parse=False)
        for record in records:
            http = record.http_headers
            body = record.content_stream().read()
            found.append(
                Expected(
                    records.get_record_offset(),
                    record.rec_type,
                    list(record.rec_headers.headers),
                    None if http is None else (http.protocol, http.statusline, list(http.headers)),
                    body,
                )
            )
    return found


def ours(path: Path) -> list[tuple[int, str, list[tuple[str, str]], Any]]:
    """The records our reader gives, without the :class:`warc.Damaged` markers (see :func:`damaged`)."""
    out = []
    for offset, record in warc.records(str(path)):
        if isinstance(record, warc.Damaged):
            continue
        http = record.http_headers
        out.append(
            (
                offset,
                record.rec_type,
                list(record.rec_headers.headers),
                None if http is None else (http.protocol, http.statusline, list(http.headers)),
            )
        )
    return out


def damaged(path: Path) -> list[str]:
    """What our reader marks as not read in a file: ``cut`` records, the ``unreadable`` rest of a file."""
    return [record.rec_type for _, record in warc.records(str(path)) if isinstance(record, warc.Damaged)]


def assert_reads_as_warcio(path: Path) -> list[Expected]:
    """Every record at warcio's offset with warcio's headers, and each response read back by offset with
    warcio's target, status, headers and decoded body."""
    expected = reference(path)
    assert ours(path) == [(e.offset, e.rec_type, e.rec_headers, e.http) for e in expected]
    assert damaged(path) == []
    for record in expected:
        if record.rec_type != "response":
            continue
        capture = warc.read_capture(str(path), record.offset)
        target = dict((k.lower(), v) for k, v in record.rec_headers).get("warc-target-uri", "")
        assert capture.url == warc.target_uri(_Stub(target)), record.offset
        assert capture.body == record.body, record.offset
        assert capture.headers == ([] if record.http is None else record.http[2])
        assert capture.status == (0 if record.http is None else int(record.http[1].split(" ", 1)[0]))
    return expected


class _Stub:
    """A record with only a target, for :func:`warc.target_uri`."""

    def __init__(self, target: str) -> None:
        self.rec_headers = StatusAndHeaders("", [("WARC-Target-URI", target)])


# ---- files made by warcio's writer --------------------------------------------------------------------------


def write_warc(
    path: Path,
    *,
    gzip_per_record: bool = True,
    version: str = "1.1",
    add: Callable[[WARCWriter], None] | None = None,
) -> Path:
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip_per_record, warc_version=version)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        for n in range(3):
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Server", "nginx")]
            body = PAGE + str(n).encode()
            response = response_record(writer, SITE.format(n), body, headers)
            writer.write_record(response)
            request = writer.create_warc_record(
                SITE.format(n),
                "request",
                http_headers=StatusAndHeaders(
                    f"GET /gb/21/12/30/n{n}.htm", [("Host", "www.epochtimes.com")], "HTTP/1.1", True
                ),
                warc_headers_dict={"WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")},
            )
            writer.write_record(request)
        if add is not None:
            add(writer)
    return path


def response_record(
    writer: WARCWriter, url: str, body: bytes, headers: list[tuple[str, str]], status: str = "200 OK"
) -> Any:
    return writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": "2021-12-30T15:35:00Z"},
    )


@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("gzip_per_record", [True, False])
def test_plain_files_of_either_version_and_compression(
    tmp_path: Path, version: str, gzip_per_record: bool
) -> None:
    path = write_warc(tmp_path / "a.warc", gzip_per_record=gzip_per_record, version=version)
    expected = assert_reads_as_warcio(path)
    assert [e.rec_type for e in expected] == ["warcinfo", *["response", "request"] * 3]


def with_encoded_page(encoding: str, encode: Callable[[bytes], bytes]) -> Callable[[WARCWriter], None]:
    def add(writer: WARCWriter) -> None:
        headers = [("Content-Type", "text/html"), ("Content-Encoding", encoding)]
        writer.write_record(response_record(writer, SITE.format(9), encode(PAGE), headers))

    return add


@pytest.mark.parametrize(
    ("encoding", "encode"), [("gzip", gzip.compress), ("deflate", zlib.compress), ("GZip", gzip.compress)]
)
def test_content_encodings_are_undone(
    tmp_path: Path, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    expected = assert_reads_as_warcio(
        write_warc(tmp_path / "e.warc.gz", add=with_encoded_page(encoding, encode))
    )
    assert expected[-1].body == PAGE


def test_a_brotli_encoded_page_is_undone(tmp_path: Path) -> None:
    """warcio cannot be the reference here: its own brotli reader fails with the installed Brotli 1.2."""
    path = write_warc(tmp_path / "b.warc.gz", add=with_encoded_page("br", brotli.compress))
    (offset,) = [o for o, record in warc.records(str(path)) if warc.target_uri(record) == SITE.format(9)]
    assert warc.read_capture(str(path), offset).body == PAGE


def test_a_brotli_encoded_chunked_page_is_undone_and_a_mislabelled_one_kept_as_it_is(tmp_path: Path) -> None:
    encoded = brotli.compress(PAGE)
    chunked = b"%x\r\n" % len(encoded) + encoded + b"\r\n0\r\n\r\n"
    head = [b"Content-Type: text/html", b"Content-Encoding: br"]
    records = [
        hand_record(warc_head(1), response_block([*head, b"Transfer-Encoding: chunked"], chunked)),
        hand_record(warc_head(2), response_block(head, PAGE)),
    ]
    path = hand_file(tmp_path / "bc.warc.gz", records, gzip_per_record=True)
    offsets = [offset for offset, _ in warc.records(str(path))]
    assert [warc.read_capture(str(path), offset).body for offset in offsets] == [PAGE, PAGE]


def test_revisit_metadata_and_resource_records(tmp_path: Path) -> None:
    def add(writer: WARCWriter) -> None:
        revisit = writer.create_revisit_record(
            SITE.format(0), "sha1:AAAA", SITE.format(0), "2021-12-29T00:00:00Z"
        )
        writer.write_record(revisit)
        empty_revisit = writer.create_warc_record(SITE.format(1), "revisit", length=0)
        writer.write_record(empty_revisit)
        metadata = writer.create_warc_record(
            SITE.format(0), "metadata", payload=io.BytesIO(b"outlinks: x"), length=11
        )
        writer.write_record(metadata)
        resource = writer.create_warc_record(
            "dns:www.epochtimes.com", "resource", payload=io.BytesIO(b"1.2.3.4"), length=7
        )
        writer.write_record(resource)

    expected = assert_reads_as_warcio(write_warc(tmp_path / "r.warc.gz", add=add))
    assert [e.rec_type for e in expected[-4:]] == ["revisit", "revisit", "metadata", "resource"]


def test_a_gzip_of_the_whole_file_is_left_out_counted_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``gzip file.warc`` makes one member of all records: warcio refuses it after the first record (its offsets
    cannot be seeked to). Ours hands out no offset that would read back as another record: the file is one
    ``unreadable`` marker (counted by the import), with a warning saying how to make it readable."""
    plain = write_warc(tmp_path / "w.warc", gzip_per_record=False)
    assert any(e.rec_type == "response" for e in reference(plain))
    whole = tmp_path / "w.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    assert ours(whole) == []
    assert damaged(whole) == ["unreadable"]
    assert f"{whole}: a gzip of the whole file" in caplog.text
    assert "warcio recompress" in caplog.text


def _cut_last_record(path: Path, where: str) -> Path:
    """The file cut in its last record: at a fraction of that record's bytes (gzipped or not), or in a plain
    file, just after the first occurrence of a marker in it."""
    data = path.read_bytes()
    last = reference(path)[-1].offset
    if where.startswith("after:"):
        end = data.index(where.removeprefix("after:").encode(), last) + len(where) - len("after:")
    else:
        end = last + int((len(data) - last) * float(where))
    cut = path.with_name("cut-" + path.name)
    cut.write_bytes(data[:end])
    return cut


@pytest.mark.parametrize(
    ("gzip_per_record", "kept"),
    [
        *((True, fraction) for fraction in ("0.02", "0.1", "0.6", "0.999")),
        *((False, fraction) for fraction in ("0.1", "0.6", "0.999")),
        # warcio 1.8 fails (AttributeError) on a response record without its target URI.
        (False, "after:WARC-Type: resp"),
        # warcio reads an empty length as 0 and a cut one as a shorter record.
        (False, "after:Content-Length: "),
        (False, "after:Content-Length: 4"),
        (False, "after:HTTP/1.1 200"),
    ],
)
def test_a_truncated_last_record_is_left_out_and_the_others_read(
    tmp_path: Path, gzip_per_record: bool, kept: str
) -> None:
    """A download cut short: every whole record reads as warcio reads it, the cut one is not read at all (warcio
    itself hands it out with a shortened body), and reading does not fail."""

    def add(writer: WARCWriter) -> None:
        writer.write_record(
            response_record(writer, SITE.format(7), PAGE * 50, [("Content-Type", "text/html")])
        )

    name = "t.warc.gz" if gzip_per_record else "t.warc"
    whole = write_warc(tmp_path / name, gzip_per_record=gzip_per_record, add=add)
    complete = reference(whole)[:-1]
    cut = _cut_last_record(whole, kept)
    assert ours(cut) == [(e.offset, e.rec_type, e.rec_headers, e.http) for e in complete]
    assert damaged(cut) == ["cut"]  # counted by the import
    for record in complete:
        if record.rec_type == "response":
            assert warc.read_capture(str(cut), record.offset).body == record.body


def test_a_record_longer_than_its_member_is_left_out(tmp_path: Path) -> None:
    """A whole gzip member whose record says it is longer than it is: not read as a shorter page."""
    short = hand_record(warc_head(1), response_block([], PAGE)).replace(
        b"Content-Length: %d" % len(response_block([], PAGE)), b"Content-Length: 99999"
    )
    whole = hand_record(warc_head(2), response_block([], PAGE))
    path = hand_file(tmp_path / "l.warc.gz", [whole, short], gzip_per_record=True)
    assert [target for _, target, _, _ in ours(path)] == ["response"]
    assert damaged(path) == ["cut"]
    assert [
        warc.target_uri(record) for _, record in warc.records(str(path)) if record.rec_type == "response"
    ] == [SITE.format(2)]


def test_blank_lines_after_the_last_gzip_member_read_as_warcio_reads_them(tmp_path: Path) -> None:
    """Files joined with a newline, or padded: warcio reads the blank lines as the end of the file."""
    path = write_warc(tmp_path / "n.warc.gz")
    path.write_bytes(path.read_bytes() + b"\r\n\r\n")
    assert_reads_as_warcio(path)


def test_captures_read_in_one_go_are_those_read_one_by_one(tmp_path: Path) -> None:
    """``read_refs`` (a rebuild worker's chunk: each file opened once) gives what ``read_capture`` gives, from
    files of both kinds taken in turn, with the date of the ref."""
    files = [
        str(write_warc(tmp_path / "a.warc.gz")),
        str(write_warc(tmp_path / "b.warc", gzip_per_record=False)),
        str(write_warc(tmp_path / "c.warc.gz")),
    ]
    responses = [
        (path, offset) for path in files for offset, r in warc.records(path) if r.rec_type == "response"
    ]
    order = responses[::2] + responses[1::2]  # back and forth between the files
    refs = [warc.CaptureRef(path, offset, warc.read_capture(path, offset).ref.date) for path, offset in order]
    assert list(warc.read_refs(refs)) == [warc.read_capture(path, offset) for path, offset in order]
    assert len({ref.file for ref in refs}) == 3


# ---- files written by hand: forms warcio's writer never makes -----------------------------------------------


def hand_record(warc_headers: list[bytes], block: bytes, version: bytes = b"WARC/1.0") -> bytes:
    head = b"\r\n".join([version, *warc_headers, b"Content-Length: %d" % len(block)])
    return head + b"\r\n\r\n" + block + b"\r\n\r\n"


def hand_file(path: Path, records: list[bytes], *, gzip_per_record: bool) -> Path:
    with path.open("wb") as out:
        for record in records:
            out.write(gzip.compress(record) if gzip_per_record else record)
    return path


def response_block(head: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join([b"HTTP/1.1 200 OK", *head]) + b"\r\n\r\n" + body


def warc_head(n: int, *extra: bytes) -> list[bytes]:
    return [
        b"WARC-Type: response",
        b"WARC-Target-URI: " + SITE.format(n).encode(),
        b"WARC-Date: 2021-12-30T15:35:00Z",
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000000%d>" % n,
        b"Content-Type: application/http; msgtype=response",
        *extra,
    ]


HAND_MADE: dict[str, list[bytes]] = {
    "folded_warc_header": [
        hand_record([*warc_head(0), b"X-Note: first", b"\tfolded part"], response_block([], PAGE))
    ],
    "folded_http_header": [
        hand_record(warc_head(1), response_block([b"Content-Type: text/html;", b"  charset=utf-8"], PAGE))
    ],
    "odd_spacing": [
        hand_record(
            [
                b"WARC-Type:response",
                b"WARC-Target-URI :   " + SITE.format(2).encode() + b"  ",
                *warc_head(2)[2:],
            ],
            response_block([b"Content-Type:text/html  ", b"Server :  x\t"], PAGE),
        )
    ],
    "lowercase_version_and_names": [
        hand_record(
            [h.lower() if h.startswith(b"WARC-Type") else h for h in warc_head(3)],
            response_block([b"content-type: text/html"], PAGE),
            version=b"warc/1.0",
        )
    ],
    "non_utf8_header_bytes": [
        hand_record(
            [*warc_head(4), b"X-Title: \xb1\xea\xcc\xe2"],
            response_block([b"Content-Type: text/html; charset=gbk", b"X-Name: \xd5\xc5\xc8\xfd"], PAGE),
        )
    ],
    "content_length_zero": [
        hand_record(warc_head(5), b""),
        hand_record(warc_head(6), response_block([b"Content-Type: text/html"], PAGE)),
    ],
    "http_headers_only": [hand_record(warc_head(7), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
    "chunked": [
        hand_record(
            warc_head(8),
            response_block(
                [b"Content-Type: text/html", b"Transfer-Encoding: chunked"],
                b"%x\r\n" % 10
                + PAGE[:10]
                + b"\r\n"
                + b"%x\r\n" % (len(PAGE) - 10)
                + PAGE[10:]
                + b"\r\n0\r\n\r\n",
            ),
        )
    ],
    "chunked_and_gzip": [
        hand_record(
            warc_head(9),
            response_block(
                [b"Content-Type: text/html", b"Content-Encoding: gzip", b"Transfer-Encoding: chunked"],
                b"%x\r\n" % len(gzip.compress(PAGE)) + gzip.compress(PAGE) + b"\r\n0\r\n\r\n",
            ),
        )
    ],
    "crlf_less_lines": [
        hand_record(warc_head(1), b"HTTP/1.0 404 Not Found\nContent-Type: text/html\n\n" + PAGE)
    ],
    # Headers decoded in one piece when they can be: a line of only whitespace other than the line break ends
    # them all the same, and an LF-only blank line before a CRLF one is the first blank line.
    "whitespace_only_line": [
        hand_record(
            warc_head(5),
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\xc2\xa0\r\nX-Body: 1\r\n\r\n" + PAGE,
        )
    ],
    "lf_blank_line_before_a_crlf_one": [
        hand_record(
            warc_head(6), b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\n\nX-Body: 1\r\n\r\n" + PAGE
        )
    ],
    "status_without_reason": [
        hand_record(warc_head(2), b"HTTP/1.1 200\r\nContent-Type: text/html\r\n\r\n" + PAGE)
    ],
    "target_in_angle_brackets": [
        hand_record(
            [
                b"WARC-Target-URI: <" + SITE.format(3).encode() + b">",
                *warc_head(3)[2:],
                b"WARC-Type: response",
            ],
            response_block([], PAGE),
        )
    ],
    "target_with_space": [
        hand_record(
            [
                b"WARC-Type: response",
                b"WARC-Target-URI: " + SITE.format(4).encode() + b"?q=a b",
                *warc_head(4)[2:],
            ],
            response_block([], PAGE),
        )
    ],
}


@pytest.mark.parametrize("gzip_per_record", [True, False])
@pytest.mark.parametrize("case", sorted(HAND_MADE))
def test_hand_made_forms_read_as_warcio_reads_them(tmp_path: Path, case: str, gzip_per_record: bool) -> None:
    name = f"{case}.warc.gz" if gzip_per_record else f"{case}.warc"
    expected = assert_reads_as_warcio(
        hand_file(tmp_path / name, HAND_MADE[case], gzip_per_record=gzip_per_record)
    )
    assert expected, case
    for record in expected:
        if record.rec_type == "response" and record.http is not None and record.http[1].startswith("200"):
            assert record.body in (PAGE, b""), case


def test_an_import_counts_what_damaged_files_do_not_let_it_read(tmp_path: Path) -> None:
    """Through ``scrapy crawl articles -a warc=``: a cut record and a file gzipped whole are counted in the run's
    stats (``warc/skipped/record_cut``, ``record_unreadable``), and the whole records of the cut file are read."""
    cut = _cut_last_record(write_warc(tmp_path / "c.warc.gz"), "0.6")
    plain = write_warc(tmp_path / "w.warc", gzip_per_record=False)
    whole = tmp_path / "w.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    result = crawl("https://www.epochtimes.com", tmp_path / "dataset", args={"warc": f"{cut},{whole}"})
    assert result.returncode in (0, 3), result.log[-3000:]
    assert result.stats["warc/skipped/record_cut"] == 1
    assert result.stats["warc/skipped/record_unreadable"] == 1
    # The cut file's three pages were read (an article each); the whole-gzipped file's were not.
    assert result.stats["warc/captures_read"] == 3


# Pieces of header lines: the bytes the reader's fast path (headers decoded in one piece) and its line-by-line
# path (non-UTF-8 lines, whitespace-only ones) tell apart, and the encodings that hand a record to warcio.
HEADER_PIECES = st.sampled_from(
    [
        *(
            b"\r\n",
            b"\n",
            b"\r",
            b" ",
            b"\t",
            b":",
            b"a",
            b"X: a",
            b"Set-Cookie: a=1",
            b"Content-Type: text/html",
        ),
        *(b"\xc2\xa0", b"\xc2\x85", b"\xe2\x80\xa8", b"\x1c", b"\x0b", b"\x0c", b"\xff", b"\xe6\x96\x87"),
        *(b"Content-Encoding: identity", b"Content-Encoding: gzip", b"Transfer-Encoding: chunked"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(HEADER_PIECES, max_size=12).map(b"".join),
    st.lists(HEADER_PIECES, max_size=6).map(b"".join),
    st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 404\n", b"HTTP/1.1  301 Moved \r\n"]),
)
def test_any_header_bytes_read_as_warcio_reads_them(
    http_head: bytes, warc_extra: bytes, status: bytes
) -> None:
    block = status + http_head + b"\r\n\r\n" + PAGE
    extra = [b"X-Extra: " + warc_extra.replace(b"\n", b" ").replace(b"\r", b" ")]
    with tempfile.TemporaryDirectory() as folder:
        path = hand_file(
            Path(folder) / "any.warc.gz", [hand_record(warc_head(1, *extra), block)], gzip_per_record=True
        )
        assert_reads_as_warcio(path)


def test_a_response_without_a_numeric_status_reads_back_with_status_0(tmp_path: Path) -> None:
    # The status the record filters see (warc.status_code), not a ValueError for the whole read.
    path = hand_file(
        tmp_path / "odd.warc.gz",
        [hand_record(warc_head(1), b"Content-Type: text/html\r\n\r\n" + PAGE)],
        gzip_per_record=True,
    )
    capture = warc.read_capture(str(path), 0)
    assert capture.status == 0
    assert capture.body == PAGE
