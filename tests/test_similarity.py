"""body_f1: the metric shared by the realpages benchmark and the crawl's cross-check."""

from __future__ import annotations

from unicodedata import normalize

import pytest

from crawler.extract.similarity import body_f1, is_cjk_text, tokens


def test_identical_texts_score_one() -> None:
    assert body_f1("大纪元记者报导，今天天气很好。", "大纪元记者报导，今天天气很好。") == 1.0
    assert (
        body_f1("The quick brown fox jumps over the lazy dog", "The quick brown fox jumps over the lazy dog")
        == 1.0
    )


@pytest.mark.parametrize(
    ("extracted", "truth"), [("", "正文"), ("正文", ""), ("", ""), ("。，！", "正文内容")]
)
def test_empty_side_scores_zero(extracted: str, truth: str) -> None:
    assert body_f1(extracted, truth) == 0.0


def test_chinese_ignores_punctuation_spaces_width_and_case() -> None:
    truth = "北京（记者）报导：ABC公司 2021年成立。"
    extracted = "北京 记者 报导 ＡＢＣ公司２０２１年成立"
    assert body_f1(extracted.lower(), truth) == 1.0


def test_chinese_counts_bigram_multisets() -> None:
    # "ab" repeated: the truth has 3 copies of 中文, the extraction 1: recall 1/3 of those bigrams.
    assert tokens("中文中文", chinese=True) == {"中文": 2, "文中": 1}
    half = body_f1("甲乙丙丁", "甲乙丙丁戊己庚辛")
    assert 0.5 < half < 0.7  # precision 1, recall 3/7


def test_extra_boilerplate_lowers_precision() -> None:
    truth = "今天发生了一件大事，人们都在讨论。"
    assert body_f1(truth + "相关新闻：热门排行榜点击排行", truth) < body_f1(truth, truth)


def test_english_uses_four_word_shingles() -> None:
    truth = "one two three four five six"
    assert tokens(truth, chinese=False) == {
        "one two three four": 1,
        "two three four five": 1,
        "three four five six": 1,
    }
    # Same words, different order: no shingle in common.
    assert body_f1("six five four three two one", truth) == 0.0
    assert body_f1("One, two; three four five six!", truth) == 1.0


def test_short_english_text_is_one_token() -> None:
    assert body_f1("Hello world", "hello world") == 1.0


def test_script_decided_by_the_truth() -> None:
    assert is_cjk_text("这是一篇中文为主的文章 with English")
    assert not is_cjk_text("English text with one 字")
    # An English truth scores an extraction in shingles even when the extraction is Chinese.
    assert body_f1("中文中文中文", "some english words here") == 0.0


def counter_f1(extracted: str, truth: str) -> float:
    """The definition, over the Counters of ``tokens`` (body_f1 counts Chinese bigrams as arrays instead)."""
    expected = tokens(normalize("NFKC", truth).casefold(), chinese=True)
    got = tokens(normalize("NFKC", extracted).casefold(), chinese=True)
    common = sum((expected & got).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize(
    ("extracted", "truth"),
    [
        ("中", "中"),
        ("中", "中文"),
        ("中文", "中"),
        ("中文中文中", "文中文中文中文"),
        ("大纪元2021年ＡＢＣ𠀀字", "𠀀字大纪元，２０２１年abc"),
        ("甲乙丙丁甲乙", "乙丙丁戊甲乙甲乙"),
    ],
)
def test_chinese_f1_is_the_f1_of_the_bigram_counters(extracted: str, truth: str) -> None:
    assert body_f1(extracted, truth) == counter_f1(extracted, truth)
