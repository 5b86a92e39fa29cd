"""The article body: noise removal, text lines, opening/closing lines, figures and whitelisted HTML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

from lxml import etree

from crawler.extract.byline import Opening, split_opening
from crawler.extract.dom import Element, drop_keeping_tail, has_token, is_element, text_content, visible_text
from crawler.extract.editor import editor_name, strip_end_marker
from crawler.extract.images import figure_image, image_url, unique_images, web_url
from crawler.extract.model import Image
from crawler.extract.text import normalize_lines

# Noise: these elements, div#below_article_ad, div#recommend_post, div.share, comments and processing
# instructions, found by one walk (an XPath union of them cost more than the rest of the body's reading).
_NOISE_TAGS = ("header", "aside", "twitter-widget", "script", "style", "iframe", "ins")
_NOISE_DIV_IDS = frozenset({"below_article_ad", "recommend_post"})
_DIV = "div"
TEXT_BLOCK_TAGS = frozenset({"p", "h2", "h3", "h4"})
FIGURE_TAG = "figure"
# Text blocks are not looked for inside these: a nested block is its outer block's text, a figure's is caption.
_BLOCK_BARRIERS = TEXT_BLOCK_TAGS | {FIGURE_TAG}
# Captions repeat what the image shows; noscript holds lazy-image fallbacks, not text.
_NOT_BODY_TEXT = frozenset({"figure", "figcaption", "noscript"})

ALLOWED_TAGS = frozenset(
    {"p", "h2", "h3", "h4", "figure", "img", "figcaption", "a", "br", "strong", "em", "b", "i"}
)
# Elements whose content is code, embedded documents or form controls: dropped with everything inside.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
        "noscript", "noembed", "noframes", "template", "textarea", "select", "xmp", "plaintext", "head",
    }
)  # fmt: skip
# Comments, processing instructions and entity references are not content either (their tails are).
_DROPPED_NODES = (*DROPPED_WITH_CONTENT, etree.Comment, etree.ProcessingInstruction, etree.Entity)
_ATTRIBUTED_TAGS = ("a", "img")


@dataclass(slots=True)
class Body:
    text: str
    dateline: str | None = None
    authors: list[str] = field(default_factory=list)
    editor: str | None = None
    images: list[Image] = field(default_factory=list)
    byline_issue: str | None = None
    # The image URL of each figure, decided once, for clean_html's img elements in figures.
    figure_urls: dict[Element, str | None] = field(default_factory=dict)


def read_body(container: Element, base_url: str) -> Body:
    """Everything the body yields but its HTML (``clean_html``); ``container`` is cleaned of noise in place."""
    remove_noise(container)
    lines = [line for line in normalize_lines(block_texts(container, text_blocks(container))) if line]
    opening = split_opening(lines[0]) if lines else Opening("")
    lines[:1] = [opening.rest]
    editor = pop_editor(lines)
    if lines:
        lines[-1] = strip_end_marker(lines[-1])
    figure_urls = {figure: image_url(figure, base_url) for figure in container.iterdescendants(FIGURE_TAG)}
    return Body(
        text="\n".join(line for line in lines if line),
        dateline=opening.dateline,
        authors=opening.authors,
        editor=editor,
        images=unique_images(figure_image(figure, url) for figure, url in figure_urls.items()),
        byline_issue=opening.byline_issue,
        figure_urls=figure_urls,
    )


def remove_noise(container: Element) -> None:
    candidates = container.iterdescendants(*_NOISE_TAGS, _DIV, etree.Comment, etree.ProcessingInstruction)
    for node in [node for node in candidates if node.tag != _DIV or _is_noise_div(node)]:
        drop_keeping_tail(node)


def _is_noise_div(div: Element) -> bool:
    return div.get("id") in _NOISE_DIV_IDS or has_token(div, "class", "share")


def text_blocks(container: Element) -> list[Element]:
    """The outermost p and h2-h4 outside figures, in document order, so each text is read once (a walk:
    the equivalent XPath's ancestor tests cost more than the rest of the body). A container that is, or is
    inside, a block or a figure has none."""
    if any(node.tag in _BLOCK_BARRIERS for node in (container, *container.iterancestors())):
        return []
    blocks: list[Element] = []
    _collect_blocks(container, blocks)
    return blocks


def _collect_blocks(element: Element, blocks: list[Element]) -> None:
    for child in element:
        if child.tag in TEXT_BLOCK_TAGS:
            blocks.append(child)
        elif child.tag != FIGURE_TAG and is_element(child):
            _collect_blocks(child, blocks)


def block_texts(container: Element, blocks: list[Element]) -> list[str]:
    """Each block's text without captions and noscript fallbacks: one walk finds the blocks that hold any (a
    check per block cost more than reading its text)."""
    holding: set[Element] = set()
    for node in container.iterdescendants(*_NOT_BODY_TEXT):
        for ancestor in node.iterancestors():
            if ancestor is container:
                break
            holding.add(ancestor)
    return [
        visible_text(block, _NOT_BODY_TEXT) if block in holding else text_content(block) for block in blocks
    ]


def pop_editor(lines: list[str]) -> str | None:
    """Remove the last editor line from ``lines`` and return its name."""
    for index in range(len(lines) - 1, -1, -1):
        name = editor_name(lines[index])
        if name is not None:
            del lines[index]
            return name
    return None


def clean_html(container: Element, base_url: str, image_urls: Mapping[Element, str | None]) -> str:
    """The body rebuilt from whitelisted tags and attributes only; other tags are unwrapped.

    Rewrites ``container`` in place, so it comes after every other reading of the page: a copy cost more
    than the rest of the clean-up. lxml's C-level strip functions do the rewriting (node by node in Python
    cost more than the rest of the extraction). Attributes are all decided before anything changes, while the
    figures still hold the noscript and lazy-image sources that the full-size image URL comes from;
    ``image_urls`` are those already decided (``image_url``) for some of its elements.
    """
    decided = [
        (element, _safe_attributes(element, base_url, image_urls))
        for element in container.iterdescendants(*_ATTRIBUTED_TAGS)
    ]
    for element, attributes in decided:
        if attributes is None:
            drop_keeping_tail(element)
        else:
            element.attrib.clear()
            for name, value in attributes.items():
                element.set(name, value)
    etree.strip_elements(container, *_DROPPED_NODES, with_tail=False)
    unwrapped: set[str] = set()
    for element in container.iterdescendants():
        tag = element.tag  # lxml makes a new string at each read
        if tag not in ALLOWED_TAGS:
            unwrapped.add(tag)
        elif tag not in _ATTRIBUTED_TAGS and element.attrib:
            element.attrib.clear()
    etree.strip_tags(container, *unwrapped)
    text, container.text = container.text, None
    return (escape(text or "", quote=False) + _inner_html(container)).strip()


def _inner_html(element: Element) -> str:
    """The serialized children of ``element`` (with their tails), from one serialization of the element
    rather than one per child."""
    element.attrib.clear()
    whole = etree.tostring(element, encoding="unicode", method="html", with_tail=False)
    start, end = f"<{element.tag}>", f"</{element.tag}>"
    if whole.startswith(start) and whole.endswith(end):
        return str(whole[len(start) : -len(end)])
    # An element the HTML serializer writes without an end tag (a void element such as img).
    return "".join(etree.tostring(child, encoding="unicode", method="html") for child in element)


def _safe_attributes(
    element: Element, base_url: str, image_urls: Mapping[Element, str | None]
) -> dict[str, str] | None:
    """Allowed attributes of an a or img element; None when the element is useless without them."""
    if element.tag == "a":
        href = web_url(element.get("href") or "", base_url)
        return {"href": href} if href else {}
    if element.tag == "img":
        context = _image_context(element)
        src = image_urls[context] if context in image_urls else image_url(context, base_url)
        if src is None:
            return None
        alt = element.get("alt") or ""
        return {"src": src, "alt": alt} if alt else {"src": src}
    return {}


def _image_context(img: Element) -> Element:
    """Where an image's full-size URL is decided: its figure, else its link, else itself."""
    figure = next((ancestor for ancestor in img.iterancestors() if ancestor.tag == FIGURE_TAG), None)
    if figure is not None:
        return figure
    parent = img.getparent()
    return parent if parent is not None and parent.tag == "a" else img
