"""Web pages: the article's main text, title, date and canonical URL, via trafilatura."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from bot.articles import Article
from bot.errors import SourceError

from .common import _SPACES, _host, _is_web_url, _parse_iso

log = logging.getLogger(__name__)

# trafilatura logs every page it discards at WARNING/ERROR; that is our
# SourceError's job, so keep its logger quiet unless someone asks for it.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _article_from_html(html: str | bytes, *, where: str, page_url: str | None, fallback_title: str) -> Article:
    """The main article of a page, via trafilatura, without navigation or boilerplate."""
    import trafilatura

    document = None
    for precise in (True, False):
        try:
            document = trafilatura.bare_extraction(
                html,
                url=page_url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                favor_precision=precise,
            )
        except Exception as exc:  # trafilatura/lxml raise assorted errors on junk
            log.debug("trafilatura failed on %s: %r", where, exc)
            document = None
        text = (getattr(document, "text", None) or "").strip() if document is not None else ""
        # The precise pass finds real articles; the permissive retry must also
        # look like prose, not a list of navigation links.
        if text and (precise or _looks_like_prose(text)):
            break
        document = None
    if document is None:
        raise SourceError(f"No article text found in {where}.")

    title = " ".join((document.title or "").split()) or fallback_title
    text = _drop_leading_title(document.text.strip(), title)
    published = _published_from_html(html)
    if published is None and document.date:
        try:
            published = _parse_iso(str(document.date))
        except ValueError:
            published = None
    url = None
    canonical = document.url
    if canonical:
        canonical = urljoin(page_url, canonical) if page_url else canonical
        if _is_web_url(canonical):
            url = canonical
    if url is None and page_url:
        url = page_url
    source = " ".join((document.sitename or "").split()) or (_host(page_url) if page_url else "")
    description = " ".join((document.description or "").split())
    return Article(
        title=title,
        text=text or title,
        url=url,
        source=source,
        published=published,
        summary_hint=description,
    )


def _looks_like_prose(text: str) -> bool:
    """At least one line that reads like a sentence rather than a menu entry."""
    return any(len(line.split()) >= 10 for line in text.splitlines())


def _drop_leading_title(text: str, title: str) -> str:
    lines = text.split("\n")
    if lines and " ".join(lines[0].split()).casefold() == title.casefold() and len(lines) > 1:
        return "\n".join(lines[1:]).strip()
    return text


_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "article.published",
    "datepublished",
    "date",
    "pubdate",
    "publishdate",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
)


def _published_from_html(html: str | bytes) -> datetime | None:
    """The full publication timestamp from meta tags or JSON-LD (trafilatura keeps only the day)."""
    try:
        import lxml.html

        tree = lxml.html.document_fromstring(html)
    except Exception:
        return None
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if key in _DATE_META and content and key not in found:
            found[key] = content
    for key in _DATE_META:
        if key in found:
            try:
                return _parse_iso(found[key])
            except ValueError:
                continue
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            value = _find_key(json.loads(script.text), "datePublished")
        except (ValueError, RecursionError):
            continue
        if isinstance(value, str):
            try:
                return _parse_iso(value)
            except ValueError:
                continue
    return None


def _find_key(data: Any, key: str, depth: int = 0) -> Any:
    if depth > 6:
        return None
    if isinstance(data, dict):
        if key in data:
            return data[key]
        children = list(data.values())
    elif isinstance(data, list):
        children = data
    else:
        return None
    for child in children:
        found = _find_key(child, key, depth + 1)
        if found is not None:
            return found
    return None


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"})
    _BLOCK = frozenset(
        {
            "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
            "blockquote", "pre", "section", "article", "header", "footer", "aside", "figure",
            "figcaption", "dd", "dt", "dl", "hr", "main", "nav", "form", "address", "details", "summary",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed entry's content); never raises."""
    if not isinstance(fragment, str) or not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        raw = fragment
    else:
        parser = _TextExtractor()
        try:
            parser.feed(fragment)
            parser.close()
            raw = "".join(parser.parts)
        except Exception:  # html.parser is lenient, but junk must never escape
            raw = unescape(re.sub(r"<[^>]*>", " ", fragment))
    lines = (_SPACES.sub(" ", line).strip() for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)
