"""The general extractor and ``extract_page``: golden pages of other sites (tests/pages/generic/README.md),
the choice between the site's parsers and the general extractor, and the command line."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.decoding import decode_page, page_markup
from crawler.extract import MissingField, NotAnArticle, extract, extract_page
from crawler.extract.generic import extract_generic, read_generic
from crawler.extract.generic.article import url_article_id
from crawler.extract.generic.bylines import authors_in
from crawler.extract.generic.lead import Lead, split_lead
from crawler.extract.similarity import body_f1

GENERIC = Path(__file__).parent / "pages" / "generic"
SITE_PAGES = Path(__file__).parent / "pages"
SIDECAR_PREFIX = "_"
CASES = sorted(path.stem for path in GENERIC.glob("*.json"))
ARTICLE_CASES = [name for name in CASES if "_error" not in json.loads((GENERIC / f"{name}.json").read_text())]
ERROR_CASES = [name for name in CASES if name not in ARTICLE_CASES]
SITE_URL = "https://www.epochtimes.com/gb/26/10/7/n14865552.htm"


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GENERIC / f"{name}.json").read_text(encoding="utf-8"))
    return data


def extracted(name: str) -> dict[str, Any]:
    case = expected(name)
    body = (GENERIC / f"{name}.html").read_bytes()
    return extract_page(body, case["_fetched_url"], case.get("_content_type")).to_json_dict()


def field_cases() -> list[tuple[str, str]]:
    return [
        (name, key) for name in ARTICLE_CASES for key in expected(name) if not key.startswith(SIDECAR_PREFIX)
    ]


def test_golden_folder_has_articles_and_non_articles() -> None:
    assert len(ARTICLE_CASES) >= 3
    assert len(ERROR_CASES) >= 2


@pytest.mark.parametrize(("page", "field_name"), field_cases())
def test_golden_field(page: str, field_name: str) -> None:
    assert extracted(page)[field_name] == expected(page)[field_name]


@pytest.mark.parametrize("page", ARTICLE_CASES)
def test_another_sites_article_id_is_stable_for_its_canonical_url(page: str) -> None:
    row = extracted(page)
    assert row["article_id"] == url_article_id(expected(page)["url"])
    assert row["article_id"].startswith("u")
    assert len(row["article_id"]) == 17
    assert row["edition"] is None
    assert row["char_count"] == len(row["body_text"])
    assert row["extractor"] == "generic"


@pytest.mark.parametrize("page", ERROR_CASES)
def test_list_and_error_pages_are_not_articles(page: str) -> None:
    case = expected(page)
    with pytest.raises(NotAnArticle):
        extract_page((GENERIC / f"{page}.html").read_bytes(), case["_fetched_url"])


def test_body_html_is_rebuilt_from_the_text() -> None:
    row = extracted("en_jsonld")
    assert row["body_html"].startswith("<p>The city council voted")
    assert "<h2>What happens next</h2>" in row["body_html"]
    assert "Related Stories" not in row["body_html"]
    assert "waste of money" not in row["body_text"]  # the comments section


def test_site_article_goes_to_the_sites_parser() -> None:
    markup = (SITE_PAGES / "current_full.html").read_text(encoding="utf-8")
    by_site = extract(markup, SITE_URL)
    assert extract_page(markup.encode("utf-8"), SITE_URL, "text/html; charset=utf-8") == by_site


def test_site_article_in_an_unknown_layout_goes_to_the_general_extractor_under_its_site_id() -> None:
    page = """<html><head><title>标题一则 - 大纪元</title></head><body><div id="article_wrap">
    <h1>标题一则</h1><div class="time">2026-10-07 10:30</div>
    <p>这是一篇视频文章的文字说明，它的正文放在一个站点描述里没有提到的容器里面，需要通用提取器来读取。</p>
    <p>第二段文字继续说明视频的内容，包括人物、地点和事件的经过，以及后续的发展情况。</p></div></body></html>"""
    article = extract_page(page.encode("utf-8"), SITE_URL)
    assert article.article_id == "n14865552"
    assert article.edition == "gb"
    assert article.language == "zh-Hans"
    assert article.url == SITE_URL
    assert article.title == "标题一则"
    assert article.published_at.isoformat() == "2026-10-07T02:30:00+00:00"
    assert article.body_text.startswith("这是一篇视频文章")
    assert article.extractor == "generic"


def test_site_layout_whose_parser_finds_no_body_goes_to_the_general_extractor() -> None:
    markup = (SITE_PAGES / "current_full.html").read_text(encoding="utf-8")
    moved = markup.replace('id="artbody"', 'id="video_text"').replace('itemprop="articleBody"', "")
    assert moved != markup
    with pytest.raises(MissingField):
        extract(moved, SITE_URL)
    article = extract_page(moved.encode("utf-8"), SITE_URL)
    assert article.extractor == "generic"
    assert "强烈台风周三过境" in article.body_text


def test_site_article_without_a_written_date_gets_its_url_day() -> None:
    page = """<html><head><title>标题一则</title></head><body><div class="post">
    <h1>标题一则</h1>
    <p>这是一篇没有写日期的文章，它的正文放在一个站点描述里没有提到的容器里面，需要通用提取器来读取。</p>
    <p>第二段文字继续说明视频的内容，包括人物、地点和事件的经过，以及后续的发展情况。</p></div></body></html>"""
    article = extract_page(page.encode("utf-8"), SITE_URL)
    assert article.date_source == "url"
    assert article.published_at.isoformat() == "2026-10-07T12:00:00+00:00"


def test_generic_flag_sends_the_sites_pages_to_the_general_extractor() -> None:
    markup = (SITE_PAGES / "current_full.html").read_text(encoding="utf-8")
    by_site = extract(markup, SITE_URL)
    generic = extract_page(markup.encode("utf-8"), SITE_URL, generic=True)
    assert generic.article_id == by_site.article_id
    assert generic.title == by_site.title
    assert generic.body_text.splitlines()[-1].startswith(by_site.body_text.splitlines()[-1])


def test_an_article_without_any_date_is_a_missing_field_but_its_fields_are_readable() -> None:
    page = (GENERIC / "en_jsonld.html").read_text(encoding="utf-8")
    undated = page.replace('"datePublished":"2021-12-30T10:15:00-05:00",', "")
    url = "https://www.example-times.com/local/park-plan/"
    with pytest.raises(MissingField) as raised:
        extract_generic(undated, url)
    assert raised.value.field_name == "published_at"
    fields = read_generic(undated, url)
    assert fields.published_at is None
    assert fields.title == "City council approves new park plan"


def test_date_in_the_url_is_the_last_resort() -> None:
    page = (GENERIC / "en_jsonld.html").read_text(encoding="utf-8")
    undated = page.replace('"datePublished":"2021-12-30T10:15:00-05:00",', "")
    article = extract_generic(undated, "https://www.example-times.com/2021/12/29/park-plan/")
    assert article.date_source == "url"
    assert article.published_at.date().isoformat() == "2021-12-29"


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.extract", *args], input=stdin, capture_output=True, check=False
    )


def test_cli_reads_any_page_as_bytes() -> None:
    done = run_cli(
        "https://tw.example.org/news/20211230/typhoon.html", str(GENERIC / "zh_hant_big5_undeclared.html")
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["title"] == "颱風逼近 臺灣北部嚴陣以待"
    assert row["edition"] is None


def test_cli_generic_flag_and_stdin() -> None:
    body = (SITE_PAGES / "current_full.html").read_bytes()
    done = run_cli("--generic", SITE_URL, stdin=body)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["article_id"] == "n14865552"


def test_cli_reports_a_list_page_as_not_an_article() -> None:
    done = run_cli("https://news.example.com/china/", str(GENERIC / "list_page.html"))
    assert done.returncode == 1
    assert b"not_an_article" in done.stderr


REAL = GENERIC / "real"
REAL_CASES = sorted(path.stem for path in REAL.glob("*.json"))


def real_page(name: str) -> tuple[bytes, dict[str, str]]:
    truth: dict[str, str] = json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))
    plain = REAL / f"{name}.html"
    raw = plain.read_bytes() if plain.exists() else gzip.decompress((REAL / f"{name}.html.gz").read_bytes())
    return raw, truth


def test_real_pages_are_there_with_their_licences() -> None:
    assert len(REAL_CASES) >= 3
    assert (REAL / "LICENSE-chinese-wce").exists()
    assert (REAL / "LICENSE-scrapinghub-aeb").exists()


@pytest.mark.parametrize("name", REAL_CASES)
def test_real_page_body_matches_its_label(name: str) -> None:
    raw, truth = real_page(name)
    article = extract_page(raw, truth["url"])
    assert body_f1(article.body_text, truth["body"]) >= 0.95
    assert article.extractor == "generic"


@pytest.mark.parametrize("name", [name for name in REAL_CASES if "author" in real_page(name)[1]])
def test_real_page_authors_match_their_label(name: str) -> None:
    raw, truth = real_page(name)
    assert set(truth["author"].split()) <= set(extract_page(raw, truth["url"]).authors)


@pytest.mark.parametrize("name", [name for name in REAL_CASES if "publish_time" in real_page(name)[1]])
def test_real_page_date_and_time_match_their_label(name: str) -> None:
    raw, truth = real_page(name)
    page = read_generic(decode_page(raw), truth["url"])
    assert page.published_at is not None
    # Labels are the page's own wall clock, unpadded: 2004-7-16 08:19.
    year, month, day, hour, minute = (int(part) for part in re.split(r"[- :]", truth["publish_time"])[:5])
    local = page.published_at
    assert (local.year, local.month, local.day, local.hour, local.minute) == (year, month, day, hour, minute)


def test_whitespace_between_inline_elements_separates_words() -> None:
    sentence = "The <b>quick</b> <i>brown</i> fox jumps over the lazy dog, again and again, all day long. "
    page = (
        f"<html><head><title>Dogs</title></head><body><article><p>{sentence * 4}</p></article></body></html>"
    )
    fields = read_generic(page, "https://news.example.com/dogs")
    assert fields.body_text.startswith("The quick brown fox jumps")


def test_a_columns_author_alone_under_its_headline() -> None:
    prose = "人心不会熄灭，但它可能蒙上灰烬而不再燃烧。这种精神状态在今天相当普遍，值得我们认真思考和分析。"
    page = (
        "<html><head><title>显示</title></head><body><p align='center'><strong>论犬儒</strong></p><hr>"
        f"<p>王明<br><br>{prose * 3}<br><br>{prose * 2}</p></body></html>"
    )
    fields = read_generic(page, "https://forum.example.org/show?id=1")
    assert fields.authors == ["王明"]
    assert fields.body_text.endswith(prose * 2)


SHOWN_CASES = [name for name in ARTICLE_CASES if "_shown_published_at" in expected(name)]


@pytest.mark.parametrize("page", SHOWN_CASES)
def test_golden_publication_time_keeps_the_clock_the_page_shows(page: str) -> None:
    """Metadata in UTC, text in local time: the instant is the declared one, on the page's own clock."""
    case = expected(page)
    html = decode_page((GENERIC / f"{page}.html").read_bytes(), case["_content_type"])
    fields = read_generic(html, case["_fetched_url"])
    assert fields.published_at is not None
    assert fields.published_at.isoformat() == case["_shown_published_at"]


