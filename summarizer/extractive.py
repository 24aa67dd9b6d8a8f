"""The offline extractive summarizer: a small learned sentence scorer with redundancy control.

Each sentence is described by a few cheap hand features: where it stands (news puts the
point first), how long it is, how central it is (PACSUM-style directed centrality over
TF-IDF vectors and a TextRank-style word-overlap degree), how close it is to the title,
and what it looks like (numbers, names, quotes, questions, extraction debris). A linear
model over those features, fitted offline on oracle labels (``bench/train.py``) and
shipped as ``summarizer/data/extractive_weights_v2.json``, turns them into a score.
The model is conditioned on the article's length: some features also enter multiplied
by :func:`doc_length` (the number of sentences on a log scale), so a short article and a
long one can weigh position, length and centrality differently.
Sentences are then picked greedily with maximal marginal relevance so the summary does
not say the same thing twice, and returned in article order. Bylines, photo credits and
calls to action are never picked unless nothing else is left.

Run time is pure Python: no numpy, no model download, a few milliseconds per article.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping, Sequence

from .sentences import Sentence, sentence_spans
from .text import STOP_WORDS, content_terms, dot, stem, tfidf, unit, words

WEIGHTS_FILE = "extractive_weights_v2.json"

# The feature names, in the order :func:`sentence_features` computes them.
FEATURES = (
    "pos_inv",          # 1 / (1 + index)
    "pos_first",        # the first sentence
    "pos_lead3",        # one of the first three sentences
    "pos_rel",          # index / (n - 1)
    "para_first",       # the first sentence of its paragraph
    "para_rel",         # paragraph number / number of paragraphs
    "log_words",        # log(1 + words)
    "short",            # how far below 8 words
    "long",             # how far above 45 words
    "len_rel",          # words / longest sentence's words
    "fwd_central",      # PACSUM: similarity to the sentences after it
    "bwd_central",      # similarity to the sentences before it
    "central_rel",      # TF-IDF degree / the document's highest
    "overlap_rel",      # TextRank-style overlap degree / the document's highest
    "title_sim",        # cosine with the title (0 without a title)
    "title_cover",      # share of the title's terms the sentence contains
    "numbers",          # number tokens / words
    "capitals",         # capitalised words after the first / words
    "quote",            # contains quotation marks
    "question",         # ends in a question mark
    "colon_end",        # ends in a colon (a lead-in to a list or quote)
    "lower_start",      # starts in lower case or with punctuation (a fragment)
    "pronoun_start",    # starts with a pronoun or connective (needs context)
    "debris",           # looks like a byline, credit or call to action
)

# Features that also enter multiplied by the article's length, :func:`doc_length`.
DOC_FEATURES = (
    "pos_inv", "pos_first", "pos_lead3", "log_words", "len_rel", "long", "short",
    "central_rel", "overlap_rel", "fwd_central", "bwd_central", "title_cover", "title_sim",
)

# doc_length is 0 at this many sentences, +-1 at twice or half as many, clamped to +-DOC_CLAMP.
DOC_CENTER = 20.0
DOC_CLAMP = 2.0


def doc_length(n_sentences: int) -> float:
    """The article's length as the model sees it: log2(sentences / 20), clamped to [-2, 2]."""
    value = math.log2(max(1, n_sentences) / DOC_CENTER)
    return max(-DOC_CLAMP, min(DOC_CLAMP, value))


@dataclass(frozen=True)
class ExtractiveWeights:
    """The scorer's parameters: a linear model over :data:`FEATURES` plus selection knobs.

    ``ExtractiveWeights()`` loads the tuned, shipped weights.
    """

    coef: Mapping[str, float] = field(default_factory=lambda: dict(_shipped()["coef"]))
    intercept: float = field(default_factory=lambda: float(_shipped()["intercept"]))
    redundancy: float = field(default_factory=lambda: float(_shipped()["selection"]["redundancy"]))
    debris_penalty: float = 100.0
    # Coefficients of feature x doc_length, for the features in DOC_FEATURES (missing = 0).
    coef_doc: Mapping[str, float] = field(default_factory=lambda: dict(_shipped().get("coef_doc", {})))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExtractiveWeights":
        return cls(coef=dict(data["coef"]), intercept=float(data["intercept"]),
                   redundancy=float(data["selection"]["redundancy"]),
                   coef_doc=dict(data.get("coef_doc", {})))


_SHIPPED: dict[str, Any] | None = None


def _shipped() -> dict[str, Any]:
    global _SHIPPED
    if _SHIPPED is None:
        text = resources.files("summarizer").joinpath("data").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
        _SHIPPED = json.loads(text)
    return _SHIPPED


