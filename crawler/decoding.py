"""Is a decoded page's text the page's real text? Catches pages decoded with the wrong charset.

Chinese bytes decoded with a wrong charset never look like Chinese. With ``errors="replace"`` they hold
U+FFFD; decoded as latin-1/cp1252 (a mislabelled page: the HTTP header wins over ``<meta>``) every CJK
character becomes two or three characters from the Latin-1 block or cp1252's 0x80-0x9F symbols:
UTF-8 ``中`` -> ``ä¸\\xad``, GBK ``大纪元`` -> ``´ó¼ÍÔª``, UTF-8 quotes -> ``â€œ``. Real Chinese text uses
a few of those symbols (``“”``, ``……``, ``——``, ``·`` in transliterated names, ``é`` in a foreign name),
but never C1 controls, never three in a row that include a Latin-1 letter or symbol, and far fewer of them
than CJK characters (mis-decoded Chinese has no CJK character left at all).
"""

from __future__ import annotations

import re

REPLACEMENT_CHARACTER = "\ufffd"
# Latin-1's non-ASCII half and what cp1252 puts at 0x80-0x9F (its undefined slots decode as C1 controls).
_MOJIBAKE_CHARS = "\u0080-\u00ff" + "".join(
    sorted({bytes([b]).decode("cp1252", "ignore") for b in range(0x80, 0xA0)})
)
_LATIN1_MARK = "\u00a1-\u00ff"
# Three such characters in a row, one of them from Latin-1's non-ASCII half.
_MOJIBAKE_RUN_RE = re.compile(f"(?=[{_MOJIBAKE_CHARS}]{{3}})[{_MOJIBAKE_CHARS}]{{0,2}}[{_LATIN1_MARK}]")
_C1_CONTROL_RE = re.compile("[\u0080-\u009f]")
_SUSPECT_RE = re.compile(f"[{_MOJIBAKE_CHARS}]")
_CJK_RE = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
MIN_SUSPECTS = 2


def decode_problem(text: str) -> str | None:
    """Why ``text`` is not correctly decoded text (``replacement_character`` or ``mojibake``), else None."""
    if REPLACEMENT_CHARACTER in text:
        return "replacement_character"
    if _C1_CONTROL_RE.search(text) or _MOJIBAKE_RUN_RE.search(text):
        return "mojibake"
    suspects = len(_SUSPECT_RE.findall(text))
    if suspects >= MIN_SUSPECTS and suspects > len(_CJK_RE.findall(text)):
        return "mojibake"
    return None
