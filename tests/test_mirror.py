"""`scrapy mirror` (issue 14): pages rendered by a real CommonMark/GFM renderer say exactly what the dataset
holds, reruns rewrite only what changed, files are whole or absent, and hostile text stays text."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from crawler.extract import extract
from crawler.extract.model import Image as StoredImage
from crawler.extract.text import normalize_line
from crawler.items import ArticleItem
from pipelines.dataset.schema import items_to_table
from publish.markdown import BEIJING, EarlierVersion, article_page, escape
from publish.mirror import INDEX_NAME, STATE_DIR, build_mirror, page_article
from tests.archive_data import sample_item
from tests.crawling import PROJECT_ROOT, crawl
from tests.replica.testing import serve_replica

ARTICLES = 40
# GFM as a Git host renders it: tables, strikethrough and autolinks of bare URLs, domains and e-mail addresses
# on top of CommonMark, raw HTML passed through (so that any leak would show).
RENDERER = MarkdownIt("gfm-like")
# What a page may contain once rendered: anything else (script, iframe, img with handlers, tables...) leaked.
PAGE_TAGS = frozenset({"div", "h1", "h2", "h3", "h4", "p", "a", "img", "em", "br", "hr", "ul", "li"})


def render(markdown: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(RENDERER.render(markdown), create_parent="div")


def run_mirror(dataset: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", "mirror", "-o", str(out), "-s", f"PARQUET_URI={dataset}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)


def latest_rows(dataset: Path) -> dict[str, dict[str, Any]]:
    rows = all_rows(dataset)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["version"] > latest.get(row["article_id"], {"version": 0})["version"]:
            latest[row["article_id"]] = row
    return latest


def all_rows(dataset: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        ds.dataset(dataset, format="parquet", partitioning="hive").to_table().to_pylist()
    )
    return rows


def page_path(url: str) -> str:
    """The page of an article URL: the site's path with .md, as a reader of the old mirror expects it."""
    return url.removeprefix("https://www.epochtimes.com/").removesuffix(".htm") + ".md"


