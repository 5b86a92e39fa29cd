"""The general extractor on hostile, truncated and non-article pages: only ExtractionError escapes, body_html
is rebuilt from text (no markup of the page survives), and a list, index or error page is never an article."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract import ExtractionError, NotAnArticle, extract_page
from crawler.extract.generic import read_generic
from tests.test_extract_safety import assert_normalized

GENERIC = Path(__file__).parent / "pages" / "generic"
URL = "https://news.example.com/2021/12/30/a.html"
PAGES = {
    name: (GENERIC / f"{name}.html").read_bytes()
    for name in ("zh_gb2312", "zh_hant_big5_undeclared", "en_jsonld")
}
HOSTILE = [
    "<script>alert(1)</script>",
    "<style>p{}</style>",
    "<iframe src='https://evil.example/'></iframe>",
    "<p onclick='alert(1)'>点</p>",
    "<a href='javascript:alert(1)'>链接</a>",
    "<img src=x onerror=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<p>&lt;script&gt;alert(1)&lt;/script&gt; 这一段写的是代码的样子，不是代码。</p>",
    "<!--<script>alert(1)</script>-->",
    "<div><p>嵌套<b>粗<i>斜</b></i></p></div></p></p>",
    "<p>\x00\x01\x0b\ufffe控制字符</p>",
    "<form action='javascript:x'><input value='x'></form>",
    "<table><tr><td>" * 50,
    "</body></html><p>之后的文字</p>",
]
BODY_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z0-9]+)([^>]*)>")
ALLOWED = {"p", "h2", "h3", "h4"}


def assert_safe(body_html: str) -> None:
    for closing, tag, attributes in BODY_HTML_TAG_RE.findall(body_html):
        assert tag in ALLOWED, body_html
        assert not attributes.strip(), body_html
        assert closing in ("", "/")
    assert "<script" not in body_html.lower()


def try_extract(body: bytes, url: str = URL) -> None:
    try:
        article = extract_page(body, url)
    except ExtractionError:
        return
    assert article.title
    assert article.body_text
    assert article.body_html is not None
    assert_safe(article.body_html)
    assert_normalized(article)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(sorted(PAGES)), cut=st.floats(min_value=0, max_value=1))
def test_truncated_pages_only_raise_extraction_errors(page: str, cut: float) -> None:
    raw = PAGES[page]
    try_extract(raw[: int(len(raw) * cut)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragments=st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=6), where=st.floats(0, 1))
def test_hostile_markup_never_reaches_body_html(fragments: list[str], where: float) -> None:
    page = PAGES["zh_gb2312"].decode("gb18030")
    index = page.index('<div id="artibody">') + int(where * 800)
    hostile = page[:index] + "".join(fragments) + page[index:]
    try_extract(hostile.encode("utf-8"))


@settings(max_examples=80, deadline=None)
@given(raw=st.binary(max_size=3000))
def test_arbitrary_bytes_only_raise_extraction_errors(raw: bytes) -> None:
    try_extract(raw)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=2000))
def test_arbitrary_text_only_raises_extraction_errors(text: str) -> None:
    with contextlib.suppress(ExtractionError):
        read_generic(text, URL)


def test_escaped_markup_in_the_text_stays_text() -> None:
    page = PAGES["zh_gb2312"].decode("gb18030")
    injected = page.replace(
        "<p>　　据气象部门介绍", "<p>　　&lt;script&gt;alert(1)&lt;/script&gt;据气象部门介绍"
    )
    article = extract_page(injected.encode("utf-8"), URL)
    assert "<script>alert(1)</script>据气象部门介绍" in article.body_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;据气象部门介绍" in (article.body_html or "")
    assert_safe(article.body_html or "")


@settings(max_examples=40, deadline=None)
@given(
    items=st.integers(min_value=5, max_value=60),
    headline=st.sampled_from(
        ["某地举行重要会议部署下一阶段工作", "Council approves budget for next year", "颱風逼近北部嚴陣以待"]
    ),
    snippet=st.booleans(),
)
def test_list_pages_are_not_articles(items: int, headline: str, snippet: bool) -> None:
    teaser = "<p>摘要：会议强调，要认真落实各项部署。</p>" if snippet else ""
    rows = "".join(
        f'<li><a href="/news/{i}.html">{headline} {i}</a>{teaser}<span>2021-12-{1 + i % 28:02d}</span></li>'
        for i in range(items)
    )
    page = f"<html><head><title>新闻列表</title></head><body><ul class='list'>{rows}</ul></body></html>"
    with pytest.raises(NotAnArticle):
        extract_page(page.encode("utf-8"), "https://news.example.com/list/")


@pytest.mark.parametrize(
    "message",
    [
        "404 Not Found",
        "抱歉，您访问的页面不存在或已被删除。",
        "系统繁忙，请稍后再试。",
        "Access denied. You don't have permission to access this page.",
        "",
    ],
)
def test_error_pages_are_not_articles(message: str) -> None:
    page = f"<html><head><title>{message or '错误'}</title></head><body><h1>出错了</h1><p>{message}</p><p><a href='/'>返回首页</a></p></body></html>"
    with pytest.raises(NotAnArticle):
        extract_page(page.encode("utf-8"), "https://news.example.com/x.html")
