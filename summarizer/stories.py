"""Stories: the daily digest's unit. Articles about one event become one story.

The pipeline, all pure functions over :class:`~summarizer.briefing.Document`:

1. **Near-duplicates** (:func:`near_duplicate`). Syndicated copies and updated
   versions of one article are collapsed before anything else, so they count once.
   Two texts are near-duplicates when most of the shorter one's word 5-grams occur in
   the longer one and neither is much longer than the other.
2. **Clustering** (:func:`cluster`). Each distinct article is described by a TF-IDF
   vector of its headline and lead (the first few sentences, dateline removed), with
   name-like terms (words only ever written capitalised) and runs of capitalised words
   ("Al Anad", "Special Operations") weighted up. Articles are merged by group-average
   agglomerative clustering: two groups merge while the *average* cosine over all
   their cross pairs stays above a threshold. Average linkage does not chain the way
   single linkage does, so a handful of articles that all mention Yemen (or Apple, or
   Blair) do not become one story because each shares a word with the next.
3. **Ranking** (:func:`rank`): more distinct sources first, then the newest article.
4. **Memory** (:class:`StoryFingerprint`, :func:`match`, :func:`new_sentences`). For
   every story a channel was served, a small JSON-able record keeps its key terms, the
   article keys and one compact key per sentence the channel has seen. A later cluster
   that matches a record is left out unless some of its sentences are not covered by
   the record; then it is served as an update made of those sentences only.
5. **Composition** (:func:`compose_digest`, :func:`plan_digest`): the
   :class:`~summarizer.briefing.Briefing` plus the records to remember.

Pure Python, no I/O: the bot loads articles and records and stores what comes back.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import math
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from .briefing import Briefing, Budget, Bullet, Document, SourceLink, Story, Summarizer
from .sentences import Sentence, sentence_spans
from .text import STOP_WORDS, dot, stem, tfidf, unit

# --- Tunables (see the module docstring and tests/test_stories.py for the data behind them).

#: Average cosine (title + lead vectors) above which two groups of articles are one story.
SIMILARITY = 0.3
#: How many sentences of the body count as the lead.
LEAD_SENTENCES = 5
#: Weight of name-like terms and of runs of capitalised words, relative to other terms.
NAME_WEIGHT = 4.0
#: A cluster whose representative has this share of its first sentences already seen
#: (of the first ``SEEN_SAMPLE``) continues the remembered story, whatever its key terms.
SEEN_SHARE = 0.5
SEEN_SAMPLE = 12
#: Share of the shorter text's 5-grams found in the longer one for a near-duplicate.
DUPLICATE_CONTAINMENT = 0.8
#: The shorter text must hold at least this share of the longer one's 5-grams.
DUPLICATE_SIZE_RATIO = 0.5
#: Cosine between a cluster's key terms and a remembered story's for "the same story".
MATCH_SIMILARITY = 0.5
#: A sentence is covered when this share of its content terms is in one seen sentence...
COVERED = 0.7
#: ... or this share is in the two seen sentences that cover it best.
COVERED_BY_TWO = 0.85
#: Sentences with fewer content terms are never reported as new developments.
MIN_NEW_TERMS = 4
#: How long a channel remembers what it was served.
REMEMBER = timedelta(days=7)
#: Sizes of a memory record.
FINGERPRINT_TERMS = 24
MAX_SENTENCE_KEYS = 240
MAX_ARTICLE_KEYS = 60

_SHINGLE = 5
#: How many articles' (and sentences') derived data is kept between calls. A scheduled slot
#: composes a digest for every channel from overlapping sets of articles: each article's
#: sentences, vectors and 5-grams are computed once, not once per channel.
DOCUMENT_CACHE = 4096
SENTENCE_CACHE = 65536
_NEGLIGIBLE = 0.02
_UPDATE_PREFIX = "Update: "

_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][\w .,'\u2019-]{0,50}?\s*)?\((?:CNN|AP|AFP|Reuters|Bloomberg|dpa|UPI|PA)\)"
    r"\s*(?:--|-|\u2013|\u2014|:)?\s*"
    r"|^\s*[A-Z][A-Z .'\u2019-]{2,40}(?:,\s*[A-Z][\w .]{1,30})?\s+(?:--|\u2013|\u2014)\s*")
_AGENCIES = frozenset({"cnn", "ap", "afp", "reuters", "bloomberg", "dpa", "upi", "pa"})


# --- Near-duplicates ------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return [w.lower().replace("\u2019", "'") for w in _TOKEN.findall(text)]


@lru_cache(maxsize=DOCUMENT_CACHE)
def _shingles(text: str) -> frozenset[int]:
    toks = _tokens(text)
    if len(toks) < _SHINGLE:
        return frozenset()
    # Ids of the words, then of 5-grams of ids: cheap, and the same in every process.
    ids = [zlib.crc32(t.encode("utf-8")) for t in toks]
    return frozenset(hash(g) for g in zip(ids, ids[1:], ids[2:], ids[3:], ids[4:]))


def _short_form(doc: Document) -> str:
    return " ".join(_tokens(doc.text)) or " ".join(_tokens(doc.title))


def _same_text(a: frozenset[int], b: frozenset[int]) -> bool:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not small:
        return False
    inter = len(small & large)
    return inter >= DUPLICATE_CONTAINMENT * len(small) and len(small) >= DUPLICATE_SIZE_RATIO * len(large)


def near_duplicate(a: Document, b: Document) -> bool:
    """Whether ``a`` and ``b`` are copies of one article (syndicated, or updated in place).

    Headlines are ignored (syndicated copies often retitle); boilerplate added to one
    copy and a paragraph added to an updated version are tolerated. Texts too short
    for 5-grams are near-duplicates only when their words are the same.
    """
    sa, sb = _shingles(a.text), _shingles(b.text)
    if min(len(sa), len(sb)) < 3:
        fa, fb = _short_form(a), _short_form(b)
        return bool(fa) and fa == fb
    return _same_text(sa, sb)


def _duplicate_groups(docs: Sequence[Document]) -> list[list[int]]:
    """Indices of ``docs`` grouped into near-duplicate sets (transitively)."""
    n = len(docs)
    shingles = [_shingles(d.text) for d in docs]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    # Short texts: exact match of their words.
    short: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(shingles):
        if len(s) < 3:
            form = _short_form(docs[i])
            if form:
                short[form].append(i)
    for members in short.values():
        for j in members[1:]:
            union(members[0], j)
    # Longer texts: candidates share a sampled 5-gram (1 in 4; very common ones skipped).
    postings: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(shingles):
        if len(s) >= 3:
            for h in s:
                if h % 4 == 0:
                    postings[h].append(i)
    limit = max(50, n // 10)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        if 1 < len(members) <= limit:
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    candidates.add((members[x], members[y]))
    for i, j in sorted(candidates):
        if find(i) != find(j) and _same_text(shingles[i], shingles[j]):
            union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    return [groups[r] for r in sorted(groups)]


# --- Vectors ------------------------------------------------------------------------------


def _strip_dateline(text: str) -> str:
    return _DATELINE.sub("", text, count=1)


def _lead(text: str) -> str:
    spans = sentence_spans(_strip_dateline(text[:2500]))
    return " ".join(s.text for s in spans[:LEAD_SENTENCES])


def _term_counts(doc: Document) -> Mapping[str, float]:
    """Raw weighted counts of the headline and lead terms (names and name runs weighted up)."""
    return _weighted_terms(doc.title, doc.text)


@lru_cache(maxsize=DOCUMENT_CACHE)
def _weighted_terms(title: str, text: str) -> Mapping[str, float]:
    lead = _lead(text)
    counts: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    lower: set[str] = set()
    runs: list[str] = []
    run: list[str] = []
    prev_end = -1
    for m in _TOKEN.finditer(lead):
        raw = m.group(0)
        word = raw.lower().replace("\u2019", "'")
        gap = lead[prev_end:m.start()] if prev_end >= 0 else "."
        initial = prev_end < 0 or any(ch in ".!?\u201c\"" for ch in gap)
        prev_end = m.end()
        is_cap = raw[:1].isupper()
        if is_cap and (not initial or raw.isupper()):
            capital[word] += 1
        elif not is_cap and not raw[:1].isdigit():
            lower.add(word)
        # Runs of capitalised words: "Al Anad airbase" -> "al anad".
        if word.endswith("'s"):
            word_run = word[:-2]
        else:
            word_run = word
        if (is_cap and word not in STOP_WORDS and word_run not in _AGENCIES and len(word) > 1
                and not any(ch in ".!?;:" for ch in gap.strip())):
            run.append(word_run)
        else:
            if len(run) > 1:
                runs.append(" ".join(run[:3]))
            run = [word_run] if is_cap and word not in STOP_WORDS and word_run not in _AGENCIES and len(word) > 1 else []
        if word in STOP_WORDS or len(word) < 2:
            continue
        counts[stem(word)] += 1
    if len(run) > 1:
        runs.append(" ".join(run[:3]))
    for raw in _TOKEN.findall(title):
        word = raw.lower().replace("\u2019", "'")
        if word not in STOP_WORDS and len(word) > 1:
            counts[stem(word)] += 1
    names = {stem(w) for w in capital if w not in lower}
    weighted: Counter[str] = Counter()
    for term, c in counts.items():
        weighted[term] = (1.0 + math.log(c)) * (NAME_WEIGHT if term in names else 1.0)
    for r, c in Counter(runs).items():
        weighted["_" + r] = (1.0 + math.log(c)) * NAME_WEIGHT
    return MappingProxyType(weighted)  # cached and shared: read-only


def _vectors(docs: Sequence[Document]) -> list[dict[str, float]]:
    return tfidf([_term_counts(d) for d in docs])


# --- Clusters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryCluster:
    """Articles about one story.

    ``documents`` holds one article per near-duplicate group, the representative first
    and then newest first; ``copies[i]`` are the near-duplicates collapsed into
    ``documents[i]`` (syndicated copies, earlier versions). ``terms`` is the story's
    unit key-term vector, what :func:`match` compares with remembered stories.
    """

    documents: tuple[Document, ...]
    copies: tuple[tuple[Document, ...], ...] = ()
    terms: Mapping[str, float] = field(default_factory=dict)

    @property
    def representative(self) -> Document:
        return self.documents[0]

    @property
    def all_documents(self) -> tuple[Document, ...]:
        """Every input document of the cluster, copies included."""
        out = list(self.documents)
        for group in self.copies:
            out.extend(group)
        return tuple(out)

    @property
    def sources(self) -> int:
        """The number of distinct sources; copies of one article count once."""
        return len({_source_id(d) for d in self.documents})

    @property
    def published(self) -> datetime | None:
        """When the newest article was published (copies included)."""
        stamps = [_utc(d.published) for d in self.all_documents if d.published is not None]
        return max(stamps) if stamps else None

    @property
    def headline(self) -> str:
        return _headline(self.representative)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.all_documents if d.key)


def _source_id(doc: Document) -> str:
    if doc.source.strip():
        return "name:" + " ".join(doc.source.lower().split())
    if doc.url:
        host = urlsplit(doc.url).hostname or ""
        if host:
            return "host:" + host.removeprefix("www.")
    return "doc:" + (doc.key or doc.url or str(id(doc)))


def _utc(stamp: datetime) -> datetime:
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _newest_first(doc: Document) -> tuple[float, int, str]:
    stamp = _utc(doc.published).timestamp() if doc.published else float("-inf")
    return (-stamp, -len(doc.text), doc.key or doc.url or doc.title)


def cluster(documents: Sequence[Document], *, threshold: float = SIMILARITY) -> list[StoryCluster]:
    """Group ``documents`` into stories; every document ends up in exactly one cluster.

    Near-duplicates are collapsed first (the newest, then longest, copy represents
    them). The distinct articles are then merged by group-average agglomerative
    clustering over headline-and-lead TF-IDF vectors until no two groups have an
    average cosine of at least ``threshold``. Clusters come back in input order of
    their first document; use :func:`rank` to order them for a digest.
    """
    docs = list(documents)
    if not docs:
        return []
    groups = _duplicate_groups(docs)
    reps: list[int] = []
    copies: list[list[int]] = []
    for g in groups:
        ordered = sorted(g, key=lambda i: _newest_first(docs[i]))
        reps.append(ordered[0])
        copies.append(sorted(ordered[1:]))
    vectors = _vectors([docs[i] for i in reps])
    merged = _average_link(vectors, threshold)
    out: list[tuple[int, StoryCluster]] = []
    for members in merged:
        centroid: dict[str, float] = defaultdict(float)
        for m in members:
            for t, v in vectors[m].items():
                centroid[t] += v
        centroid_unit = unit(centroid)
        # The representative: the article closest to the story's centroid, then the newest.
        order = sorted(members, key=lambda m: (-round(dot(vectors[m], centroid_unit), 6),)
                       + _newest_first(docs[reps[m]]))
        rep = order[0]
        rest = sorted(order[1:], key=lambda m: _newest_first(docs[reps[m]]))
        chosen = [rep] + rest
        story = StoryCluster(
            documents=tuple(docs[reps[m]] for m in chosen),
            copies=tuple(tuple(docs[i] for i in copies[m]) for m in chosen),
            terms=_top_terms(centroid_unit),
        )
        first = min(min([reps[m]] + copies[m]) for m in members)
        out.append((first, story))
    out.sort(key=lambda x: x[0])
    return [s for _, s in out]


def _top_terms(vec: Mapping[str, float], k: int = FINGERPRINT_TERMS) -> dict[str, float]:
    top = sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return {t: round(v, 4) for t, v in unit(dict(top)).items()}


def _average_link(vectors: Sequence[Mapping[str, float]], threshold: float) -> list[list[int]]:
    """Group-average agglomerative clustering of unit vectors, sparse and lazy.

    For unit vectors the average pairwise cosine between groups A and B is
    ``dot(sum A, sum B) / (|A| |B|)``, and ``dot(sum A + sum B, sum C)`` is the sum of the
    two dots, so after one pass over the pairs that share a term no vector is touched
    again. Dots below ``_NEGLIGIBLE`` are dropped to keep that table small.
    """
    n = len(vectors)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(vectors):
        for t in v:
            postings[t].append(i)
    dots: dict[int, dict[int, float]] = {i: {} for i in range(n)}
    for i, v in enumerate(vectors):
        acc: dict[int, float] = defaultdict(float)
        for t, w in v.items():
            for j in postings[t]:
                if j > i:
                    acc[j] += w * vectors[j][t]
        for j, d in acc.items():
            if d >= _NEGLIGIBLE:
                dots[i][j] = d
                dots[j][i] = d
    sizes = {i: 1 for i in range(n)}
    members_of: dict[int, list[int]] = {i: [i] for i in range(n)}
    heap = [(-d, i, j) for i in range(n) for j, d in dots[i].items() if i < j and d >= threshold]
    heapq.heapify(heap)
    next_id = n
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in sizes or b not in sizes:
            continue  # a stale pair: one side was merged away
        new = next_id
        next_id += 1
        row: dict[int, float] = {}
        for old in (a, b):
            for c, d in dots.pop(old).items():
                if c not in (a, b):
                    row[c] = row.get(c, 0.0) + d
                    del dots[c][old]
        dots[new] = row
        sizes[new] = sizes.pop(a) + sizes.pop(b)
        members_of[new] = members_of.pop(a) + members_of.pop(b)
        for c, d in row.items():
            dots[c][new] = d
            sim = d / (sizes[new] * sizes[c])
            if sim >= threshold:
                heapq.heappush(heap, (-sim, c, new))
    return [sorted(m) for m in members_of.values()]


def rank(clusters: Iterable[StoryCluster], now: datetime | None = None) -> list[StoryCluster]:
    """Order stories for a digest: more sources first, then the newest, then more articles.

    Publication times after ``now`` (clock skew, bad feeds) count as ``now``; articles
    without a time count as oldest. Ties end on the headline, so the order is stable.
    """
    cap = _utc(now).timestamp() if now is not None else float("inf")

    def key(c: StoryCluster) -> tuple[Any, ...]:
        stamp = c.published
        ts = min(stamp.timestamp(), cap) if stamp is not None else float("-inf")
        return (-c.sources, -ts, -len(c.documents), c.headline.lower(), c.keys)

    return sorted(clusters, key=key)


# --- Sentence keys and novelty ------------------------------------------------------------

_NUMBER = re.compile(r"^[0-9]")


def _number(token: str) -> str:
    token = token.rstrip("%") + ("%" if token.endswith("%") else "")
    if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?%?", token):
        token = token.replace(",", "")
    return token


@lru_cache(maxsize=65536)
def _term_hash(term: str) -> str:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=3).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:3]


@dataclass(frozen=True)
class _Content:
    terms: frozenset[str]
    numbers: frozenset[str]


@lru_cache(maxsize=SENTENCE_CACHE)
def _content(text: str) -> _Content:
    terms: set[str] = set()
    numbers: set[str] = set()
    for w in _tokens(_strip_dateline(text)):
        if _NUMBER.match(w):
            numbers.add(_number(w))
        elif w not in STOP_WORDS and len(w) > 1:
            terms.add(_term_hash(stem(w)))
    return _Content(frozenset(terms), frozenset(numbers))


@lru_cache(maxsize=SENTENCE_CACHE)
def sentence_key(text: str) -> str:
    """A compact, order-free key of a sentence's content: stemmed content terms and numbers.

    Each term becomes 3 characters (18 bits of a hash), so the key of a typical news
    sentence is 30-50 characters; numbers are kept as written (thousands separators
    dropped) after a ``|``, because a changed number is news.
    """
    c = _content(text)
    return "".join(sorted(c.terms)) + ("|" + ",".join(sorted(c.numbers)) if c.numbers else "")


def _parse_key(key: str) -> _Content:
    terms, _, numbers = key.partition("|")
    return _Content(frozenset(terms[i:i + 3] for i in range(0, len(terms) - len(terms) % 3, 3)),
                    frozenset(n for n in numbers.split(",") if n))


class _SeenIndex:
    """What a channel has seen of a story, indexed for coverage checks."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.items: list[_Content] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        for k in keys:
            self.add(_parse_key(k))

    def add(self, content: _Content) -> None:
        idx = len(self.items)
        self.items.append(content)
        for t in content.terms:
            self.postings[t].append(idx)

    def covers(self, content: _Content) -> bool:
        """Whether ``content`` restates what was seen: its terms are in one or two seen
        sentences and none of its numbers is new."""
        if not content.terms:
            return not content.numbers or any(content.numbers <= s.numbers for s in self.items)
        overlap: Counter[int] = Counter()
        for t in content.terms:
            for idx in self.postings.get(t, ()):
                overlap[idx] += 1
        if not overlap:
            return False
        n = len(content.terms)
        best = overlap.most_common(3)
        first = self.items[best[0][0]]
        if best[0][1] >= COVERED * n and content.numbers <= first.numbers:
            return True
        for idx, _ in best[1:]:
            other = self.items[idx]
            together = len(content.terms & (first.terms | other.terms))
            if together >= COVERED_BY_TWO * n and content.numbers <= (first.numbers | other.numbers):
                return True
        # A sentence that only adds numbers restated elsewhere is still covered.
        if best[0][1] >= COVERED * n and content.numbers:
            seen_numbers = set().union(*(self.items[i].numbers for i, _ in best))
            return content.numbers <= seen_numbers
        return False


