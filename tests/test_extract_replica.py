"""Extraction against the replica's ground truth: every article of both editions, field by field."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.extract import extract
from tests.replica.site import Site

ARTICLES = 120
OK = 200
IGNORED = frozenset({"body_html"})


@cache
def site() -> Site:
    return Site(articles=ARTICLES, seed=0)


@cache
def truth() -> tuple[dict[str, Any], ...]:
    return tuple(site().truth())


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    return [
        f"{key}:\n  truth:     {expected.get(key)!r}\n  extracted: {actual.get(key)!r}"
        for key in sorted((set(expected) | set(actual)) - IGNORED)
        if expected.get(key) != actual.get(key)
    ]


def test_truth_covers_both_editions() -> None:
    assert {record["edition"] for record in truth()} == {"gb", "b5"}
    assert len(truth()) == 2 * ARTICLES


@pytest.mark.parametrize("index", range(2 * ARTICLES))
def test_extract_matches_replica_truth(index: int) -> None:
    expected = truth()[index]
    page = site().get(urlsplit(expected["url"]).path)
    assert page.status == OK
    article = extract(page.body.decode("utf-8"), expected["url"])
    diff = differences(expected, article.to_json_dict())
    assert not diff, f"{expected['url']}\n" + "\n".join(diff)
