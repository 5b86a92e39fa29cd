"""Chinese prose for the replica: news vocabulary, sentence templates and the seed article's own sentences.

Every string that can reach a page is checked at import to survive `t2s(s2t(x)) == x`, because the dedup
pipeline folds text with OpenCC t2s and a gb page and its b5 twin must hash alike.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from functools import lru_cache

import opencc

_S2T = opencc.OpenCC("s2t")
_T2S = opencc.OpenCC("t2s")

SITE_NAME_GB = "大纪元"


def s2t(text: str) -> str:
    return str(_S2T.convert(text))


def t2s(text: str) -> str:
    return str(_T2S.convert(text))


def round_trips(text: str) -> bool:
    return t2s(s2t(text)) == text


def _checked(words: Iterable[str]) -> tuple[str, ...]:
    """Curated lists must round-trip as a whole: a failing entry is a bug in this file, not bad luck."""
    words = tuple(words)
    broken = [word for word in words if not round_trips(word)]
    if broken:
        raise ValueError(f"replica vocabulary does not survive s2t then t2s: {broken}")
    return words


REPORTERS = _checked(
    [
        "李馨",
        "张婷",
        "王明宇",
        "陈汉",
        "林书平",
        "吴英",
        "罗婷婷",
        "杨天",
        "萧律",
        "周慧",
        "刘晓",
        "赵文",
        "黄敏",
    ]
)
TRANSLATED_REPORTERS = _checked(["凯特‧张", "艾娃‧傅", "安德鲁‧海", "珍妮·林"])
EDITORS = _checked(["李缘", "方明", "高义", "林妍", "叶紫微", "吕美琪", "张信"])
PLACES = _checked(
    [
        "台湾台北", "台湾台中", "台湾高雄", "纽约", "华盛顿", "旧金山", "洛杉矶", "休斯顿", "多伦多",
        "温哥华", "悉尼", "墨尔本", "香港", "东京", "伦敦", "巴黎", "柏林", "首尔",
        # Real bylines name many more places than DESIGN.md's list, above all 台北 alone (issue 11).
        "台北", "新北", "桃园", "台中", "台南", "高雄", "花莲", "芝加哥", "波士顿", "西雅图", "渥太华",
        "蒙特利尔", "奥克兰", "大阪", "法兰克福",
    ]
)  # fmt: skip
TAGS = _checked(
    [
        "拜登", "普京", "乌克兰", "北约", "通话", "中共", "疫情", "经济", "台湾", "美国大选", "人权", "贸易战",
        "香港", "健康", "法轮功", "民调", "移民", "通胀", "科技", "教育", "气候", "军事", "外交", "股市",
    ]
)  # fmt: skip
SUBCATEGORIES = _checked(
    ["社会百态", "时政", "经济动态", "国际关系", "美国政治", "生活", "饮食健康", "时事评论", "军事"]
)
CAPTION_CREDITS = _checked(
    ["（Getty Images）", "（大纪元）", "(AFP via Getty Images)", "（新唐人）", "(Shutterstock)"]
)
TITLE_PREFIXES = _checked(["更新：", "组图：", "快讯：", "焦点人物："])

_PEOPLE = (
    "拜登",
    "普京",
    "国务卿",
    "发言人",
    "专家",
    "学者",
    "官员",
    "议员",
    "总统",
    "市长",
    "经济学家",
    "医生",
)
_ORGS = ("白宫", "国会", "联合国", "北约", "卫生部", "美联储", "世界卫生组织", "中共当局", "台湾政府", "欧盟")
_PLACES = ("北京", "上海", "华盛顿", "纽约", "台北", "香港", "东京", "伦敦", "日内瓦", "广州", "深圳", "武汉")
_TOPICS = (
    "经济发展", "人权问题", "贸易谈判", "疫情防控", "军事部署", "能源价格", "选举结果", "言论自由", "网络安全",
    "供应链", "房地产市场", "通货膨胀", "教育改革", "医疗保险", "气候变化", "外交关系", "科技竞争",
)  # fmt: skip
_VERBS = ("表示", "指出", "强调", "认为", "透露", "宣布", "警告", "说明")
_ACTIONS = (
    "举行了会谈", "发表了声明", "召开了记者会", "公布了新的数据", "提出了新的建议", "展开了调查",
    "通过了相关法案", "加强了监管", "发布了报告", "作出了回应",
)  # fmt: skip

_TEMPLATES = (
    "{person}{verb}，{topic}已经成为各方关注的焦点。",
    "据{org}消息，{place}的{topic}在过去一周出现了新的变化。",
    "{org}周{weekday}（{month}月{day}日）{action}，讨论{topic}等问题。",
    "{person}在接受采访时{verb}，{place}的民众对{topic}感到担忧。",
    "分析人士{verb}，{topic}的影响可能会持续到明年。",
    "{place}当地时间周{weekday}，数百名民众走上街头，要求当局公开{topic}的真实情况。",
    "这是{org}今年以来第{count}次就{topic}{action}。",
    "根据最新公布的数据，{place}约有{number}人受到{topic}的影响。",
    "{person}{verb}，如果{org}不改变做法，{topic}将会更加严重。",
    "一位不愿透露姓名的{person}对记者{verb}，{org}内部对{topic}存在分歧。",
    "{org}在声明中{verb}，将继续关注{place}的{topic}。",
    "外界普遍认为，{topic}与{org}的政策有直接关系。",
    "{place}的一名居民说：“我们每天都在关注{topic}，希望情况尽快好转。”",
    "报导说，{org}已经{action}，但具体细节尚未公开。",
    "{person}最后{verb}，解决{topic}需要更多的时间和耐心。",
    "截至{month}月{day}日，{place}共有{number}家企业表示受到{topic}冲击。",
)

# Sentences of the seed article (seed/000_7ac03c88fe2e9e94.txt), so the replica also carries real copy.
SEED_SENTENCES = (
    "美国总统拜登和俄罗斯总统普京周四（12月30日）举行了电话会谈，讨论俄罗斯在乌克兰边境附近集结军队以及普京提出的安全建议问题。",
    "据美联社报导，拜登和普京交谈了将近一个小时的时间。",
    "这次通话是由普京提议的。",
    "这也是本月以来两位领导人之间的第二次通话，为定于1月10日在日内瓦举行的美俄高级官员会谈做准备。",
    "白宫官员称，会谈从美东时间周四下午3:35分开始，50分钟后结束。",
    "通话结束时，莫斯科已过了午夜时分。",
    "美俄双方都没有立即公布两国元首的谈话内容。",
    "俄罗斯此前已明确表示，它希望得到一份书面承诺，核心内容是西方国家永远不允许乌克兰加入北约（NATO）、北约的军事装备也不会部署在前苏联国家。",
    "普京的这些要求将在日内瓦会谈期间讨论，但尚不清楚拜登愿意向普京提供什么，以此作为交换条件来化解危机。",
    "美国及其盟友拒绝向俄罗斯提供普京想要的保证，理由是北约的原则是向任何符合条件的国家开放其成员资格。",
    "然而，他们同意与俄罗斯举行会谈，讨论其关切的问题。",
    "美联社称，莫斯科提出的安全建议引发了一个问题，即普京是否在提出不切实际的要求以期待西方国家拒绝，从而为他入侵乌克兰提供借口。",
)
_TITLE_TEMPLATES = (
    "{org}就{topic}{action}",
    "{place}{topic}引发关注 {person}发声",
    "{person}：{topic}将影响{place}未来走向",
    "{place}爆发抗议 民众关注{topic}",
    "{org}公布报告 {topic}出现新变化",
    "专家解读{place}{topic}",
    "本月第二次会谈 {person}谈{topic}",
)
_WEEKDAYS = "一二三四五六日"
_SENTENCE_POOL_SIZE = 1500
_TITLE_POOL_SIZE = 400


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        person=rng.choice(_PEOPLE),
        org=rng.choice(_ORGS),
        place=rng.choice(_PLACES),
        topic=rng.choice(_TOPICS),
        verb=rng.choice(_VERBS),
        action=rng.choice(_ACTIONS),
        weekday=rng.choice(_WEEKDAYS),
        month=rng.randint(1, 12),
        day=rng.randint(1, 28),
        count=rng.choice("二三四五六"),
        number=f"{rng.randint(2, 900) * 10:,}",
    )


def _pool(templates: Sequence[str], size: int, salt: int) -> tuple[str, ...]:
    """A fixed pool (independent of the site seed): only entries that round-trip through s2t/t2s."""
    rng = random.Random(salt)
    out: dict[str, None] = {}
    while len(out) < size:
        candidate = _fill(rng.choice(templates), rng)
        if round_trips(candidate):
            out[candidate] = None
    return tuple(out)


@lru_cache(maxsize=1)
def sentence_pool() -> tuple[str, ...]:
    seed_sentences = tuple(s for s in SEED_SENTENCES if round_trips(s))
    return seed_sentences + _pool(_TEMPLATES, _SENTENCE_POOL_SIZE, salt=1)


@lru_cache(maxsize=1)
def title_pool() -> tuple[str, ...]:
    return _pool(_TITLE_TEMPLATES, _TITLE_POOL_SIZE, salt=2)


def paragraph(rng: random.Random, min_chars: int) -> str:
    """Sentences until the paragraph holds at least `min_chars` characters."""
    pool = sentence_pool()
    parts: list[str] = []
    length = 0
    while length < min_chars:
        sentence = rng.choice(pool)
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)


def subhead(rng: random.Random) -> str:
    return f"{rng.choice(_TOPICS)}{rng.choice(('的背景', '引发争议', '各方反应', '未来走向', '专家观点'))}"


def title(rng: random.Random) -> str:
    return rng.choice(title_pool())


def caption(rng: random.Random) -> str:
    return f"图为{rng.randint(2008, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日，{rng.choice(_PLACES)}的{rng.choice(_TOPICS)}现场。"
