"""The cross-check (issue 11): the site's parser against the general extractor on the same page.

A markup change that raises no error (a new wrapper that halves the body) leaves the site's parser reading a
plausible but wrong article. The general extractor makes no assumption about the site's markup, so on a sample
of pages both read the page and their bodies are compared with ``body_f1``: on the site's known layouts they
agree closely (on the replica the lowest F1 is above 0.9), so a score below ``min_f1`` means one of them is
wrong, most likely the one that trusts the markup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crawler.extract.model import Article
from crawler.extract.similarity import body_f1

DEFAULT_RATE = 0.05
DEFAULT_MIN_F1 = 0.8
_HASH_BYTES = 8
_HASH_SPACE = 1 << (8 * _HASH_BYTES)


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

    def agrees(self, min_f1: float) -> bool:
        return self.f1 >= min_f1


def cross_check(site: Article, generic: Article) -> CrossCheck:
    """How close the site parser's body is to the general extractor's, for the same page."""
    return CrossCheck(
        url=site.url,
        f1=body_f1(site.body_text, generic.body_text),
        site_chars=len(site.body_text),
        generic_chars=len(generic.body_text),
    )
