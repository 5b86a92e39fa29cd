"""An article's content in one edition, generated on demand, and the truth a perfect extraction gives for it.

Content is generated in gb from the seed, then converted to b5 piece by piece with OpenCC s2t, so that the b5
truth is exactly the converted gb truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from tests.replica import text
from tests.replica.model import (
    BEIJING,
    BYLINE_TEMPLATES,
    CHANNELS,
    EDITOR_FORMS,
    END_MARKS,
    IMAGE_BASE,
    LEGACY_LIST_CHANNEL,
    OPINION_DISCLAIMER,
    OWN_PARAGRAPH_BYLINES,
    ArticleMeta,
    rng_for,
)

CANONICAL_BASE = "https://www.epochtimes.com"
LANGUAGES = {"gb": "zh-Hans", "b5": "zh-Hant"}
EDIT_SHARE = 0.10
EDIT_SHIFT = timedelta(hours=6)
NEAR_COPY_SENTENCE = "记者将继续跟踪报导。"
_LENGTH_TARGETS = {"short": (180, 220), "normal": (600, 3000), "long": (7800, 8200)}
_SIZE_SUFFIX = "-600x400"
NO_CREDIT = ""


@dataclass(frozen=True, slots=True)
class Image:
    url: str  # full size, as the truth wants it
    caption: str | None
    credit_printed: str  # "（Getty Images）", "(AFP via Getty Images)" or ""

    @property
    def credit(self) -> str | None:
        return self.credit_printed[1:-1] if self.credit_printed else None

    @property
    def sized_url(self) -> str:
        stem, _, ext = self.url.rpartition(".")
        return f"{stem}{_SIZE_SUFFIX}.{ext}"

    @property
    def printed_caption(self) -> str:
        return f"{self.caption or ''}{self.credit_printed}"


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "p", "h2", "h3", "figure"
    text: str = ""
    links: tuple[str, ...] = ()  # tags linked inline (first occurrence in `text`)
    image: Image | None = None


@dataclass(frozen=True, slots=True)
class Content:
    edition: str
    title: str
    dateline: str | None
    byline: str
    byline_own_paragraph: bool
    authors: tuple[str, ...]
    lead_text: str
    blocks: tuple[Block, ...]
    end_mark: str
    editor: str | None
    editor_line: str | None
    lead_image: Image | None
    categories: tuple[str, ...]
    section: str | None
    tags: tuple[str, ...]
    modified: datetime
    channel_titles: tuple[str, ...] = field(default=())

    @property
    def site_name(self) -> str:
        return text.SITE_NAME_GB if self.edition == "gb" else text.s2t(text.SITE_NAME_GB)

    def body_lines(self) -> list[str]:
        lines = [self.lead_text] if self.lead_text else []
        lines += [b.text for b in self.blocks if b.kind != "figure"]
        return lines

    def images(self) -> list[Image]:
        found = [self.lead_image] if self.lead_image else []
        found += [b.image for b in self.blocks if b.image is not None]
        unique: dict[str, Image] = {}
        for image in found:
            unique.setdefault(image.url, image)
        return list(unique.values())


def edited_rounds(seed: int, meta: ArticleMeta, revision: int, protected: bool) -> list[int]:
    """Rounds 1..revision in which this article's text changed (copies and their originals never change)."""
    if protected:
        return []
    return [r for r in range(1, revision + 1) if rng_for(seed, "edit", meta.index, r).random() < EDIT_SHARE]


def title_for(seed: int, meta: ArticleMeta) -> str:
    source = meta.copy_of if meta.copy_of is not None else meta.near_copy_of
    index = meta.index if source is None else source
    return meta.features.title_prefix + text.title(rng_for(seed, "title", index))


def _image(number: int, when: datetime, serial: int, caption: str, credit: str) -> Image:
    local = when.astimezone(BEIJING)
    name = (
        f"id{number + serial}-{'GettyImages' if 'Getty' in credit else 'photo'}-{number % 9973 + serial}.jpg"
    )
    return Image(f"{IMAGE_BASE}/{local.year}/{local.month:02d}/{name}", caption or None, credit)


def _body_blocks(seed: int, source: ArticleMeta) -> tuple[str, tuple[Block, ...]]:
    """Lead text and body blocks of the article whose text `source` owns (copies borrow their original's)."""
    rng = rng_for(seed, "body", source.index)
    low, high = _LENGTH_TARGETS[source.features.length]
    target = rng.randint(low, high)
    paragraph_size = (80, 110) if source.features.length == "short" else (80, 260)
    lead = "" if source.features.empty_first_paragraph else text.paragraph(rng, rng.randint(*paragraph_size))
    blocks: list[Block] = []
    length = len(lead)
    serial = 1
    while length < target:
        if blocks and blocks[-1].kind == "p" and length > 400 and rng.random() < 0.2:
            blocks.append(Block(rng.choice(("h2", "h2", "h3")), text.subhead(rng)))
        elif blocks and blocks[-1].kind == "p" and serial < 4 and rng.random() < 0.15:
            credit = rng.choice((*text.CAPTION_CREDITS, NO_CREDIT))
            image = _image(source.number, source.published, serial, text.caption(rng), credit)
            blocks.append(Block("figure", image=image))
            serial += 1
        paragraph = text.paragraph(rng, min(rng.randint(*paragraph_size), max(20, target - length)))
        blocks.append(Block("p", paragraph))
        length += len(paragraph)
    if source.channels[0] == LEGACY_LIST_CHANNEL:
        blocks.append(Block("p", OPINION_DISCLAIMER))
    return lead, tuple(blocks)


