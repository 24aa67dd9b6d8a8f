"""Local sources: a file (.txt, .md, .html, .json, or a feed file) or a folder of them."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from bot.articles import Article
from bot.errors import SourceError

from .common import (
    _FEED_SUFFIXES,
    _MAX_TITLE_CHARS,
    _MAX_TITLE_WORDS,
    _META_CHARSET,
    _SUPPORTED_NAMES,
    _TEXT_KEYS,
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    _host,
    _is_web_url,
    _looks_binary,
    _parse_iso,
    _strip_str,
    _title_from_name,
    _title_from_text,
)
from .feeds import _parse_feed, _sniff_root
from .pages import _article_from_html, html_to_text


def load_path(path: Path) -> list[Article]:
    """Read a .txt, .md, .html/.htm or .json file, or every such file in a folder.

    A folder is read recursively in sorted order; hidden entries and other file
    types are skipped, and a folder without any readable file is an error.
    """
    path = Path(path)
    try:
        if path.is_dir():
            files = list(_walk(path))
            if not files:
                raise SourceError(f"Found no .txt, .md, .html or .json files in {path}.")
            articles: list[Article] = []
            for file in files:
                articles.extend(_load_file(file))
            return articles
        if not path.exists():
            raise SourceError(f"No such file or folder: {path}.")
        if not path.is_file():
            raise SourceError(f"{path} is not a regular file or folder.")
        return _load_file(path)
    except PermissionError as exc:
        raise SourceError(f"Could not read {exc.filename or path}: permission denied.") from None
    except OSError as exc:
        raise SourceError(f"Could not read {exc.filename or path}: {exc.strerror or exc}.") from None


def _walk(folder: Path) -> Iterable[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            suffix = os.path.splitext(name)[1].lower()
            # A folder holds articles; feed files are ingested one by one or subscribed to.
            if suffix in SUPPORTED_SUFFIXES and suffix not in _FEED_SUFFIXES:
                file = Path(root) / name
                if file.is_file():
                    found.append(file)
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _load_file(path: Path) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(f"{path} is not a supported file type (use a {_SUPPORTED_NAMES} file).")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(
            f"{path} is too large ({size / (1024 * 1024):.1f} MB); the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB."
        )
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"{path} is too large; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise SourceError(f"{path} is empty.")

    if suffix in _FEED_SUFFIXES:
        return _load_feed_file(path, data)
    if suffix in (".html", ".htm"):
        text = _decode_file(path, data, html=True)
        article = _article_from_html(text, where=str(path), page_url=None,
                                     fallback_title=_title_from_name(path.stem))
        return [article if article.url else replace(article, url=path.resolve().as_uri())]
    text = _decode_file(path, data)
    if not text.strip():
        raise SourceError(f"{path} is empty.")
    if suffix == ".json":
        return _articles_from_json_text(text, where=str(path), default_source=path.name)
    return [
        _article_from_text(
            text,
            fallback_title=_title_from_name(path.stem) if _is_wordy(path.stem) else _title_from_text(text),
            markdown=suffix in (".md", ".markdown"),
            source=path.name,
            url=None,
            where=str(path),
            file_url=path.resolve().as_uri(),
        )
    ]


def _load_feed_file(path: Path, data: bytes) -> list[Article]:
    """A feed saved as a file; its entries keep their own (absolute) links."""
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError(f"{path} looks like a binary file, not text.")
    root = _sniff_root(data)
    if root not in ("rss", "feed", "rdf") and root is not None and path.suffix.lower() == ".xml":
        raise SourceError(f"{path} is not an RSS or Atom feed (it is XML with a <{root}> root element).")
    return _parse_feed(data, feed_url=str(path), base_url="", local=True)


def _decode_file(path: Path, data: bytes, *, html: bool = False) -> str:
    """UTF-8 (with or without BOM, or UTF-16 with a BOM); never a silent wrong guess."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _text_or_binary(path, data.decode("utf-16"))
        except UnicodeDecodeError:
            raise SourceError(f"{path} claims to be UTF-16 text but is not valid UTF-16.") from None
    if b"\x00" in data:
        raise SourceError(f"{path} looks like a binary file, not text.")
    try:
        return _text_or_binary(path, data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        error = exc
    if html:
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            encoding = declared.group(1).decode("ascii", "replace")
            try:
                return _text_or_binary(path, data.decode(encoding))
            except (LookupError, UnicodeDecodeError):
                pass
    if _looks_binary(data):
        raise SourceError(f"{path} looks like a binary file, not text.")
    guess = ""
    try:
        data.decode("cp1252")
        guess = " (it looks like Latin-1 or Windows-1252)"
    except UnicodeDecodeError:
        pass
    raise SourceError(
        f"{path} is not UTF-8 text{guess}: invalid byte 0x{data[error.start]:02x} at position {error.start}; "
        "save it as UTF-8 and try again."
    )


def _text_or_binary(path: Path, text: str) -> str:
    if _looks_binary(text):
        raise SourceError(f"{path} looks like a binary file, not text.")
    return text


def _is_wordy(stem: str) -> bool:
    """Whether a file name reads as words ("ukraine-talks"), not as an id ("000_5926f5")."""
    words = [w for w in re.split(r"[_\-.\s]+", stem) if w]
    return sum(1 for w in words if w.isalpha() and len(w) >= 3) >= 2


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def _looks_like_title(line: str) -> bool:
    """Short, and not ending like a sentence."""
    line = line.strip()
    if not line or len(line) > _MAX_TITLE_CHARS or len(line.split()) > _MAX_TITLE_WORDS:
        return False
    return not line.endswith((".", ",", ";", ":"))


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split simple ``---`` YAML front matter (key: value lines) off a markdown text."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            meta: dict[str, str] = {}
            for line in lines[1:i]:
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, "\n".join(lines[i + 1 :])
    return {}, text


def _article_from_text(
    text: str,
    *,
    fallback_title: str,
    markdown: bool,
    source: str = "",
    url: str | None = None,
    where: str,
    file_url: str | None = None,
) -> Article:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, str] = {}
    if markdown:
        meta, text = _front_matter(text)
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise SourceError(f"{where} is empty.")
    first = lines[start].strip()
    rest_from = start + 1
    title: str | None = None
    heading = _MD_HEADING.match(first) if markdown else None
    if heading:
        title = heading.group(2).strip() or None
    elif markdown and rest_from < len(lines) and _SETEXT.match(lines[rest_from]) and _looks_like_title(first):
        title = first
        rest_from += 1
    elif _looks_like_title(first):
        title = first
    if title is None:
        rest_from = start
    body = "\n".join(lines[rest_from:]).strip()
    if meta.get("title"):
        title = meta["title"]
    if not title:
        title = fallback_title
    if not body:
        body = title
    published = None
    for key in ("published", "date"):
        if meta.get(key):
            try:
                published = _parse_iso(meta[key])
            except ValueError:
                pass
            break
    meta_url = meta.get("url")
    if meta_url and not _is_web_url(meta_url):
        meta_url = None
    return Article(
        title=title,
        text=body,
        url=url or meta_url or file_url,
        source=meta.get("source") or source,
        published=published,
    )


