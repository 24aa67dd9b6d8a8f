"""Turning a source (a file, a folder, a web page or a feed) into articles.

Every failure is a :class:`~bot.errors.SourceError` whose message names the
file or URL and says what is wrong in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.articles import Article
from bot.errors import FetchRefused, SourceError
from bot.fetch import FetchPolicy

from .common import _SCHEME, MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from .feeds import parse_feed
from .files import load_path
from .pages import html_to_text
from .web import articles_from_document, load_url

__all__ = [
    "MAX_FILE_BYTES",
    "articles_from_document",
    "SUPPORTED_SUFFIXES",
    "html_to_text",
    "load_path",
    "load_source",
    "load_url",
    "parse_feed",
]


def load_source(
    spec: str,
    policy: FetchPolicy,
    *,
    transport: httpx.BaseTransport | None = None,
    allow_local: bool = True,
) -> list[Article]:
    """Load articles from ``spec``: an http(s) URL, or a local file or folder.

    Any other ``scheme://`` is refused with :class:`FetchRefused`.  Pass
    ``allow_local=False`` where ``spec`` comes from a chat user, so that
    nobody can read files on the bot's machine.
    """
    spec = (spec or "").strip()
    if not spec:
        raise SourceError("Nothing to load: give a file, a folder or an http(s) URL.")
    match = _SCHEME.match(spec)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            return load_url(spec, policy, transport=transport)
        raise FetchRefused(f"Refused {scheme}:// URLs: only http and https URLs can be fetched.")
    if not allow_local:
        raise FetchRefused("Refused: only http and https URLs can be loaded here, not local files.")
    path = Path(spec).expanduser()
    if not path.exists():
        hint = ""
        first = spec.split("/", 1)[0]
        if "." in first and not first.startswith(".") and path.suffix.lower() not in SUPPORTED_SUFFIXES:
            hint = " (for a web page, start the URL with https://)"
        raise SourceError(f"No such file or folder: {spec}{hint}.")
    return load_path(path)
