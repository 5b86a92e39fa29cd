"""The replica's pages that the site's parsers do not know (issue 11): unknown layouts and the half-broken mode.

Their truth must be the right body: read back with the body reader on the container that really holds the text,
each page gives exactly the truth's body, while the site's parsers fail (unknown layouts) or read a part of it
without any error (half-broken)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import lxml.html
import pytest

from crawler.extract import NotAnArticle, extract
from crawler.extract.body import read_body
from crawler.extract.dom import parse_document
from tests.replica.content import CANONICAL_BASE
from tests.replica.model import ArticleMeta
from tests.replica.site import Site
from tests.replica.unknown import CULTURE, HALF_BROKEN_CONTAINER, VIDEO

ARTICLES = 150


def _truth(site: Site) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["article_id"], row["edition"]): row for row in site.truth()}


def _unknown(site: Site) -> list[tuple[ArticleMeta, str]]:
    return [(m, layout) for m in site.metadata() if (layout := site.unknown_layout(m)) is not None]


def test_unknown_layouts_are_two_in_fifty_and_off_by_default() -> None:
    site = Site(articles=ARTICLES, unknown_layouts=True)
    layouts = Counter(layout for _, layout in _unknown(site))
    assert set(layouts) == {VIDEO, CULTURE}
    assert 0.02 <= sum(layouts.values()) / ARTICLES <= 0.04
    assert not _unknown(Site(articles=ARTICLES))
    assert not _unknown(Site(articles=ARTICLES, unknown_layouts=True, redesign=True))


@pytest.mark.parametrize("edition", ["gb", "b5"])
def test_unknown_layout_pages_hold_the_truth_body_where_no_parser_looks(edition: str) -> None:
    site = Site(articles=ARTICLES, unknown_layouts=True)
    truth = _truth(site)
    containers = {VIDEO: "//div[@id='article_wrap']", CULTURE: "//div[@class='whitebg']"}
    for meta, layout in _unknown(site):
        url = CANONICAL_BASE + meta.path(edition)
        html = site.get(meta.path(edition)).body.decode()
        with pytest.raises(NotAnArticle):
            extract(html, url)
        expected = truth[(meta.article_id, edition)]
        assert expected["extractor"] == "generic"
        container = parse_document(html).xpath(containers[layout])[0]
        assert read_body(container, url).text == expected["body_text"]
        assert expected["title"] in html


def test_pages_in_known_layouts_are_unchanged_by_the_unknown_layouts_option() -> None:
    plain, mixed = Site(articles=ARTICLES), Site(articles=ARTICLES, unknown_layouts=True)
    unknown_ids = {meta.article_id for meta, _ in _unknown(mixed)}
    for meta in plain.metadata()[:60]:
        if meta.article_id not in unknown_ids:
            assert plain.get(meta.path("b5")).body == mixed.get(meta.path("b5")).body
    assert [r for r in plain.truth() if r["article_id"] not in unknown_ids] == [
        r for r in mixed.truth() if r["article_id"] not in unknown_ids
    ]


@pytest.mark.parametrize("edition", ["gb", "b5"])
def test_half_broken_pages_give_the_site_parser_a_part_of_the_body_silently(edition: str) -> None:
    site = Site(articles=40, half_broken=True)
    truth = _truth(site)
    for meta in site.metadata():
        url = CANONICAL_BASE + meta.path(edition)
        html = site.get(meta.path(edition)).body.decode()
        expected = truth[(meta.article_id, edition)]
        article = extract(html, url)  # no error: the breakage is silent
        lines = expected["body_text"].split("\n")
        assert article.extractor == expected["extractor"] == meta.layout
        assert article.body_text.split("\n") == lines[: len(article.body_text.split("\n"))]
        assert len(article.body_text) < 0.7 * len(expected["body_text"])
        # Both containers together hold the whole truth body.
        root = lxml.html.document_fromstring(html)
        first, second = root.get_element_by_id("artbody"), root.find_class(HALF_BROKEN_CONTAINER)[0]
        first.extend(list(second))
        assert read_body(first, url).text == expected["body_text"]