def page_paths(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Article id -> the pages it has: one per URL any of its versions had (the edition a run saw first)."""
    paths: dict[str, set[str]] = {}
    for row in rows:
        paths.setdefault(row["article_id"], set()).add(page_path(row["url"]))
    return paths


@dataclass
class Page:
    title: str
    header: str
    lead: lxml_html.HtmlElement | None
    body: list[lxml_html.HtmlElement]
    footer: str
    root: lxml_html.HtmlElement

    @property
    def body_lines(self) -> list[str]:
        """Rendered text of the body's paragraphs and subheads; figures (image + caption) are not text."""
        return [
            el.text_content()
            for el in self.body
            if el.tag in ("p", "h2", "h3", "h4") and not el.findall(".//img")
        ]


def read_page(path: Path) -> Page:
    root = render(path.read_text(encoding="utf-8"))
    children = list(root)
    rules = [i for i, el in enumerate(children) if el.tag == "hr"]
    assert len(rules) == 2, f"{path}: the body is delimited by two rules"
    assert children[0].tag == "h1"
    before = children[1 : rules[0]]
    lead = next((el for el in before if el.findall(".//img")), None)
    return Page(
        title=children[0].text_content(),
        header=before[0].text_content(),
        lead=lead,
        body=children[rules[0] + 1 : rules[1]],
        footer=" ".join(el.text_content() for el in children[rules[1] + 1 :]),
        root=root,
    )


def links(root: lxml_html.HtmlElement) -> list[str]:
    return [a.get("href") for a in root.iter("a")]


def caption_of(image: dict[str, Any]) -> str:
    return (image["caption"] or "") + (f"（{image['credit']}）" if image["credit"] else "")


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A replica crawled and mirrored, then crawled again after edits and mirrored again, with the files of
    the first mirror as they were (mtime, inode) and what the second run printed."""
    base = tmp_path_factory.mktemp("mirror")
    dataset, out = base / "articles", base / "mirror"
    with serve_replica(articles=ARTICLES) as site:
        assert crawl(site, dataset, args={"editions": "gb,b5"}).returncode == 0
    first = run_mirror(dataset, out)
    assert first.returncode == 0, first.stderr[-3000:]
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    first_rows = all_rows(dataset)
    with serve_replica(articles=ARTICLES, revision=1) as site:
        assert crawl(site, dataset, args={"editions": "gb,b5", "full": "1"}).returncode == 0
    second = run_mirror(dataset, out)
    assert second.returncode == 0, second.stderr[-3000:]
    yield {
        "dataset": dataset,
        "out": out,
        "before": before,
        "first_rows": first_rows,
        "first": first.stdout,
        "second": second.stdout,
    }


# ---- pages say what the dataset holds -----------------------------------------------------------------------


@pytest.mark.slow
def test_every_article_has_a_page_at_the_sites_path_whose_rendered_text_is_the_stored_text(
    mirrored: dict[str, Any],
) -> None:
    latest = latest_rows(mirrored["dataset"])
    assert len(latest) >= ARTICLES
    editions = {row["edition"] for row in latest.values()}
    assert editions == {"gb", "b5"}
    figures = links_checked = 0
    paths = page_paths(all_rows(mirrored["dataset"]))
    for row, path in ((r, path) for r in latest.values() for path in sorted(paths[r["article_id"]])):
        page = read_page(mirrored["out"] / path)
        assert page.title == row["title"]
        assert "\n".join(page.body_lines) == row["body_text"], row["url"]
        published = row["published_at"].astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        assert published in page.header
        for author in row["authors"] or []:
            assert author in page.header
        for tag in row["tags"] or []:
            assert tag in page.footer
        # Every image is the stored URL, and every stored image is shown, with its caption and credit.
        stored = {unquote(i["url"]): i for i in row["images"] or []}
        shown = [unquote(img.get("src")) for img in page.root.iter("img")]
        assert set(shown) == set(stored), row["url"]
        for img in page.root.iter("img"):
            expected = caption_of(stored[unquote(img.get("src"))])
            captions = [em.text_content() for em in img.getparent().iter("em")]
            assert captions == ([expected] if expected else []), row["url"]
            figures += 1
        # Every link is the original URL or a link the stored body_html has, in the same place of the text.
        allowed = {unquote(row["url"])} | {
            unquote(a.get("href"))
            for a in lxml_html.fragments_fromstring(f"<div>{row['body_html']}</div>")[0].iter("a")
            if a.get("href")
        }
        for href in links(page.root):
            assert unquote(href) in allowed, (row["url"], href)
            links_checked += 1
        assert unquote(row["url"]) in {unquote(h) for h in links(page.root)}
    assert figures > 0 and links_checked > len(latest)
    assert "plain paragraphs" not in mirrored["first"] + mirrored["second"]


@pytest.mark.slow
def test_body_links_keep_their_text_and_place(mirrored: dict[str, Any]) -> None:
    """A tag link inside a paragraph is a link on the same words in the rendered paragraph."""
    latest = latest_rows(mirrored["dataset"])
    seen = 0
    for row in latest.values():
        page = read_page(mirrored["out"] / page_path(row["url"]))
        source = lxml_html.fragments_fromstring(f"<div>{row['body_html']}</div>")[0]
        expected = [(normalize_line(a.text_content()), unquote(a.get("href"))) for a in source.iter("a")]
        rendered = [(a.text_content(), unquote(a.get("href"))) for el in page.body for a in el.iter("a")]
        assert set(rendered) <= set(expected)
        seen += len(rendered)
    assert seen > 0


@pytest.mark.slow
def test_pages_note_the_earlier_versions(mirrored: dict[str, Any]) -> None:
    latest = latest_rows(mirrored["dataset"])
    edited = [row for row in latest.values() if row["version"] > 1]
    assert edited
    for row in edited:
        footer = read_page(mirrored["out"] / page_path(row["url"])).footer
        assert f"第 {row['version']} 版" in footer and "第 1 版" in footer
    unedited = next(row for row in latest.values() if row["version"] == 1)
    assert "早先版本" not in read_page(mirrored["out"] / page_path(unedited["url"])).footer


@pytest.mark.slow
def test_indexes_list_every_article_newest_first_and_every_link_resolves(mirrored: dict[str, Any]) -> None:
    out: Path = mirrored["out"]
    latest = latest_rows(mirrored["dataset"])
    listed: set[Path] = set()
    indexes = sorted(out.rglob(INDEX_NAME))
    assert (
        out / INDEX_NAME in indexes
        and out / "gb" / INDEX_NAME in indexes
        and out / "b5" / INDEX_NAME in indexes
    )
    for index in indexes:
        root = render(index.read_text(encoding="utf-8"))
        targets = [(index.parent / unquote(href)).resolve() for href in links(root)]
        for target in targets:
            assert target.is_file(), (index, target)
        pages = [t for t in targets if t.name != INDEX_NAME]
        listed.update(pages)
        if pages:  # a day: its articles, newest first
            times = [latest[p.stem]["published_at"] for p in pages]
            assert times == sorted(times, reverse=True)
        days = [t.parent.relative_to(out) for t in targets if t.name == INDEX_NAME and t.parent != out]
        if index.parent.parent == out:  # an edition: its days, newest first
            dates = [date(2000 + int(d.parts[1]), int(d.parts[2]), int(d.parts[3])) for d in days]
            assert dates and dates == sorted(dates, reverse=True)
    paths = page_paths(all_rows(mirrored["dataset"]))
    assert listed == {(out / path).resolve() for group in paths.values() for path in group}


# ---- incremental ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_rerun_rewrites_only_the_changed_pages_and_the_indexes_listing_them(mirrored: dict[str, Any]) -> None:
    out: Path = mirrored["out"]
    before: dict[Path, tuple[int, int]] = mirrored["before"]
    first: dict[str, int] = {}
    for row in mirrored["first_rows"]:
        first[row["article_id"]] = max(row["version"], first.get(row["article_id"], 0))
    rows = all_rows(mirrored["dataset"])
    latest = latest_rows(mirrored["dataset"])
    changed = {i for i, row in latest.items() if row["version"] != first[i]}
    assert changed and set(latest) == set(first)
    paths, first_paths = page_paths(rows), page_paths(mirrored["first_rows"])
    changed_pages = {out / path for i in changed for path in paths[i]}
    # Day indexes list titles and times: rewritten when one of theirs changed. Edition indexes and the root
    # count pages per day: rewritten when an article gained a page (another edition's URL).
    allowed = changed_pages | {page.parent / INDEX_NAME for page in changed_pages}
    gained = {path for i in latest for path in paths[i] - first_paths[i]}
    allowed |= {out / path.split("/")[0] / INDEX_NAME for path in gained}
    if gained:
        allowed.add(out / INDEX_NAME)
    allowed |= {out / STATE_DIR / "state.json", out / STATE_DIR / "_lock"}
    after = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    assert set(before) <= set(after), "nothing is ever deleted"
    rewritten = {p for p in before if after[p] != before[p]}
    assert {p for p in changed_pages if p in before} <= rewritten <= allowed
    assert set(after) - set(before) == {out / path for path in gained} | {
        (out / path).parent / INDEX_NAME for path in gained if (out / path).parent / INDEX_NAME not in before
    }


@pytest.mark.slow
def test_a_rerun_over_an_unchanged_dataset_writes_nothing(mirrored: dict[str, Any]) -> None:
    out: Path = mirrored["out"]
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    result = run_mirror(mirrored["dataset"], out)
    assert result.returncode == 0
    assert "0 pages written" in result.stdout and "0 index pages written" in result.stdout
    lock = out / STATE_DIR / "_lock"
    assert {p: s for p, s in files.items() if p != lock} == {
        p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file() and p != lock
    }


@pytest.mark.slow
def test_lost_state_rewrites_nothing_that_is_already_right(mirrored: dict[str, Any], tmp_path: Path) -> None:
    """The state only saves reading bodies: without it every page is rendered, and equal bytes are kept."""
    out: Path = mirrored["out"]
    (out / STATE_DIR / "state.json").unlink()
    files = {p: p.stat().st_mtime_ns for p in out.rglob("*.md")}
    result = run_mirror(mirrored["dataset"], out)
    assert result.returncode == 0 and "0 pages written" in result.stdout
    assert files == {p: p.stat().st_mtime_ns for p in out.rglob("*.md")}


def test_mirror_without_a_dataset_fails_with_a_message(tmp_path: Path) -> None:
    result = run_mirror(tmp_path / "nothing", tmp_path / "out")
    assert result.returncode == 1
    assert "no dataset at" in result.stderr


def test_mirror_needs_an_output_folder(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "scrapy", "mirror", "-s", f"PARQUET_URI={tmp_path}"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "scrapy mirror -o DIR" in result.stderr + result.stdout


# ---- whole files or none -------------------------------------------------------------------------------------


def write_dataset(root: Path, items: list[ArticleItem]) -> None:
    numbered = [
        replace(item, version=item.version or 1, run_id="test", content_hash="x", simhash=0) for item in items
    ]
    (root / "date=2021-12-31").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        items_to_table(numbered), root / "date=2021-12-31" / f"part-test-{len(list(root.rglob('*')))}.parquet"
    )


def many_articles(n: int) -> list[ArticleItem]:
    body = "\n".join(f"第{i}段：" + "内容" * 40 for i in range(6))
    return [
        sample_item(
            13000000 + i,
            title=f"标题{i}",
            body_text=body,
            body_html="".join(f"<p>{line}</p>" for line in body.split("\n")),
            url=f"https://www.epochtimes.com/gb/21/12/{1 + i % 28}/n{13000000 + i}.htm",
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_only_whole_files_and_the_rerun_completes(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    write_dataset(dataset, many_articles(1500))
    reference = tmp_path / "reference"
    build_mirror(str(dataset), reference)
    expected = {p.relative_to(reference): p.read_bytes() for p in reference.rglob("*.md")}
    code = "import sys; from pathlib import Path; from publish.mirror import build_mirror; build_mirror(sys.argv[1], Path(sys.argv[2]))"
    interrupted = 0
    # Killed once pages appear, at a few depths into the run (the poll itself is not exact: any moment counts).
    for attempt, threshold in enumerate((1, 200, 600, 1, 200, 600)):
        out = tmp_path / f"out{attempt}"
        process = subprocess.Popen([sys.executable, "-c", code, str(dataset), str(out)], cwd=PROJECT_ROOT)
        while process.poll() is None and sum(1 for _ in out.glob("gb/*/*/*/n*.md")) < threshold:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        pages = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.md")}
        for relative, content in pages.items():
            assert content == expected[relative], f"{relative} is not whole"
        if len(pages) < len(expected):
            interrupted += 1
            build_mirror(str(dataset), out)
            assert not list(out.rglob(".*.tmp")), "temporaries of the killed run are removed"
            assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*.md")} == expected
        if interrupted >= 3:
            break
    assert interrupted >= 1, "no kill landed while pages were being written"


# ---- hostile text stays text ---------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![x](http://evil.example/x.png)",
    "# not a heading",
    "*not emphasis* and _not_ and **not** and ~~not struck~~",
    "| a | b |",
    "|---|---|",
    "www.evil.example and http://evil.example and someone@evil.example",
    ":smile: $x^2$ @user",
    "&lt;b&gt; &amp; &#x3C;",
    "`code` and ```fence",
    "---",
    "===",
    "1. not a list",
    "- not a list",
    "> not a quote",
    "    not code",
    "\\ backslash at the end \\",
    "<!-- comment -->",
    "[ref]: http://evil.example",
    "<http://evil.example>",
]


def hostile_item() -> ArticleItem:
    lines = [normalize_line(line) for line in HOSTILE]
    body_html = "".join(f"<p>{line.replace('&', '&amp;').replace('<', '&lt;')}</p>" for line in lines)
    body_html += '<p><a href="javascript:alert(1)">link text</a></p>'
    return sample_item(
        13999999,
        title="<script>alert(1)</script> # *title* [x](javascript:y)",
        body_text="\n".join([*lines, "link text"]),
        body_html=body_html,
        authors=["<b>author</b>", "*star*"],
        tags=["<i>tag</i>", "[t](javascript:x)"],
        images=[
            StoredImage(
                "https://i.epochtimes.com/a.jpg", "<script>x</script> *cap*", "[credit](javascript:x)"
            )
        ],
    )


def test_hostile_text_in_every_field_renders_as_the_same_text_and_nothing_active(tmp_path: Path) -> None:
    dataset, out = tmp_path / "articles", tmp_path / "mirror"
    item = hostile_item()
    write_dataset(dataset, [item])
    build_mirror(str(dataset), out)
    page = read_page(out / "gb/21/12/30/n13999999.md")
    assert page.title == item.title
    assert "\n".join(page.body_lines) == item.body_text
    assert "<b>author</b>、*star*" in page.header
    assert "<i>tag</i>、[t](javascript:x)" in page.footer
    assert [em.text_content() for em in page.root.iter("em")] == [
        "<script>x</script> *cap*（[credit](javascript:x)）"
    ]
    assert {el.tag for el in page.root.iter()} <= PAGE_TAGS
    assert {unquote(h) for h in links(page.root)} == {item.url}
    assert [img.get("src") for img in page.root.iter("img")] == ["https://i.epochtimes.com/a.jpg"]


def assert_renders_as_itself(text: str) -> None:
    """The escaped form of a line renders as one paragraph holding exactly that line and no element."""
    line = normalize_line(text)
    if not line:
        return
    root = render(escape(line))
    assert [el.tag for el in root] == ["p"]
    assert len(root[0]) == 0, RENDERER.render(escape(line))
    assert root[0].text_content() == line


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60))
def test_any_escaped_text_renders_as_itself(text: str) -> None:
    assert_renders_as_itself(text)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("*_[]()<>!#`~|:@.-=+&\\$^/%;,'\" abw1\u4e2d"), min_size=1, max_size=40)
)
def test_markdown_syntax_characters_stay_text(text: str) -> None:
    assert_renders_as_itself(text)


def test_published_time_is_shown_in_beijing_time(tmp_path: Path) -> None:
    dataset, out = tmp_path / "articles", tmp_path / "mirror"
    moment = datetime(2021, 12, 30, 21, 40, tzinfo=UTC)  # 05:40 the next day in Beijing
    write_dataset(
        dataset, [sample_item(13470319, published_at=moment, crawled_at=moment + timedelta(hours=1))]
    )
    build_mirror(str(dataset), out)
    assert "2021-12-31 05:40（北京时间）" in read_page(out / "gb/21/12/30/n13470319.md").header


# ---- the README's example page -------------------------------------------------------------------------------

SEED_URL = "https://www.epochtimes.com/gb/21/12/30/n13470319.htm"


def seed_page() -> str:
    """The page of the seed article (tests/pages), as version 2 of a title edit, the README's example."""
    article = extract(
        (PROJECT_ROOT / "tests/pages/seed_n13470319.html").read_text(encoding="utf-8"), SEED_URL
    )
    item = ArticleItem.from_article(article, crawled_at=datetime(2026, 11, 26, 10, 15, tzinfo=UTC))
    page, structured = article_page(
        page_article(
            {**asdict(item), "version": 2, "images": [asdict(i) for i in item.images]},
            [EarlierVersion(1, datetime(2026, 11, 25, 10, 15, tzinfo=UTC), "拜登普京结束通话")],
        )
    )
    assert structured
    return page


def test_the_readme_shows_the_page_the_mirror_writes() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reading it as pages", 1)[1].split("\n## ", 1)[0]
    source = re.search(r"````markdown\n(.*?)````", section, flags=re.DOTALL)
    assert source is not None
    assert source.group(1) == seed_page()
    quoted = "\n".join(f"> {line}".rstrip() for line in seed_page().rstrip("\n").split("\n"))
    assert quoted in section, "the rendered example is the same page, quoted"


def test_files_of_an_earlier_schema_version_are_mirrored_too(tmp_path: Path) -> None:
    dataset, out = tmp_path / "articles", tmp_path / "mirror"
    write_dataset(dataset, [sample_item(13000001)])
    old = items_to_table(
        [replace(sample_item(13000002), version=1, run_id="old", content_hash="x", simhash=0)]
    )
    old = old.drop_columns(["extractor"]).replace_schema_metadata({b"schema_version": b"1"})
    pq.write_table(old, dataset / "date=2021-12-31" / "part-old-1.parquet")
    result = build_mirror(str(dataset), out)
    assert sorted(result.pages_written) == ["gb/21/12/30/n13000001.md", "gb/21/12/30/n13000002.md"]


def test_an_article_that_moved_to_the_other_edition_keeps_both_pages_listed_and_up_to_date(
    tmp_path: Path,
) -> None:
    """Which edition a run sees first decides a version's URL: the page at the earlier URL stays, and shows the
    latest version like the new one; both days list it."""
    dataset, out = tmp_path / "articles", tmp_path / "mirror"
    write_dataset(dataset, [sample_item(13470319, title="旧标题")])
    build_mirror(str(dataset), out)
    write_dataset(dataset, [sample_item(13470319, edition="b5", title="新標題", version=2)])
    result = build_mirror(str(dataset), out)
    assert sorted(result.pages_written) == ["b5/21/12/30/n13470319.md", "gb/21/12/30/n13470319.md"]
    for path in ("gb/21/12/30/n13470319.md", "b5/21/12/30/n13470319.md"):
        page = read_page(out / path)
        assert page.title == "新標題" and "第 1 版" in page.footer
        assert "(<n13470319.md>)" in (out / path).with_name(INDEX_NAME).read_text(encoding="utf-8")
