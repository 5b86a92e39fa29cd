"""Who wrote a news page, read from the short lines around its text: Chinese bylines (记者/記者, 作者, 文/图,
通讯员, 执笔, （某某 北京报道）, 某某/摄) and English ones (``By A and B``), and the responsible editor
(编辑/責任編輯). Places and news agencies are cut off names, never taken for them.
"""

from __future__ import annotations

import re

from opencc import OpenCC

from crawler.extract.text import normalize_line

# Places a reporter files from, and who employs or supplies: cut off around a name, never a name themselves.
PLACES = (
    "北京", "上海", "天津", "重庆", "广州", "深圳", "南京", "杭州", "武汉", "成都", "西安", "沈阳", "大连", "青岛",
    "长春", "哈尔滨", "济南", "郑州", "长沙", "南昌", "合肥", "福州", "厦门", "昆明", "贵阳", "南宁", "海口", "兰州",
    "西宁", "银川", "乌鲁木齐", "拉萨", "呼和浩特", "石家庄", "太原", "苏州", "无锡", "宁波", "温州", "东莞", "佛山",
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南",
    "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆",
    "香港", "澳门", "台北", "新北", "桃园", "台中", "台南", "高雄", "基隆", "新竹", "嘉义", "花莲", "宜兰", "屏东",
    "彰化", "苗栗", "南投", "云林", "台东", "澎湖", "金门", "马祖",
    "纽约", "华盛顿", "华府", "旧金山", "洛杉矶", "芝加哥", "波士顿", "西雅图", "休斯顿", "多伦多", "温哥华",
    "渥太华", "蒙特利尔", "悉尼", "雪梨", "墨尔本", "奥克兰", "东京", "大阪", "首尔", "伦敦", "巴黎", "柏林",
    "法兰克福", "莫斯科", "新加坡", "曼谷", "联合国", "美国", "日本", "英国", "法国", "德国", "加拿大", "澳洲",
    "北京電", "臺北", "台灣", "臺灣", "舊金山", "洛杉磯", "波士頓", "西雅圖", "休士頓", "溫哥華", "渥太華",
    "蒙特婁", "墨爾本", "奧克蘭", "倫敦", "莫斯科", "紐約", "華盛頓", "華府", "東京", "首爾", "廣州", "南京",
    "重慶", "瀋陽", "大連", "長春", "哈爾濱", "鄭州", "長沙", "廈門", "蘭州", "烏魯木齊", "蘇州", "無錫", "寧波",
    "溫州", "東莞", "遼寧", "黑龍江", "江蘇", "廣東", "陝西", "廣西", "寧夏", "新疆", "澳門", "桃園", "臺中",
    "臺南", "花蓮", "宜蘭", "屏東", "聯合國", "美國", "英國", "法國", "德國", "加拿大", "澳洲", "芝加哥",
)  # fmt: skip
AGENCIES = (
    "新华社", "新華社", "中新社", "中新网", "中新網", "人民网", "人民網", "新华网", "新華網", "央视", "央視", "中央社",
    "法新社", "美联社", "美聯社", "路透社", "共同社", "本报", "本報", "本台", "本网", "本網", "本刊", "实习生",
    "實習生", "特约", "特約", "驻", "駐", "日报", "日報", "晚报", "晚報", "时报", "時報", "新闻网", "新聞網",
)  # fmt: skip
_HAN = "\u4e00-\u9fff"
_NAME = rf"[{_HAN}]{{2,4}}|[{_HAN}]+(?:[·‧・][{_HAN}]+)+|[A-Z][a-zA-Z'.-]+(?: [A-Z][a-zA-Z'.-]+){{1,3}}"
_NAMES = rf"(?:{_NAME})(?:\s*[、，,和与與及\s]\s*(?:{_NAME}))*"
_REPORT = r"(?:报道|报导|報導|報道|电|電|讯|訊|摄影|攝影|摄|攝|撰稿|撰文|整理|编译|編譯)"
# Before a reporting verb a name may run into its place (王小明台北报导): the run is read whole, then cut.
# So may the last of several names (王明宇、林书平伦敦报导).
_REPORTED_NAMES = rf"(?:(?:(?:{_NAME})\s*[、，,和与與及\s]\s*)*[{_HAN}]{{5,8}}(?=\s*{_REPORT})|{_NAMES})"
# Every place in both scripts: 法兰克福 and 法蘭克福, 多伦多 and 多倫多.
# One converter: building one loads OpenCC's dictionaries (tens of milliseconds), once per place was 44 s.
_TO_TRADITIONAL = OpenCC("s2t")
_PLACES_BOTH = frozenset(PLACES) | {_TO_TRADITIONAL.convert(place) for place in PLACES}
_PLACE_ALT = "|".join(sorted(_PLACES_BOTH, key=len, reverse=True))
# A Latin "name" with one of these words is a photo agency or an outlet (Getty Images, Reuters), no person.
_ORGANIZATION_RE = re.compile(
    r"\b(?:Images?|Photos?|Pictures|Press|News|Agency|Wire|Media|Stock|Getty|Reuters|Shutterstock|Xinhua"
    r"|Bloomberg|AFP|EPA|AP|Inc|Ltd|Corp|Team|Staff)\b"
)
_AGENCY_ALT = "|".join(sorted(AGENCIES, key=len, reverse=True))
# A reporter's title is followed by the name directly or after a space; the other labels are words too
# ("文学", "作者简介"), so a colon or a slash must follow them.
# 记者会 (a press conference), 记者节, 记者证 are words of their own, no label.
_REPORTER_LABEL = r"(?:(?:记者|記者)(?![会會节節证證站团團])|通讯员|通訊員|执笔人?|執筆人?|实习生|實習生)"
# After these a reporter is spoken of, not credited: 对记者表示, 告诉记者, 接受记者采访, 一名记者.
_IN_PROSE = "对對向跟给給让讓被和与與诉訴据據问問受名位个個的及等请請"
# A writer's or poster's label may be followed by a nickname of any characters (放飞&心情, ggjj88).
_NICKNAME_RE = re.compile(
    r"(?:作者|作\s者|发表者|發表者|发帖人|發帖人|楼主|樓主|博主)\s*[:：︰]\s*(?P<nick>[^\s:：︰|｜,，、()（）\[\]【】=<>\x22\x27]{2,24})(?=$|[\s|｜,，、()（）\[\]【】])"
)
_LABEL = r"(?:作者|作\s者|文字|撰文|撰稿人?|文/图|文／图|文/圖|文／圖|图/文|圖/文|文|翻译|翻譯|译者|譯者|编译|編譯|整理)"
_COLON = r"\s*[:：︰/／]?\s*"
_SEPARATOR = r"\s*[:：︰/／]\s*"
# 记者 张三 李四, 作者：某某, 文/某某: the label, then names up to a place, a reporting verb or the line's end.
_LABELLED_RE = re.compile(
    rf"(?:^|[\s（(【\[|｜]|(?<=[{_HAN}])(?<![{_IN_PROSE}]))(?:{_REPORTER_LABEL}{_COLON}|{_LABEL}{_SEPARATOR})"
    rf"(?P<names>{_REPORTED_NAMES})"
    rf"(?:(?P<report>\s*{_REPORT})|(?=$|[\s）)】\]，。,、;；|｜/／:：]))"
)
# 记者赵文／陈汉报导, 记者珍妮·林报导／赵文编译: a slash adds names (a place after it, 記者鄧富珍／彰化報導, is cut).
_CREDIT_AFTER_RE = re.compile(rf"\s*[／/]\s*(?P<names>{_REPORTED_NAMES})\s*{_REPORT}")
# （张三 北京报道）, (张三), [ 张三 ]: a bracketed group of names, optionally a place and a reporting verb.
_BRACKETED_RE = re.compile(
    rf"[（(\[【]\s*(?P<names>{_NAMES})\s*(?:{_PLACE_ALT})?\s*(?P<report>{_REPORT})?\s*[）)\]】]"
)
# 张三/摄, 张三 摄
_CREDIT_RE = re.compile(rf"(?P<names>{_NAMES})\s*[/／]?\s*(?:摄|攝)\s*$")
_ENGLISH_BY_RE = re.compile(r"^\s*(?:by|written by)[:\s]+(?P<names>[A-Z][^|•·\n]{2,80})$", re.IGNORECASE)
_EDITOR_RE = re.compile(
    rf"(?:责任编辑|責任編輯|责任编缉|責任編緝|责编|責編|编辑|編輯|编缉|編緝|主编|主編)\s*[:：︰]\s*(?P<names>{_NAMES})"
)
# A photo's caption (图为…。（新唐人）) credits the photo, not the article.
_CAPTION_RE = re.compile(r"^\s*[（(【\[]?\s*(?:图|圖)(?:为|為|爲|片|說|说|\s*[:：/／）)】\]])")
_PLAIN_EDITOR_RE = re.compile(rf"(?<![任責责主])(?:编辑|編輯)\s*[:：︰]\s*(?P<names>{_NAMES})")
_POSTED_BY_RE = re.compile(r"(?:^|[\s》」】\]）)])(?P<names>[^\s\]】)）《》「」]{2,20})\s+(?:发表于|發表於)")
# 由某某张贴 @ 2005-06-14 03:25:55: a blog's or forum's "posted by" under each post.
_POSTED_VIA_RE = re.compile(r"(?:^|[\s》」】\]）)])由\s*(?P<names>[^\s@]{2,20}?)\s*(?:张贴|張貼)")
_EDITOR_HINT_RE = re.compile(r"[编編]")
_LABEL_HINT_RE = re.compile(r"[记記作文执執通撰实實译譯整]")
LABELLED = 3
_HINTED_FORMS = (
    (re.compile(r"发表|發表"), _POSTED_BY_RE, 2),
    (re.compile(r"张贴|張貼"), _POSTED_VIA_RE, 2),
    (re.compile(r"[（(\[【]"), _BRACKETED_RE, 1),
    (re.compile(r"[摄攝]"), _CREDIT_RE, 1),
)
_SENTENCE_ENDS = frozenset("。！？.!?”」")
_BRACKETS = frozenset("（()）[]【】〔〕")
_NAME_SPLIT_RE = re.compile(rf"\s*[、，,和与與及]\s*|(?<=[{_HAN}])\s+(?=[{_HAN}])|\s+(?:and|&)\s+|\s*,\s*")
_PLACE_SUFFIX_RE = re.compile(rf"(?:{_PLACE_ALT})+(?:{_REPORT})?$|{_REPORT}$")
_AGENCY_RE = re.compile(rf"^(?:{_AGENCY_ALT})")
_NOT_NAMES = frozenset(
    {"本报", "本報", "记者", "記者", "编辑", "編輯", "来源", "來源", "作者", "发布", "發布", "时间", "時間", "日期",
     "原标题", "原標題", "网友", "網友", "评论", "評論", "分享", "责任", "責任", "报道", "報導", "综合", "綜合",
     "新闻", "新聞", "专题", "專題", "图片", "圖片", "视频", "視頻", "更新", "标题", "標題", "打印", "关闭",
     "關閉", "返回", "收藏", "转载", "轉載", "投稿", "推荐", "推薦", "登录", "登錄", "注册", "註冊", "简介",
     "簡介", "首页", "首頁", "不详", "不詳", "佚名", "匿名", "显示", "顯示", "隐藏", "隱藏", "更多", "全文", "目录",
     "目錄", "未完待续", "未完待續", "待续", "待續", "全文完", "完",
     # what is said of a reporter in prose: 对记者表示, 向记者透露
     "表示", "强调", "強調", "指出", "透露", "认为", "認為", "認爲", "警告", "说明", "說明", "介绍", "介紹",
     "获悉", "獲悉", "了解", "采访", "採訪", "证实", "證實", "发现", "發現", "看到", "提问", "提問", "问道",
     "問道", "坦言", "承认", "承認", "宣布", "称赞", "稱讚", "解释", "解釋", "回应", "回應"}
)  # fmt: skip
# A byline's labels open no name: [作者简介] is a link to the author's profile, 记者节 a holiday.
_LABEL_WORD_RE = re.compile(r"作者|记者|記者|编辑|編輯|来源|來源|责任|責任|发布|發布|通讯员|通訊員")
_MAX_NAME_CHARS = 4
# Compiled once: patterns built in a call go through re's cache, which other code on the page's way evicts.
_HAN_ONLY_RE = re.compile(rf"[{_HAN}]+")
_HAN_RUN_RE = re.compile(rf"[{_HAN}]{{4,}}")
_SHORT_HAN_NAME_RE = re.compile(rf"[{_HAN}]{{2,3}}")
_REPORTER_PREFIX_RE = re.compile(r"^(?:记者|記者)")
_LATIN_BYLINE_END_RE = re.compile(r"\s+(?:in|for|at|from|on)\s+|\s*[|•·]\s*|\s*\d")
_LATIN_NAME_SPLIT_RE = re.compile(r"\s*,\s*|\s+and\s+|\s*&\s*")
_LIST_SEPARATORS = tuple("、，,和与與及")
_MAX_LATIN_NAME = 40
_SHORT_LINE = 60
_HEAD_CHARS = 80
_SHORT_NAME = 2
_TAIL_CHARS = 40


