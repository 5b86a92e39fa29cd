"""The main text of any page: paragraph scoring over the page's text nodes, then boilerplate removal.

One pass over the text nodes (not over every element) groups them into blocks (the nearest ancestor that is
not inline), scores each block that reads like prose (length, sentence punctuation, few links) and gives the
score to the block's containers, less for each level up. The best container, with the siblings that score
nearly as well, is the article; inside it, link lists, share bars and "related" tails are dropped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from lxml import etree

from crawler.extract.dom import Element
from crawler.extract.text import normalize_lines

# Their text is code, controls or page furniture, never the article's.
DROPPED_TAGS = (
    "script", "style", "noscript", "iframe", "object", "embed", "svg", "canvas", "template", "select",
    "textarea", "button", "input", "nav", "footer", "aside", "header", "head", "option", "map", "audio", "video",
)  # fmt: skip
INLINE_TAGS = frozenset(
    {
        "a", "span", "font", "b", "strong", "em", "i", "u", "small", "big", "sub", "sup", "label", "abbr",
        "cite", "code", "q", "s", "strike", "tt", "mark", "time", "img", "br", "wbr", "ins", "del", "nobr",
    }
)  # fmt: skip
LINK_TAG = "a"
BREAK_TAG = "br"
# Blocks that are one paragraph: their score goes to their containers only.
PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dd", "dt", "pre", "figcaption"})
HEADING_TAGS = frozenset({"h2", "h3", "h4"})
# A caption describes an image (it goes with the image), it is not the article's text.
CAPTION_TAGS = frozenset({"figcaption", "figure"})
LIST_CONTAINER_TAGS = frozenset({"ul", "ol", "dl", "table", "tbody", "tr", "div", "section", "td", "menu"})
_TAG_BONUS = {"div": 5, "article": 10, "td": 3, "pre": 3, "blockquote": 3, "section": 3, "main": 5}
_TAG_MALUS = {"ul": -3, "ol": -3, "li": -3, "dl": -3, "form": -3, "th": -5, "h1": -5, "h2": -5, "h3": -5}
_POSITIVE_RE = re.compile(
    r"article|content|main|body|text|entry|post|story|news|detail|zoom|cont|artibody|endtext|正文", re.I
)
# Long words mark furniture wherever they appear in a class or id; short ones only as a whole word part
# ("hot" is in "photo", "side" in "inside").
_NEGATIVE_RE = re.compile(
    r"comment|share|sharing|social|related|relate|recommend|footer|sidebar|breadcrumb|crumb|banner|advert"
    r"|sponsor|promo|widget|toolbar|copyright|subscribe|popup|pagination|weixin|wechat|qrcode|erweima"
    r"|(?<![a-z])(?:hot|side|nav|menu|foot|tools?|more|rank|tags?|links?|print|ads?|top\d|pager|login|friend)(?![a-z])",
    re.I,
)
# Sentence punctuation: prose has it, link lists and menus do not.
_PUNCTUATION_RE = re.compile(r"[，。！？；、,.!?;：:]")
_SENTENCE_RE = re.compile(r"[，。！？；,.!?;）)」”]")
_BODIES = etree.XPath("//body[not(ancestor::body)]")
_IMAGES = etree.XPath(".//img")
MIN_PARAGRAPH_WEIGHT = 10
MIN_ARTICLE_WEIGHT = 60
MAX_ARTICLE_LINK_DENSITY = 0.5
MAX_LINE_LINK_DENSITY = 0.5
MAX_CONTAINER_LINK_DENSITY = 0.55
SIBLING_SHARE = 0.25
LONG_SIBLING_WEIGHT = 40
# A block's score goes to its container (a paragraph's is its parent) whole, then to three more levels up: a
# half, a sixth, a ninth.
_LEVEL_DIVIDERS = (1, 2, 6, 9)
NOISE_SHARE = 0.5
# Another container like the best one (same tag and class) scoring at least this share of it is an entry too.
TWIN_SHARE = 0.5
MIN_LISTING_LINKS = 5
# Trailing lines this short without sentence punctuation are buttons and labels ("推文", "Print").
MAX_TRAILING_LABEL_WEIGHT = 8
# Tail sections after the article: "related", "recommended", comments. A short line naming one ends the body.
_TAIL_HEADING_RE = re.compile(
    r"^[【\[〖「]?\s*(?:相关(?:新闻|阅读|报道|文章|链接|专题|推荐)|相關(?:新聞|閱讀|報導|文章|連結)|延伸阅读|延伸閱讀"
    r"|推荐阅读|推薦閱讀|热门(?:新闻|文章|推荐)|熱門|更多(?:新闻|精彩|文章)|猜你喜欢|网友评论|網友評論|发表评论|發表評論"
    r"|最新评论|我要评论|相关搜索|今日推荐|编辑推荐|精彩推荐|Related (?:Articles|Stories|News|Posts|Content)"
    r"|Read (?:More|Next)|More (?:from|on|Stories)|Recommended|Comments?|Share this|Most (?:Read|Popular))"
    r"\s*[】\]〗」:：]?\s*$",
    re.I,
)
_BOILERPLATE_LINE_RE = re.compile(
    r"^[（(【\[]?\s*(?:分享到|分享至|打印|关闭窗口|關閉窗口|返回顶部|返回首頁|返回首页|上一页|下一页|上一篇|下一篇|【?字号|【?字體"
    r"|【?字体|点击(?:数|次数|排行)|责任编辑|責任編輯|编辑[:：]|編輯[:：]|来源[:：]|來源[:：]|版权所有|版權所有|Copyright"
    r"|©|All rights reserved|Share|Tweet|Print|Email|Advertisement|广告|廣告|扫一扫|掃一掃|【.{0,12}】$|\(?责编)",
    re.I,
)
_SHORT_LINE_WEIGHT = 30


@dataclass(slots=True)
class Block:
    """The text of one block element (its direct text and that of its inline descendants)."""

    element: Element
    weight: float = 0.0
    link_weight: float = 0.0
    parts: list[str] = field(default_factory=list)


# One text node: (its text, its block, whether it sits in a link, whether a line break precedes it, its text
# weight). A tuple, not a class: a page has hundreds, and building a tuple costs a fraction of a call to a
# class's __init__ (the text walk is the extractor's hottest loop).
Run = tuple[str, Block, bool, bool, float]


@dataclass(slots=True)
class Line:
    text: str
    tag: str
    weight: float = 0.0
    link_weight: float = 0.0


@dataclass(slots=True)
class Content:
    """The article's lines, the elements they come from, and the page's lines before and after them."""

    lines: list[Line]
    roots: list[Element]
    # The chosen area's lines before cleaning: bylines and editor lines are read there.
    raw: list[str] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def text_weight(text: str) -> float:
    """How much text this is, in CJK characters: a CJK character counts 1, other characters 0.4 (a word ~2).
    Counted from the UTF-8 length, which CJK characters triple: no per-character work in Python."""
    chars = len(text)
    wide = (len(text.encode("utf-8", errors="replace")) - chars) * 0.5
    return wide + 0.4 * (chars - wide - text.count(" ") - text.count("\n"))


def strip_furniture(root: Element) -> None:
    etree.strip_elements(root, *DROPPED_TAGS, with_tail=False)


Totals = dict[Element, list[float]]


def find_content(root: Element) -> Content | None:
    """The article text of a page already stripped of furniture; None when nothing reads like an article."""
    runs, blocks = _runs(root)
    scores, totals = _score(blocks)
    if not scores:
        return None
    top = max(scores, key=lambda element: scores[element] * (1 - _density(totals, element)))
    top = _first_twin(root, _block_of(top, scores), scores, totals)
    if _density(totals, top) > MAX_ARTICLE_LINK_DENSITY:
        return None
    roots = _with_siblings(top, scores, totals)
    inside = _inside(runs, roots, totals)
    raw = _lines([run for run, keep in zip(runs, inside, strict=True) if keep])
    lines = _clean_lines(raw)
    if sum(line.weight for line in lines) < MIN_ARTICLE_WEIGHT or _is_listing(raw, lines):
        return None
    first = inside.index(True)
    last = len(inside) - 1 - inside[::-1].index(True)
    return Content(
        lines=lines,
        roots=roots,
        raw=[line.text for line in raw],
        before=_plain_lines(runs[max(0, first - 60) : first]),
        after=_plain_lines(runs[last + 1 : last + 40]),
    )


def _block_of(top: Element, scores: dict[Element, float]) -> Element:
    """The block holding ``top`` when it is an inline element (<font> around the paragraphs): text written
    directly inside it belongs to that block (see _runs), so the article is the block's."""
    parent = top.getparent()
    while top.tag in INLINE_TAGS and parent is not None and parent in scores:
        top, parent = parent, parent.getparent()
    return top