_DEBRIS = re.compile(
    r"^(?:by\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}(?:,|$|\s+and\b|\s*[|/-])|updated\b|published\b|"
    r"posted\b|last updated\b|photo\b|photos\b|image\b|images\b|caption\b|source:|read more\b|"
    r"read the full\b|click here\b|follow (?:us|him|her|me)\b|sign up\b|subscribe\b|share this\b|"
    r"advertisement\b|copyright\b|all rights reserved\b|related:|related articles?\b|watch:|video:|"
    r"see also\b|scroll down\b|(?:this|the) (?:story|article) (?:was|has been) (?:updated|corrected)|"
    r"(?:email|e-mail) (?:us|me)\b|do you have\b|have your say\b|contact (?:us|the author)\b)",
    re.IGNORECASE,
)
_CREDIT = re.compile(r"(?:getty images|\bap photo\b|\breuters/|\bphoto:|\(photo|/ ?afp\b|©|"
                     r"\bimage:|\bphotograph: )", re.IGNORECASE)
_DATELINE = re.compile(r"^\s*(?:[A-Z][A-Za-z .,'-]{0,40}\s*)?\((?:CNN|AP|Reuters|AFP)\)\s*(?:--|\u2014|-)?\s*")
_QUOTES = re.compile("[\"\u201c\u201d]|(?:^|\\s)'|'(?:\\s|$)")
_PRONOUN_START = frozenset(
    "he she it they them his her its their this that these those but and so or also however "
    "then there meanwhile still yet instead".split()
)


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float


class ExtractiveSummarizer:
    """The default summarizer: no model download, no network, a few milliseconds per article."""

    name = "extractive"

    def __init__(self, weights: ExtractiveWeights | None = None) -> None:
        self.weights = weights or ExtractiveWeights()
        self._coef = [float(self.weights.coef.get(f, 0.0)) for f in FEATURES]
        unknown = set(self.weights.coef_doc) - set(DOC_FEATURES)
        if unknown:
            raise ValueError(f"coef_doc names features without a length interaction: {sorted(unknown)}")
        self._coef_doc = [float(self.weights.coef_doc.get(f, 0.0)) for f in FEATURES]

    def select(self, text: str, title: str = "", *, sentences: int = 3,
               max_chars: int | None = None, spans: list[Sentence] | None = None) -> list[Sentence]:
        """Pick the summary sentences of ``text``, in article order.

        Args:
            sentences: at most this many sentences.
            max_chars: when set, stop before the total length passes it (the first
                pick is always kept, so a summary is never empty).
            spans: the sentence split to use, when the caller already has one.
        """
        spans = sentence_spans(text) if spans is None else spans
        if not spans or sentences <= 0:
            return []
        feats, vectors = sentence_features(spans, title)
        scores = self._linear(feats)
        chosen = pick(scores, vectors, sentences, self.weights.redundancy,
                      [len(s.text) for s in spans], max_chars)
        return [spans[i] for i in sorted(chosen)]

    def score(self, spans: list[Sentence], title: str = "") -> list[ScoredSentence]:
        """Each sentence with its score, before redundancy control."""
        feats, _ = sentence_features(spans, title)
        return [ScoredSentence(s, v) for s, v in zip(spans, self._linear(feats))]

    def _linear(self, feats: list[list[float]]) -> list[float]:
        # The length interactions fold into one coefficient vector per article.
        g = doc_length(len(feats))
        coef = [c + g * d for c, d in zip(self._coef, self._coef_doc)] if g else self._coef
        b = self.weights.intercept
        debris = FEATURES.index("debris")
        out = []
        for f in feats:
            value = b + sum(c * x for c, x in zip(coef, f))
            if f[debris]:
                value -= self.weights.debris_penalty
            out.append(value)
        return out


def pick(scores: Sequence[float], vectors: Sequence[dict[str, float]], k: int, redundancy: float,
         lengths: Sequence[int] | None = None, max_chars: int | None = None) -> list[int]:
    """Greedy maximal-marginal-relevance choice of up to ``k`` sentence indices (pick order)."""
    remaining = list(range(len(scores)))
    chosen: list[int] = []
    used = 0
    while remaining and len(chosen) < k:
        best, best_value = remaining[0], -math.inf
        for i in remaining:
            overlap = max((dot(vectors[i], vectors[j]) for j in chosen), default=0.0)
            value = scores[i] - redundancy * overlap
            if value > best_value:
                best, best_value = i, value
        remaining.remove(best)
        if chosen and _is_duplicate(vectors[best], [vectors[j] for j in chosen]):
            continue
        if max_chars is not None and lengths is not None and chosen and used + lengths[best] > max_chars:
            continue
        chosen.append(best)
        used += (lengths[best] if lengths is not None else 0) + 1
    return chosen


def _is_duplicate(vec: dict[str, float], others: list[dict[str, float]]) -> bool:
    return bool(vec) and any(dot(vec, o) > 0.9 for o in others)