def test_a_bylines_labels_are_never_names() -> None:
    assert authors_in(["太小心 [作者简介] (个人情况保密)"]) == []
    assert authors_in(["本报讯（记者 梁静 通讯员 李静）"]) == ["梁静", "李静"]


@pytest.mark.parametrize(
    ("line", "dateline", "rest"),
    [
        ("本报讯（记者 张伟 北京报道）昨天下午，暴雨", "本报讯", "昨天下午，暴雨"),
        ("【大纪元2021年12月30日讯】（大纪元记者王明台北报导）台湾", "【大纪元2021年12月30日讯】", "台湾"),
        ("中新网重庆1月17日电 (连肖)重庆市", "中新网重庆1月17日电", "重庆市"),
        ("中評社北京1月9日電／8日10時許", "中評社北京1月9日電", "8日10時許"),
        ("BEIJING, Dec. 30 (Xinhua) -- China said", "BEIJING, Dec. 30 (Xinhua)", "China said"),
        ("（记者张三）今天上午", None, "今天上午"),
        ("(不可能)是这样的", None, "(不可能)是这样的"),
        ("我们报社电话是十二号", None, "我们报社电话是十二号"),
        ("A-B tests show nothing", None, "A-B tests show nothing"),
    ],
)
def test_the_opening_dateline_and_bracketed_byline_are_peeled(line: str, dateline: str, rest: str) -> None:
    assert split_lead(line) == Lead(dateline, rest)


