"""A rebuild worker reads a capture as the spider reads the response ``response_of`` builds of it, without building
that response: the same text and class (HTML or not), the same header values, the same article links."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scrapy.http import TextResponse

from crawler.decoding import decode_page
from crawler.middlewares.capture import response_of
from crawler.rebuild import pages
from crawler.urls import (
    _split_url,
    is_site_url,
    parse_article_url,
    public_variant,
    site_article_link,
    site_netloc,
)
from pipelines.dataset.warc import Capture, CaptureRef

SITE = "http://127.0.0.1:8123"
URL = f"{SITE}/gb/21/12/30/n13470319.htm"
REF = CaptureRef("/captures/a.warc.gz", 0, datetime(2021, 12, 30, tzinfo=UTC))
GB_PAGE = '<html><head><meta charset="gb2312"></head><body>大纪元</body></html>'.encode("gb18030")
UTF8_PAGE = "<html><body>大纪元 <a href='/gb/21/1/2/n1.htm'>x</a></body></html>".encode()


def capture(headers: list[tuple[str, str]], body: bytes, url: str = URL) -> Capture:
    return Capture(REF, url, 200, headers, body)


@pytest.mark.parametrize(
    ("headers", "body", "url"),
    [
        ([("Content-Type", "text/html; charset=utf-8")], UTF8_PAGE, URL),
        ([("content-type", "text/html")], GB_PAGE, URL),  # the charset from <meta>
        ([("Content-Type", "text/html; charset=iso-8859-1")], UTF8_PAGE, URL),  # a wrong header wins
        # A repeated header: the last value counts, whatever the case of its name.
        ([("Content-Type", "image/png"), ("CONTENT-TYPE", "text/html; charset=gbk")], GB_PAGE, URL),
        ([], UTF8_PAGE, URL),  # no Content-Type: from the body
        ([], b"\x89PNG\r\n\x1a\n\x00\x00", f"{URL}?x"),  # binary: not text
        ([("Content-Type", "image/jpeg")], UTF8_PAGE, URL),
        ([("Content-Type", "application/octet-stream")], UTF8_PAGE, f"{SITE}/gb/page.html"),  # from the URL
        # No type but the attachment's name: binary bytes named .txt are text.
        ([("Content-Disposition", 'attachment; filename="a.txt"')], b"\x89PNG\x01\x02\xff", f"{URL}?x"),
        ([("Content-Disposition", 'attachment; filename="a.png"')], b"\x89PNG\x01\x02\xff", f"{URL}?x"),
        ([("Content-Type", "text/xml")], b"<?xml version='1.0' encoding='big5'?><a>\xa4\xa4</a>", URL),
        # Dropped by response_of (the body is decoded already): no influence on the class.
        ([("Content-Encoding", "gzip"), ("Content-Type", "text/html")], UTF8_PAGE, URL),
        ([("Content-Type", "text/html; charset=utf-16")], "<p>大纪元</p>".encode("utf-16"), URL),
        ([("Content-Type", "text/html")], b"\xef\xbb\xbf<p>\xe5\xa4\xa7</p>", URL),  # a byte order mark
        # A charset in Content-Type: what the text is decoded with, unless a byte order mark says otherwise.
        ([("Content-Type", "text/html; charset=utf-16")], "<p>大纪元</p>".encode("utf-16-be"), URL),
        ([("Content-Type", "text/html; charset=gbk")], b"\xef\xbb\xbf<p>\xe5\xa4\xa7</p>", URL),
        ([("Content-Type", "text/html; charset=utf-8")], GB_PAGE, URL),  # not UTF-8: replaced characters
        ([("Content-Type", 'text/html; charset="big5"')], "<p>大紀元</p>".encode("big5"), URL),
        ([("Content-Type", 'text/html; x="charset=gbk"; charset=utf-8')], UTF8_PAGE, URL),
        ([("Content-Type", "text/html; charset=gb18030")], b"<p>\x81\x30\xff</p>", URL),
        ([("Content-Type", "text/html; charset=no-such-codec")], GB_PAGE, URL),  # unknown: from <meta>
        ([("Content-Type", "text/plain; charset=utf-8")], UTF8_PAGE, URL),
    ],
)
def test_the_text_and_kind_are_those_of_the_response_scrapy_builds(
    headers: list[tuple[str, str]], body: bytes, url: str
) -> None:
    page = capture(headers, body, url)
    response = response_of(page)
    expected = response.text if isinstance(response, TextResponse) else None
    read = pages._headers(page)
    text = pages._text(page, read)
    assert text == expected
    if text is not None:  # what extraction is handed instead of decoding the body again: the same text
        decoded = pages._decoded_page(page, read, text)
        assert decoded is None or decoded == decode_page(body, pages._latin1(read.get("Content-Type")))


@pytest.mark.parametrize(
    ("content_type", "body", "shared"),
    [
        ("text/html; charset=utf-8", UTF8_PAGE, True),
        ("text/html; charset=UTF8", UTF8_PAGE, True),
        ("text/html; charset=utf-8", GB_PAGE, False),  # not UTF-8: w3lib replaced bytes
        ("text/html; charset=utf-8", b"\xef\xbb\xbf" + UTF8_PAGE, False),  # a byte order mark
        ("text/html; charset=gbk", UTF8_PAGE, False),  # decoded as GBK by Scrapy, as UTF-8 by extraction
        ("text/html", UTF8_PAGE, False),
    ],
)
def test_extraction_is_handed_the_text_only_when_it_would_decode_the_same(
    content_type: str, body: bytes, shared: bool
) -> None:
    page = capture([("Content-Type", content_type)], body)
    read = pages._headers(page)
    text = pages._text(page, read)
    assert text is not None
    assert pages._decoded_page(page, read, text) == (decode_page(body, content_type) if shared else None)


def test_header_values_are_those_scrapy_headers_give() -> None:
    page = capture(
        [
            ("ETag", 'W/"1"'),
            ("etag", '"2"'),  # the last of a repeated header, any case
            ("Last-Modified", "Thu, 30 Dec 2021 08:00:00 GMT"),
            ("Content-Type", "text/html; charset=ütf"),  # non-ASCII: UTF-8 bytes, read back as latin-1
            ("Server", "nginx"),
        ],
        UTF8_PAGE,
    )
    headers = response_of(page).headers
    read = pages._headers(page)
    for name in ("ETag", "Last-Modified", "Content-Type"):
        assert read[name.title()] == headers.get(name)
    assert pages._latin1(read["Content-Type"]) == "text/html; charset=Ã¼tf"
    assert "Server" not in read


@pytest.mark.parametrize(
    "url",
    [
        f"{SITE}/gb/21/12/30/n13470319.htm",
        f"{SITE}/gb/21/12/30/n13470319.htm?utm=rss#comments",
        "https://www.epochtimes.com/b5/21/12/30/n13470319.htm",
        "http://EpochTimes.com/gb/5/1/2/n1.htm",
        "https://www.epochtimes.com:443/gb/5/1/2/n1.htm",
        "http://127.0.0.1:8124/gb/21/12/30/n13470319.htm",  # another port: not the site
        "https://other.example/gb/21/12/30/n13470319.htm",
        "ftp://www.epochtimes.com/gb/21/12/30/n13470319.htm",
        "https://www.epochtimes.com/gb/21/2/30/n13470319.htm",  # no such day
        "https://www.epochtimes.com/gb/nsc413.htm",
        f"{SITE.upper()}/gb/21/12/30/n13470319.htm",
    ],
)
def test_a_site_article_link_is_what_the_three_url_functions_say(url: str) -> None:
    ref = parse_article_url(url)
    expected = (ref, public_variant(url)) if ref is not None and is_site_url(url, SITE) else None
    assert site_article_link(url, site_netloc(SITE)) == expected
    assert site_article_link(url, site_netloc(SITE)) == expected  # and again, from the cache


# What a URL's parts can hold around a plain one: other schemes and cases, userinfo, brackets, ports, the
# characters urlsplit removes or strips, delimiters in every part, non-ASCII hosts.
_URL_PIECES = [
    "http", "https", "HTTP", "ftp", ":", "//", "/", "www.epochtimes.com", "127.0.0.1", "EpochTimes.COM", ":8123",
    ":", "@", "[", "]", "?", "#", "&", "=", ";", "%20", "\t", "\n", "\r", " ", "\x00", "gb", "21", "n1.htm", "é",
    "\u2100", "..",
]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["http://", "https://", "HTTP://", "http:/", " http://", ""]),
        st.lists(st.sampled_from(_URL_PIECES), max_size=12),
    ).map(lambda parts: parts[0] + "".join(parts[1]))
)
@example("http://www.epochtimes.com/gb/21/1/2/n1.htm?x=1#top?#")
@example("https://127.0.0.1:8123")
@example("http://host:80x/a")
@example("http://host?q#f")
@example("http://127.0.0.1/gb\n/21")  # characters urlsplit removes, in each part
@example("http://127.0.0.1/gb?a\tb")
@example("http://127.0.0.1/gb#c\r")
def test_urls_split_as_urlsplit_splits_them(url: str) -> None:
    try:
        expected = urlsplit(url)
    except ValueError:
        with pytest.raises(ValueError):
            _split_url(url)
        return
    assert _split_url(url) == expected


def test_an_article_page_links_to_other_articles_not_to_itself() -> None:
    body = (
        f"<html><body><a href='{URL}#top'>self</a><a href='/gb/21/12/29/n1.htm?x=1'>one</a>"
        "<a href='https://www.epochtimes.com/gb/21/12/29/n1.htm'>one again</a>"
        "<a href='https://other.example/gb/21/12/29/n2.htm'>elsewhere</a></body></html>"
    ).encode()
    result = pages.read_page(capture([("Content-Type", "text/html; charset=utf-8")], body), SITE)
    assert result.article_id == "n13470319"
    assert result.variants == [
        ("n1", "https://www.epochtimes.com/gb/21/12/29/n1.htm"),
        ("n1", "https://www.epochtimes.com/gb/21/12/29/n1.htm"),
    ]
    assert result.failure is not None  # no article layout on so small a page


def test_a_page_that_is_not_text_is_counted_as_not_html() -> None:
    # An image at an article URL; its query keeps Scrapy from calling it HTML by the ``.htm`` of its path.
    page = capture([("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00", f"{URL}?size=2")
    assert not isinstance(response_of(page), TextResponse)
    result = pages.read_page(page, SITE)
    assert (result.article_id, result.failure, result.variants) == ("n13470319", "not_html", [])