@dataclass(frozen=True)
class NewSentence:
    """A sentence of a cluster's article that the channel has not seen: a development."""

    document: int  # index into StoryCluster.documents
    sentence: Sentence


def _sentences(doc: Document) -> tuple[Sentence, ...]:
    return _spans(doc.text)


@lru_cache(maxsize=DOCUMENT_CACHE)
def _spans(text: str) -> tuple[Sentence, ...]:
    return tuple(sentence_spans(text))


def new_sentences(cluster: StoryCluster, seen_sentence_keys: Iterable[str]) -> list[NewSentence]:
    """The sentences of ``cluster`` not covered by what the channel has seen, newest article first.

    A sentence is covered when its content terms are (almost all) in one seen sentence,
    or in two together, and all its numbers were seen with them: rewording, reordering
    and merging do not make news, a changed figure does ("rises to 40" after "30").
    Sentences too short to carry a development, and repeats among the new sentences
    themselves (two articles reporting the same thing), are left out.
    """
    seen = _SeenIndex(seen_sentence_keys)
    order = sorted(range(len(cluster.documents)), key=lambda i: _newest_first(cluster.documents[i]))
    out: list[NewSentence] = []
    for i in order:
        doc = cluster.documents[i]
        for s in _sentences(doc):
            content = _content(s.text)
            if len(content.terms) < MIN_NEW_TERMS:
                continue
            if seen.covers(content):
                continue
            seen.add(content)  # later restatements of this development are not new again
            out.append(NewSentence(i, s))
    return out