def _apply_edits(
    seed: int, meta: ArticleMeta, blocks: tuple[Block, ...], rounds: list[int]
) -> tuple[Block, ...]:
    edited = list(blocks)
    for revision_round in rounds:
        rng = rng_for(seed, "edit-text", meta.index, revision_round)
        candidates = [i for i, b in enumerate(edited) if b.kind == "p"]
        target = rng.choice(candidates)
        edited[target] = Block("p", text.paragraph(rng, len(edited[target].text)))
    return tuple(edited)


def _near_copy(blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    longest = max((i for i, b in enumerate(blocks) if b.kind == "p"), key=lambda i: len(blocks[i].text))
    changed = list(blocks)
    changed[longest] = Block("p", blocks[longest].text + NEAR_COPY_SENTENCE)
    return tuple(changed)


def _link_tags(blocks: tuple[Block, ...], tags: tuple[str, ...]) -> tuple[Block, ...]:
    linked = []
    for block in blocks:
        words = tuple(t for t in tags if block.kind == "p" and t in block.text)[:2]
        linked.append(replace(block, links=words) if words else block)
    return tuple(linked)


def _tags(seed: int, meta: ArticleMeta, body: str) -> tuple[str, ...]:
    rng = rng_for(seed, "tags", meta.index)
    present = [t for t in text.TAGS if t in body]
    chosen = rng.sample(present, min(len(present), rng.randint(0, 3))) + rng.sample(
        text.TAGS, rng.randint(0, 2)
    )
    return tuple(dict.fromkeys(chosen))


def _byline(seed: int, meta: ArticleMeta) -> tuple[str, tuple[str, ...]]:
    rng = rng_for(seed, "byline", meta.index)
    template, count = BYLINE_TEMPLATES[meta.features.byline]
    if not meta.features.dateline and meta.features.byline not in OWN_PARAGRAPH_BYLINES:
        return "", ()
    names = rng.sample(text.REPORTERS, 2)
    translated = rng.choice(text.TRANSLATED_REPORTERS)
    place = rng.choice(text.PLACES)
    values = {"A": names[0], "B": names[1], "T": translated, "P": place}
    order = [key for key in ("T", "A", "B") if "{" + key + "}" in template][:count]
    return template, (*tuple(values[key] for key in order), place)


def _categories(seed: int, meta: ArticleMeta) -> tuple[str, ...]:
    if meta.layout == "pre2013" or meta.features.breadcrumbs == "none":
        return ()
    rng = rng_for(seed, "categories", meta.index)
    channel_title = dict(CHANNELS)[meta.channels[0]]
    return (channel_title, rng.choice(text.SUBCATEGORIES))


def modified_at(seed: int, meta: ArticleMeta, rounds: list[int]) -> datetime:
    first = meta.published + timedelta(seconds=rng_for(seed, "modified", meta.index).randint(60, 4 * 3600))
    return first + EDIT_SHIFT * rounds[-1] if rounds else first


def gb_content(seed: int, metas: list[ArticleMeta], meta: ArticleMeta, rounds: list[int]) -> Content:
    source = metas[meta.copy_of if meta.copy_of is not None else (meta.near_copy_of or meta.index)]
    if meta.near_copy_of is None and meta.copy_of is None:
        source = meta
    lead, blocks = _body_blocks(seed, source)
    if meta.near_copy_of is not None:
        blocks = _near_copy(blocks)
    blocks = _apply_edits(seed, meta, blocks, rounds)
    body = "\n".join([lead, *(b.text for b in blocks)])
    tags = _tags(seed, meta, body)
    rng = rng_for(seed, "extras", meta.index)
    template, names_and_place = _byline(seed, meta)
    *names, place = names_and_place or ("",)
    editor = rng.choice(text.EDITORS)
    editor_form = EDITOR_FORMS[meta.features.editor_form]
    lead_image = None
    if meta.features.lead_image and meta.layout != "pre2013":
        credit = text.CAPTION_CREDITS[meta.features.credit]
        lead_image = _image(meta.number, meta.published, 0, text.caption(rng), credit)
    categories = _categories(seed, meta)
    d = meta.beijing
    return Content(
        edition="gb",
        title=title_for(seed, meta),
        dateline=f"【大纪元{d.year}年{d.month:02d}月{d.day:02d}日讯】" if meta.features.dateline else None,
        byline=_format_byline(template, names, place),
        byline_own_paragraph=meta.features.byline in OWN_PARAGRAPH_BYLINES,
        authors=tuple(names),
        lead_text=lead,
        blocks=_link_tags(blocks, tags),
        end_mark="" if "#" in editor_form else END_MARKS[meta.features.end_mark],
        editor=editor if editor_form else None,
        editor_line=editor_form.format(E=editor) if editor_form else None,
        lead_image=lead_image,
        categories=categories,
        section=categories[0]
        if categories
        else (dict(CHANNELS)[meta.channels[0]] if meta.layout == "current" else None),
        tags=tags,
        modified=modified_at(seed, meta, rounds),
        channel_titles=tuple(dict(CHANNELS)[c] for c in meta.channels),
    )


def _format_byline(template: str, names: list[str], place: str) -> str:
    keys = [key for key in ("T", "A", "B") if "{" + key + "}" in template]
    return template.format(P=place, **dict(zip(keys, names, strict=False)))


def to_b5(content: Content) -> Content:
    """OpenCC s2t of every text piece, converted piece by piece so the truth is exactly s2t of gb's."""
    convert = text.s2t
    return replace(
        content,
        edition="b5",
        title=convert(content.title),
        dateline=convert(content.dateline) if content.dateline else None,
        byline=_convert_byline(content, convert),
        authors=tuple(convert(a) for a in content.authors),
        lead_text=convert(content.lead_text),
        blocks=tuple(_convert_block(b, convert) for b in content.blocks),
        editor=convert(content.editor) if content.editor else None,
        editor_line=convert(content.editor_line) if content.editor_line else None,
        lead_image=_convert_image(content.lead_image, convert),
        categories=tuple(convert(c) for c in content.categories),
        section=convert(content.section) if content.section else None,
        tags=tuple(convert(t) for t in content.tags),
        channel_titles=tuple(convert(t) for t in content.channel_titles),
    )


def _convert_byline(content: Content, convert: Callable[[str], str]) -> str:
    """Names and places are converted on their own: the truth's authors are s2t of each gb name."""
    byline = content.byline
    for name in sorted(content.authors, key=len, reverse=True):
        byline = byline.replace(name, "\x00" + str(content.authors.index(name)) + "\x01")
    converted = convert(byline)
    for i, name in enumerate(content.authors):
        converted = converted.replace("\x00" + str(i) + "\x01", convert(name))
    return converted


def _convert_image(image: Image | None, convert: Callable[[str], str]) -> Image | None:
    if image is None:
        return None
    return replace(
        image,
        caption=convert(image.caption) if image.caption else None,
        credit_printed=convert(image.credit_printed),
    )


def _convert_block(block: Block, convert: Callable[[str], str]) -> Block:
    converted_text = convert(block.text)
    links = tuple(c for c in (convert(w) for w in block.links) if c in converted_text)
    return replace(block, text=converted_text, links=links, image=_convert_image(block.image, convert))


def truth_dict(meta: ArticleMeta, content: Content) -> dict[str, Any]:
    """DESIGN.md "Truth JSON": `Article.to_json_dict()` minus `body_html`."""
    published, source = published_and_source(meta)
    body_text = "\n".join(content.body_lines())
    return {
        "article_id": meta.article_id,
        "url": CANONICAL_BASE + meta.path(content.edition),
        "edition": content.edition,
        "language": LANGUAGES[content.edition],
        "title": content.title,
        "published_at": published.isoformat(),
        "date_source": source,
        "body_text": body_text,
        "updated_at": _updated_at(meta, content),
        "section": content.section,
        "categories": list(content.categories),
        "tags": list(content.tags),
        "authors": list(content.authors),
        "editor": content.editor,
        "dateline": content.dateline,
        "images": [{"url": i.url, "caption": i.caption, "credit": i.credit} for i in content.images()],
        "char_count": len(body_text),
        "extractor": meta.layout,
    }


def published_and_source(meta: ArticleMeta) -> tuple[datetime, str]:
    f = meta.features
    minute = meta.published.replace(second=0)
    if meta.layout == "pre2013":
        return minute, "page"
    if meta.layout == "legacy" or f.meta_published or f.json_ld != "none":
        return meta.published, "page"
    if f.time_element:
        return minute, "page"
    if f.dateline:
        return datetime.combine(meta.beijing.date(), time(0), BEIJING).astimezone(UTC), "dateline"
    return datetime.combine(meta.url_date, time(12), UTC), "url"


def _updated_at(meta: ArticleMeta, content: Content) -> str | None:
    has_page_clock = meta.features.json_ld != "none" or meta.features.time_element
    if meta.layout != "current" or not has_page_clock:
        return None
    return content.modified.astimezone(UTC).isoformat()
