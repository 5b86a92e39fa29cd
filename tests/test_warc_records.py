"""The capture writer builds its records itself: byte for byte the records warcio's own writer makes of the same
exchange (header order, digests, lengths, the percent-encoding of non-ASCII header values), in one gzip member
each, so that every WARC reader sees what it saw when warcio wrote them."""

from __future__ import annotations

import io
import itertools
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.dataset.warc import Exchange, WarcWriter

DATE = datetime(2026, 11, 20, 8, 0, 1, 250, tzinfo=UTC)
CHINESE_PAGE = "<html><p>文章</p></html>".encode() * 400


def exchanges() -> list[Exchange]:
    plain = Exchange(
        url="http://127.0.0.1:8000/gb/26/11/20/n1.htm#top",
        method="GET",
        request_headers=[(b"User-Agent", b"test"), (b"Accept-Encoding", b"gzip")],
        protocol="HTTP/1.1",
        status=200,
        response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), (b"Transfer-Encoding", b"chunked")],
        body=CHINESE_PAGE,
        date=DATE,
    )
    odd = Exchange(
        url="http://127.0.0.1:8000/gb/",
        method="GET",
        request_headers=[(b"Cookie", "café".encode("latin-1"))],
        protocol="HTTP/1.0",
        status=599,
        response_headers=[(b"Set-Cookie", "né=1".encode("latin-1")), (b"Content-Length", b"0")],
        body=b"",
        date=DATE,
    )
    return [plain, odd]


def warcio_records(exchange: Exchange) -> bytes:
    """What the writer wrote through warcio before (the reference), uncompressed."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    date = exchange.date.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    response = writer.create_warc_record(
        exchange.url,
        "response",
        payload=io.BytesIO(exchange.body),
        length=len(exchange.body),
        warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(
            f"{exchange.status} {'OK' if exchange.status == 200 else 'Unknown'}",
            [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in exchange.response_headers
                if k != b"Transfer-Encoding"
            ],
            protocol=exchange.protocol,
        ),
    )
    target = exchange.url.split("/", 3)
    request = writer.create_warc_record(
        exchange.url,
        "request",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
        },
        http_headers=StatusAndHeaders(
            f"{exchange.method} /{target[3].split('#')[0] if len(target) > 3 else ''}",
            [
                ("Host", target[2]),
                *((k.decode("latin-1"), v.decode("latin-1")) for k, v in exchange.request_headers),
            ],
            protocol="HTTP/1.1",
            is_http_request=True,
        ),
    )
    writer.write_record(response)
    writer.write_record(request)
    return out.getvalue()


class NumberedIds:
    """Record ids numbered 0, 1, 2... (random otherwise), restarted for each writer."""

    def __init__(self) -> None:
        self.counter = itertools.count()

    def restart(self) -> None:
        self.counter = itertools.count()

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=next(self.counter))


@pytest.fixture
def ids(monkeypatch: pytest.MonkeyPatch) -> NumberedIds:
    numbered = NumberedIds()
    monkeypatch.setattr(uuid, "uuid4", numbered)
    return numbered


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
        members.append(inflater.decompress(data))
        data = inflater.unused_data
    return members


@pytest.mark.parametrize("index", [0, 1], ids=["page", "non_ascii_headers"])
def test_records_are_those_warcio_writes_one_gzip_member_each(
    tmp_path: Path, ids: NumberedIds, index: int
) -> None:
    exchange = exchanges()[index]
    writer = WarcWriter(pafs.LocalFileSystem(), str(tmp_path), "run1", max_bytes=1 << 30)
    assert writer.write(exchange).offset == 0
    (path,) = writer.commit()
    ours = Path(path).read_bytes()
    ids.restart()
    assert b"".join(gzip_members(ours)) == warcio_records(exchange)
    assert len(gzip_members(ours)) == 2, "the response and the request, each a member of its own"
    records = list(ArchiveIterator(io.BytesIO(ours)))
    assert [record.rec_type for record in records] == ["response", "request"]
