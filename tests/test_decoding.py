"""decode_page: page bytes to text as a browser reads them, and right where the page's label is wrong."""

from __future__ import annotations

import codecs

import pytest

from crawler.decoding import declared_encodings, decode_page, decode_problem, page_encoding, page_markup

SIMPLIFIED = "大纪元记者报导：今天北京的天气很好，人们都出门去公园散步，孩子们在草地上玩耍。"
TRADITIONAL = "大紀元記者報導：今天臺北的天氣很好，人們都出門去公園散步，孩子們在草地上玩耍。"


def page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>News</title></head><body><p>{text}</p></body></html>"


def test_bom_beats_every_declaration() -> None:
    html = page(SIMPLIFIED, '<meta charset="gbk">')
    assert decode_page(codecs.BOM_UTF8 + html.encode("utf-8"), "text/html; charset=big5") == html
    assert decode_page(codecs.BOM_UTF16_LE + html.encode("utf-16-le")) == html


@pytest.mark.parametrize("label", ["gbk", "GB2312", "gb18030", "x-gbk"])
def test_header_charset_is_used(label: str) -> None:
    html = page(SIMPLIFIED)
    assert decode_page(html.encode("gb18030"), f"text/html; charset={label}") == html


def test_meta_charset_and_http_equiv() -> None:
    for head in (
        '<meta charset="big5">',
        '<meta http-equiv="Content-Type" content="text/html; charset=big5">',
    ):
        html = page(TRADITIONAL, head)
        assert decode_page(html.encode("big5")) == html


def test_xml_declaration() -> None:
    html = '<?xml version="1.0" encoding="gb2312"?>' + page(SIMPLIFIED)
    assert decode_page(html.encode("gb18030")) == html


def test_utf8_page_that_declares_gb2312_is_read_as_utf8() -> None:
    html = page(SIMPLIFIED, '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    assert decode_page(html.encode("utf-8")) == html


def test_gbk_page_served_as_latin1_is_read_as_chinese() -> None:
    html = page(SIMPLIFIED)
    text = decode_page(html.encode("gbk"), "text/html; charset=ISO-8859-1")
    assert text == html
    assert decode_problem(text) is None


def test_latin1_page_served_as_latin1_stays_latin1() -> None:
    html = page("Größere Straßen führen über den Fluß, sagt die Bürgermeisterin. Ça coûte très cher.")
    assert decode_page(html.encode("latin-1"), "text/html; charset=ISO-8859-1") == html


@pytest.mark.parametrize(
    ("text", "codec"), [(SIMPLIFIED, "gbk"), (TRADITIONAL, "big5"), (SIMPLIFIED, "utf-8")]
)
def test_undeclared_pages_are_detected(text: str, codec: str) -> None:
    html = page(text * 3)
    assert decode_page(html.encode(codec)) == html


def test_a_few_invalid_bytes_do_not_change_the_codec() -> None:
    html = page(SIMPLIFIED, '<meta charset="gbk">')
    raw = html.encode("gbk").replace("今天".encode("gbk"), b"\xff\xff")
    assert page_encoding(raw) == "gb18030"
    text = decode_page(raw)
    assert "北京的天气" in text
    assert text.count("\ufffd") <= 2


def test_charset_on_a_script_tag_is_not_the_pages() -> None:
    html = (
        '<html><head><script charset="utf-8" src="x.js"></script></head><body>'
        + SIMPLIFIED
        + "</body></html>"
    )
    assert declared_encodings(html.encode("gbk"), None) == []
    assert decode_page(html.encode("gbk")) == html


def test_unknown_and_non_text_labels_are_ignored() -> None:
    html = page(SIMPLIFIED, '<meta charset="base64">')
    assert declared_encodings(html.encode("gbk"), "text/html; charset=no-such-codec") == []
    assert decode_page(html.encode("gbk")) == html


def test_empty_and_ascii_pages() -> None:
    assert decode_page(b"") == ""
    assert decode_page(b"<p>plain ascii</p>", "text/html; charset=gbk") == "<p>plain ascii</p>"


def test_page_markup_keeps_utf8_bytes_and_decodes_the_rest() -> None:
    html = page(SIMPLIFIED, '<meta charset="gb2312">')
    # UTF-8 whatever the page declares: the bytes themselves, for a parser told "utf-8".
    assert page_markup(html.encode("utf-8")) == html.encode("utf-8")
    assert page_markup(codecs.BOM_UTF8 + html.encode("utf-8")) == html
    assert page_markup(html.encode("gbk")) == html


def test_a_long_undeclared_page_is_detected_from_its_first_chinese_text() -> None:
    # The codec is judged on a sample from the first non-ASCII byte: a long ASCII head does not hide the text.
    head = "<script>var menu = 1;</script>" * 2000
    html = page(TRADITIONAL * 40, head)
    assert decode_page(html.encode("big5")) == html
    assert decode_page(html.encode("gbk")) == html