def _articles_from_json_text(
    text: str, *, where: str, default_source: str = "", base_url: str | None = None
) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except RecursionError:
        raise SourceError(f"{where} is not valid JSON (it is nested too deeply).") from None
    if isinstance(data, dict) and str(data.get("version", "")).startswith("https://jsonfeed.org/"):
        return _parse_json_feed(data, feed_url=base_url or where, where=where)
    if isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise SourceError(f"{where} must hold an article object or a list of them, not a bare {type(data).__name__}.")
    if not items:
        raise SourceError(f"{where} holds an empty list: there are no articles in it.")
    articles: list[Article] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise SourceError(f"{where}: item {number} is not an object with a title and a text.")
        body = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        if body is None:
            continue
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            title = _title_from_text(body)
        published = None
        raw_date = item.get("published")
        if raw_date not in (None, ""):
            try:
                published = _parse_iso(str(raw_date))
            except ValueError:
                raise SourceError(
                    f"{where}: item {number} has a 'published' value that is not an ISO 8601 date: {str(raw_date)[:60]!r}."
                ) from None
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            url = None
        source = item.get("source")
        articles.append(
            Article(
                title=" ".join(title.split()),
                text=body.strip(),
                url=url.strip() if url else None,
                source=source.strip() if isinstance(source, str) and source.strip() else default_source,
                published=published,
            )
        )
    if not articles:
        keys = "/".join(_TEXT_KEYS)
        raise SourceError(f"{where} has no article text: no item has a non-empty '{keys}' field.")
    return articles


def _parse_json_feed(data: dict[str, Any], *, feed_url: str, where: str) -> list[Article]:
    """A JSON Feed (https://jsonfeed.org) document; feedparser does not read those."""
    source = data.get("title") if isinstance(data.get("title"), str) else ""
    source = source.strip() or _host(feed_url)
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError(f"{where} is a JSON Feed without an 'items' list.")
    articles: list[Article] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        title = _strip_str(item.get("title"))
        text = _strip_str(item.get("content_text"))
        if not text and isinstance(item.get("content_html"), str):
            text = html_to_text(item["content_html"])
        summary = _strip_str(item.get("summary"))
        text = text or summary
        link = item.get("url") if isinstance(item.get("url"), str) else None
        link = urljoin(feed_url, link) if link and _is_web_url(feed_url) else link
        link = link if link and _is_web_url(link) else None
        if not title and not text:
            continue
        published = None
        for key in ("date_published", "date_modified"):
            if isinstance(item.get(key), str):
                try:
                    published = _parse_iso(item[key])
                    break
                except ValueError:
                    pass
        articles.append(
            Article(
                title=title or _title_from_text(text),
                text=text or title,
                url=link,
                source=source,
                published=published,
                feed_url=feed_url if _is_web_url(feed_url) else None,
                summary_hint=summary if summary and summary != text else "",
            )
        )
    return articles
