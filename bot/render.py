"""Plain text, Markdown and JSON renderings of briefings and answers (terminal and CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from summarizer import Briefing, SourceLink

from .replies import Answer, Reply

MORE_SHOWN = 15  # headlines listed under "More stories"; the rest are counted


def briefing_text(briefing: Briefing) -> str:
    lines = [briefing.title, "=" * min(len(briefing.title), 72)]
    if briefing.note:
        lines.append(briefing.note)
    for story in briefing.stories:
        lines.append("")
        if story.headline != briefing.title or len(briefing.stories) > 1:
            lines.append(story.headline)
        lines.extend(f"  \u2022 {b.text}" for b in story.bullets)
        if len(story.sources) > 1:
            lines.append(f"  {len(story.sources)} sources:")
            lines.extend(f"    {_source_text(s)}" for s in story.sources)
        else:
            lines.extend(f"  Source: {_source_text(s)}" for s in story.sources)
    if briefing.more:
        lines.append("")
        lines.append(f"More stories ({len(briefing.more)}):")
        lines.extend(f"  - {s.headline}" + (f" <{s.url}>" if s.url else "") for s in briefing.more[:MORE_SHOWN])
        if len(briefing.more) > MORE_SHOWN:
            lines.append(f"  ... and {len(briefing.more) - MORE_SHOWN} more; ask for a topic with /brief <words>.")
    return "\n".join(lines)


def briefing_markdown(briefing: Briefing) -> str:
    lines = [f"# {_md(briefing.title)}"]
    if briefing.note:
        lines += ["", f"_{_md(briefing.note)}_"]
    for story in briefing.stories:
        lines += ["", f"## {_md(story.headline)}", ""]
        lines += [f"- {_md(b.text)}" for b in story.bullets]
        lines += ["", "Sources: " + ", ".join(_source_md(s) for s in story.sources)]
    if briefing.more:
        lines += ["", "More stories:", ""]
        lines += [f"- {_source_md(SourceLink(s.headline, s.url))}" for s in briefing.more]
    return "\n".join(lines)


def briefing_json(briefing: Briefing) -> dict[str, Any]:
    """The JSON form: one story gives ``title`` and ``summary`` at the top level too."""
    stories = [
        {
            "title": story.headline,
            "summary": [b.text for b in story.bullets],
            "bullets": [{"text": b.text, "source": b.source, "sentences": list(b.sentences)}
                        for b in story.bullets],
            "sources": [_source_json(s) for s in story.sources],
        }
        for story in briefing.stories
    ]
    out: dict[str, Any] = {
        "title": stories[0]["title"] if len(stories) == 1 else briefing.title,
        "summary": stories[0]["summary"] if len(stories) == 1 else [b for s in stories for b in s["summary"]],
        "method": briefing.method,
        "sources": [_source_json(s) for s in briefing.sources],
        "stories": stories,
        "created_at": briefing.created_at.isoformat(),
    }
    if briefing.note:
        out["note"] = briefing.note
    if briefing.more:
        out["more"] = [{"title": s.headline, "url": s.url} for s in briefing.more]
    return out


def answer_text(answer: Answer) -> str:
    if not answer.covered:
        return "The stored sources do not cover that."
    lines = [f"\u2022 {s}" for s in answer.sentences]
    lines.append("Sources: " + "; ".join(_source_text(SourceLink(s.title, s.url, s.name))
                                        for s in answer.sources))
    return "\n".join(lines)


def reply_text(reply: Reply) -> str:
    """Any reply as terminal text."""
    if reply.briefing is not None:
        return briefing_text(reply.briefing)
    if reply.answer is not None:
        return answer_text(reply.answer)
    return reply.text


def _source_text(s: SourceLink) -> str:
    parts = [s.title]
    if s.name and s.name != s.title:
        parts.append(f"({s.name})")
    if s.url:
        parts.append(f"<{s.url}>")
    return " ".join(parts)


def _source_md(s: SourceLink) -> str:
    return f"[{_md(s.title)}]({s.url})" if s.url else _md(s.title)


def _source_json(s: SourceLink) -> dict[str, Any]:
    return {"title": s.title, "url": s.url, "name": s.name,
            "published": s.published.isoformat() if isinstance(s.published, datetime) else None}


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("*", "\\*").replace("_", "\\_")
