"""What the core answers with; each platform adapter renders these its own way."""

from __future__ import annotations

from dataclasses import dataclass

from summarizer import Briefing


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None
    name: str = ""


@dataclass(frozen=True)
class Answer:
    """An answer to a question: supporting sentences, each with its source, or none."""

    question: str
    sentences: tuple[str, ...]
    sources: tuple[Source, ...]
    covered: bool
    method: str = "extractive"

    @property
    def text(self) -> str:
        if not self.covered:
            return "The stored sources do not cover that."
        return " ".join(self.sentences)


@dataclass(frozen=True)
class Reply:
    """A reply to one command or message.

    ``public`` replies (briefings) are posted for the whole channel to see; the
    rest (help, errors, confirmations) only to the person who asked, where the
    platform can do that.
    """

    text: str = ""
    briefing: Briefing | None = None
    answer: Answer | None = None
    public: bool = False
    error: bool = False


@dataclass(frozen=True)
class Context:
    """Who is asking, and where: the platform-free part of an incoming event."""

    platform: str
    channel: str
    user: str = ""
    is_admin: bool = False
    thread: str | None = None