def sentence_keys(cluster: StoryCluster) -> list[str]:
    """The keys of every sentence of the cluster's distinct articles, without repeats."""
    keys: list[str] = []
    known: set[str] = set()
    for doc in cluster.documents:
        for s in _sentences(doc):
            k = sentence_key(s.text)
            if k and k not in known:
                known.add(k)
                keys.append(k)
    return keys


# --- Memory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryFingerprint:
    """What a channel remembers of a story it was served; JSON-able through :meth:`to_dict`.

    ``story`` stays the same across a story's updates, so the records of one story can
    be told apart from others; each record carries everything seen so far, so the
    newest one is enough.
    """

    story: str
    headline: str = ""
    terms: Mapping[str, float] = field(default_factory=dict)
    articles: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    served_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "story": self.story,
            "headline": self.headline,
            "terms": dict(self.terms),
            "articles": list(self.articles),
            "sentences": list(self.sentences),
            "served_at": self.served_at.isoformat() if self.served_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StoryFingerprint":
        served = data.get("served_at")
        return cls(
            story=str(data["story"]),
            headline=str(data.get("headline", "")),
            terms={str(k): float(v) for k, v in (data.get("terms") or {}).items()},
            articles=tuple(str(a) for a in data.get("articles") or ()),
            sentences=tuple(str(s) for s in data.get("sentences") or ()),
            served_at=datetime.fromisoformat(served) if served else None,
        )


