"""Briefings, answers and plain replies as Discord messages, within Discord's limits.

Pure functions, no network and no event loop: the client module sends what these
return. Untrusted text (article titles, sentences, source names) is escaped for
Discord's Markdown and its mentions, and every limit is measured in UTF-16 code
units, which is never less than what Discord counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.replies import Answer, Reply
from summarizer import Briefing, SourceLink, Story

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
MESSAGE_EMBED_LIMIT = 6000  # all embeds of one message together
EMBEDS_PER_MESSAGE = 10

FOOTER_BUDGET = 300  # what a footer may use, so an empty message always fits one full description
MAX_LINK_URL = 1000
COLOR = 0x3B82F6
_SEPARATOR = "\n\n"


@dataclass(frozen=True, eq=False)
class OutgoingMessage:
    """One Discord message: content, embeds, or both."""

    content: str = ""
    embeds: tuple[discord.Embed, ...] = field(default=())

    def kwargs(self) -> dict:
        """Keyword arguments for discord.py's send methods (allowed mentions are added there)."""
        out: dict = {}
        if self.content:
            out["content"] = self.content
        if self.embeds:
            out["embeds"] = list(self.embeds)
        return out


def reply_messages(reply: Reply) -> list[OutgoingMessage]:
    """Any core reply as the messages that carry it, in order; never empty."""
    if reply.briefing is not None:
        return briefing_messages(reply.briefing)
    if reply.answer is not None and reply.answer.covered:
        return answer_messages(reply.answer)
    text = reply.text or (reply.answer.text if reply.answer is not None else "")
    return text_messages(text or "Done.")


def briefing_messages(briefing: Briefing) -> list[OutgoingMessage]:
    """A briefing as embeds: a title, one block per story, a footer with sources and time."""
    blocks: list[str] = []
    if briefing.note:
        blocks.append(f"*{inline(briefing.note)}*")
    blocks.extend(story_block(story) for story in briefing.stories)
    if briefing.more:
        blocks.append(more_block(briefing.more))
    if not blocks:
        blocks.append("No stories to show.")
    return pack(blocks, title=briefing.title or "Briefing", footer=briefing_footer(briefing),
                timestamp=briefing.created_at)


def answer_messages(answer: Answer) -> list[OutgoingMessage]:
    """An answer as an embed: the supporting sentences, then their sources as links."""
    lines = "\n".join(f"\u2022 {inline(sentence)}" for sentence in answer.sentences)
    sources = [source_link(SourceLink(s.title, s.url, s.name)) for s in answer.sources]
    blocks = [lines] if lines else []
    if sources:
        blocks.append(("Sources: " if len(sources) > 1 else "Source: ") + " \u00b7 ".join(sources))
    return pack(blocks or ["No supporting sentences."], title=answer.question or "Answer")


def text_messages(text: str) -> list[OutgoingMessage]:
    """Plain text (help, errors, confirmations) as one or more messages of at most 2,000 characters."""
    safe = escape_mentions(escape_markdown(text))
    return [OutgoingMessage(content=chunk) for chunk in split_text(safe, CONTENT_LIMIT)]


# -- blocks ----------------------------------------------------------------------------


def story_block(story: Story) -> str:
    lines = [f"**{inline(story.headline)}**"]
    lines.extend(f"\u2022 {inline(bullet.text)}" for bullet in story.bullets)
    if story.sources:
        label = "Sources: " if len(story.sources) > 1 else "Source: "
        lines.append(label + " \u00b7 ".join(source_link(s) for s in story.sources))
    return "\n".join(lines)


def more_block(stories: Sequence[Story]) -> str:
    lines = [f"**More stories ({len(stories)})**"]
    lines.extend(f"\u2022 {link(s.headline, s.url)}" for s in stories)
    return "\n".join(lines)


def briefing_footer(briefing: Briefing) -> str:
    sources = briefing.sources
    names = list(dict.fromkeys(s.name for s in sources if s.name))
    count = f"{len(sources)} source" + ("" if len(sources) == 1 else "s")
    text = f"{count}: {', '.join(names)}" if names else count
    return clip(f"{text} \u00b7 {briefing.method}", FOOTER_BUDGET)


def source_link(source: SourceLink) -> str:
    text = link(source.title or source.name or "source", source.url)
    if source.name and source.name != source.title:
        text += f" ({inline(source.name)})"
    return text


def link(label: str, url: str | None) -> str:
    """A Markdown link when the URL is a web address Discord can open, else the label alone."""
    text = _escape_brackets(inline(label) or "link")
    safe_url = web_url(url)
    return f"[{text}]({safe_url})" if safe_url else text


