"""Text normalization shared by extraction and the clean pipeline (docs/DESIGN.md, "Text normalization")."""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Full-width ASCII letters and digits only: full-width punctuation is how Chinese text is written.
_FULLWIDTH_ALNUM = (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
_FULLWIDTH_OFFSET = 0xFEE0
_REPLACEMENTS = {
    **dict.fromkeys(_ZERO_WIDTH, ""),
    **{chr(code): chr(code - _FULLWIDTH_OFFSET) for code in _FULLWIDTH_ALNUM},
}
# Replaced one match at a time: str.translate with a dict looks up every character, slow on CJK text where
# these characters are rare.
_REPLACED_RE = re.compile(f"[{_ZERO_WIDTH}\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
# Whitespace, newlines and control characters: any run of them becomes one space, in a single pass.
_SPACES_RE = re.compile(r"[ \t\n\r\f\v\u00a0\u3000\u2000-\u200a\u202f\u205f\x00-\x08\x0b-\x1f\x7f-\x9f]+")
# Where _SPACES_RE's class and str.split's whitespace differ: control characters that are not str.isspace, and
# the three str.isspace characters outside the class. A text without them is collapsed by str.split and join,
# several times faster than a regex substitution on CJK text, with the same result.
_SPLIT_DIFFERS_RE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u1680\u2028\u2029]")
# A character that _REPLACED_RE or _SPLIT_DIFFERS_RE finds: a text without any is collapsed by str.split alone.
_EITHER_RE = re.compile(f"{_REPLACED_RE.pattern[:-1]}{_SPLIT_DIFFERS_RE.pattern[1:]}")
# Joins the lines of an article for one normalization pass: a private-use character is neither space nor
# replaced, and NFC composes nothing across it, so the pass gives each line what it would give it alone.
_LINE_SEPARATOR = "\ue000"


def normalize_line(text: str) -> str:
    """One line: NFC, no zero-width or control characters, ASCII alphanumerics, single spaces, stripped."""
    return _collapse_spaces(_replace_characters(unicodedata.normalize("NFC", text))).strip()


def normalize_lines(texts: list[str]) -> list[str]:
    """``normalize_line`` of each text, in one pass over all of them (the per-call cost was most of a body's)."""
    joined = _LINE_SEPARATOR.join(texts)
    if joined.count(_LINE_SEPARATOR) != len(texts) - 1:
        return [normalize_line(text) for text in texts]
    normalized = unicodedata.normalize("NFC", joined)
    if _EITHER_RE.search(normalized) is None:  # the common case: one scan instead of the two below
        normalized = " ".join(normalized.split())
    else:
        normalized = _collapse_spaces(_replace_characters(normalized))
    return [line.strip() for line in normalized.split(_LINE_SEPARATOR)]


def _replace_characters(text: str) -> str:
    # Searching first: a substitution copies the text even when nothing matches.
    return _REPLACED_RE.sub(_replacement, text) if _REPLACED_RE.search(text) else text


def _collapse_spaces(text: str) -> str:
    """Every run of spaces one space; the ends may keep one (callers strip)."""
    if _SPLIT_DIFFERS_RE.search(text) is None:
        return " ".join(text.split())
    return _SPACES_RE.sub(" ", text)


def _replacement(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def normalize_text(text: str) -> str:
    """Multi-line text: every line normalized, empty lines dropped."""
    return "\n".join(line for line in normalize_lines(text.split("\n")) if line)