def authors_in(lines: list[str], *, normalized: bool = False) -> list[str]:
    """The names of the page's bylines among ``lines`` (its lines around the text): those of the most
    explicit form found (a labelled byline beats a poster's name, which beats a bracketed or photo credit),
    in order, once each. ``normalized``: the lines are normalize_line's already (not normalized again)."""
    best: list[str] = []
    best_strength = 0
    for line in lines:
        names, strength = _byline(line if normalized else normalize_line(line))
        if not names or strength < best_strength:
            continue
        if strength > best_strength:
            best, best_strength = [], strength
        best += names
    return list(dict.fromkeys(best))


def line_authors(line: str) -> list[str]:
    return line_byline(line)[0]


def line_byline(line: str) -> tuple[list[str], int]:
    """Names a single line gives as its authors and how explicit the form is (0 when it is no byline).
    Of a long line (a paragraph that opens or closes with its byline) only the ends are read."""
    return _byline(normalize_line(line))


def _byline(line: str) -> tuple[list[str], int]:
    """line_byline of a normalized line."""
    if len(line) > _HEAD_CHARS + _TAIL_CHARS:
        line = f"{line[:_HEAD_CHARS]} | {line[-_TAIL_CHARS:]}"
    nickname = _NICKNAME_RE.search(line)
    if nickname and not _HAN_ONLY_RE.fullmatch(nickname.group("nick")):
        return [nickname.group("nick")], LABELLED
    names = _labelled_names(line) if _LABEL_HINT_RE.search(line) else []
    if names:
        return names, LABELLED
    english = _ENGLISH_BY_RE.match(line) if len(line) <= _SHORT_LINE * 2 else None
    if english:
        return _latin_names(english.group("names")), LABELLED
    if _CAPTION_RE.match(line):
        return [], 0
    # Each form is only tried on a line that has its mark (the place alternation is slow on every line).
    for hint, pattern, strength in _HINTED_FORMS:
        if hint.search(line):
            for match in pattern.finditer(line):
                if pattern is _BRACKETED_RE and not _standalone_brackets(match, line):
                    continue
                names += _names(
                    match.group("names"), reported=pattern is _BRACKETED_RE and bool(match.group("report"))
                )
            if names:
                return names, strength
    return [], 0


