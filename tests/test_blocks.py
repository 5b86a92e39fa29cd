"""Bot walls and Retry-After (crawler/blocks.py), and the health check of a mostly blocked run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crawler.blocks import block_reason, retry_after_seconds
from crawler.extensions.health import evaluate
from tests.replica.site import CHALLENGE_HTML, NOT_THE_SITE_HTML, Site

HTML = "text/html; charset=utf-8"
NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [403, 429, 503])
def test_a_challenge_body_on_a_wall_status_is_blocked(status: int) -> None:
    assert block_reason(status, HTML, CHALLENGE_HTML.encode()) == f"challenge_{status}"


def test_a_200_captcha_page_that_is_not_the_site_is_blocked() -> None:
    assert block_reason(200, HTML, NOT_THE_SITE_HTML.encode()) == "not_the_site"


def test_site_pages_errors_and_plain_statuses_are_not_blocks() -> None:
    site = Site(articles=80, faults=True)
    meta = site.metadata()[-1]
    for path in ("/gb/", "/gb/nsc413.htm", "/gb/nsc413_2.htm", meta.path("gb"), meta.path("b5"), "/gb/feed"):
        page = site.get(path)
        assert block_reason(page.status, page.headers["Content-Type"], page.body) is None, path
    for paths in site.fault_paths().values():
        for path in paths:
            page = site.get(path)
            if page.stream is None:
                assert block_reason(page.status, page.headers.get("Content-Type", ""), page.body) is None, (
                    path
                )
    # A page of the site that merely mentions a captcha is still the site.
    mention = f"<html><head><title>验证码 captcha - 大纪元</title></head><body>{'字' * 100}</body></html>"
    assert block_reason(200, HTML, mention.encode()) is None
    assert block_reason(503, HTML, b"<html><body>Service Unavailable</body></html>") is None
    assert block_reason(403, "application/json", b'{"error": "captcha"}') is None


def test_retry_after_in_seconds_or_as_a_date_is_capped() -> None:
    assert retry_after_seconds("7", NOW, cap=60) == 7
    assert retry_after_seconds("3600", NOW, cap=60) == 60
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, NOW, cap=60) == pytest.approx(30)
    earlier = format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(earlier, NOW, cap=60) == 0
    for unusable in (None, "", "soon", "-5"):
        assert retry_after_seconds(unusable, NOW, cap=60) is None


def test_a_mostly_blocked_run_fails_health_saying_so() -> None:
    stats = {"downloader/response_count": 100, "blocked/pages": 80, "blocked/challenge_403": 80}
    verdict = evaluate(stats, max_failed_ratio=0.05)
    assert not verdict.ok
    assert "80 of 100 responses were block or challenge pages (challenge_403: 80)" in verdict.reasons[0]
    assert "blocking the crawler" in verdict.reasons[0]
    assert evaluate({**stats, "blocked/pages": 20, "blocked/challenge_403": 20}, 0.05).ok
