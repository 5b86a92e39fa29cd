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
from itertools import islice

REPLACEMENT_CHARACTER = "\ufffd"
# Latin-1's non-ASCII half and what cp1252 puts at 0x80-0x9F (its undefined slots decode as C1 controls).
_MOJIBAKE_CHARS = "\u0080-\u00ff" + "".join(
    sorted({bytes([b]).decode("cp1252", "ignore") for b in range(0x80, 0xA0)})
)
_LATIN1_MARK_RE = re.compile("[\u00a1-\u00ff]")
_C1_CONTROL_RE = re.compile("[\u0080-\u009f]")
# One scan for maximal runs of suspects: real Chinese text holds few, so the other checks only read those.
_SUSPECT_RUN_RE = re.compile(f"[{_MOJIBAKE_CHARS}]+")
_CJK_RE = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
MIN_SUSPECTS = 2
# Three suspects in a row, one of them from Latin-1's non-ASCII half, is how a mis-decoded CJK character looks.
MOJIBAKE_RUN_LENGTH = 3


def decode_problem(text: str) -> str | None:
    """Why ``text`` is not correctly decoded text (``replacement_character`` or ``mojibake``), else None."""
    if REPLACEMENT_CHARACTER in text:
        return "replacement_character"
    suspects = 0
    for run in _SUSPECT_RUN_RE.findall(text):
        if _C1_CONTROL_RE.search(run) or (len(run) >= MOJIBAKE_RUN_LENGTH and _LATIN1_MARK_RE.search(run)):
            return "mojibake"
        suspects += len(run)
    if suspects >= MIN_SUSPECTS and suspects > _count_up_to(_CJK_RE, text, suspects):
        return "mojibake"
    return None


def _count_up_to(pattern: re.Pattern[str], text: str, limit: int) -> int:
    """Matches of ``pattern`` in ``text``, counted no further than ``limit``: CJK pages hold thousands, and
    only whether they outnumber the suspects matters."""
    return sum(1 for _ in islice(pattern.finditer(text), limit))