def test_text_directly_in_an_inline_container_stays_with_its_paragraphs() -> None:
    # <font> wrapping the article's paragraphs is no block: text between an ad box and </font> is the article's.
    first = "对外宣传，也是开国之初外交生涯的组成部分，政务院成立后下设新闻总署，首任署长由他兼任。" * 2
    rest = "他在香港时就为对外刊物改稿，从此与局长熟悉起来，夫妇二人曾一再希望他一同北上从事宣传。" * 2
    page = (
        "<html><head><title>投身外交</title></head><body><table><tr><td>"
        f"<font id='zoom'><p>{first}</p><p>{first}</p><table><tr><td>广告</td></tr></table>{rest}</font>"
        "</td></tr></table></body></html>"
    )
    fields = read_generic(page, "https://book.example.com/a.html")
    assert fields.body_text.endswith(rest)


def test_a_page_of_several_posts_is_read_as_its_first() -> None:
    # A blog's archive page (or a forum thread): each post in the same markup; the longest is not the page's.
    def post(title: str, text: str) -> str:
        return f"<div class='post'><h3>{title}</h3><div class='post-body'><p>{text}</p></div></div>"

    newest = "湘菜粤菜兵分两路，新鲜的是，湘菜浓妆淡抹，粤菜却是明艳照人，老鸡汤香味浓郁，清润有益。" * 3
    older = "张爱玲曾说过，像我们这样生长在都市文化中的人，总是先看到海的画面，后看见海，先读到爱情小说。" * 5
    page = (
        "<html><head><title>海姑娘的博客</title></head><body>"
        f"{post('湘菜粤菜', newest)}{post('跳房子', older)}{post('十大', older[:-10])}</body></html>"
    )
    fields = read_generic(page, "https://blog.example.com/archives?date=200506")
    assert fields.body_text == newest


