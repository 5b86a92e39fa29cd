"""Hostile and broken input: only ExtractionError escapes, and body_html stays whitelisted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from crawler.extract import Article, ExtractionError, extract
from crawler.extract.body import ALLOWED_TAGS
from crawler.extract.dom import parse_document
from crawler.extract.images import full_size, points_to_image, web_url
from crawler.extract.text import normalize_line, normalize_text

PAGES = Path(__file__).parent / "pages"
URL = "https://www.epochtimes.com/gb/26/10/7/n14865552.htm"
FULL_PAGE = (PAGES / "current_full.html").read_text(encoding="utf-8")
BODY_SLOT = "<!-- ad slot -->"
HOSTILE_FRAGMENTS = [
    "<script>alert(1)</script>",
    "<style>p{}</style>",
    "<iframe src='https://evil.example/'></iframe>",
    "<p onclick='alert(1)' onmouseover=x>点</p>",
    "<a href='javascript:alert(1)'>链接</a>",
    "<a href=' JaVaScRiPt:alert(1)'>链接</a>",
    "<a href='data:text/html,<script>alert(1)</script>'>链接</a>",
    "<a href='vbscript:msgbox'>链接</a>",
    "<img src='data:image/png;base64,AAAA' onerror='alert(1)'>",
    "<img src=x onerror=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mi>x</mi></math>",
    "<object data='x.swf'></object><embed src='x.swf'>",
    "<p style='background:url(javascript:alert(1))'>样式</p>",
    "<form action='javascript:x'><input value='x'></form>",
    "<noscript><script>alert(1)</script></noscript>",
    "<!--<script>alert(1)</script>-->",
    "<div><p>嵌套<b>粗<i>斜</b></i></p></div></p></p>",
    "<h2 id=x class=y>小标题</h2><h3>三</h3><h4>四</h4>",
    "<figure><a href='https://i.epochtimes.com/a.jpg'><img src='a-600x400.jpg'></a><figcaption>说明</figcaption></figure>",
    "<p>\x00\x01\x0b\ufffe控制字符</p>",
    "<a href='//evil.example/x'>相对协议</a>",
]
FORBIDDEN_TAGS = re.compile(r"<\s*/?\s*(script|style|iframe|object|embed|svg|math)\b", re.IGNORECASE)
WEB_SCHEMES = {"http", "https"}


def assert_safe(body_html: str) -> None:
    assert not FORBIDDEN_TAGS.search(body_html)
    fragment = etree.fromstring(f"<div>{body_html}</div>", etree.HTMLParser())
    for element in fragment.iter():
        if element.tag in {"html", "body", "div"} or not isinstance(element.tag, str):
            continue
        assert element.tag in ALLOWED_TAGS
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on")
            assert (element.tag, name) in {("a", "href"), ("img", "src"), ("img", "alt")}
            if name in {"href", "src"}:
                assert urlsplit(value).scheme in WEB_SCHEMES


def with_body(fragment: str) -> str:
    return FULL_PAGE.replace(BODY_SLOT, fragment)


def test_full_page_body_html_is_whitelisted() -> None:
    article = extract(FULL_PAGE, URL)
    assert article.body_html is not None
    assert_safe(article.body_html)
    assert "推荐文章" not in article.body_html  # noise blocks are gone, not just their tags
    assert 'src="https://i.epochtimes.com/assets/uploads/2026/10/id14865554-rain.jpg"' in article.body_html


@pytest.mark.parametrize("fragment", HOSTILE_FRAGMENTS)
def test_hostile_fragment_is_neutralised(fragment: str) -> None:
    article = extract(with_body(fragment), URL)
    assert article.body_html is not None
    assert_safe(article.body_html)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HOSTILE_FRAGMENTS), min_size=1, max_size=6), st.text(max_size=40))
def test_any_mix_of_hostile_fragments_is_neutralised(fragments: list[str], filler: str) -> None:
    article = extract(with_body(filler.join(fragments)), URL)
    assert article.body_html is not None
    assert_safe(article.body_html)


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=len(FULL_PAGE)), st.integers(min_value=0, max_value=len(FULL_PAGE)))
@example(start=2011, stop=361)  # a control character reached a tail that a removed noise node handed back
def test_truncated_or_spliced_page_raises_only_extraction_errors(start: int, stop: int) -> None:
    extracted_or_refused(FULL_PAGE[:start] + FULL_PAGE[stop:])


def extracted_or_refused(markup: str) -> None:
    """An ExtractionError, or a whole and safe article: never another exception, never half an article."""
    try:
        article = extract(markup, URL)
    except ExtractionError:
        return
    assert article.title and article.body_text
    assert article.url == URL
    assert_safe(article.body_html or "")
    assert_normalized(article)


def assert_normalized(article: Article) -> None:
    """What extraction guarantees the pipelines (they do not normalize again): normalized lines, no empty or
    repeated list entries, ``char_count`` the body's length."""
    assert article.body_text == normalize_text(article.body_text)
    for line in (article.title, article.section, article.editor, article.dateline):
        assert line is None or line == normalize_line(line)
    for values in (article.categories, article.tags, article.authors):
        assert all(values) and len(set(values)) == len(values)
        assert values == [normalize_line(value) for value in values]
    assert article.char_count == len(article.body_text)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_extraction_errors(markup: str) -> None:
    extracted_or_refused(markup)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_decoded_binary_garbage_raises_only_extraction_errors(raw: bytes) -> None:
    for markup in (raw.decode("latin-1"), raw.decode("utf-8", "surrogateescape")):
        extracted_or_refused(markup)


