"""decode_page: page bytes to text as a browser reads them, and right where the page's label is wrong."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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


def _problem_by_runs(text: str) -> str | None:
    """decode_problem as defined: every maximal run of suspects checked, then their count against CJK's."""
    if "\ufffd" in text:
        return "replacement_character"
    runs = re.findall(f"[{_SUSPECTS}]+", text)
    if any(
        re.search("[\u0080-\u009f]", run) or (len(run) >= 3 and re.search("[\u00a1-\u00ff]", run))
        for run in runs
    ):
        return "mojibake"
    suspects = sum(map(len, runs))
    cjk = len(re.findall("[\u3400-\u9fff\uf900-\ufaff]", text))
    return "mojibake" if suspects >= 2 and suspects > cjk else None


# Latin-1's upper half and cp1252's symbols (its 0x80-0x9F bytes), the suspects of mis-decoded text.
_SUSPECTS = "\u0080-\u00ff" + "".join(bytes([b]).decode("cp1252", "ignore") for b in range(0x80, 0xA0))
# Every kind of suspect (C1 controls, no-break space, Latin-1 marks, cp1252 symbols; the code points cp1252
# leaves undefined) among ASCII, CJK and other text, lone surrogates and the replacement character.
_DECODING_TRICKY = (
    "a 1\n中文纪\u3400\uf900\u00a0\u00a1\u00e9\u00ff\u0080\u0081\u0085\u009f“”…—€Œ™ƒ\u0152\u2028Ā\ud800"
)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=_DECODING_TRICKY, max_size=24))
@example("“大纪元”")
@example("a\u00a0b\u00a0")
@example("ä¸\u00ad")
@example("ééé中文纪元")  # a run that is mojibake by itself, outnumbered by CJK
@example("\u00a0\u00a0\u00a0中文纪元")  # no-break spaces: no Latin-1 mark
@example("\u0085中文纪元")  # a C1 control alone
@example("“”…—€中文")
def test_decode_problem_is_the_defined_one(text: str) -> None:
    assert decode_problem(text) == _problem_by_runs(text)
