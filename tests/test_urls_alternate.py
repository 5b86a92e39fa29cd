from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.urls import CANONICAL_BASE, alternate_urls, without_query

SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "mailto", "javascript", ""])
SEPARATORS = st.sampled_from(["://", ":", ":/", ":///", "//", "", " ://"])
HOSTS = st.one_of(
    st.sampled_from(
        [
            "www.epochtimes.com",
            "epochtimes.com",
            "a",
            "",
            "user@h:80",
            "h:port",
            "[::1]",
            "[bad",
            "bad]",
            "é.com",
        ]
    ),
    st.sampled_from(["h h", "H.COM", "h\t", "h%41", "ａ.com", "h\\x"]),
    st.text(max_size=6),
)
SEGMENTS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "a",
        "n14665964.htm",
        "%20",
        "a b",
        "é",
        "p;q",
        "x?y",
        "z#f",
        "\t",
        "\n",
        "\\",
        "~",
        "\x00",
    ]
)
URLS = st.one_of(
    st.builds(
        lambda pad, scheme, sep, host, segments, tail, end: (
            f"{pad}{scheme}{sep}{host}/{'/'.join(segments)}{tail}{end}"
        ),
        st.sampled_from(["", " ", "\t", "\x0b"]),
        SCHEMES,
        SEPARATORS,
        HOSTS,
        st.lists(SEGMENTS, max_size=4),
        st.sampled_from(["", "?", "?a=1", "#", "#top", "?a#b"]),
        st.sampled_from(["", " ", "\n", "\u3000"]),
    ),
    st.text(max_size=30),
    st.text(alphabet="htps:/?#;.[]@%a é\t", max_size=30),
)


def _urljoin_split(url: str) -> str | None:
    """What without_query answers by definition: the URL joined to the canonical site, split and put back
    together without query or fragment."""
    parts = urlsplit(urljoin(f"{CANONICAL_BASE}/", url.strip()))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _outcome(clean: object, url: str) -> object:
    try:
        return clean(url)  # type: ignore[operator]
    except (
        ValueError
    ) as error:  # urlsplit's: an invalid IPv6 host, a host that NFKC-normalizes to a separator
        return type(error)


@settings(max_examples=3000, deadline=None)
@given(URLS)
@example("https://www.epochtimes.com/gb/26/1/31/n14665964.htm")
@example("http://www.epochtimes.com//gb/../n1.htm")
@example("HTTPS://www.epochtimes.com/gb/n1.htm")
@example("https://[::1]/a")
@example("https://a/b c")
@example("https://a/é")
def test_without_query_is_urljoin_then_split(url: str) -> None:
    """The shortcut for plain absolute URLs gives exactly what joining and splitting gives."""
    assert _outcome(without_query, url) == _outcome(_urljoin_split, url)


def test_alternate_urls_are_cleaned_unique_and_never_the_canonical() -> None:
    canonical = "https://www.epochtimes.com/gb/1/2/3/n1.htm"
    seen = [
        " http://www.epochtimes.com/gb/1/2/3/n1.htm?x=1 ",
        "http://www.epochtimes.com/gb/1/2/3/n1.htm",
        "https://www.epochtimes.com/gb/1/2/3/n1.htm#top",
        "/b5/1/2/3/n1.htm",
        "mailto:someone@example.com",
    ]
    assert alternate_urls(seen, canonical) == [
        "http://www.epochtimes.com/gb/1/2/3/n1.htm",
        "https://www.epochtimes.com/b5/1/2/3/n1.htm",
    ]
    assert alternate_urls([], canonical) == []
