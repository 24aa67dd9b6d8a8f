"""Tests for turning files, folders, web pages and feeds into articles."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.articles import Article
from bot.errors import FetchRefused, SourceError
from bot.fetch import FetchPolicy
from bot.sources import html_to_text, load_path, load_source, load_url, parse_feed

DATA = Path(__file__).parent / "data"
ARTICLE_HTML = (DATA / "article.html").read_bytes()
NO_ARTICLE_HTML = (DATA / "no_article.html").read_bytes()
RSS = (DATA / "feed.rss").read_bytes()
ATOM = (DATA / "feed.atom").read_bytes()

BOILERPLATE = ("Subscribe", "Privacy policy", "Related stories", "cookies", "All rights reserved", "Politics")
PUBLISHED = datetime(2024, 3, 14, 8, 30, tzinfo=timezone.utc)


def _source_error(call, *args, **kwargs) -> str:
    """Run ``call`` expecting a SourceError; return its message after checking it reads well."""
    with pytest.raises(SourceError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


# =========================================================================== local files


def test_txt_title_from_first_line(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Council approves new cycle lanes\n\nThe council voted 31 to 12 on Tuesday.\nWork starts in May.\n")
    [article] = load_path(path)
    assert article.title == "Council approves new cycle lanes"
    assert article.text == "The council voted 31 to 12 on Tuesday.\nWork starts in May."
    assert article.url == path.resolve().as_uri() and article.published is None


def test_txt_sentence_first_line_gives_filename_title(tmp_path):
    path = tmp_path / "school-meals_report.txt"
    path.write_text("Free school meals will be extended to all primary pupils from September.\nMore text.")
    [article] = load_path(path)
    assert article.title == "School meals report"
    assert article.text.startswith("Free school meals")


def test_txt_with_utf8_bom_and_accents(tmp_path):
    path = tmp_path / "cafe.txt"
    path.write_bytes("\ufeffCafé reopens after fire\nThe café on Rue Verte reopened.".encode("utf-8"))
    [article] = load_path(path)
    assert article.title == "Café reopens after fire"
    assert "Rue Verte" in article.text


def test_markdown_heading_is_the_title(tmp_path):
    path = tmp_path / "story.md"
    path.write_text("# Bridge closes for repairs #\n\nThe old bridge closes **for six weeks**.\n")
    [article] = load_path(path)
    assert article.title == "Bridge closes for repairs"
    assert article.text == "The old bridge closes **for six weeks**."


def test_markdown_front_matter(tmp_path):
    path = tmp_path / "story.md"
    path.write_text(
        "---\ntitle: Ferry timetable changes\ndate: 2024-03-14T09:30:00+01:00\n"
        "url: https://news.example.com/ferry\n---\n\nFerries will run every 40 minutes.\n"
    )
    [article] = load_path(path)
    assert article.title == "Ferry timetable changes"
    assert article.published == PUBLISHED
    assert article.url == "https://news.example.com/ferry"
    assert article.text == "Ferries will run every 40 minutes."


def test_html_file_extracts_article_without_boilerplate():
    [article] = load_path(DATA / "article.html")
    assert article.title == "Harbour city opens its first tidal power station"
    assert article.text.startswith("Port Merrow switched on")
    assert "national energy prices" in article.text
    for junk in BOILERPLATE:
        assert junk not in article.text
    assert article.url == "https://news.example.com/2024/03/14/tidal-power-station"
    assert article.published == PUBLISHED
    assert article.published.tzinfo is not None
    assert article.source == "The Coastal Ledger"


def test_json_single_object(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps(
            {
                "title": "Port strike ends",
                "text": "Dock workers accepted the offer.",
                "url": "https://news.example.com/strike",
                "published": "2024-03-14T08:30:00Z",
                "source": "Wire",
            }
        )
    )
    [article] = load_path(path)
    assert article == Article(
        title="Port strike ends",
        text="Dock workers accepted the offer.",
        url="https://news.example.com/strike",
        source="Wire",
        published=PUBLISHED,
    )


def test_json_list_with_alternative_text_keys(tmp_path):
    path = tmp_path / "many.json"
    items = [
        {"title": "A", "article": "Text of A."},
        {"title": "B", "content": "Text of B.", "published": "2024-03-14T08:30:00"},
        {"body": "Untitled body text becomes the title."},
        {"title": "No text, skipped"},
    ]
    path.write_text(json.dumps(items))
    articles = load_path(path)
    assert [a.title for a in articles] == ["A", "B", "Untitled body text becomes the title."]
    assert articles[1].published == PUBLISHED  # naive means UTC


def test_folder_recursive_sorted_skipping_other_files(tmp_path):
    (tmp_path / "b.txt").write_text("Second story\nBody two.")
    (tmp_path / "a.md").write_text("# First story\nBody one.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text('{"title": "Third story", "text": "Body three."}')
    (tmp_path / "sub" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.txt").write_text("Hidden\nNot read.")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    assert [a.title for a in load_path(tmp_path)] == ["First story", "Second story", "Third story"]


def test_local_feed_files(tmp_path):
    (tmp_path / "science.rss").write_bytes(RSS)
    (tmp_path / "lab.xml").write_bytes(ATOM)
    articles = load_path(tmp_path / "lab.xml") + load_path(tmp_path / "science.rss")
    assert [a.source for a in articles] == ["Harbour Lab Notes"] * 2 + ["The Coastal Ledger – Science"] * 3
    assert all(a.feed_url is None for a in articles)
    assert articles[2].url == "https://news.example.com/2024/03/14/tidal-power-station"
    assert articles[3].url is None  # a relative link has nothing to resolve against in a file


def test_local_xml_that_is_not_a_feed(tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_bytes(b'<?xml version="1.0"?><urlset><url><loc>https://e.example/</loc></url></urlset>')
    assert "sitemap.xml is not an RSS or Atom feed" in _source_error(load_path, path)
    path = tmp_path / "broken.rss"
    path.write_bytes(b"<rss><channel><title>x</oops>")
    assert _source_error(load_path, path) == f"{path} is not an RSS or Atom feed (it is not well-formed XML)."
    # feedparser's loose parser still recovers entries from slightly broken XML; those are kept.
    path.write_bytes(b"<rss><channel><item><title>Recovered</title></oops>")
    assert [a.title for a in load_path(path)] == ["Recovered"]


def test_folder_without_supported_files(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    message = _source_error(load_path, tmp_path)
    assert "Found no .txt, .md, .html or .json files" in message
    assert str(tmp_path) in message


# --------------------------------------------------------------------------- bad local input


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    assert _source_error(load_path, path) == f"{path} is empty."
    path.write_text("  \n\t\n")
    assert "is empty" in _source_error(load_path, path)


def test_binary_file(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00binary")
    message = _source_error(load_path, path)
    assert "binary file" in message and "data.txt" in message


def test_binary_file_without_nul_bytes(tmp_path):
    path = tmp_path / "blob.md"
    path.write_bytes(bytes(range(1, 32)) * 20)
    assert "binary file" in _source_error(load_path, path)


def test_utf16_with_bom_is_read(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("Wide title\nWide body.".encode("utf-16"))
    [article] = load_path(path)
    assert (article.title, article.text) == ("Wide title", "Wide body.")


def test_file_over_5_mb_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    with path.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)  # sparse: nothing is actually written
    message = _source_error(load_path, path)
    assert "too large" in message and "5 MB" in message and "big.txt" in message


def test_html_without_article(tmp_path):
    message = _source_error(load_path, DATA / "no_article.html")
    assert message == f"No article text found in {DATA / 'no_article.html'}."


def test_latin1_text_is_refused_not_mojibaked(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Élections à Genève\nLes électeurs ont voté.".encode("latin-1"))
    message = _source_error(load_path, path)
    assert "latin.txt" in message and "not UTF-8" in message and "Latin-1" in message


def test_html_with_declared_legacy_charset_is_decoded(tmp_path):
    path = tmp_path / "legacy.html"
    html = ARTICLE_HTML.decode().replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">')
    path.write_bytes(html.replace("Port Merrow", "Port Mérrow").encode("latin-1"))
    [article] = load_path(path)
    assert "Port Mérrow" in article.text


def test_malformed_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"title": "x", "text": "y",,}')
    message = _source_error(load_path, path)
    assert "broken.json is not valid JSON" in message and "line 1" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"title": "only a title"}', "has no article text"),
        ("[]", "empty list"),
        ('"just a string"', "must hold an article object"),
        ('[1, 2]', "item 1 is not an object"),
        ('{"title": "t", "text": "x", "published": "yesterday"}', "not an ISO 8601 date"),
    ],
)
def test_json_without_usable_articles(tmp_path, content, expected):
    path = tmp_path / "items.json"
    path.write_text(content)
    message = _source_error(load_path, path)
    assert expected in message and "items.json" in message


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7")
    assert "not a supported file type" in _source_error(load_path, path)


# --------------------------------------------------------------------------- load_source dispatch


def test_load_source_missing_path(tmp_path):
    missing = tmp_path / "nope.txt"
    assert _source_error(load_source, str(missing), FetchPolicy()) == f"No such file or folder: {missing}."


def test_load_source_hints_at_https_for_bare_domains():
    assert "start the URL with https://" in _source_error(load_source, "www.example.com/news", FetchPolicy())


@pytest.mark.parametrize("spec", ["ftp://example.com/feed.xml", "file:///etc/passwd", "gopher://x/1"])
def test_load_source_refuses_other_schemes(spec):
    with pytest.raises(FetchRefused, match="only http and https"):
        load_source(spec, FetchPolicy())


def test_load_source_reads_local_files(tmp_path):
    (tmp_path / "a.txt").write_text("Title\nBody.")
    assert [a.title for a in load_source(f"  {tmp_path}  ", FetchPolicy())] == ["Title"]
    with pytest.raises(FetchRefused, match="not local files"):
        load_source(str(tmp_path), FetchPolicy(), allow_local=False)


# =========================================================================== URLs and feeds


class Handler(BaseHTTPRequestHandler):
    routes = {
        "/article": ("text/html; charset=utf-8", ARTICLE_HTML),
        "/article-no-charset": ("text/html", ARTICLE_HTML.replace(b'<link rel="canonical"', b'<link rel="x"')),
        "/no-article": ("text/html", NO_ARTICLE_HTML),
        "/rss": ("application/rss+xml", RSS),
        "/rss-as-xml": ("application/xml", RSS),
        "/rss-as-html": ("text/html", RSS),
        "/atom": ("application/atom+xml", ATOM),
        "/notfeed": ("application/rss+xml", b"<p>Sorry, the feed moved. {{ not xml"),
        "/other-xml": ("application/xml", b'<?xml version="1.0"?><sitemap><loc>x</loc></sitemap>'),
        "/plain.txt": ("text/plain; charset=utf-8", "Tide tables\nHigh water at 06:12 and 18:40.".encode()),
        "/json-feed": (
            "application/feed+json",
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "JSON Ledger",
                    "items": [
                        {
                            "id": "1",
                            "url": "/j/1",
                            "title": "JSON item",
                            "content_html": "<p>Hello <b>JSON</b></p>",
                            "date_published": "2024-03-14T09:30:00+01:00",
                        }
                    ],
                }
            ).encode(),
        ),
        "/image.png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    }

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/article-no-charset")
            self.end_headers()
            return
        content_type, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def policy() -> FetchPolicy:
    return FetchPolicy(allow_private=("127.0.0.1",), connect_timeout=1.0, read_timeout=1.0)


def test_load_url_article(server, policy):
    [article] = load_url(f"{server}/article", policy)
    assert article.title == "Harbour city opens its first tidal power station"
    assert article.url == "https://news.example.com/2024/03/14/tidal-power-station"
    assert article.published == PUBLISHED
    assert article.text.startswith("Port Merrow switched on")
    for junk in BOILERPLATE:
        assert junk not in article.text


def test_load_url_without_canonical_falls_back_to_final_url(server, policy):
    [article] = load_url(f"{server}/moved", policy)
    assert article.url == f"{server}/article-no-charset"
    assert "Port Merrow" in article.text


def test_load_url_refuses_loopback_without_allow_list(server):
    with pytest.raises(FetchRefused, match="loopback"):
        load_source(f"{server}/article", FetchPolicy())


@pytest.mark.parametrize("path", ["/rss", "/rss-as-xml", "/rss-as-html"])
def test_load_url_rss(server, policy, path):
    articles = load_url(f"{server}{path}", policy)
    assert [a.title for a in articles] == [
        "Harbour city opens its first tidal power station",
        "Seal colony returns to the northern sandbanks",
        "Live: storm warnings for the weekend",
    ]
    first, second, third = articles
    assert first.text == (
        "Port Merrow switched on its first tidal power station on Thursday.\n"
        "The turbines sit on the floor of the harbour mouth & run for roughly eighteen hours a day."
    )
    assert "alert" not in first.text and "<" not in first.text
    assert first.published == PUBLISHED
    assert first.source == "The Coastal Ledger – Science"
    assert first.feed_url == f"{server}{path}"
    assert second.text == "Grey seals have been counted on the northern sandbanks for the first time in thirty years."
    assert second.url == f"{server}/2024/03/12/seal-colony"  # relative link resolved against the feed
    assert second.published == datetime(2024, 3, 12, 17, 5, tzinfo=timezone.utc)
    assert third.text == third.title and third.url == "https://news.example.com/live/storm"
    assert third.published is None


def test_load_url_atom(server, policy):
    first, second = load_url(f"{server}/atom", policy)
    assert first.title == "Measuring turbine noise under water"
    assert first.text == (
        "We lowered three hydrophones next to the new turbines.\n"
        "The noise stays below the level that disturbs porpoises."
    )
    assert first.published == datetime(2024, 3, 15, 13, 0, tzinfo=timezone.utc)
    assert first.source == "Harbour Lab Notes"
    assert second.published == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)  # updated, no published


def test_load_url_json_feed(server, policy):
    [article] = load_url(f"{server}/json-feed", policy)
    assert article.title == "JSON item" and article.text == "Hello JSON"
    assert article.url == f"{server}/j/1"
    assert article.published == PUBLISHED
    assert article.source == "JSON Ledger"


def test_load_url_plain_text(server, policy):
    [article] = load_url(f"{server}/plain.txt", policy)
    assert article.title == "Tide tables"
    assert article.text == "High water at 06:12 and 18:40."
    assert article.url == f"{server}/plain.txt"


def test_load_url_feed_that_is_not_xml(server, policy):
    message = _source_error(load_url, f"{server}/notfeed", policy)
    assert message == f"{server}/notfeed is not an RSS or Atom feed (it is not well-formed XML)."


def test_load_url_xml_that_is_not_a_feed(server, policy):
    assert "is not an RSS or Atom feed" in _source_error(load_url, f"{server}/other-xml", policy)


def test_load_url_page_without_article(server, policy):
    assert _source_error(load_url, f"{server}/no-article", policy) == f"No article text found in {server}/no-article."


def test_load_url_http_error_and_image(server, policy):
    assert "404" in _source_error(load_url, f"{server}/missing", policy)
    assert "image/png" in _source_error(load_url, f"{server}/image.png", policy)


# --------------------------------------------------------------------------- parse_feed directly


def test_parse_feed_never_opens_a_file_named_by_the_body(tmp_path):
    # feedparser.parse(bytes) would open a local file of that name; the body must be parsed as data.
    secret = tmp_path / "feed.xml"
    secret.write_bytes(RSS)
    message = _source_error(parse_feed, str(secret).encode(), "https://example.com/feed")
    assert message.startswith("https://example.com/feed is not an RSS or Atom feed")


def test_parse_feed_skips_empty_entries_and_keeps_title_only_ones():
    body = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title>Only a title</title><link>https://e.example/1</link></item>"
        b"<item></item>"
        b"<item><description>Text without a title, long enough to be cut into a title of its own.</description></item>"
        b"</channel></rss>"
    )
    articles = parse_feed(body, "https://e.example/feed")
    assert [(a.title, a.text) for a in articles][0] == ("Only a title", "Only a title")
    assert len(articles) == 2
    assert articles[1].text.startswith("Text without a title")
    assert articles[1].title.startswith("Text without a title")


def test_parse_feed_valid_but_empty():
    assert parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>', "u") == []


@pytest.mark.parametrize("body", [b"", b"   ", b"<html><body>Hi</body></html>", b"\x00\xff\xfe", b"{}"])
def test_parse_feed_junk(body):
    assert "is not an RSS or Atom feed" in _source_error(parse_feed, body, "https://example.com/feed")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda s: ("<rss><channel><item><title>" + s).encode()))
def test_parse_feed_only_raises_source_error(body):
    try:
        articles = parse_feed(body, "https://example.com/feed")
    except SourceError:
        return
    assert all(isinstance(a, Article) and (a.title or a.text) for a in articles)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;#ab =\"'!-[]?xp\n")) | st.characters(), max_size=200))
def test_html_to_text_never_raises(fragment):
    text = html_to_text(fragment)
    assert isinstance(text, str)
