"""RSS, RDF and Atom feeds, via feedparser: one article per entry."""

from __future__ import annotations

import io
import re
import xml.sax
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.articles import Article
from bot.errors import SourceError

from .common import _host, _is_web_url, _one_line, _title_from_text
from .pages import html_to_text

_XML_PREAMBLE = re.compile(rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE)
_ROOT_TAG = re.compile(rb"^<([A-Za-z_][\w.:-]*)")


def _sniff_root(body: bytes) -> str | None:
    """The root element of an XML/HTML body: "rss", "feed", "rdf", "html", another name, or None."""
    head = body[:8192]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    for _ in range(50):
        match = _XML_PREAMBLE.match(head)
        if not match or not match.group(0):
            break
        head = head[match.end() :]
    tag = _ROOT_TAG.match(head)
    if not tag:
        return None
    name = tag.group(1).decode("ascii", "replace").lower()
    local = name.rsplit(":", 1)[-1]
    if local == "rdf":
        return "rdf"
    if local in ("rss", "feed", "html"):
        return local
    return name


def parse_feed(body: bytes, feed_url: str) -> list[Article]:
    """Parse an RSS, RDF or Atom feed into one article per entry.

    Entry HTML is reduced to plain text; entries with neither title nor text are
    skipped, and an entry with only a title keeps the title as its text.
    """
    return _parse_feed(body, feed_url=feed_url, base_url=feed_url)


def _parse_feed(
    body: bytes, *, feed_url: str, base_url: str, charset: str | None = None, local: bool = False
) -> list[Article]:
    """Parse a feed; ``feed_url`` names it in messages and (unless ``local``) in Article.feed_url."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    # feedparser flags every document without a Content-Type header as "bozo",
    # and text/xml without a charset means US-ASCII to it; application/xml lets
    # the XML declaration decide the encoding.
    headers = {
        **({"content-location": base_url} if base_url else {}),
        "content-type": "application/xml" + (f"; charset={charset}" if charset else ""),
    }
    # Always a stream: feedparser treats a str or bytes as a URL or file name to open.
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # feedparser is meant not to raise, but be sure
        raise SourceError(f"{feed_url} is not an RSS or Atom feed ({_one_line(exc)}).") from None
    entries = parsed.get("entries") or []
    if not entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = _bozo_reason(parsed.get("bozo_exception"))
        raise SourceError(f"{feed_url} is not an RSS or Atom feed ({reason}).")
    feed = parsed.get("feed") or {}
    source = _plain(feed.get("title"), feed.get("title_detail")) or _host(feed_url)
    if local and not source:
        source = Path(feed_url).name
    articles: list[Article] = []
    for entry in entries:
        article = _entry_article(entry, source=source, feed_url=None if local else feed_url, base_url=base_url)
        if article is not None:
            articles.append(article)
    return articles


def _entry_article(entry: Any, *, source: str, feed_url: str | None, base_url: str) -> Article | None:
    title = _plain(entry.get("title"), entry.get("title_detail"))
    content_texts = [
        _plain(item.get("value"), item) for item in entry.get("content") or [] if isinstance(item, dict)
    ]
    content = max(content_texts, key=len, default="")
    summary = _plain(entry.get("summary"), entry.get("summary_detail"))
    text = content if len(content) >= len(summary) else summary
    if not title and not text:
        return None
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        link = urljoin(base_url, link.strip())
        link = link if _is_web_url(link) else None
    else:
        link = None
    published = None
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = entry.get(key)
        if stamp:
            try:
                published = datetime(*stamp[:6], tzinfo=timezone.utc)
                break
            except (TypeError, ValueError, OverflowError):
                continue
    return Article(
        title=title or _title_from_text(text),
        text=text or title,
        url=link,
        source=source,
        published=published,
        feed_url=feed_url,
        summary_hint=summary if summary and summary != text else "",
    )


def _plain(value: Any, detail: Any = None) -> str:
    """Text of a feed field: HTML is reduced to text, plain text only has its spaces tidied."""
    if not isinstance(value, str):
        return ""
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    if kind == "text/plain" and "<" not in value:
        text = value
    else:
        text = html_to_text(value)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line).strip()


def _bozo_reason(exc: Any) -> str:
    if exc is None or isinstance(exc, feedparser.NonXMLContentType):
        return "no RSS or Atom elements were found"
    if isinstance(exc, xml.sax.SAXException):
        return "it is not well-formed XML"
    return f"it could not be read: {_one_line(exc)}"
