"""Word-level helpers shared by the summarizer and retrieval: tokens, stop words, stems."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)

STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
    i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves said says say told
    will just like one two new also year years could would may might us mr mrs ms s t
    """.split()
)

_SUFFIXES = ("ational", "ization", "fulness", "ousness", "iveness", "ations", "ation", "ments",
             "ment", "ness", "ings", "ing", "edly", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def words(text: str) -> list[str]:
    """Lower-cased word and number tokens, apostrophes kept inside words."""
    return [w.lower().replace("\u2019", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match "talks" with "talk", cheap enough for hot loops."""
    if len(word) <= 3 or word[0].isdigit():
        return word
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                word += "y"
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]  # "propose" and "proposed" meet at "propos"
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stop words: what the summarizer and retrieval compare."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1]


def unit(vec: Mapping[str, float]) -> dict[str, float]:
    """``vec`` scaled to length 1 (empty when it is all zeros)."""
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """The dot product of two sparse vectors (the cosine, for unit vectors)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b[k] for k, v in a.items() if k in b)


def tfidf(counts: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """Unit tf-idf vectors of term weights, with idf taken over these documents alone."""
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    n = len(counts)
    idf = {t: math.log(1.0 + n / f) for t, f in df.items()}
    return [unit({t: w * idf[t] for t, w in c.items()}) for c in counts]