def match(cluster: StoryCluster, previous: Iterable[StoryFingerprint], *,
          threshold: float = MATCH_SIMILARITY) -> StoryFingerprint | None:
    """The remembered story ``cluster`` continues, or ``None``.

    The same story when the cluster holds an article (or a copy of one) that was
    served, when its key terms are close enough to a record's (cosine >=
    ``threshold``), or when most of its representative's sentences were seen (a
    rewritten version of a served article whose lead changed). The best match wins;
    among equals, the newest record.
    """
    keys = set(cluster.keys)
    lead: list[_Content] | None = None
    best: tuple[float, float, StoryFingerprint] | None = None
    for prev in previous:
        if keys & set(prev.articles):
            score = 2.0
        else:
            score = dot(cluster.terms, prev.terms)
            if score < threshold and prev.sentences and _may_overlap(cluster, prev):
                if lead is None:
                    lead = _lead_contents(cluster.representative)
                score = max(score, _seen_share(lead, prev))
        if score < threshold:
            continue
        served = _utc(prev.served_at).timestamp() if prev.served_at else float("-inf")
        if best is None or (score, served) > (best[0], best[1]):
            best = (score, served, prev)
    return best[2] if best else None


def _may_overlap(cluster: StoryCluster, record: StoryFingerprint) -> bool:
    """A cheap test before :func:`_seen_share`: do the key terms occur in what was seen?"""
    words = [t for t in cluster.terms if not t.startswith("_")]
    if not words:
        return True
    vocabulary, _ = _record_index(tuple(record.sentences))
    return sum(_term_hash(t) in vocabulary for t in words) >= 0.4 * len(words)


