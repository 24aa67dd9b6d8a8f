"""Briefings: the platform-free result the core composes and every adapter renders.

Every bullet keeps the index of the source it came from and the sentence numbers
that support it, so a reader (or a check) can always trace it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Protocol

from .sentences import Sentence, sentence_spans


@dataclass(frozen=True)
class Document:
    """What the summarizer needs of an article."""

    title: str
    text: str
    url: str | None = None
    source: str = ""
    published: datetime | None = None
    key: str | None = None  # the caller's id for the article, carried to its SourceLink


@dataclass(frozen=True)
class Budget:
    """How much a summary may say: a number of sentences and, optionally, characters."""

    sentences: int = 3
    chars: int | None = None

    def __post_init__(self) -> None:
        if self.sentences < 1:
            raise ValueError("a summary needs at least one sentence")
        if self.chars is not None and self.chars < 1:
            raise ValueError("a character budget must be positive")


@dataclass(frozen=True)
class Bullet:
    """One line of a story, with the sentence numbers of its source that support it."""

    text: str
    source: int = 0
    sentences: tuple[int, ...] = ()


@dataclass(frozen=True)
class SourceLink:
    title: str
    url: str | None = None
    name: str = ""
    published: datetime | None = None
    key: str | None = None


@dataclass(frozen=True)
class Story:
    headline: str
    bullets: tuple[Bullet, ...]
    sources: tuple[SourceLink, ...]
    update: bool = False  # a story the channel was served before, told from what is new since
    key: str | None = None  # the story's id across digests (see summarizer.stories)

    @property
    def url(self) -> str | None:
        return next((s.url for s in self.sources if s.url), None)


@dataclass(frozen=True)
class Briefing:
    title: str
    stories: tuple[Story, ...]
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    method: str = "extractive"
    note: str = ""
    more: tuple[Story, ...] = ()

    @property
    def sources(self) -> list[SourceLink]:
        return [s for story in self.stories for s in story.sources]


class Summarizer(Protocol):
    """One method: the bullets of a document within a budget."""

    name: str

    def summarize(self, document: Document, budget: Budget) -> list[Bullet]: ...


class SentenceSelector(Protocol):
    def select(self, text: str, title: str = "", *, sentences: int = 3,
               max_chars: int | None = None, spans: list[Sentence] | None = None) -> list[Sentence]: ...


class ExtractiveBullets:
    """Adapts a sentence selector to :class:`Summarizer`: each bullet is one source sentence."""

    #: How many articles' summaries are kept: a digest slot summarizes the same articles for
    #: many channels, and a summary depends only on the article and the budget.
    CACHE = 4096

    def __init__(self, selector: SentenceSelector, name: str = "extractive") -> None:
        self.selector = selector
        self.name = name
        self._bullets = lru_cache(maxsize=self.CACHE)(self._select)

    def summarize(self, document: Document, budget: Budget) -> list[Bullet]:
        return list(self._bullets(document.title, document.text, budget))

    def _select(self, title: str, text: str, budget: Budget) -> tuple[Bullet, ...]:
        picked = self.selector.select(text, title, sentences=budget.sentences, max_chars=budget.chars,
                                      spans=sentence_spans(text))
        return tuple(Bullet(s.text, 0, (s.index,)) for s in picked)


def compose(documents: Iterable[Document], summarizer: Summarizer, *, title: str,
            budget: Budget = Budget(), max_stories: int | None = None, note: str = "",
            now: datetime | None = None) -> Briefing:
    """A briefing with one story per document, in the order given.

    Stories past ``max_stories`` are kept in ``Briefing.more`` (headline and link
    only), so nothing is dropped without a trace.
    """
    docs = list(documents)
    shown = docs if max_stories is None else docs[:max_stories]
    hidden = [] if max_stories is None else docs[max_stories:]
    stories = [story_of(doc, summarizer, budget) for doc in shown]
    more = [Story(doc.title or _untitled(doc), (), (_link(doc),)) for doc in hidden]
    return Briefing(title=title, stories=tuple(s for s in stories if s.bullets),
                    created_at=now or datetime.now(timezone.utc), method=summarizer.name,
                    note=note, more=tuple(more))


def story_of(document: Document, summarizer: Summarizer, budget: Budget) -> Story:
    bullets = summarizer.summarize(document, budget) if document.text.strip() else []
    return Story(headline=document.title or _untitled(document), bullets=tuple(bullets),
                 sources=(_link(document),))


def _link(doc: Document) -> SourceLink:
    return SourceLink(title=doc.title or _untitled(doc), url=doc.url, name=doc.source,
                      published=doc.published, key=doc.key)


def _untitled(doc: Document) -> str:
    first = sentence_spans(doc.text[:600])
    if first:
        text = first[0].text
        return text if len(text) <= 90 else text[:87].rsplit(" ", 1)[0] + "..."
    return "Untitled"