def _first_twin(root: Element, top: Element, scores: dict[Element, float], totals: Totals) -> Element:
    """The first of the entries when ``top`` is one of several alike (same tag and class) that each read like
    an article: a blog page of posts, a forum thread. The first is the page's own: the newest post, the
    thread's opening post; the others are older posts and replies."""
    classes = top.get("class")
    if not classes:
        return top
    bar = scores[top] * (1 - _density(totals, top)) * TWIN_SHARE
    twins = {
        element
        for element, score in scores.items()
        if element is not top
        and element.tag == top.tag
        and element.get("class") == classes
        and score * (1 - _density(totals, element)) >= bar
        and _weight(totals, element) >= MIN_ARTICLE_WEIGHT
    }
    # A container holding the best one, or held by it, is the same entry.
    twins.difference_update(top.iterancestors(top.tag))
    twins = {twin for twin in twins if top not in twin.iterancestors(top.tag)}
    if not twins:
        return top
    # Document order: the first of them in the page.
    return next(element for element in root.iter(top.tag) if element is top or element in twins)


def _is_listing(raw: list[Line], kept: list[Line]) -> bool:
    """A list or index page: its best area holds as many link lines (headlines) as lines of text (teasers)."""
    links = sum(1 for line in raw if line.weight and line.link_weight / line.weight > MAX_LINE_LINK_DENSITY)
    prose = {line.text for line in kept if line.weight >= MIN_PARAGRAPH_WEIGHT}
    return links >= MIN_LISTING_LINKS and links >= len(prose)