def _lead_contents(doc: Document) -> list[_Content]:
    out: list[_Content] = []
    for s in _sentences(doc):
        c = _content(s.text)
        if len(c.terms) >= MIN_NEW_TERMS:
            out.append(c)
            if len(out) >= SEEN_SAMPLE:
                break
    return out


def _seen_share(contents: Sequence[_Content], record: StoryFingerprint) -> float:
    """The share of ``contents`` the record's sentences cover (0 when they hardly overlap)."""
    if not contents:
        return 0.0
    vocabulary, index = _record_index(tuple(record.sentences))
    mine = set().union(*(c.terms for c in contents))
    if not mine or len(mine & vocabulary) < 0.5 * len(mine):
        return 0.0
    covered = sum(1 for c in contents if index.covers(c))
    share = covered / len(contents)
    return share if share >= SEEN_SHARE else 0.0


@lru_cache(maxsize=512)
def _record_index(sentences: tuple[str, ...]) -> tuple[frozenset[str], _SeenIndex]:
    """A record's sentence keys parsed and indexed once, however many clusters it meets."""
    index = _SeenIndex(sentences)
    return frozenset(index.postings), index


def fingerprint(cluster: StoryCluster, *, served_at: datetime | None = None,
                previous: StoryFingerprint | None = None, story: str | None = None) -> StoryFingerprint:
    """The record to remember for ``cluster``; merged with ``previous`` for an update."""
    articles = list(cluster.keys)
    sentences = sentence_keys(cluster)
    terms: Mapping[str, float] = cluster.terms
    if previous is not None:
        articles = _union(previous.articles, articles)
        sentences = _union(previous.sentences, sentences)
        blend: dict[str, float] = dict(previous.terms)
        for t, v in cluster.terms.items():
            blend[t] = blend.get(t, 0.0) + v
        terms = _top_terms(unit(blend))
    story_id = story or (previous.story if previous else _story_id(cluster))
    return StoryFingerprint(
        story=story_id,
        headline=cluster.headline,
        terms=dict(terms),
        articles=tuple(articles[-MAX_ARTICLE_KEYS:]),
        sentences=tuple(sentences[-MAX_SENTENCE_KEYS:]),
        served_at=served_at,
    )


