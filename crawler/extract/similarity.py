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

import numpy as np
import numpy.typing as npt

SHINGLE_WORDS = 4
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Letters and digits of any script; \w also matches "_", which is not a letter.
_WORD_RE = re.compile(r"[^\W_]+")
# A text is scored as Chinese when CJK characters make up at least this share of its letters and digits.
_CJK_SHARE = 0.3
# Unicode code points fit in 21 bits.
_CODE_POINT_BITS = 21


def body_f1(extracted: str, truth: str) -> float:
    """F1 of ``extracted`` against ``truth`` over the tokens of the truth's script; 0.0 when either is empty."""
    truth_norm = _normalize(truth)
    extracted_norm = _normalize(extracted)
    chinese = is_cjk_text(truth_norm) if truth_norm else is_cjk_text(extracted_norm)
    overlap = _bigram_overlap if chinese else _shingle_overlap
    common, got, expected = overlap(extracted_norm, truth_norm)
    if not expected or not got or common == 0:
        return 0.0
    precision = common / got
    recall = common / expected
    return 2 * precision * recall / (precision + recall)


def _shingle_overlap(extracted: str, truth: str) -> tuple[int, int, int]:
    """The tokens the two texts share (a multiset intersection), the extracted text's and the truth's."""
    expected = tokens(truth, chinese=False)
    got = tokens(extracted, chinese=False)
    return sum((expected & got).values()), sum(got.values()), sum(expected.values())


def _bigram_overlap(extracted: str, truth: str) -> tuple[int, int, int]:
    """As :func:`_shingle_overlap` over the character bigrams of :func:`tokens`, counted as arrays of integers
    instead of Counters of strings (building and intersecting those was most of the cross-check's comparison)."""
    got_keys, got_counts = _bigram_keys(extracted)
    expected_keys, expected_counts = _bigram_keys(truth)
    _, in_got, in_expected = np.intersect1d(got_keys, expected_keys, assume_unique=True, return_indices=True)
    common = np.minimum(got_counts[in_got], expected_counts[in_expected]).sum()
    return int(common), int(got_counts.sum()), int(expected_counts.sum())


def _bigram_keys(normalized: str) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """The distinct tokens of ``tokens(normalized, chinese=True)`` and their counts, each bigram as one integer
    (its two code points, 21 bits each) and a lone character as its code point (below any bigram's)."""
    chars = "".join(_WORD_RE.findall(normalized))
    codes = np.frombuffer(chars.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    keys = codes if codes.size == 1 else (codes[:-1] << np.uint64(_CODE_POINT_BITS)) | codes[1:]
    return np.unique(keys, return_counts=True)


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
