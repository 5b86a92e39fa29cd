"""Lead and in-body images: full-size absolute URL, caption and credit (docs/DESIGN.md, images)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from crawler.extract.dom import Element, first, line_of
from crawler.extract.model import Image

WEB_SCHEMES = frozenset({"http", "https"})
_IMAGE_EXTENSION_RE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp)$", re.IGNORECASE)
# WordPress resized copies: name-600x400.jpg is a thumbnail of name.jpg.
_SIZE_SUFFIX_RE = re.compile(r"-\d+x\d+(?=\.[A-Za-z0-9]+$)")
_TRAILING_CREDIT_RE = re.compile(r"^(.*?)\s*(?:（([^（）]*)）|\(([^()]*)\))$", re.DOTALL)
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")
# An absolute http(s) URL that urljoin and urlsplit give back as it is (a lowercase scheme, a host of letters,
# digits, dots and hyphens, a port, a path and a non-empty query of URL characters; no params, no fragment): what
# nearly every link and image of the site is, taken as it is (urljoin was a sixth of an extraction's time).
_PLAIN_WEB_URL_RE = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?P<path>/[A-Za-z0-9\-._~!$&'()*+,=:@%/]*)?"
    r"(?:\?[A-Za-z0-9\-._~!$&'()*+,=:@%/?]+)?"
)

NOSCRIPT = "noscript"


def web_url(value: str, base_url: str) -> str | None:
    """``value`` made absolute against the page; None unless it is a plain http(s) URL."""
    candidate = value.strip()
    if _PLAIN_WEB_URL_RE.fullmatch(candidate):
        return candidate
    try:
        absolute = urljoin(base_url, candidate)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in WEB_SCHEMES or not parts.netloc or _CONTROL_CHARS_RE.search(absolute):
        return None
    return absolute


def full_size(url: str) -> str:
    plain = _PLAIN_WEB_URL_RE.fullmatch(url)
    if plain is not None:
        return _plain_full_size(url, plain)
    parts = urlsplit(url)
    return parts._replace(path=_SIZE_SUFFIX_RE.sub("", parts.path)).geturl()


def _plain_full_size(url: str, plain: re.Match[str]) -> str:
    # urlsplit's path of a plain URL is the path group, and geturl puts the parts back as they were.
    start, end = plain.span("path")
    return url if start < 0 else url[:start] + _SIZE_SUFFIX_RE.sub("", url[start:end]) + url[end:]


def image_url(container: Element, base_url: str) -> str | None:
    """Full-size URL: an image link, else the noscript copy, else the lazy source, else a real ``src``."""
    for candidate in _candidate_urls(container):
        stripped = candidate.strip()
        plain = _PLAIN_WEB_URL_RE.fullmatch(stripped)
        if plain is not None:  # web_url gives it back as it is: matched once for both steps
            return _plain_full_size(stripped, plain)
        url = web_url(candidate, base_url)
        if url is not None:
            return full_size(url)
    return None


def _candidate_urls(container: Element) -> Iterable[str]:
    """Walks in the order of, and finding what, the XPaths ``descendant-or-self::a/@href`` (to an image),
    ``.//noscript//img/@src``, ``descendant-or-self::img/@data-src`` and
    ``descendant-or-self::img[not(ancestor::noscript)]/@src`` find; walks cost less than XPath calls here."""
    yield from _attribute_values(container.iter("a"), "href", points_to_image)
    yield from _attribute_values(
        (img for img in container.iterdescendants("img") if _in_noscript_below(img, container)), "src"
    )
    yield from _attribute_values(container.iter("img"), "data-src")
    yield from _attribute_values(
        (img for img in container.iter("img") if not any(a.tag == NOSCRIPT for a in img.iterancestors())),
        "src",
    )


def _attribute_values(
    elements: Iterable[Element], name: str, keep: Callable[[str], bool] | None = None
) -> Iterator[str]:
    for element in elements:
        value = element.get(name)
        if value is not None and (keep is None or keep(value)):
            yield value


def _in_noscript_below(element: Element, container: Element) -> bool:
    """Whether a noscript inside ``container`` holds ``element``."""
    for ancestor in element.iterancestors():
        if ancestor is container:
            return False
        if ancestor.tag == NOSCRIPT:
            return True
    return False


def points_to_image(href: str) -> bool:
    stripped = href.strip()
    plain = _PLAIN_WEB_URL_RE.fullmatch(stripped)
    if plain is not None:
        return _IMAGE_EXTENSION_RE.search(plain.group("path") or "") is not None
    try:
        path = urlsplit(stripped).path
    except ValueError:
        return False
    return _IMAGE_EXTENSION_RE.search(path) is not None


def split_credit(caption: str) -> tuple[str | None, str | None]:
    """A caption's trailing parenthesised part is the credit; empty parts become None."""
    match = _TRAILING_CREDIT_RE.match(caption)
    if match is None:
        return caption or None, None
    text, full_width, ascii_credit = match.groups()
    credit = (full_width if full_width is not None else ascii_credit).strip()
    return text.strip() or None, credit or None


def image_of(container: Element, caption_element: Element | None, base_url: str) -> Image | None:
    return image_with(image_url(container, base_url), caption_element)


def image_with(url: str | None, caption_element: Element | None) -> Image | None:
    """The image at ``url`` (None: no image) with the caption and credit of ``caption_element``."""
    if url is None:
        return None
    caption, credit = split_credit(line_of(caption_element))
    return Image(url=url, caption=caption, credit=credit)


def figure_image(figure: Element, url: str | None) -> Image | None:
    """A figure's image, whose URL (``image_url`` of the figure) the caller has decided."""
    return image_with(url, first(figure.iterdescendants("figcaption")))


def unique_images(images: Iterable[Image | None]) -> list[Image]:
    """Images in order, each URL once."""
    seen: dict[str, Image] = {}
    for image in images:
        if image is not None and image.url not in seen:
            seen[image.url] = image
    return list(seen.values())