def _labelled_names(line: str) -> list[str]:
    names: list[str] = []
    for match in _LABELLED_RE.finditer(line):
        group = match.group("names")
        if line[match.end() : match.end() + 1] in (":", "："):
            # 作者： 流泉 访问统计：… : a word before a colon is the next label, not a name.
            group = group.rsplit(" ", 1)[0] if " " in group.strip() else ""
        names += _names(group, reported=match.group("report") is not None)
        # （记者珍妮·林报导／赵文编译）: a second credit after a slash names its own people.
        credit = _CREDIT_AFTER_RE.match(line, match.end())
        while credit is not None:
            names += _names(credit.group("names"), reported=True)
            credit = _CREDIT_AFTER_RE.match(line, credit.end())
    return names


def _standalone_brackets(match: re.Match[str], line: str) -> bool:
    """A bracketed byline says it reports, or stands apart: after the line's start, a space or a sentence's
    end, and before a space or the line's end. "(不可能)" in a sentence is a gloss, "严重(图)" a label,
    "【发表评论】【关闭窗口】" a menu."""
    if match.group("report"):
        return True
    before = line[match.start() - 1] if match.start() else " "
    after = line[match.end()] if match.end() < len(line) else " "
    return (
        (before.isspace() or before in _SENTENCE_ENDS or not (before.isalnum() or before in _BRACKETS))
        and not after.isalnum()
        and after not in _BRACKETS
    )


