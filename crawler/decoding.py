"""Page bytes to text (``decode_page``), and whether decoded text is the page's real text (``decode_problem``).

``decode_page`` follows the browsers' order (byte order mark, HTTP header, ``<meta>``, XML declaration, then
detection) but checks each declaration against the bytes: a page that declares gb2312 and is UTF-8, or whose
server says latin-1 for GBK bytes, is decoded as what it is. GB2312 and GBK are read as GB18030 and Big5 as
Big5-HKSCS (their supersets: a page labelled with the narrow name often uses the wider set's characters).

``decode_problem`` catches text decoded with the wrong charset.

Chinese bytes decoded with a wrong charset never look like Chinese. With ``errors="replace"`` they hold
U+FFFD; decoded as latin-1/cp1252 (a mislabelled page: the HTTP header wins over ``<meta>``) every CJK
character becomes two or three characters from the Latin-1 block or cp1252's 0x80-0x9F symbols:
UTF-8 ``中`` -> ``ä¸\\xad``, GBK ``大纪元`` -> ``´ó¼ÍÔª``, UTF-8 quotes -> ``â€œ``. Real Chinese text uses
a few of those symbols (``“”``, ``……``, ``——``, ``·`` in transliterated names, ``é`` in a foreign name),
but never C1 controls, never three in a row that include a Latin-1 letter or symbol, and far fewer of them
than CJK characters (mis-decoded Chinese has no CJK character left at all).
"""

from __future__ import annotations

import codecs
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
# The characters up to U+00FF that are neither C1 controls nor Latin-1 marks.
_ASCII_AND_NO_BREAK_SPACE = bytes(range(0x80)) + b"\xa0"
MIN_SUSPECTS = 2
# Three suspects in a row, one of them from Latin-1's non-ASCII half, is how a mis-decoded CJK character looks.
MOJIBAKE_RUN_LENGTH = 3


def decode_problem(text: str) -> str | None:
    """Why ``text`` is not correctly decoded text (``replacement_character`` or ``mojibake``), else None."""
    if REPLACEMENT_CHARACTER in text:
        return "replacement_character"
    suspects = _suspects(text)
    if suspects is None or (suspects >= MIN_SUSPECTS and suspects > _count_up_to(_CJK_RE, text, suspects)):
        return "mojibake"
    return None


def _suspects(text: str) -> int | None:
    """How many suspect characters ``text`` holds; None when one of their runs is mojibake by itself."""
    if not text.encode("latin-1", "ignore").translate(None, _ASCII_AND_NO_BREAK_SPACE):
        # No C1 control and no Latin-1 mark, what makes a run mojibake: the suspects are then the characters
        # cp1252 encodes beyond ASCII, counted by two encodings at a third of a regex scan's cost on CJK text.
        return len(text.encode("cp1252", "ignore")) - len(text.encode("ascii", "ignore"))
    suspects = 0
    for run in _SUSPECT_RUN_RE.findall(text):
        if _C1_CONTROL_RE.search(run) or (len(run) >= MOJIBAKE_RUN_LENGTH and _LATIN1_MARK_RE.search(run)):
            return None
        suspects += len(run)
    return suspects


def _count_up_to(pattern: re.Pattern[str], text: str, limit: int) -> int:
    """Matches of ``pattern`` in ``text``, counted no further than ``limit``: CJK pages hold thousands, and
    only whether they outnumber the suspects matters."""
    return sum(1 for _ in islice(pattern.finditer(text), limit))


# ---- decoding page bytes -------------------------------------------------------------------------------------

UTF8 = "utf-8"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BOM_PREFIXES = tuple(bom for bom, _ in _BOMS)
# Labels whose codec is too narrow for what pages labelled so really hold (WHATWG maps them the same way).
_WIDER = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
}
_SINGLE_BYTE_WESTERN = frozenset({"cp1252", "latin-1", "iso8859-1", "iso8859-15"})
WESTERN_DEFAULT = "cp1252"
# Correctly decoded Chinese scores about 0.7 (see _fit), mis-decoded Chinese or Latin text below 0.2.
WESTERN_PRIOR = 0.35
# Tried, after any declaration, when the bytes are not UTF-8: the Chinese encodings this archive meets.
DETECTED = ("gb18030", "big5hkscs")
# Declarations are looked for in the first bytes only, as browsers do (a charset deep in the page is a script's).
_PRESCAN_BYTES = 4096
_CHARSET_RE = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_META_RE = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_XML_DECLARATION_RE = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# The commonest Chinese characters, simplified and traditional: text decoded with the right Chinese codec is
# full of them (and of Chinese punctuation), the same bytes read with another codec mostly are not.
_COMMON_HANZI = (
    "的一是在不了有和人这這中大为為上个個国國我以要他时時来來用们們生到作地于於出就分对對成会會可主发發年动動"
    "同工也能下过過子说說产產种種面而方后後多定行学學法所民得经經十三之进進着著等部度家电電力里裡如水化高自二"
    "理起小物现現实實加量都两兩体體制机機当當使点點从從业業本去把性好应應开開它合还還因由其些然前外天政四日那社"
    "义義事平形相全表间間样樣与與关關各重新线線内內数數正心反你明看原又么麼利比或但质質气氣第向道命此变變条條只"
    "没沒结結解问問意建月公无無系军軍很情者最立代想已通并並提直题題党黨程展五果料象员員革位入常文总總次品式活设設"
    "及管特件长長求老头頭基资資边邊流路级級少图圖山统統接知较較将將组組见見计計别別她手角期根论論运運农農指几幾九"
    "区區强強放决決西被干做必战戰先回则則任取据據处處队隊南给給色光门門即保治北造百规規热熱领領七海口东東导導器压"
    "壓志世金增争爭济濟阶階油思术術极極交受联聯什认認六共权權收证證改清己美再采转轉更单單风風切打白教速花带帶安场"
    "場身车車例真务務具万萬每目至达達走积積示议議声聲报報斗完类類八离離华華名确確才科张張信马馬节節话話米整空元况"
    "況今集温溫传傳土许許步群广廣石记記需段研界拉林律叫且究观觀越织織装裝影算低持音众眾书書布复復容儿兒须須际際"
    "商非验驗连連断斷深难難近矿礦千周委素技备備半办辦青省列习習响響约約支般史感劳勞便团團往历歷市克何除消构構府"
    "称稱太准精值号號率族维維划劃选選标標写寫存候毛亲親快效斯院查江型眼王按格养養易置派层層片始却專状狀育厂廠京"
    "识識适適属屬圆圓包火住调調满滿县縣局照参參红紅细細引听聽该該铁鐵价價严嚴龙龍飞飛记者報導报导台灣湾北京香港"
    "，。、：；！？“”（）《》「」…—"
)
_COMMON_HANZI_RE = re.compile(f"[{_COMMON_HANZI}]")
_NON_ASCII_BYTE_RE = re.compile(rb"[\x80-\xff]")
_FIT_SAMPLE_BYTES = 8192


