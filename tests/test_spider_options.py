"""The spider's arguments and discovery settings: parsed once, a bad value rejected with its name."""

from __future__ import annotations

import pytest

from crawler.spiders.options import CrawlOptions, parse_feed_paths


def test_crawl_options_defaults_and_parsing() -> None:
    options = CrawlOptions.parse(
        site="http://127.0.0.1:9/x?y", editions="gb,b5,gb", since="2026-01-02", full="1"
    )
    assert options.site == "http://127.0.0.1:9"
    assert options.editions == ("gb", "b5")
    assert options.since is not None and options.since.isoformat() == "2026-01-02"
    assert options.full is True
    assert options.refresh_days is None  # known articles are left to the refresh schedule
    assert CrawlOptions.parse(refresh_days="2").refresh_days == 2
    assert options.discovery == "lists"
    assert CrawlOptions.parse(discovery=" Feeds").discovery == "feeds"
    assert CrawlOptions.parse().site == "https://www.epochtimes.com"


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("editions", "gb,fr", "editions"),
        ("since", "2026-13-01", "since"),
        ("site", "ftp://x", "site"),
        ("full", "maybe", "full"),
        ("refresh_days", "-1", "refresh_days"),
        ("channels", "nsc413,../etc", "channels"),
        ("discovery", "sitemap", "discovery"),
    ],
)
def test_bad_spider_arguments_are_rejected_with_the_argument_named(
    argument: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CrawlOptions.parse(**{argument: value})


def test_feed_paths_setting() -> None:
    assert parse_feed_paths([" /{edition}/feed ", "", "/{edition}/nimpart.xml"]) == (
        "/{edition}/feed",
        "/{edition}/nimpart.xml",
    )


@pytest.mark.parametrize(
    "path", ["/gb/feed", "https://feed.epochtimes.com/{edition}/feed", "/{edition}/{x}.xml"]
)
def test_bad_feed_paths_are_rejected_naming_the_setting(path: str) -> None:
    with pytest.raises(ValueError, match="DISCOVERY_FEEDS"):
        parse_feed_paths([path])