def credited_editors_in(lines: list[str]) -> list[str]:
    """Names after a plain 编辑： (not 责任编辑): on a page without a byline, a reprint (来源：某报 编辑：某某)
    credits its text to that editor; a responsible editor (责任编辑, 责编) is a desk role, never an author."""
    found: list[str] = []
    for line in lines:
        if _EDITOR_HINT_RE.search(line):
            for match in _PLAIN_EDITOR_RE.finditer(normalize_line(line)):
                found += _names(match.group("names"))
    return list(dict.fromkeys(found))


def editors_in(lines: list[str]) -> list[str]:
    found: list[str] = []
    for line in lines:
        if not _EDITOR_HINT_RE.search(line):
            continue
        for match in _EDITOR_RE.finditer(normalize_line(line)):
            found += _names(match.group("names"))
    return list(dict.fromkeys(found))


def _names(group: str, *, reported: bool = False) -> list[str]:
    """The names in a byline's name group. Before a reporting verb (报道, 电) the last word is where from:
    a separate word is dropped, one run into the name is cut off by length (a name has 2 or 3 characters)."""
    parts = [part for part in _NAME_SPLIT_RE.split(group.strip()) if part]
    if reported and parts:
        last = parts[-1]
        # 王明宇、林书平伦敦报导: the last word is itself listed after a separator, so it is a name.
        listed = group.strip()[: -len(last)].rstrip().endswith(_LIST_SEPARATORS)
        if len(parts) > 1 and not listed and _PLACE_SUFFIX_RE.sub("", last) == last:
            parts.pop()
        elif _HAN_RUN_RE.fullmatch(last) and _PLACE_SUFFIX_RE.sub("", last) == last:
            parts[-1] = last[: _SHORT_NAME if len(last) == _SHORT_NAME * 2 else _SHORT_NAME + 1]
    return [name for name in map(_clean_name, parts) if name]


