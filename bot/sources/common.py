"""Constants and small helpers shared by the source readers."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

MAX_FILE_BYTES = 5 * 1024 * 1024
_FEED_SUFFIXES = (".rss", ".atom", ".xml")
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", *_FEED_SUFFIXES)
_SUPPORTED_NAMES = ".txt, .md, .html, .json or feed (.rss, .atom, .xml)"
_TEXT_KEYS = ("text", "article", "content", "body")
_MAX_TITLE_CHARS = 150
_MAX_TITLE_WORDS = 25

_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
_JSON_TYPES = frozenset({"application/json", "application/feed+json"})

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\r\u00a0]+")


def _looks_binary(data: bytes | str) -> bool:
    """More than 5% control characters (other than tab, newlines and form feed)."""
    sample = data[:4096]
    codes = sample if isinstance(sample, bytes) else [ord(ch) for ch in sample]
    controls = sum(1 for c in codes if (c < 32 and c not in (9, 10, 12, 13)) or c == 127)
    return controls > len(sample) // 20


def _strip_str(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _title_from_text(text: str, limit: int = 80) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "Untitled")
    first = " ".join(first.split())
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0] or first[:limit]
    return cut.rstrip(",;:") + "…"


def _parse_iso(value: str) -> datetime:
    """ISO 8601 date or date-time as an aware UTC datetime (a naive value is taken as UTC)."""
    value = value.strip()
    if not value:
        raise ValueError("empty date")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time()) if len(value) == 10 else None
        if parsed is None:
            raise
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _is_web_url(value: str | None) -> bool:
    if not value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _title_from_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    segment = re.sub(r"\.(html?|php|aspx?|txt|md)$", "", segment, flags=re.IGNORECASE)
    return _title_from_name(segment) if segment.strip(" -_.") else (parts.hostname or url)


def _title_from_name(stem: str) -> str:
    words = re.sub(r"[_\-.]+", " ", stem).strip()
    words = re.sub(r"\s+", " ", words)
    if not words:
        return "Untitled"
    return words[0].upper() + words[1:]