def decode_page(body: bytes, content_type: str | None = None) -> str:
    """The text of a page's bytes; ``content_type`` is the HTTP header's value, when there is one."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    try:
        # Valid UTF-8 with non-ASCII bytes is almost never anything else (see page_encoding): decoded once.
        return body.decode(UTF8)
    except UnicodeDecodeError:
        return body.decode(page_encoding(body, content_type), errors="replace")


def page_markup(body: bytes, content_type: str | None = None) -> str | bytes:
    """The page for an HTML parser told "utf-8": its own bytes when they are UTF-8 without a byte order mark
    (decode_page reads those as UTF-8 whatever the page declares, so the parser reads the same text and the
    text is not encoded back to bytes), else decode_page's text."""
    if not body.startswith(_BOM_PREFIXES):
        try:
            body.decode(UTF8)
        except UnicodeDecodeError:
            return decode_page(body, content_type)
        return body
    return decode_page(body, content_type)


def page_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec that reads ``body`` (without BOM): the first declaration the bytes agree with, else the
    declared or detected codec that reads them best."""
    declared = declared_encodings(body, content_type)
    if _decodes(body, UTF8):
        # Valid UTF-8 with non-ASCII bytes is almost never anything else: it wins over a wrong label.
        return UTF8
    for codec in declared:
        if codec in _SINGLE_BYTE_WESTERN:
            # Any bytes decode in a single-byte codec: it is believed unless the bytes read as Chinese.
            return max([codec, *DETECTED], key=lambda name: _fit(body, name))
        if _decodes(body, codec):
            return codec
    candidates = dict.fromkeys([*declared, UTF8, *DETECTED, WESTERN_DEFAULT])
    return max(candidates, key=lambda name: _fit(body, name))


def declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """Codec names declared by the HTTP header, the first ``<meta>`` saying one, the XML declaration; in that
    order, unknown labels dropped, narrow labels widened."""
    labels: list[bytes] = []
    if content_type:
        header = _CHARSET_RE.search(content_type.encode("latin-1", errors="replace"))
        labels += [header.group(1)] if header else []
    head = body[:_PRESCAN_BYTES]
    for meta in _META_RE.finditer(head):
        charset = _CHARSET_RE.search(meta.group())
        if charset:
            labels.append(charset.group(1))
            break
    xml = _XML_DECLARATION_RE.search(head)
    labels += [xml.group(1)] if xml else []
    return list(dict.fromkeys(codec for codec in map(_codec_name, labels) if codec))


def _codec_name(label: bytes) -> str | None:
    try:
        info = codecs.lookup(label.decode("ascii").strip().lower())
    except (LookupError, UnicodeDecodeError):
        return None
    # codecs also knows bytes-to-bytes transforms (base64, zlib, rot13): not a page's charset.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return _WIDER.get(info.name, info.name)


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _fit(body: bytes, codec: str) -> float:
    """How well ``codec`` reads ``body``: the share of its non-ASCII characters that are common Chinese
    characters, less the undecodable ones. A Western codec reads anything: it gets a fixed prior that
    Chinese read with the right codec passes and Chinese or Latin text read with the wrong one does not.
    Judged on a sample from the first non-ASCII byte on: a few thousand characters tell the share as well as
    the whole page, and detection reads the page once per candidate codec."""
    if codec in _SINGLE_BYTE_WESTERN:
        return WESTERN_PRIOR
    first = _NON_ASCII_BYTE_RE.search(body)
    if first is None:
        return 0.0
    text = body[first.start() : first.start() + _FIT_SAMPLE_BYTES].decode(codec, errors="replace")
    # Counted without building a list of matches: len() less the ASCII ones, and subn's count.
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    if non_ascii == 0:
        return 0.0
    return (_COMMON_HANZI_RE.subn("", text)[1] - text.count(REPLACEMENT_CHARACTER)) / non_ascii