def _clean_name(raw: str) -> str | None:
    name = raw.strip()
    while True:
        stripped = _AGENCY_RE.sub("", name)
        stripped = _REPORTER_PREFIX_RE.sub("", stripped)
        if stripped == name:
            break
        name = stripped
    name = _PLACE_SUFFIX_RE.sub("", name).strip()
    if not name or name in _NOT_NAMES or name in _PLACES_BOTH or _LABEL_WORD_RE.match(name):
        return None
    if _HAN_ONLY_RE.fullmatch(name):
        return name if 2 <= len(name) <= _MAX_NAME_CHARS else None
    return name if len(name) <= _MAX_LATIN_NAME and not _ORGANIZATION_RE.search(name) else None


def _latin_names(text: str) -> list[str]:
    text = _LATIN_BYLINE_END_RE.split(text)[0]
    parts = [part.strip(" .") for part in _LATIN_NAME_SPLIT_RE.split(text)]
    return [
        part
        for part in parts
        if part and len(part) <= _MAX_LATIN_NAME and part[0].isupper() and not _ORGANIZATION_RE.search(part)
    ]


def standalone_name(line: str) -> str | None:
    """A line that is nothing but a Chinese name (a column's author under its title), else None."""
    text = normalize_line(line)
    if not _SHORT_HAN_NAME_RE.fullmatch(text):
        return None
    return _clean_name(text)