def test_a_small_box_in_the_articles_markup_is_no_second_post() -> None:
    # The same class on the article's container and on a short teaser elsewhere: the article is kept.
    text = "The council voted on Tuesday to extend the program, which pays for repairs in older buildings. "
    page = (
        "<html><head><title>Council</title></head><body>"
        "<div><div class='l-container'><p>Subscribe, share, like, follow, comment, and more, today.</p></div></div>"
        f"<div><div class='l-container'><p>{text * 3}</p><p>{text * 3}</p></div></div></body></html>"
    )
    fields = read_generic(page, "https://news.example.com/council")
    assert fields.body_text.startswith("The council voted")


@pytest.mark.parametrize("page", ARTICLE_CASES)
def test_a_pages_bytes_read_as_its_text(page: str) -> None:
    raw = (GENERIC / f"{page}.html").read_bytes()
    url = expected(page)["_fetched_url"]
    assert read_generic(page_markup(raw), url) == read_generic(decode_page(raw), url)


@pytest.mark.parametrize(
    "trail",
    [
        '<ol itemscope itemtype="https://schema.org/BreadcrumbList">',
        '<ol aria-label="Breadcrumb">',
        '<ol class="crumbs">',
    ],
)
def test_a_marked_up_trail_gives_the_categories_from_text_or_bytes(trail: str) -> None:
    text = "The council voted on Tuesday to extend the program, which pays for repairs in older buildings. "
    html = (
        f"<html><head><title>Council</title></head><body><div>{trail}<li><a href='/'>Home</a></li>"
        "<li><a href='/news/'>News</a></li><li><a href='/news/local/'>Local</a></li></ol></div>"
        f"<article><p>{text * 3}</p><p>{text * 3}</p></article></body></html>"
    )
    url = "https://news.example.com/news/local/council"
    for markup in (html, html.encode("utf-8")):
        assert read_generic(markup, url).categories == ["News", "Local"]


def test_a_posts_posted_by_line_names_its_poster() -> None:
    assert authors_in(["由海姑娘张贴 @ 2005-06-14 03:25:55 (370)"]) == ["海姑娘"]
    assert authors_in(["由 ggjj88 張貼於 2005-06-14"]) == ["ggjj88"]
    # In a sentence 由…张贴 says who put a notice up, no byline.
    assert authors_in(["这份通知由市政府张贴在公告栏上。"]) == []