@pytest.mark.parametrize(
    "markup",
    ["", " ", "\x00", "<?xml version='1.0' encoding='gbk'?><html/>", "<div>" * 20000, "<p>" * 5000 + "x"],
)
def test_degenerate_documents_raise_only_extraction_errors(markup: str) -> None:
    extracted_or_refused(markup)


def test_deeply_nested_body_is_still_safe() -> None:
    article = extract(with_body("<span>" * 3000 + "<script>x</script>深" + "</span>" * 3000), URL)
    assert_safe(article.body_html or "")


def run_cli(url: str, page: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.extract", url, str(page)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


def test_cli_prints_the_article_as_json() -> None:
    result = run_cli(URL, PAGES / "current_full.html")
    assert result.returncode == 0, result.stderr
    assert '"article_id": "n14865552"' in result.stdout
    assert '"published_at": "2026-10-07T19:29:39+00:00"' in result.stdout
    assert "组图：台风过境 多地停课" in result.stdout  # ensure_ascii=False


def test_cli_rejects_a_non_article_with_exit_1() -> None:
    result = run_cli(
        "https://www.epochtimes.com/gb/21/12/30/n13470001.htm", PAGES / "not_article_list_layout.html"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not_an_article" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_decodes_a_gbk_page_by_its_meta_charset(tmp_path: Path) -> None:
    page = tmp_path / "gbk.html"
    page.write_bytes(FULL_PAGE.replace('charset="utf-8"', 'charset="gbk"').encode("gbk"))
    result = run_cli(URL, page)
    assert result.returncode == 0, result.stderr
    assert "强烈台风周三过境" in result.stdout


def urljoined(value: str, base_url: str) -> str | None:
    """What ``web_url`` means: the value made absolute by urljoin, kept when it is a plain http(s) URL."""
    try:
        absolute = urljoin(base_url, value.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"[\x00-\x1f\x7f]", absolute):
        return None
    return absolute


URL_STARTS = st.sampled_from(["", "http://", "https://", "HTTP://", "ftp://", "//", "/", "javascript:"])
URL_HOSTS = st.sampled_from(["", "a", "www.epochtimes.com", "127.0.0.1:8080", "a:", "[::1]", "点.com", "a b"])
URL_PIECES = st.sampled_from(
    ["/", "?", "#", ";", "..", ".", "a", "Z9", "-", "%20", " ", "\t", "\n", "=", "&", "点", "\x00", "~", "@", ":",
     "-600x400", ".jpg", ".PNG"]
)  # fmt: skip
LINKS = st.builds(
    lambda *parts: "".join(parts), URL_STARTS, URL_HOSTS, st.lists(URL_PIECES, max_size=8).map("".join)
)


@settings(max_examples=500, deadline=None)
@given(LINKS, st.sampled_from([URL, "http://127.0.0.1:8080/gb/", ""]))
@example("https://i.epochtimes.com/assets/uploads/2026/10/id1-600x400.jpg", URL)
@example("https://www.epochtimes.com/gb/a.htm?", URL)
@example("https://www.epochtimes.com/gb/a.htm#", URL)
@example("https://www.epochtimes.com/gb/a.htm;p?q=1", URL)
def test_a_link_is_made_absolute_as_urljoin_makes_it(value: str, base_url: str) -> None:
    assert web_url(value, base_url) == urljoined(value, base_url)


@settings(max_examples=500, deadline=None)
@given(LINKS)
@example("https://i.epochtimes.com/assets/uploads/2026/10/id1-600x400.jpg")
@example("https://i.epochtimes.com/a-600x400.jpg?w=1")
@example("http://a-1x2.com")
@example(" https://i.epochtimes.com/a.JPG\n")
@example("https://i.epochtimes.com/a.jpg#-1x2.png")
def test_image_urls_are_read_as_urlsplit_reads_them(value: str) -> None:
    """The plain-URL fast paths of full_size and points_to_image give what urlsplit's parts give."""
    try:
        path = urlsplit(value.strip()).path
    except ValueError:
        path = None
    assert points_to_image(value) == (
        path is not None and re.search(r"\.(?:jpe?g|png|gif|webp|avif|bmp)$", path, re.I) is not None
    )
    url = web_url(value, URL)
    if url is not None:
        parts = urlsplit(url)
        assert (
            full_size(url)
            == parts._replace(path=re.sub(r"-\d+x\d+(?=\.[A-Za-z0-9]+$)", "", parts.path)).geturl()
        )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="<p>a中\n\t\x00\x01\x0b\x0c\x1f\x7f\ud800\udfff\ufffe\uffff\ufffd", max_size=20))
@example("<p>a\x00b\ufffe</p>")
@example("<p>\ud800\x1f</p>")
def test_characters_xml_refuses_are_parsed_as_spaces(text: str) -> None:
    """Whichever way parse_document removes them (bytes.translate, or the regex when a surrogate or a non-
    character is present), the tree is that of the markup with each such character a space."""
    markup = f"<html><body><div>{text}</div></body></html>"
    spaced = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", " ", markup)
    expected = etree.tostring(etree.fromstring(spaced.encode(), etree.HTMLParser(encoding="utf-8")))
    assert etree.tostring(parse_document(markup)) == expected
