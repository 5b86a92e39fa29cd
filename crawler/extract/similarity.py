"""How close an extracted body is to a reference body: one F1 score shared by the realpages benchmark and the
crawl's cross-check (two extractors on the same page).

The metric is the Zyte article-extraction-benchmark's, extended to Chinese: both texts are NFKC-normalized and
case-folded, then cut into tokens, and the score is the F1 of the two token multisets. Chinese has no spaces,
so a text where CJK characters dominate is scored on character bigrams of its letters and digits (punctuation
and spaces dropped: two extractors that differ only in layout agree); any other text on shingles of four
consecutive words. An empty text on either side scores 0.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

SHINGLE_WORDS = 4
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Letters and digits of any script; \w also matches "_", which is not a letter.
_WORD_RE = re.compile(r"[^\W_]+")
# A text is scored as Chinese when CJK characters make up at least this share of its letters and digits.
_CJK_SHARE = 0.3


def body_f1(extracted: str, truth: str) -> float:
    """F1 of ``extracted`` against ``truth`` over the tokens of the truth's script; 0.0 when either is empty."""
    truth_norm = _normalize(truth)
    extracted_norm = _normalize(extracted)
    chinese = is_cjk_text(truth_norm) if truth_norm else is_cjk_text(extracted_norm)
    expected = tokens(truth_norm, chinese=chinese)
    got = tokens(extracted_norm, chinese=chinese)
    if not expected or not got:
        return 0.0
    common = sum((expected & got).values())
    if common == 0:
        return 0.0
    precision = common / sum(got.values())
    recall = common / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk_text(text: str) -> bool:
    """True when CJK characters are a large share of the text's letters and digits."""
    letters = sum(len(word) for word in _WORD_RE.findall(text))
    return letters > 0 and len(_CJK_RE.findall(text)) >= _CJK_SHARE * letters


def tokens(normalized: str, *, chinese: bool) -> Counter[str]:
    """The token multiset of an already normalized text: character bigrams or word shingles."""
    if chinese:
        chars = "".join(_WORD_RE.findall(normalized))
        if len(chars) == 1:
            return Counter([chars])
        return Counter(chars[i : i + 2] for i in range(len(chars) - 1))
    words = _WORD_RE.findall(normalized)
    if 0 < len(words) < SHINGLE_WORDS:
        return Counter([" ".join(words)])
    return Counter(" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))
