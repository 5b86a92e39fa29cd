"""The cross-check (issue 11): the site's parser against the general extractor on the same page.

A markup change that raises no error (a new wrapper that halves the body, a byline form that yields no author)
leaves the site's parser reading a plausible but wrong article. The general extractor makes no assumption
about the site's markup, so on a sample of pages both read the page and three fields are compared:

- ``body``: ``body_f1`` below ``min_f1`` (on the site's known layouts the lowest F1 is above 0.9);
- ``authors``: the same set of names (on every page of the replica they are);
- ``title``: the same headline once spaces and case are ignored, or one containing the other (a kicker or a
  subtitle kept by one of them is no disagreement).

A disagreement means one of them is wrong, most likely the one that trusts the markup. Section, categories
and tags are not compared: the site files them in markup no general rule can know (a category row of links).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from crawler.extract.model import Article
from crawler.extract.similarity import body_f1
from crawler.extract.text import normalize_line

BODY = "body"
AUTHORS = "authors"
TITLE = "title"
FIELDS = (BODY, AUTHORS, TITLE)
DEFAULT_RATE = 0.05
DEFAULT_MIN_F1 = 0.8
_HASH_BYTES = 8
_HASH_SPACE = 1 << (8 * _HASH_BYTES)
_SPACES_RE = re.compile(r"\s+")


def is_sampled(article_id: str, rate: float) -> bool:
    """Whether ``article_id`` is in the sample: about ``rate`` of all ids, the same ones in every run and on
    every worker (a hash of the id, not a random draw), so a rerun checks the same pages."""
    digest = hashlib.blake2b(article_id.encode(), digest_size=_HASH_BYTES).digest()
    return int.from_bytes(digest, "big") < rate * _HASH_SPACE


@dataclass(frozen=True, slots=True)
class CrossCheck:
    url: str
    f1: float
    site_chars: int
    generic_chars: int
    authors_agree: bool = True
    title_agree: bool = True

    def disagreements(self, min_f1: float) -> list[str]:
        """The fields the two extractors disagree on, in FIELDS order."""
        agreed = {BODY: self.f1 >= min_f1, AUTHORS: self.authors_agree, TITLE: self.title_agree}
        return [name for name in FIELDS if not agreed[name]]

    def agrees(self, min_f1: float) -> bool:
        return not self.disagreements(min_f1)


def cross_check(site: Article, generic: Article) -> CrossCheck:
    """How close the site parser's article is to the general extractor's, for the same page."""
    return CrossCheck(
        url=site.url,
        f1=body_f1(site.body_text, generic.body_text),
        site_chars=len(site.body_text),
        generic_chars=len(generic.body_text),
        authors_agree={normalize_line(name) for name in site.authors}
        == {normalize_line(name) for name in generic.authors},
        title_agree=titles_agree(site.title, generic.title),
    )


def titles_agree(site: str, generic: str) -> bool:
    ours, theirs = _squeezed(site), _squeezed(generic)
    return bool(ours) and bool(theirs) and (ours in theirs or theirs in ours)


def _squeezed(title: str) -> str:
    return _SPACES_RE.sub("", title).casefold()
