"""The article: what every source produces and the store keeps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from summarizer import Briefing, Document

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Article:
    """One news article as read from a file, a web page or a feed entry.

    ``url`` is the canonical URL when one is known (a local file has none);
    ``published`` is timezone-aware when known.
    """

    title: str
    text: str
    url: str | None = None
    source: str = ""
    published: datetime | None = None
    feed_url: str | None = None
    summary_hint: str = field(default="", compare=False)

    @property
    def content_hash(self) -> str:
        """Hash of the whitespace-normalised, case-folded body, for de-duplication."""
        normal = _SPACE.sub(" ", self.text).strip().casefold()
        return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def to_document(article: Article, key: int | str | None = None) -> Document:
    """The summarizer's view of an article; ``key`` is its store id, when it has one."""
    return Document(title=article.title, text=article.text, url=article.url, source=article.source,
                    published=article.published, key=None if key is None else str(key))


def briefing_articles(briefing: Briefing) -> list[int]:
    """The stored articles a briefing cites (its sources and those of its "more" stories)."""
    links = list(briefing.sources) + [link for story in briefing.more for link in story.sources]
    return [int(link.key) for link in links if link.key and link.key.isdigit()]
