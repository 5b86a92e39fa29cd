"""The article body: noise removal, text lines, opening/closing lines, figures and whitelisted HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from lxml import etree

from crawler.extract.byline import Opening, split_opening
from crawler.extract.dom import Element, drop_keeping_tail, has_class, is_element, visible_text
from crawler.extract.editor import editor_name, strip_end_marker
from crawler.extract.images import figure_image, image_url, unique_images, web_url
from crawler.extract.model import Image
from crawler.extract.text import normalize_line

_NOISE = etree.XPath(
    ".//header | .//aside | .//div[@id='below_article_ad'] | .//div[@id='recommend_post']"
    " | .//twitter-widget | .//script | .//style | .//iframe | .//ins"
    f" | .//div[{has_class('share')}] | .//comment() | .//processing-instruction()"
)
_TEXT_BLOCK = "self::p or self::h2 or self::h3 or self::h4"
# Outermost text blocks only, so a block nested in another (or in a figure's caption) is read once.
_BLOCKS = etree.XPath(f"descendant::*[{_TEXT_BLOCK}][not(ancestor::figure)][not(ancestor::*[{_TEXT_BLOCK}])]")
_FIGURES = etree.XPath(".//figure")
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


@dataclass(slots=True)
class Body:
    text: str
    html: str
    dateline: str | None = None
    authors: list[str] = field(default_factory=list)
    editor: str | None = None
    images: list[Image] = field(default_factory=list)


def read_body(container: Element, base_url: str) -> Body:
    """Everything the body yields; ``container`` is cleaned of noise in place."""
    remove_noise(container)
    lines = [line for line in map(block_line, _BLOCKS(container)) if line]
    opening = split_opening(lines[0]) if lines else Opening("")
    lines[:1] = [opening.rest]
    editor = pop_editor(lines)
    if lines:
        lines[-1] = strip_end_marker(lines[-1])
    return Body(
        text="\n".join(line for line in lines if line),
        html=clean_html(container, base_url),
        dateline=opening.dateline,
        authors=opening.authors,
        editor=editor,
        images=unique_images(figure_image(figure, base_url) for figure in _FIGURES(container)),
    )


def remove_noise(container: Element) -> None:
    for node in _NOISE(container):
        drop_keeping_tail(node)


def block_line(block: Element) -> str:
    return normalize_line(visible_text(block, _NOT_BODY_TEXT))


def pop_editor(lines: list[str]) -> str | None:
    """Remove the last editor line from ``lines`` and return its name."""
    for index in range(len(lines) - 1, -1, -1):
        name = editor_name(lines[index])
        if name is not None:
            del lines[index]
            return name
    return None


def clean_html(container: Element, base_url: str) -> str:
    """The body rebuilt from whitelisted tags and attributes only; other tags are unwrapped."""
    root = etree.Element("div")
    _copy_content(container, root, base_url)
    children = "".join(etree.tostring(child, encoding="unicode", method="html") for child in root)
    return (escape(root.text or "", quote=False) + children).strip()


def _copy_content(source: Element, target: Element, base_url: str) -> None:
    _append_text(target, source.text)
    for child in source:
        if is_element(child) and child.tag not in DROPPED_WITH_CONTENT:
            _copy_element(child, target, base_url)
        _append_text(target, child.tail)


def _copy_element(source: Element, target: Element, base_url: str) -> None:
    if source.tag not in ALLOWED_TAGS:
        _copy_content(source, target, base_url)
        return
    attributes = _safe_attributes(source, base_url)
    if attributes is None:
        return
    copy = etree.SubElement(target, source.tag, attributes)
    _copy_content(source, copy, base_url)


def _safe_attributes(element: Element, base_url: str) -> dict[str, str] | None:
    """Allowed attributes of a copied element; None when the element is useless without them."""
    if element.tag == "a":
        href = web_url(element.get("href") or "", base_url)
        return {"href": href} if href else {}
    if element.tag == "img":
        src = image_url(_image_context(element), base_url)
        if src is None:
            return None
        alt = element.get("alt") or ""
        return {"src": src, "alt": alt} if alt else {"src": src}
    return {}


def _image_context(img: Element) -> Element:
    """Where an image's full-size URL is decided: its figure, else its link, else itself."""
    figure = next(img.iterancestors("figure"), None)
    if figure is not None:
        return figure
    parent = img.getparent()
    return parent if parent is not None and parent.tag == "a" else img


def _append_text(target: Element, text: str | None) -> None:
    if not text:
        return
    if len(target):
        last = target[-1]
        last.tail = (last.tail or "") + text
    else:
        target.text = (target.text or "") + text
