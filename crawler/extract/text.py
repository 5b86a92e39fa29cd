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


def normalize_line(text: str) -> str:
    """One line: NFC, no zero-width or control characters, ASCII alphanumerics, single spaces, stripped."""
    text = _REPLACED_RE.sub(_replacement, unicodedata.normalize("NFC", text))
    return _SPACES_RE.sub(" ", text).strip()


def _replacement(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def normalize_text(text: str) -> str:
    """Multi-line text: every line normalized, empty lines dropped."""
    lines = (normalize_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
