"""Markup the golden pages do not hold, inside the body of each of the site's three layouts: what the walks, the
one-pass normalization and the in-place clean-up of issue 16 make of it. Every expectation here is what the
XPath-based extraction before them gave (compared on each case when they landed); the body keeps its other lines.
"""

from __future__ import annotations

import pytest

from crawler.extract import extract
from tests.test_extract_golden import load

# The paragraph of each golden page before which the odd markup is put: a body line of every layout.
ANCHORS = {"current_full": "<p>各地民众", "legacy": "<p>经济数据", "pre2013": "<p>观众反应"}

# Markup put before the anchor, and the body lines it must give.
CASES = {
    # Comments and processing instructions are not text, and the text around them is one line.
    "comment_and_pi": ("<p>前<!--c-->中<?pi x?>后</p>", ["前中后"]),
    # Characters outside the BMP, literal and as entities, kept as they are.
    "non_bmp": ("<p>𠀀字😀&#x1F600;&#131072;</p>", ["𠀀字😀😀𠀀"]),
    # Control characters (those XML refuses, DEL, NEL) become spaces; &#0; is the replacement character.
    "control_characters": ("<p>a\x0bb\x1fc\x7fd\x85e&#0;f&#x1;g</p>", ["a b c d e\ufffdf g"]),
    # Text in nested inline elements and their tails, across a <br>, is one line.
    "inline_tails": ("<p><b><i>斜</i>粗</b>尾<br>下行<span> 空 </span>末</p>", ["斜粗尾下行 空 末"]),
    # Every kind of space folds to one, zero-width characters go; U+2028 is no space of the normalization.
    "spaces": (
        "<p>\u3000甲\u00a0乙\u2028丙\u200b丁\t戊\r\n己&#12288;庚&nbsp;&nbsp;辛\u2009壬</p>",
        ["甲 乙\u2028丙丁 戊 己 庚 辛 壬"],
    ),
    # A <body> inside the body: its paragraphs are the body's (libxml2 drops the inner tag).
    "nested_body": ("<body><p>里面</p></body><p>外面</p>", ["里面", "外面"]),
    # Text outside paragraphs is not body text (SITE.md: the body is its p and h2 children).
    "text_outside_paragraphs": ("<div>块一<p>段</p>块尾</div>文字尾", ["段"]),
    # CDATA is not text in HTML; noscript's copy of the page is left out.
    "cdata_and_noscript": ("<p><![CDATA[x]]>c<noscript><p>ns</p></noscript>d</p>", ["cd"]),
}


def body_lines(markup: str, url: str) -> list[str]:
    return extract(markup, url).body_text.split("\n")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("page", sorted(ANCHORS))
def test_odd_markup_in_the_body_gives_the_lines_it_gave_before(page: str, case: str) -> None:
    markup, url, _ = load(page)
    anchor = ANCHORS[page]
    assert markup.count(anchor) == 1
    inserted, lines = CASES[case]
    plain = body_lines(markup, url)
    at = next(index for index, line in enumerate(plain) if anchor.removeprefix("<p>") in line)
    assert body_lines(markup.replace(anchor, inserted + anchor), url) == plain[:at] + lines + plain[at:]


@pytest.mark.parametrize("page", sorted(ANCHORS))
def test_a_page_without_body_tags_reads_as_with_them(page: str) -> None:
    markup, url, _ = load(page)
    assert "<body>" in markup
    bare = markup.replace("<body>", "").replace("</body>", "")
    assert extract(bare, url).to_json_dict() == extract(markup, url).to_json_dict()
