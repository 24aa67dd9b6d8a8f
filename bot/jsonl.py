"""Batch summaries over JSON lines: ``{"id", "article"[, "title"]}`` in, ``{"id", "summary"}`` out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from summarizer import ExtractiveSummarizer


def summarize_lines(lines: Iterable[str], out: IO[str], *, sentences: int = 3,
                    selector: ExtractiveSummarizer | None = None) -> tuple[int, int]:
    """Write one result line per input line, in order; returns (summaries, errors).

    The summary is the chosen sentences as they stand in the article, in article
    order, joined by newlines. A bad line gives ``{"id", "line", "error"}`` (``id``
    is the line number when the line has none) and the run goes on.
    """
    selector = selector or ExtractiveSummarizer()
    done = failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = _one(line, number, selector, sentences)
        failed += "error" in result
        done += "error" not in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return done, failed


def _one(line: str, number: int, selector: ExtractiveSummarizer, sentences: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", "nested too deeply")
        return {"id": number, "line": number, "error": f"line {number} is not valid JSON: {msg}"}
    if not isinstance(record, dict):
        return {"id": number, "line": number, "error": f"line {number} is not a JSON object"}
    ident = record.get("id", number)
    article = record.get("article")
    if not isinstance(article, str):
        return {"id": ident, "line": number, "error": 'the "article" field is missing or not a string'}
    title = record.get("title") if isinstance(record.get("title"), str) else ""
    picked = selector.select(article, title, sentences=sentences)
    return {"id": ident, "summary": "\n".join(s.text for s in picked)}
