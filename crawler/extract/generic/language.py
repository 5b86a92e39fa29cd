"""A page's language as a BCP 47 tag: its declaration when it agrees with the text, else the text's script.
Chinese is always told apart as ``zh-Hans`` or ``zh-Hant`` by its characters (declarations often say ``zh-CN``
on a page in traditional characters)."""

from __future__ import annotations

import re

CHINESE_SIMPLIFIED = "zh-Hans"
CHINESE_TRADITIONAL = "zh-Hant"
UNDETERMINED = "und"
# Frequent characters whose simplified and traditional forms differ, each side in the same order.
_SIMPLIFIED_ONLY = "这为个国时来们说对会发动过种产学经进着两体现实机当点从业应开还间样与关线内数么质气变条没结问无军题党员总设头资边统级图组见计别较将论运农几区强决战据处队给门规热领东导压争济阶术极联认权证转单风带场车务万达积议声报类离华确张马节话况传许众书复儿须际验连断难办习响约劳团历构称号维划选标写亲层专状厂识适属圆调满县参红细听该铁价严龙飞记说让读"
_TRADITIONAL_ONLY = "這為個國時來們說對會發動過種產學經進著兩體現實機當點從業應開還間樣與關線內數麼質氣變條沒結問無軍題黨員總設頭資邊統級圖組見計別較將論運農幾區強決戰據處隊給門規熱領東導壓爭濟階術極聯認權證轉單風帶場車務萬達積議聲報類離華確張馬節話況傳許眾書復兒須際驗連斷難辦習響約勞團歷構稱號維劃選標寫親層專狀廠識適屬圓調滿縣參紅細聽該鐵價嚴龍飛記說讓讀"
_SIMPLIFIED_RE = re.compile(f"[{_SIMPLIFIED_ONLY}]")
_TRADITIONAL_RE = re.compile(f"[{_TRADITIONAL_ONLY}]")
_HAN_RE = re.compile("[\u4e00-\u9fff]")
_KANA_RE = re.compile("[\u3040-\u30ff]")
_HANGUL_RE = re.compile("[\uac00-\ud7af]")
_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_LATIN_RE = re.compile("[A-Za-z]")
_TAG_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))?")
_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo", "hant"})
_KANA_SHARE = 0.05
# The opening of the text tells its script and its variant as well as the whole.
_SAMPLE_CHARS = 3000


def page_language(declared: str | None, text: str) -> str:
    text = text[:_SAMPLE_CHARS]
    script = _script_language(text)
    tag = _declared(declared)
    if script == "zh":
        return chinese_variant(text, tag)
    if tag and (script is None or tag.split("-")[0] == script or script == "latin"):
        return tag.split("-")[0] if not tag.startswith("zh") else tag
    if script in (None, "latin"):
        return tag.split("-")[0] if tag else ("en" if script == "latin" else UNDETERMINED)
    return script


def chinese_variant(text: str, declared: str | None = None) -> str:
    simplified = len(_SIMPLIFIED_RE.findall(text))
    traditional = len(_TRADITIONAL_RE.findall(text))
    if simplified == traditional and declared:
        region = declared.split("-")[-1].lower()
        return CHINESE_TRADITIONAL if region in _TRADITIONAL_REGIONS else CHINESE_SIMPLIFIED
    return CHINESE_TRADITIONAL if traditional > simplified else CHINESE_SIMPLIFIED


def _declared(value: str | None) -> str | None:
    match = _TAG_RE.match((value or "").strip())
    if match is None:
        return None
    primary = match.group(1).lower()
    region = match.group(2)
    return f"{primary}-{region}" if region and primary == "zh" else primary


def _script_language(text: str) -> str | None:
    han = len(_HAN_RE.findall(text))
    kana = len(_KANA_RE.findall(text))
    counts = {
        "zh": han + kana,
        "ko": len(_HANGUL_RE.findall(text)),
        "ru": len(_CYRILLIC_RE.findall(text)),
        "latin": len(_LATIN_RE.findall(text)) / 4,
    }
    best = max(counts, key=lambda key: counts[key])
    if counts[best] == 0:
        return None
    if best == "zh" and kana > _KANA_SHARE * (han + kana):
        return "ja"
    return best