def _bodies(root: Element) -> list[Element]:
    """The page's <body>: the root's child as libxml2 builds it (a lookup, not a walk of the tree), else any
    outermost one."""
    body = root.find("body")
    return [body] if body is not None else _BODIES(root)


def _runs(root: Element) -> tuple[list[Run], list[Block]]:
    """The page's text nodes under <body> in order, each with its block (whitespace-only ones left out), and
    the blocks in the order of their first text."""
    runs: list[Run] = []
    blocks: dict[Element, Block] = {}
    for body in _bodies(root):
        _body_runs(body, blocks, runs)
    return runs, list(blocks.values())


def _body_runs(body: Element, blocks: dict[Element, Block], runs: list[Run]) -> None:
    """The hottest loop of the extractor: one walk of the elements (start and end events) keeps each open
    element's (block owner, inside a link) pair on a stack (the owner is its nearest non-inline ancestor or
    itself), instead of climbing the tree for every text node; an end event reads only the tail, and the tag
    only when there is a tail; text_weight is inlined."""
    inline = INLINE_TAGS
    spaced = False
    stack: list[tuple[Element, bool]] = []
    push = stack.append
    pop = stack.pop
    # The open element's (owner, in a link); None outside the body.
    state: tuple[Element, bool] | None = None
    add_run = runs.append
    block_of = blocks.get
    for event, element in etree.iterwalk(body, events=("start", "end")):
        if event == "start":
            tag = element.tag
            if state is not None and (tag in inline or not isinstance(tag, str)):
                push(state)
                if tag == LINK_TAG and not state[1]:
                    state = (state[0], True)
                # A comment's text is not the page's.
                node = element.text if isinstance(tag, str) else None
            else:
                if state is not None:
                    push(state)
                state = (element, False)
                node = element.text
            after_break = False
        elif stack:
            state = pop()
            node = element.tail
            after_break = bool(node) and (element.tag == BREAK_TAG or element.tag not in inline)
        else:
            break  # the body's own end: its tail is outside it
        if not node:
            continue
        if node.isspace():
            # Indentation mostly; between two inline elements (<b>Hello</b> <i>world</i>) it separates words.
            spaced = True
            continue
        text = " " + node if spaced else node
        spaced = False
        owner, in_link = state
        block = block_of(owner)
        if block is None:
            block = blocks[owner] = Block(owner)
        chars = len(text)
        # lxml's text is valid UTF-8 (no lone surrogate): encoded without an error handler.
        wide = (len(text.encode()) - chars) * 0.5
        weight = wide + 0.4 * (chars - wide - text.count(" ") - text.count("\n"))
        block.weight += weight
        block.parts.append(text)
        if in_link:
            block.link_weight += weight
        add_run((text, block, in_link, after_break, weight))


