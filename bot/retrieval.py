"""BM25 retrieval over the sentences of stored articles, for questions and topic briefings."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer import sentence_spans
from summarizer.text import content_terms

from .store import StoredArticle


# Words that shape a question rather than say what it is about.
QUESTION_WORDS = frozenset(content_terms(
    "much many happen happened happening tell know latest news anything something think thing "
    "explain describe please whether kind sort going get got"))


@dataclass(frozen=True)
class Passage:
    """A sentence of a stored article that matches a query."""

    text: str
    article: StoredArticle
    sentence: int
    score: float
    coverage: float


class SentenceIndex:
    """Okapi BM25 over sentence windows; recency breaks ties."""

    k1 = 1.2
    b = 0.75

    def __init__(self, articles: Sequence[StoredArticle], *, window: int = 1) -> None:
        self.units: list[tuple[StoredArticle, int, str, Counter[str]]] = []
        for stored in articles:
            title_terms = content_terms(stored.article.title)
            spans = sentence_spans(stored.article.text)
            for i, span in enumerate(spans):
                context = " ".join(s.text for s in spans[max(0, i - window + 1): i + 1])
                terms = Counter(content_terms(context))
                terms.update(title_terms)  # a sentence is about its article's subject too
                self.units.append((stored, span.index, span.text, terms))
        self.df: Counter[str] = Counter()
        for *_, terms in self.units:
            self.df.update(terms.keys())
        self.avg_len = (sum(sum(t.values()) for *_, t in self.units) / len(self.units)) if self.units else 1.0

    def idf(self, term: str) -> float:
        n = len(self.units)
        df = self.df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int = 3, *, min_coverage: float = 0.5) -> list[Passage]:
        """The ``k`` best sentences that cover at least ``min_coverage`` of the query's weight."""
        terms = [t for t in dict.fromkeys(content_terms(query)) if t not in QUESTION_WORDS]
        if not terms or not self.units:
            return []
        weights = {t: self.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        found: list[Passage] = []
        for stored, index, text, tf in self.units:
            length = sum(tf.values())
            score = 0.0
            matched = 0.0
            for term in terms:
                f = tf.get(term, 0)
                if f:
                    matched += weights[term]
                    score += weights[term] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self.avg_len))
            coverage = matched / total
            if score > 0 and coverage >= min_coverage:
                found.append(Passage(text, stored, index, score, coverage))
        found.sort(key=lambda p: (p.coverage, p.score, p.article.when), reverse=True)
        return _one_per_sentence(found)[:k]


def _one_per_sentence(passages: list[Passage]) -> list[Passage]:
    seen: set[tuple[int, int]] = set()
    texts: set[str] = set()
    out = []
    for p in passages:
        key = (p.article.id, p.sentence)
        if key in seen or p.text in texts:
            continue
        seen.add(key)
        texts.add(p.text)
        out.append(p)
    return out


def rank_articles(articles: Sequence[StoredArticle], query: str, *, min_coverage: float = 0.5) -> list[StoredArticle]:
    """Articles ordered by their best matching sentence for ``query``."""
    index = SentenceIndex(articles)
    best: dict[int, float] = {}
    by_id = {a.id: a for a in articles}
    for passage in index.search(query, k=len(index.units), min_coverage=min_coverage):
        best.setdefault(passage.article.id, passage.coverage * 100 + passage.score)
    return [by_id[i] for i in sorted(best, key=best.__getitem__, reverse=True)]