def web_url(url: str | None) -> str | None:
    """``url`` made safe inside ``[...](...)``, or None when it is not http(s) or too long."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    quoted = quote(url.strip(), safe=":/?#[]@!$&'*+,;=%~")
    return quoted if len(quoted) <= MAX_LINK_URL else None


def inline(text: str) -> str:
    """Untrusted text on one line, with Markdown and mentions made inert."""
    return escape_mentions(escape_markdown(" ".join(text.split())))


def _escape_brackets(text: str) -> str:
    """Escape ``[`` and ``]`` not already escaped, so a label cannot end its link early."""
    def fix(match: re.Match[str]) -> str:
        slashes, bracket = match.group(1), match.group(2)
        return slashes + ("" if len(slashes) % 2 else "\\") + bracket

    return re.sub(r"(\\*)([\[\]])", fix, text)


# -- packing and splitting ---------------------------------------------------------------


@dataclass
class _Draft:
    title: str | None = None
    parts: list[str] = field(default_factory=list)

    @property
    def cost(self) -> int:
        return units(self.title or "") + units(_SEPARATOR.join(self.parts))

    def extra(self, piece: str) -> int:
        return units(piece) + (units(_SEPARATOR) if self.parts else 0)

    def fits(self, piece: str) -> bool:
        return units(_SEPARATOR.join(self.parts)) + self.extra(piece) <= DESCRIPTION_LIMIT


def pack(blocks: Iterable[str], *, title: str, footer: str | None = None,
         timestamp: datetime | None = None) -> list[OutgoingMessage]:
    """Blocks of Markdown as embed descriptions, as few messages as Discord's limits allow.

    A block longer than one description is split at lines, then words; nothing is dropped.
    The footer and timestamp go on the very last embed.
    """
    footer = clip(footer, FOOTER_BUDGET) if footer else None
    budget = MESSAGE_EMBED_LIMIT - units(footer or "")
    head = clip(inline(title), TITLE_LIMIT) or "Briefing"
    pieces = [piece for block in blocks for piece in split_text(block, DESCRIPTION_LIMIT)]
    messages: list[list[_Draft]] = []

    def start_message() -> None:
        more = " (continued)"
        name = head if not messages else clip(head, TITLE_LIMIT - len(more)) + more
        messages.append([_Draft(title=name)])

    start_message()
    for piece in pieces:
        drafts = messages[-1]
        used = sum(d.cost for d in drafts)
        draft = drafts[-1]
        if draft.fits(piece) and used + draft.extra(piece) <= budget:
            draft.parts.append(piece)
        elif len(drafts) < EMBEDS_PER_MESSAGE and used + units(piece) <= budget:
            drafts.append(_Draft(parts=[piece]))
        else:
            start_message()
            messages[-1][-1].parts.append(piece)

    out: list[OutgoingMessage] = []
    for drafts in messages:
        embeds = []
        for draft in drafts:
            embed = discord.Embed(title=draft.title, description=_SEPARATOR.join(draft.parts) or None,
                                  color=COLOR)
            embeds.append(embed)
        out.append(OutgoingMessage(embeds=tuple(embeds)))
    last = out[-1].embeds[-1]
    if footer:
        last.set_footer(text=footer)
    if timestamp is not None:
        last.timestamp = timestamp
    return out


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in chunks of at most ``limit`` units, cut at line breaks, then spaces, then anywhere."""
    text = text.strip("\n")
    if units(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        for piece in _split_line(line, limit):
            candidate = piece if current is None else f"{current}\n{piece}"
            if units(candidate) <= limit:
                current = candidate
            else:
                if current is not None:
                    chunks.append(current)
                current = piece
    if current is not None:
        chunks.append(current)
    return [c for c in (chunk.strip("\n") for chunk in chunks) if c.strip()]


def _split_line(line: str, limit: int) -> list[str]:
    if units(line) <= limit:
        return [line]
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        while units(word) > limit:
            if current:
                pieces.append(current)
                current = ""
            head = _prefix(word, limit) or word[0]
            pieces.append(head)
            word = word[len(head):]
        candidate = f"{current} {word}" if current else word
        if units(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return pieces


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` units, never splitting a character."""
    total = 0
    for i, ch in enumerate(text):
        total += 2 if ord(ch) > 0xFFFF else 1
        if total > limit:
            return text[:i]
    return text


def clip(text: str, limit: int) -> str:
    if units(text) <= limit:
        return text
    return _prefix(text, limit - 1).rstrip() + "\u2026"


def units(text: str) -> int:
    """Length in UTF-16 code units: at least what Discord counts for any string."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