def sentence_features(spans: Sequence[Sentence], title: str = "") -> tuple[list[list[float]], list[dict[str, float]]]:
    """The :data:`FEATURES` of every sentence, and the sentences' unit TF-IDF vectors."""
    n = len(spans)
    # Datelines such as "LONDON (Reuters) --" only ever open the article.
    texts = [_DATELINE.sub("", s.text) if k == 0 else s.text for k, s in enumerate(spans)]
    tokens = [words(t) for t in texts]
    terms = [[stem(w) for w in toks if w not in STOP_WORDS and len(w) > 1] for toks in tokens]
    counts = [Counter(t) for t in terms]
    vectors = tfidf(counts)
    keys = [set(c) for c in counts]
    logs = [math.log(len(t)) if len(t) > 1 else 0.0 for t in terms]

    forward = [0.0] * n
    backward = [0.0] * n
    overlap = [0.0] * n
    for i in range(n):
        ki = keys[i]
        if not ki:
            continue
        vi, ci, li = vectors[i], counts[i], logs[i]
        # TextRank's self-loop: the sentence's overlap with itself.
        overlap[i] += (sum(c * c for c in ci.values()) / (2 * li)) if li else 1.0
        for j in range(i + 1, n):
            common = ki & keys[j]
            if not common:
                continue
            vj, cj = vectors[j], counts[j]
            sim = 0.0
            shared = 0
            for w in common:
                sim += vi[w] * vj[w]
                shared += ci[w] * cj[w]
            forward[i] += sim
            backward[j] += sim
            norm = li + logs[j]
            edge = shared / norm if norm > 1e-9 else float(shared)
            overlap[i] += edge
            overlap[j] += edge
    norm_n = max(1.0, n - 1.0)
    degree = [0.0] * n
    title_vec: dict[str, float] = {}
    title_terms: set[str] = set()
    if title:
        title_terms = set(content_terms(title))
        title_vec = unit({w: 1.0 for w in title_terms})
    n_words = [len(s.text.split()) for s in spans]
    max_words = max(n_words) if n_words else 1
    paragraphs = (spans[-1].paragraph - spans[0].paragraph + 1) if n else 1
    out = []
    for i, s in enumerate(spans):
        text = s.text
        toks = tokens[i]
        nw = n_words[i]
        first_word = toks[0] if toks else ""
        raw_words = text.split()
        caps = sum(1 for w in raw_words[1:] if w[:1].isupper())
        nums = sum(1 for t in toks if t[:1].isdigit())
        feats = [
            1.0 / (1.0 + i),
            1.0 if i == 0 else 0.0,
            1.0 if i < 3 else 0.0,
            i / norm_n,
            1.0 if i == 0 or spans[i - 1].paragraph != s.paragraph else 0.0,
            (s.paragraph - spans[0].paragraph) / max(1.0, paragraphs - 1.0),
            math.log1p(nw),
            max(0.0, 8.0 - nw) / 8.0,
            min(1.0, max(0.0, nw - 45.0) / 45.0),
            nw / max_words,
            forward[i] / norm_n,
            backward[i] / norm_n,
            0.0,  # central_rel, filled below
            0.0,  # overlap_rel, filled below
            dot(vectors[i], title_vec) if title_vec else 0.0,
            (len(title_terms & set(terms[i])) / len(title_terms)) if title_terms else 0.0,
            nums / max(1, nw),
            caps / max(1, nw - 1),
            1.0 if _has_quote(text) else 0.0,
            1.0 if text.rstrip("\"'\u201d\u2019) ").endswith("?") else 0.0,
            1.0 if text.rstrip().endswith(":") else 0.0,
            1.0 if text[:1].islower() or (text[:1] in ",;-)" ) else 0.0,
            1.0 if first_word in _PRONOUN_START else 0.0,
            1.0 if _is_debris(text) else 0.0,
        ]
        degree[i] = forward[i] + backward[i]
        out.append(feats)
    max_degree = max(degree) if degree else 0.0
    max_overlap = max(overlap) if overlap else 0.0
    ci_idx = FEATURES.index("central_rel")
    ov_idx = FEATURES.index("overlap_rel")
    for i in range(n):
        out[i][ci_idx] = degree[i] / max_degree if max_degree > 0 else 0.0
        out[i][ov_idx] = overlap[i] / max_overlap if max_overlap > 0 else 0.0
    return out, vectors


_CREDIT_HINTS = ("getty", "photo", "reuters/", "afp", "\u00a9", "image:")


def _is_debris(text: str) -> bool:
    if _DEBRIS.match(text):
        return True
    low = text.lower()
    return any(h in low for h in _CREDIT_HINTS) and bool(_CREDIT.search(text))


def _has_quote(text: str) -> bool:
    if '"' in text or "\u201c" in text or "\u201d" in text:
        return True
    return "'" in text and bool(_QUOTES.search(text))


