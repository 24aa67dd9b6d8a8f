"""Turning a source (a file, a folder, a web page or a feed) into articles.

Every failure is a :class:`~bot.errors.SourceError` whose message names the
file or URL and says what is wrong in one sentence.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import xml.sax
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timezone
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import httpx

from bot.articles import Article
from bot.errors import FetchRefused, SourceError
from bot.fetch import FetchedDocument, FetchPolicy, fetch

__all__ = [
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "html_to_text",
    "load_path",
    "load_source",
    "load_url",
    "parse_feed",
]

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

# trafilatura logs every page it discards at WARNING/ERROR; that is our
# SourceError's job, so keep its logger quiet unless someone asks for it.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

log = logging.getLogger(__name__)


# =========================================================================== entry point


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
        if "." in first and not first.startswith(".") and not path.suffix.lower() in SUPPORTED_SUFFIXES:
            hint = " (for a web page, start the URL with https://)"
        raise SourceError(f"No such file or folder: {spec}{hint}.")
    return load_path(path)


# =========================================================================== local files


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


def _looks_binary(data: bytes | str) -> bool:
    """More than 5% control characters (other than tab, newlines and form feed)."""
    sample = data[:4096]
    codes = sample if isinstance(sample, bytes) else [ord(ch) for ch in sample]
    controls = sum(1 for c in codes if (c < 32 and c not in (9, 10, 12, 13)) or c == 127)
    return controls > len(sample) // 20


def _text_or_binary(path: Path, text: str) -> str:
    if _looks_binary(text):
        raise SourceError(f"{path} looks like a binary file, not text.")
    return text


def _is_wordy(stem: str) -> bool:
    """Whether a file name reads as words ("ukraine-talks"), not as an id ("000_5926f5")."""
    words = [w for w in re.split(r"[_\-.\s]+", stem) if w]
    return sum(1 for w in words if w.isalpha() and len(w) >= 3) >= 2


def _title_from_name(stem: str) -> str:
    words = re.sub(r"[_\-.]+", " ", stem).strip()
    words = re.sub(r"\s+", " ", words)
    if not words:
        return "Untitled"
    return words[0].upper() + words[1:]


# --------------------------------------------------------------------------- plain text / markdown

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


# --------------------------------------------------------------------------- JSON


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


# =========================================================================== HTML


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


# =========================================================================== URLs and feeds


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
