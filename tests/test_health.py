"""health.evaluate: SPEC.md section 4's verdict on the spider's stats."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from crawler.extensions.health import HealthConfigError, evaluate, health_limits

RATIO = 0.05


def test_healthy_run() -> None:
    stats = {"pages/list": 5, "articles/links_found": 100, "articles/pages": 100, "articles/extracted": 97}
    stats["articles/failed"] = 3
    assert evaluate(stats, RATIO).ok


def test_empty_stats_are_healthy() -> None:
    verdict = evaluate({}, RATIO)
    assert verdict.ok and verdict.reasons == []


def test_incremental_run_with_every_article_known_is_healthy() -> None:
    assert evaluate({"pages/list": 3, "articles/links_found": 60}, RATIO).ok


def test_lists_without_links_fail_and_blame_the_markup() -> None:
    verdict = evaluate({"pages/list": 4, "articles/links_found": 0}, RATIO)
    assert not verdict.ok
    assert "no article link" in verdict.reasons[0]
    assert "markup" in verdict.reasons[0]


def test_pages_without_any_extraction_fail_with_the_reasons() -> None:
    stats = {
        "pages/list": 2,
        "articles/links_found": 40,
        "articles/pages": 40,
        "articles/failed": 40,
        "articles/failed/missing_title": 40,
    }
    verdict = evaluate(stats, RATIO)
    assert not verdict.ok
    assert len(verdict.reasons) == 1
    assert "none extracted" in verdict.reasons[0]
    assert "missing_title: 40" in verdict.reasons[0]
    assert "markup" in verdict.reasons[0]


def test_failed_share_above_the_ratio_fails() -> None:
    stats = {
        "articles/pages": 100,
        "articles/extracted": 94,
        "articles/failed": 6,
        "articles/failed/not_article": 6,
    }
    verdict = evaluate(stats, RATIO)
    assert not verdict.ok
    assert "6 of 100" in verdict.reasons[0]
    assert "HEALTH_MAX_FAILED_RATIO" in verdict.reasons[0]


def test_failed_share_at_the_ratio_passes() -> None:
    assert evaluate({"articles/pages": 100, "articles/extracted": 95, "articles/failed": 5}, RATIO).ok


def test_both_list_and_article_failures_are_reported() -> None:
    stats = {"pages/list": 1, "articles/links_found": 0, "articles/pages": 3, "articles/failed": 3}
    assert len(evaluate(stats, RATIO).reasons) == 2


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), (1, 1.0), ("0.05", 0.05)])
def test_ratio_validation_accepts_zero_to_one(value: object, expected: float) -> None:
    limits = health_limits(Settings({"HEALTH_MAX_FAILED_RATIO": value}))
    assert limits == {
        "HEALTH_MAX_FAILED_RATIO": expected,
        "HEALTH_MAX_FALLBACK_RATIO": 0.05,
        "HEALTH_MAX_DISAGREEMENT_RATIO": 0.2,
    }


@pytest.mark.parametrize("value", ["1.01", -1, "x", ""])
def test_ratio_validation_rejects_the_rest(value: object) -> None:
    with pytest.raises(HealthConfigError, match="HEALTH_MAX_FAILED_RATIO"):
        health_limits(Settings({"HEALTH_MAX_FAILED_RATIO": value}))


@pytest.mark.parametrize("name", ["HEALTH_MAX_FALLBACK_RATIO", "HEALTH_MAX_DISAGREEMENT_RATIO"])
def test_every_health_ratio_is_checked(name: str) -> None:
    with pytest.raises(HealthConfigError, match=name):
        health_limits(Settings({name: "2"}))