def _score(blocks: list[Block]) -> tuple[dict[Element, float], Totals]:
    """Content scores of containers, and every block ancestor's [text weight, link text weight]."""
    scores: dict[Element, float] = {}
    totals = _totals(blocks)
    for block in blocks:
        weight, link_weight = block.weight, block.link_weight
        if weight < MIN_PARAGRAPH_WEIGHT:
            continue
        element = block.element
        punctuation = len(_PUNCTUATION_RE.findall("".join(block.parts)))
        points = (1 + punctuation + min(weight / 100, 3)) * (1 - link_weight / weight)
        node: Element | None = element.getparent() if element.tag in PARAGRAPH_TAGS else element
        for divider in _LEVEL_DIVIDERS:
            if node is None:
                break
            score = scores.get(node)
            scores[node] = (_initial(node) if score is None else score) + points / divider
            node = node.getparent()
    return scores, totals


def _totals(blocks: list[Block]) -> Totals:
    """[text weight, link text weight] of every element that holds a block. The sums climb the tree one level
    at a time, merged at each level: a page's paths meet a few levels up, so each ancestor is added to about
    once per level instead of once per parent below it (a third of the steps of climbing from each parent)."""
    totals: Totals = {}
    level: dict[Element, list[float]] = {}
    for block in blocks:
        # One block per element: its own sums start its total.
        element = block.element
        totals[element] = [block.weight, block.link_weight]
        level[element] = [block.weight, block.link_weight]
    # Each level's sums go to the parents; a block inside another block was added to its own total above.
    while level:
        above: dict[Element, list[float]] = {}
        for node, (weight, link_weight) in level.items():
            parent = node.getparent()
            if parent is None:
                continue
            pending = above.get(parent)
            if pending is None:
                above[parent] = [weight, link_weight]
            else:
                pending[0] += weight
                pending[1] += link_weight
        # A level's lists are read once, before the totals change: a new total takes its list, not a copy.
        for node, sums in above.items():
            total = totals.get(node)
            if total is None:
                totals[node] = sums
            else:
                total[0] += sums[0]
                total[1] += sums[1]
        level = above
    return totals


def _initial(element: Element) -> float:
    tag = element.tag if isinstance(element.tag, str) else ""
    return _marked_score(tag, element.get("class"), element.get("id"))


@functools.lru_cache(maxsize=4096)
def _marked_score(tag: str, classes: str | None, element_id: str | None) -> float:
    """A container's starting score from its tag and its class and id: pages repeat a few class names on
    many containers, so each combination is judged once."""
    score = float(_TAG_BONUS.get(tag, 0) + _TAG_MALUS.get(tag, 0))
    marks = f"{classes or ''} {element_id or ''}"
    if marks.strip():
        if _POSITIVE_RE.search(marks):
            score += 25
        if _NEGATIVE_RE.search(marks):
            score -= 25
    return score


def _density(totals: Totals, element: Element) -> float:
    total = totals.get(element)
    return total[1] / total[0] if total and total[0] else 1.0


def _weight(totals: Totals, element: Element) -> float:
    total = totals.get(element)
    return total[0] if total else 0.0


def _with_siblings(top: Element, scores: dict[Element, float], totals: Totals) -> list[Element]:
    """The top container and the siblings that score nearly as well or hold long low-link prose."""
    parent = top.getparent()
    if parent is None:
        return [top]
    threshold = max(10.0, scores[top] * SIBLING_SHARE)
    chosen = []
    for sibling in parent:
        if sibling is top:
            chosen.append(sibling)
            continue
        # Only elements holding text are in totals (never a comment): tested first, without reading the tag.
        if sibling not in totals:
            continue
        density = _density(totals, sibling)
        if scores.get(sibling, 0.0) * (1 - density) >= threshold or (
            sibling.tag in PARAGRAPH_TAGS
            and _weight(totals, sibling) >= LONG_SIBLING_WEIGHT
            and density < SIBLING_SHARE
        ):
            chosen.append(sibling)
    return chosen


