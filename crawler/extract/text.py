"""Text normalization shared by extraction and the clean pipeline (docs/DESIGN.md, "Text normalization")."""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Full-width ASCII letters and digits only: full-width punctuation is how Chinese text is written.
_FULLWIDTH_ALNUM = {
    code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}
# str.translate with a dict is slow on CJK text; most lines hold none of these characters, so look first.
_TRANSLATED_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalize_line(text: str) -> str:
    """One line: NFC, no zero-width or control characters, ASCII alphanumerics, single spaces, stripped."""
    text = unicodedata.normalize("NFC", text)
    if _TRANSLATED_RE.search(text):
        text = text.translate(_ZERO_WIDTH).translate(_FULLWIDTH_ALNUM)
    text = _CONTROL_RE.sub(" ", text.replace("\n", " "))
    return _SPACES_RE.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """Multi-line text: every line normalized, empty lines dropped."""
    lines = (normalize_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
