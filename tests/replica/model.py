"""What the replica's articles are: cheap per-article metadata, and the content generated from it on demand.

Everything derives from `(seed, index)` through local `random.Random` instances, so the first N articles of a
larger site are the same articles, and the same arguments give the same site.

Date curve: the first 60 articles are spread over 2008-2026 (8 pre2013, 12 legacy, 40 current) and carry every
feature through a fixed plan (`_PLANNED`); later articles are 2026 news a few minutes apart, so large sites
are mostly recent.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.replica import text

BEIJING = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
IMAGE_BASE = "https://i.epochtimes.com/assets/uploads"

PLANNED_ARTICLES = 60
PRE2013_END = 8
LEGACY_END = 20
FIRST_2026 = 56
RECENT_START = datetime(2026, 1, 12, tzinfo=UTC)

# Channels: (name, gb title). nsc1025 is the legacy Foundation list.
CHANNELS: tuple[tuple[str, str], ...] = (
    ("nsc413", "大陆新闻"),
    ("nsc412", "美国"),
    ("ncid277", "中国"),
    ("nf2283", "健康"),
    ("nsc1025", "评论"),
)
LEGACY_LIST_CHANNEL = "nsc1025"
OPINION_DISCLAIMER = "本文仅代表作者个人观点。"

# (published ~ anchor id) pairs from SITE.md 2.1: ids grow with time.
_ID_ANCHORS: tuple[tuple[datetime, int], ...] = (
    (datetime(2008, 1, 1, tzinfo=UTC), 2_000_000),
    (datetime(2013, 1, 1, tzinfo=UTC), 3_700_000),
    (datetime(2019, 1, 1, tzinfo=UTC), 11_200_000),
    (datetime(2022, 1, 1, tzinfo=UTC), 13_470_000),
    (datetime(2026, 10, 1, tzinfo=UTC), 14_860_000),
)

BYLINE_TEMPLATES: tuple[tuple[str, int], ...] = (
    # (gb template, number of names); {P} is a PLACE, {T} a transliterated name.
    ("（大纪元记者{A}综合报导）", 1),
    ("（大纪元记者{A}{P}报导）", 1),
    ("（大纪元记者{A}、{B}{P}报导）", 2),
    ("（大纪元记者{A}、{B}报导）", 2),
    ("（大纪元记者{A}／{B}报导）", 2),
    ("（英文大纪元记者{T}报导／{B}编译）", 2),
    ("（大纪元记者{A}编译）", 1),
    ("（大纪元记者{A}综合编译）", 1),
    ("（记者{A}／{P}报导）", 1),
    ("文：{T} | 翻译：{B}", 2),
    ("作者：{A} / 整理：{B}・大纪元", 2),
    ("（大纪元综合报导）", 0),
    ("", 0),
)
OWN_PARAGRAPH_BYLINES = frozenset({9, 10})
NO_BYLINE = 12
EDITOR_FORMS = ("责任编辑：{E}", "责任编缉：{E}", "责任编辑：{E}#", "")  # normal, typo, seed's `#` form, none
END_MARKS = (" #", "#", "")


@dataclass(frozen=True, slots=True)
class Features:
    """Which page features one article carries (same in both editions)."""

    json_ld: str = "offset"  # "offset" (+08:00), "false_z", "utc_z", "none"
    meta_published: bool = False
    time_element: bool = True
    dateline: bool = True
    byline: int = 0
    breadcrumbs: str = "normal"  # "normal", "none", "duplicated"
    lead_image: bool = True
    credit: int = 0
    title_prefix: str = ""
    length: str = "normal"  # "short", "normal", "long"
    editor_form: int = 0
    end_mark: int = 0
    empty_first_paragraph: bool = False
    all_noise: bool = False


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    index: int
    number: int
    published: datetime  # UTC, second precision
    layout: str  # "pre2013", "legacy", "current"
    channels: tuple[str, ...]
    features: Features
    copy_of: int | None = None  # index of the original (exact copy)
    near_copy_of: int | None = None

    @property
    def article_id(self) -> str:
        return f"n{self.number}"

    @property
    def url_date(self) -> date:
        return self.published.astimezone(NEW_YORK).date()

    @property
    def beijing(self) -> datetime:
        return self.published.astimezone(BEIJING)

    def path(self, edition: str) -> str:
        d = self.url_date
        return f"/{edition}/{d.year % 100}/{d.month}/{d.day}/n{self.number}.htm"


def rng_for(seed: int, *parts: object) -> random.Random:
    """A local generator keyed by the seed and a path of labels: no global random state anywhere."""
    key = "/".join(str(p) for p in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def layout_for(published: datetime) -> str:
    year = published.astimezone(BEIJING).year
    if year < 2013:
        return "pre2013"
    return "legacy" if year < 2019 else "current"


def _planned_published(seed: int, index: int) -> datetime:
    rng = rng_for(seed, "date", index)
    if index < PRE2013_END:
        start, months = datetime(2008, 2, 1, tzinfo=UTC), 58 * index // PRE2013_END
    elif index < LEGACY_END:
        start, months = datetime(2013, 2, 1, tzinfo=UTC), 70 * (index - PRE2013_END) // 12
    elif index < FIRST_2026:
        start, months = datetime(2019, 1, 1, tzinfo=UTC), 83 * (index - LEGACY_END) // 36
    else:
        start, months = datetime(2026, 1, 1, tzinfo=UTC), 0
    year, month = start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1
    day = (index - FIRST_2026) * 2 + 2 if index >= FIRST_2026 else rng.randint(1, 27)
    moment = datetime(
        year, month, day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), tzinfo=UTC
    )
    clock = _PLANNED_CLOCK.get(index)
    if clock is not None:  # a Beijing wall clock pinned to exercise 12 AM / 12 PM parsing
        local = moment.astimezone(BEIJING).replace(hour=clock[0], minute=clock[1])
        moment = local.astimezone(UTC)
    return moment


def _number_for(published: datetime, previous: int) -> int:
    for (t0, n0), (t1, n1) in itertools.pairwise(_ID_ANCHORS):
        if published < t1 or t1 == _ID_ANCHORS[-1][0]:
            share = (published - t0) / (t1 - t0)
            return max(previous + 1, int(n0 + share * (n1 - n0)))
    raise AssertionError("unreachable: the last anchor pair extrapolates")


# Beijing clocks (hour, minute) pinned for the 12 AM / 12 PM cases.
_PLANNED_CLOCK = {42: (0, 7), 43: (12, 41)}

# The fixed feature plan of the first 60 articles: every layout and feature shows up even in a tiny site.
_PLANNED: dict[int, dict[str, object]] = {
    30: {"title_prefix": "更新："},
    31: {"breadcrumbs": "none"},
    33: {"lead_image": False},
    37: {"dateline": False, "json_ld": "none", "byline": 9},
    38: {"json_ld": "none", "time_element": False, "byline": 1},
    39: {"json_ld": "none", "time_element": False, "dateline": False, "byline": NO_BYLINE},
    40: {"length": "short"},
    41: {"length": "long"},
    44: {"title_prefix": "组图："},
    45: {"breadcrumbs": "duplicated"},
    46: {"lead_image": False},
    49: {"all_noise": True},
    51: {"empty_first_paragraph": True, "byline": 0},
    57: {"json_ld": "utc_z"},
    59: {"json_ld": "utc_z"},
}
_PLANNED_EXACT_COPIES = {53: 47}
_PLANNED_NEAR_COPIES = {54: 48}
_EXACT_COPY_PERIOD, _EXACT_COPY_PHASE, _EXACT_COPY_LAG = 97, 50, 7
_NEAR_COPY_PERIOD, _NEAR_COPY_PHASE, _NEAR_COPY_LAG = 89, 52, 11


def _default_features(seed: int, index: int, published: datetime) -> Features:
    rng = rng_for(seed, "features", index)
    year = published.astimezone(BEIJING).year
    json_ld = "offset" if year < 2022 else "false_z"
    byline = (
        index % len(BYLINE_TEMPLATES) if index < PLANNED_ARTICLES else rng.randrange(len(BYLINE_TEMPLATES))
    )
    features = Features(
        json_ld=json_ld,
        meta_published=2019 <= year <= 2021,
        byline=byline,
        dateline=byline not in OWN_PARAGRAPH_BYLINES,
        credit=index % len(text.CAPTION_CREDITS),
        editor_form=index % len(EDITOR_FORMS),
        end_mark=(index // 2) % len(END_MARKS),
    )
    if index < PLANNED_ARTICLES:
        return replace(features, **_PLANNED.get(index, {}))  # type: ignore[arg-type]
    return _random_features(rng, features)


def _random_features(rng: random.Random, base: Features) -> Features:
    roll = rng.random()
    dates: dict[str, object] = {}
    if roll < 0.01:
        dates = {"json_ld": "none", "time_element": False, "dateline": False, "byline": NO_BYLINE}
    elif roll < 0.03:
        dates = {"json_ld": "none", "time_element": False}
    elif roll < 0.10:
        dates = {"json_ld": "none"}
    elif roll < 0.13:
        dates = {"json_ld": "utc_z"}
    return replace(
        base,
        breadcrumbs=rng.choices(("normal", "none", "duplicated"), (90, 5, 5))[0],
        lead_image=rng.random() < 0.8,
        title_prefix=rng.choices(("", *text.TITLE_PREFIXES), (92, 2, 2, 2, 2))[0],
        length=rng.choices(("short", "normal", "long"), (5, 92, 3))[0],
        empty_first_paragraph=rng.random() < 0.05 and base.dateline,
        **dates,  # type: ignore[arg-type]
    )


def _channels_for(seed: int, index: int) -> tuple[str, ...]:
    """1-3 channels; rotating primary and secondary choices keep every channel well filled in small sites."""
    rng = rng_for(seed, "channels", index)
    names = [name for name, _ in CHANNELS]
    primary = names[index % len(names)]
    chosen = [primary]
    if rng.random() > 0.15:
        chosen.append(names[(index + 1 + (index // len(names)) % (len(names) - 1)) % len(names)])
    if rng.random() < 0.25:
        chosen.append(rng.choice(names))
    return tuple(dict.fromkeys(chosen))


def _copy_source(index: int) -> tuple[int | None, int | None]:
    if index < PLANNED_ARTICLES:
        return _PLANNED_EXACT_COPIES.get(index), _PLANNED_NEAR_COPIES.get(index)
    if index % _EXACT_COPY_PERIOD == _EXACT_COPY_PHASE:
        return index - _EXACT_COPY_LAG, None
    if index % _NEAR_COPY_PERIOD == _NEAR_COPY_PHASE:
        return None, index - _NEAR_COPY_LAG
    return None, None


def build_metadata(seed: int, count: int) -> list[ArticleMeta]:
    """Per-article metadata, oldest first; article `i` never depends on `count`."""
    metas: list[ArticleMeta] = []
    previous_number = 0
    moment = RECENT_START
    for index in range(count):
        if index < PLANNED_ARTICLES:
            published = _planned_published(seed, index)
        else:
            moment += timedelta(seconds=rng_for(seed, "gap", index).randint(300, 1500))
            published = moment
        number = _number_for(published, previous_number)
        previous_number = number
        copy_of, near_of = _copy_source(index)
        metas.append(
            ArticleMeta(
                index=index,
                number=number,
                published=published,
                layout=layout_for(published),
                channels=_channels_for(seed, index),
                features=_default_features(seed, index, published),
                copy_of=copy_of,
                near_copy_of=near_of,
            )
        )
    return metas