def _inside(runs: list[Run], roots: list[Element], totals: Totals) -> list[bool]:
    """For each run: inside the chosen roots and not inside a link list or share bar within them."""
    # A container named like furniture that holds most of the text is the article after all.
    noise_limit = NOISE_SHARE * sum(_weight(totals, root) for root in roots)
    verdicts: dict[Element, bool] = dict.fromkeys(roots, True)
    # Most blocks are outside the roots: a lookup in the roots' elements tells them apart without climbing
    # from each to the top of the page.
    within = {element for root in roots for element in root.iter()}
    out = []
    for _text, block, _in_link, _after_break, _run_weight in runs:
        element = block.element
        verdict = verdicts.get(element)
        if verdict is None:
            verdict = element in within and _kept(element, verdicts, totals, noise_limit)
        out.append(verdict)
    return out


def _kept(element: Element, verdicts: dict[Element, bool], totals: Totals, noise_limit: float) -> bool:
    """Whether ``element`` is inside a chosen root without noise in between; every element on the way up
    gets the same verdict, so each element is judged once per page."""
    path: list[Element] = []
    node: Element | None = element
    verdict = False
    while node is not None:
        known = verdicts.get(node)
        if known is not None:
            verdict = known
            break
        path.append(node)
        node = node.getparent()
    if verdict:
        # Noise between the element and its root overrides the root's yes, for the nodes below the noise.
        for index in range(len(path) - 1, -1, -1):
            if _is_noise(path[index], totals, noise_limit):
                for below in path[: index + 1]:
                    verdicts[below] = False
                path = path[index + 1 :]
                break
    for node_on_path in path:
        verdicts.setdefault(node_on_path, verdict)
    return verdicts[element]


def _is_noise(node: Element, totals: Totals, noise_limit: float) -> bool:
    weight = _weight(totals, node)
    listing = node.tag in LIST_CONTAINER_TAGS or node.tag in PARAGRAPH_TAGS
    if listing and weight and _density(totals, node) > MAX_CONTAINER_LINK_DENSITY:
        return True
    if node.get("hidden") is not None or "display:none" in (node.get("style") or "").replace(" ", ""):
        return True
    marks = f"{node.get('class') or ''} {node.get('id') or ''}"
    return weight < noise_limit and bool(marks.strip()) and bool(_NEGATIVE_RE.search(marks))


def _lines(runs: list[Run]) -> list[Line]:
    lines: list[Line] = []
    current: Line | None = None
    block: Block | None = None
    parts: list[str] = []
    for text, run_block, in_link, after_break, weight in runs:
        if current is None or run_block is not block or after_break:
            if current is not None:
                current.text = "".join(parts)
                lines.append(current)
            block = run_block
            tag = block.element.tag if isinstance(block.element.tag, str) else "p"
            current = Line("", tag)
            parts = []
        parts.append(text)
        current.weight += weight
        if in_link:
            current.link_weight += weight
    if current is not None:
        current.text = "".join(parts)
        lines.append(current)
    for line, text in zip(lines, normalize_lines([line.text for line in lines]), strict=True):
        line.text = text
    return [line for line in lines if line.text]


def _clean_lines(lines: list[Line]) -> list[Line]:
    """Without link lines, boilerplate lines, and everything from a "related"/"comments" heading on."""
    kept: list[Line] = []
    for line in lines:
        if line.tag in CAPTION_TAGS:
            continue
        if line.weight and line.link_weight / line.weight > MAX_LINE_LINK_DENSITY:
            continue
        short = line.weight < _SHORT_LINE_WEIGHT
        if short and _TAIL_HEADING_RE.match(line.text) and kept:
            break
        if short and _BOILERPLATE_LINE_RE.match(line.text):
            continue
        kept.append(line)
    while kept and kept[-1].weight < MAX_TRAILING_LABEL_WEIGHT and not _SENTENCE_RE.search(kept[-1].text):
        kept.pop()
    return kept


def _plain_lines(runs: list[Run]) -> list[str]:
    return [line.text for line in _lines(runs)]


def images_in(roots: list[Element]) -> list[Element]:
    return [img for root in roots for img in _IMAGES(root)]