def _union(old: Sequence[str], new: Sequence[str]) -> list[str]:
    seen = set(old)
    out = list(old)
    for x in new:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _story_id(cluster: StoryCluster) -> str:
    basis = "\n".join(sorted(cluster.keys)) or "\n".join(d.title + "\n" + d.text[:500] for d in cluster.documents)
    return "s" + hashlib.blake2b(basis.encode("utf-8"), digest_size=6).hexdigest()


# --- Digests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPlan:
    """A digest and what to remember of it.

    ``remember`` has one record per story in ``briefing.stories`` (same order, joined by
    ``Story.key``); store them for the channel (``memories`` are the same records as
    JSON-able dicts) and pass the last week's back as ``served`` next time. ``repeats``
    are the stories left out because the channel already has them and nothing is new.
    """

    briefing: Briefing
    remember: tuple[StoryFingerprint, ...] = ()
    repeats: tuple[StoryCluster, ...] = ()

    @property
    def memories(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.remember]


Served = StoryFingerprint | Mapping[str, Any]


def _records(served: Iterable[Served]) -> list[StoryFingerprint]:
    """Records from what the caller stored; entries that cannot be read are skipped."""
    out: list[StoryFingerprint] = []
    for item in served:
        if isinstance(item, StoryFingerprint):
            out.append(item)
            continue
        try:
            out.append(StoryFingerprint.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return out


def compose_digest(items: Iterable[StoryCluster] | Iterable[Document], summarizer: Summarizer, *,
                   title: str, budget: Budget = Budget(), max_stories: int | None = 8,
                   served: Iterable[Served] = (), now: datetime | None = None,
                   remember_for: timedelta = REMEMBER, threshold: float = SIMILARITY,
                   note: str = "") -> DigestPlan:
    """The digest of a channel: stories, what goes to "more", and what to remember.

    ``items`` are clusters, taken in the order given (see :func:`rank`), or candidate
    documents, which are clustered and ranked first. ``served`` are the records (or
    their dicts) of the stories the channel was served; those older than
    ``remember_for`` are ignored. A cluster matching one of them is left out when it
    holds nothing new, and otherwise becomes an update ("Update: ...", ``Story.update``)
    summarised from its new sentences only. The first ``max_stories`` stories get
    bullets; the rest go to ``Briefing.more`` as headline and links.
    """
    now = now or datetime.now(timezone.utc)
    items = list(items)
    if items and all(isinstance(x, Document) for x in items):
        clusters = rank(cluster(items, threshold=threshold), now)  # type: ignore[arg-type]
    else:
        clusters = [x for x in items if isinstance(x, StoryCluster)]
    cutoff = _utc(now) - remember_for
    records = [r for r in _records(served) if r.served_at is None or _utc(r.served_at) >= cutoff]
    by_story: dict[str, list[StoryFingerprint]] = defaultdict(list)
    for r in records:
        by_story[r.story].append(r)

    stories: list[Story] = []
    more: list[Story] = []
    remember: list[StoryFingerprint] = []
    repeats: list[StoryCluster] = []
    for c in clusters:
        if not c.documents:
            continue
        prev = match(c, records)
        full = max_stories is None or len(stories) < max_stories
        if prev is None:
            if not full:
                more.append(Story(c.headline, (), tuple(_link(d) for d in c.documents), key=_story_id(c)))
                continue
            story = _story(c, summarizer, budget)
            if not story.bullets:
                more.append(replace(story, bullets=()))
                continue
            stories.append(story)
            remember.append(fingerprint(c, served_at=now, story=story.key))
            continue
        seen: list[str] = []
        for r in sorted(by_story[prev.story], key=lambda r: _utc(r.served_at) if r.served_at else _EPOCH):
            seen = _union(seen, r.sentences)
        news = new_sentences(c, seen)
        if not news:
            repeats.append(c)
            continue
        merged = _merged(prev, by_story[prev.story])
        if not full:
            order = _update_order(c, news)
            more.append(Story(_UPDATE_PREFIX + _headline(c.documents[order[0]]), (),
                              tuple(_link(c.documents[i]) for i in order), update=True, key=prev.story))
            continue
        story = _update_story(c, news, summarizer, budget, prev.story)
        if not story.bullets:
            repeats.append(c)
            continue
        stories.append(story)
        remember.append(fingerprint(c, served_at=now, previous=merged))
    briefing = Briefing(title=title, stories=tuple(stories), created_at=now,
                        method=getattr(summarizer, "name", "extractive"), note=note, more=tuple(more))
    return DigestPlan(briefing, tuple(remember), tuple(repeats))


def plan_digest(documents: Sequence[Document], summarizer: Summarizer, *, title: str,
                budget: Budget = Budget(), max_stories: int | None = 8,
                served: Iterable[Served] = (), now: datetime | None = None,
                threshold: float = SIMILARITY, note: str = "") -> DigestPlan:
    """Cluster, rank and compose in one call: candidate articles in, digest and memory out."""
    now = now or datetime.now(timezone.utc)
    ranked = rank(cluster(documents, threshold=threshold), now)
    return compose_digest(ranked, summarizer, title=title, budget=budget, max_stories=max_stories,
                          served=served, now=now, note=note)


def _merged(prev: StoryFingerprint, records: Sequence[StoryFingerprint]) -> StoryFingerprint:
    """One record holding everything seen of a story across its records."""
    out = prev
    for r in records:
        if r is not prev:
            out = replace(out, articles=tuple(_union(out.articles, r.articles)),
                          sentences=tuple(_union(r.sentences, out.sentences)))
    return out


def _story(c: StoryCluster, summarizer: Summarizer, budget: Budget) -> Story:
    rep = c.representative
    bullets = summarizer.summarize(rep, budget) if rep.text.strip() else []
    return Story(headline=_headline(rep), bullets=tuple(replace(b, source=0) for b in bullets),
                 sources=tuple(_link(d) for d in c.documents), key=_story_id(c))


def _update_order(c: StoryCluster, news: Sequence[NewSentence]) -> list[int]:
    """Document indices: those with new sentences first (in ``news`` order), then the rest."""
    order: list[int] = []
    for n in news:
        if n.document not in order:
            order.append(n.document)
    order += [i for i in range(len(c.documents)) if i not in order]
    return order


def _update_story(c: StoryCluster, news: Sequence[NewSentence], summarizer: Summarizer,
                  budget: Budget, story_key: str) -> Story:
    order = _update_order(c, news)
    lead = c.documents[order[0]]
    # The new sentences as a document of their own, one paragraph each, so the summarizer
    # can only pick among them; bullets are mapped back to the articles they came from.
    text = "\n\n".join(n.sentence.text for n in news)
    synthetic = Document(title=lead.title, text=text, url=lead.url, source=lead.source,
                         published=lead.published, key=lead.key)
    spans = sentence_spans(text)
    origin = {s.index: news[s.paragraph] for s in spans if s.paragraph < len(news)}
    bullets: list[Bullet] = []
    for b in summarizer.summarize(synthetic, budget):
        cited = [origin[i] for i in b.sentences if i in origin]
        if cited:
            doc = cited[0].document
            idx = tuple(dict.fromkeys(n.sentence.index for n in cited if n.document == doc))
            bullets.append(Bullet(b.text, order.index(doc), idx))
        else:
            bullets.append(Bullet(b.text, 0, ()))
    return Story(headline=_UPDATE_PREFIX + _headline(lead), bullets=tuple(bullets),
                 sources=tuple(_link(c.documents[i]) for i in order), update=True, key=story_key)


def _headline(doc: Document) -> str:
    if doc.title.strip():
        return " ".join(doc.title.split())
    first = sentence_spans(_strip_dateline(doc.text[:600]))
    if first:
        text = first[0].text
        return text if len(text) <= 90 else text[:87].rsplit(" ", 1)[0] + "..."
    return "Untitled"


def _link(doc: Document) -> SourceLink:
    return SourceLink(title=_headline(doc), url=doc.url, name=doc.source,
                      published=doc.published, key=doc.key)
