"""Block Kit renderings of the core's replies, split to fit Slack's limits.

Pure functions: a reply in, a list of message payloads (``{"text", "blocks"}``) out. A
reply that does not fit one message is split across several, never cut short or rejected;
every message carries ``text`` as its notification fallback.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any
from urllib.parse import urlsplit

from bot.replies import Answer, Reply
from summarizer import Briefing, Story

from .mrkdwn import escape, link

HEADER_CHARS = 150
SECTION_CHARS = 3000
BLOCKS_PER_MESSAGE = 50
# Block text per message: far below what Slack accepts, so a message is never too long.
MESSAGE_CHARS = 12_000
FALLBACK_CHARS = 300
HEADLINE_CHARS = 250

Message = dict[str, Any]
Block = dict[str, Any]


def reply_messages(reply: Reply) -> list[Message]:
    """Any reply of the core as one or more messages."""
    if reply.briefing is not None:
        return briefing_messages(reply.briefing)
    if reply.answer is not None and reply.answer.covered:
        return answer_messages(reply.answer)
    return text_messages(reply.text or (reply.answer.text if reply.answer else ""))


def briefing_messages(briefing: Briefing) -> list[Message]:
    """A header, a section per story (bullets and source links), a context line."""
    body: list[Block] = []
    if briefing.note:
        body.append(_context(f"_{escape(briefing.note)}_"))
    for story in briefing.stories:
        body += _sections(_story(story))
    if briefing.more:
        body += _sections(_more(briefing.more))
    if not briefing.stories and not briefing.more:
        body += _sections("No story in this briefing had text to summarize.")
    body.append(_context(_footer(briefing)))
    count = len(briefing.stories)
    headlines = "; ".join(s.headline for s in briefing.stories)
    fallback = f"{briefing.title}: {count} {'story' if count == 1 else 'stories'}" + (
        f": {headlines}" if headlines else "")
    return _pack(body, fallback, header=briefing.title or "Briefing")


def answer_messages(answer: Answer) -> list[Message]:
    """The supporting sentences as bullets, then their sources as links."""
    lines = [f"\u2022 {escape(' '.join(s.split()))}" for s in answer.sentences]
    sources = "; ".join(_source(s.url, s.title, s.name) for s in answer.sources)
    if sources:
        lines.append(("Sources: " if len(answer.sources) > 1 else "Source: ") + sources)
    return _pack(_sections("\n".join(lines)), answer.text)


def text_messages(text: str) -> list[Message]:
    """A plain message (help, an error, a confirmation), escaped."""
    text = text.strip() or "Done."
    return _pack(_sections(escape(text)), text)


# -- pieces ------------------------------------------------------------------------------


def _story(story: Story) -> str:
    lines = [f"*{escape(_clip(' '.join(story.headline.split()), HEADLINE_CHARS))}*"]
    lines += [f"\u2022 {escape(' '.join(b.text.split()))}" for b in story.bullets]
    links = [_source(s.url, s.title if s.title != story.headline else "", s.name) for s in story.sources]
    if links:
        lines.append(("Sources: " if len(links) > 1 else "Source: ") + ", ".join(links))
    return "\n".join(lines)


def _more(stories: tuple[Story, ...]) -> str:
    lines = ["*More stories*"]
    for story in stories:
        headline = _clip(" ".join(story.headline.split()), HEADLINE_CHARS)
        lines.append(f"\u2022 {link(story.url, headline)}")
    return "\n".join(lines)


def _source(url: str | None, title: str, name: str) -> str:
    """A source as a link labelled with its name (or host), with its title when that adds to it."""
    label = name or _host(url) or title or "source"
    shown = link(url, label)
    if title and title != label:
        shown = f"{escape(_clip(' '.join(title.split()), HEADLINE_CHARS))} ({shown})"
    return shown


def _footer(briefing: Briefing) -> str:
    count = len(briefing.sources) + sum(len(s.sources) for s in briefing.more)
    parts = [f"{count} {'source' if count == 1 else 'sources'}"]
    created = briefing.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    fallback = created.astimezone(timezone.utc).strftime("%d %b %Y %H:%M UTC")
    # Slack shows the time in each reader's own time zone; the fallback is UTC.
    parts.append(f"<!date^{int(created.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>")
    if briefing.method:
        parts.append(f"{escape(briefing.method)} summary")
    return " \u00b7 ".join(parts)


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _header(title: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _escaped_within(title, HEADER_CHARS),
                                       "emoji": True}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _split(mrkdwn, SECTION_CHARS)[0],
                                             "verbatim": True}]}


def _sections(mrkdwn: str) -> list[Block]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece, "verbatim": True}}
            for piece in _split(mrkdwn, SECTION_CHARS)]


def _pack(body: list[Block], fallback: str, *, header: str | None = None) -> list[Message]:
    """Blocks into as few messages as fit Slack's limits, in order."""
    chunks: list[list[Block]] = [[_header(header)] if header else []]
    size = sum(_chars(b) for b in chunks[0])
    for block in body:
        chars = _chars(block)
        if chunks[-1] and (len(chunks[-1]) >= BLOCKS_PER_MESSAGE or size + chars > MESSAGE_CHARS):
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += chars
    chunks = [c for c in chunks if c]
    text = _escaped_within(" ".join(fallback.split()) or "briefbot", FALLBACK_CHARS)
    if len(chunks) == 1:
        return [{"text": text, "blocks": chunks[0]}]
    return [{"text": f"{text} ({i}/{len(chunks)})", "blocks": chunk} for i, chunk in enumerate(chunks, 1)]


def _chars(block: Block) -> int:
    if "text" in block:
        return len(block["text"]["text"])
    return sum(len(e.get("text", "")) for e in block.get("elements", ()))


# -- splitting -----------------------------------------------------------------------------


def _split(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends, then spaces.

    A cut never falls inside an entity (``&amp;``) or a link we built (``<url|label>``).
    """
    pieces: list[str] = []
    while len(text) > limit:
        cut, skip = _cut(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut + skip:].lstrip("\n")
    pieces.append(text)
    return [p for p in pieces if p.strip()] or ["\u2026"]


def _cut(text: str, limit: int) -> tuple[int, int]:
    for sep, floor in (("\n", limit // 2), (" ", limit // 2), ("\n", 0), (" ", 0)):
        pos = text.rfind(sep, 0, limit + 1)
        while pos > floor and _inside_token(text, pos):
            pos = text.rfind(sep, 0, pos)
        if pos > floor:
            return pos, 1
    pos = limit
    while pos > 0 and _inside_token(text, pos):
        pos -= 1
    return (pos or limit), 0


def _inside_token(text: str, pos: int) -> bool:
    """Whether cutting before ``pos`` would break a ``<...>`` token or an ``&...;`` entity."""
    opened = text.rfind("<", 0, pos)
    if opened != -1 and text.find(">", opened, pos) == -1:
        return True
    # Every & in escaped text starts an entity, and ours are at most five characters long.
    amp = text.rfind("&", max(0, pos - 4), pos)
    return amp != -1 and ";" not in text[amp:pos]


def _escaped_within(raw: str, limit: int) -> str:
    """``raw`` escaped, clipped (before escaping, so no entity is cut) to at most ``limit`` characters."""
    out = escape(raw)
    while len(out) > limit:
        raw = raw[: max(0, len(raw) - (len(out) - limit) - 1)].rstrip()
        out = escape(raw) + "\u2026"
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"
