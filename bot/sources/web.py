"""URLs: fetched through the guarded fetcher, then read as a feed, a page, text or JSON."""

from __future__ import annotations

import httpx

from bot.articles import Article
from bot.errors import SourceError
from bot.fetch import FetchedDocument, FetchPolicy, fetch

from .common import _FEED_TYPES, _JSON_TYPES, _TEXT_TYPES, _XML_TYPES, _host, _title_from_url
from .feeds import _parse_feed, _sniff_root
from .files import _article_from_text, _articles_from_json_text
from .pages import _article_from_html


def load_url(url: str, policy: FetchPolicy, *, transport: httpx.BaseTransport | None = None) -> list[Article]:
    """Fetch ``url`` and return its articles: every entry of a feed, or the page's one article."""
    document = fetch(url, policy, transport=transport)
    return articles_from_document(document)


def articles_from_document(document: FetchedDocument) -> list[Article]:
    """Articles from an already fetched document (feed, web page, plain text or JSON)."""
    kind = document.content_type
    where = document.final_url if document.final_url == document.url else f"{document.url} ({document.final_url})"
    body = document.body
    if not body.strip():
        raise SourceError(f"{where} returned an empty page.")
    if kind in _FEED_TYPES:
        return _parse_feed(body, feed_url=document.url, base_url=document.final_url, charset=document.charset)
    if kind in _JSON_TYPES:
        return _articles_from_json_text(
            document.text(), where=where, default_source=_host(document.final_url), base_url=document.final_url
        )
    root = _sniff_root(body)
    if root in ("rss", "feed", "rdf"):
        return _parse_feed(body, feed_url=document.url, base_url=document.final_url, charset=document.charset)
    if kind in _XML_TYPES and root not in ("html", None):
        raise SourceError(f"{where} is not an RSS or Atom feed (it is XML with a <{root}> root element).")
    if kind in _TEXT_TYPES:
        return [
            _article_from_text(
                document.text(),
                fallback_title=_title_from_url(document.final_url),
                markdown=kind == "text/markdown",
                source=_host(document.final_url),
                url=document.final_url,
                where=where,
            )
        ]
    html: str | bytes = document.text() if document.charset else body
    return [
        _article_from_html(
            html, where=where, page_url=document.final_url, fallback_title=_title_from_url(document.final_url)
        )
    ]
