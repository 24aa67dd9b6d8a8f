"""Tests for the guarded URL fetcher, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.fetch as fetch_module
from bot.errors import FetchRefused, SourceError
from bot.fetch import FetchedDocument, FetchPolicy, check_address, fetch, validate_url

DATA = Path(__file__).parent / "data"
ARTICLE_HTML = (DATA / "article.html").read_bytes()
RSS = (DATA / "feed.rss").read_bytes()
ATOM = (DATA / "feed.atom").read_bytes()
GZIP_BOMB = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MB of zeros in ~8 KB
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

# Small limits keep the slow and huge endpoints fast.
FAST = dict(connect_timeout=1.0, read_timeout=0.3, total_timeout=3.0, max_bytes=64 * 1024)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    try:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        if body:
            handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: C901 - a routing table
        path = self.path.split("?", 1)[0]
        html = "text/html; charset=utf-8"
        if path == "/article":
            _send(self, 200, ARTICLE_HTML, Content_Type=html, ETag='"v1"', Last_Modified="Thu, 14 Mar 2024 08:30:00 GMT")
        elif path == "/rss":
            _send(self, 200, RSS, Content_Type="application/rss+xml; charset=utf-8")
        elif path == "/atom":
            _send(self, 200, ATOM, Content_Type="application/atom+xml")
        elif path == "/notfeed":
            _send(self, 200, b"this is { not xml", Content_Type="application/rss+xml")
        elif path == "/plain":
            _send(self, 200, b"Just a line of text.\n", Content_Type="Text/Plain; Charset=ISO-8859-1")
        elif path == "/no-type":
            _send(self, 200, b"<!doctype html><html><body><p>hello</p></body></html>")
        elif path == "/no-type-binary":
            _send(self, 200, b"\x00\x01\x02garbage")
        elif path == "/redirect-metadata":
            _send(self, 302, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/redirect-article":
            _send(self, 301, Location="/article")
        elif path == "/redirect-loop":
            _send(self, 302, Location="/redirect-loop")
        elif path == "/redirect-file":
            _send(self, 302, Location="file:///etc/passwd")
        elif path == "/redirect-nowhere":
            _send(self, 302)
        elif path == "/slow":
            time.sleep(1.0)
            _send(self, 200, b"too late", Content_Type=html)
        elif path == "/drip":
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/huge":
            # No Content-Length: the body ends when the connection closes.
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"a" * 16384)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/huge-length":
            _send(self, 200, b"small", Content_Type=html, Content_Length=str(10 * 1024**3))
        elif path == "/gzip-bomb":
            _send(self, 200, GZIP_BOMB, Content_Type="text/plain", Content_Encoding="gzip")
        elif path == "/gzip-ok":
            _send(self, 200, gzip.compress(b"compressed hello"), Content_Type="text/plain", Content_Encoding="gzip")
        elif path == "/image.png":
            _send(self, 200, PNG, Content_Type="image/png")
        elif path == "/octet":
            _send(self, 200, b"\0\0", Content_Type="application/octet-stream")
        elif path == "/500":
            _send(self, 500, b"oops", Content_Type="text/plain")
        elif path == "/echo-headers":
            body = "\n".join(f"{k.lower()}: {v}" for k, v in self.headers.items()).encode()
            _send(self, 200, body, Content_Type="text/plain")
        else:
            _send(self, 404, b"not found", Content_Type="text/plain")


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
def allowed() -> FetchPolicy:
    return FetchPolicy(allow_private=("127.0.0.1",), **FAST)


# --------------------------------------------------------------------------- happy paths


def test_fetch_article_when_loopback_is_allowed(server, allowed):
    doc = fetch(f"{server}/article", allowed)
    assert isinstance(doc, FetchedDocument)
    assert doc.status == 200
    assert doc.url == doc.final_url == f"{server}/article"
    assert doc.content_type == "text/html"
    assert doc.charset == "utf-8"
    assert b"tidal power station" in doc.body
    assert doc.headers == {"etag": '"v1"', "last-modified": "Thu, 14 Mar 2024 08:30:00 GMT"}


def test_content_type_is_lowercased_without_params(server, allowed):
    doc = fetch(f"{server}/plain", allowed)
    assert doc.content_type == "text/plain"
    assert doc.charset == "iso-8859-1"


def test_feeds_are_accepted(server, allowed):
    assert fetch(f"{server}/rss", allowed).content_type == "application/rss+xml"
    assert fetch(f"{server}/atom", allowed).content_type == "application/atom+xml"


def test_sends_user_agent_accept_and_extra_headers(server, allowed):
    doc = fetch(f"{server}/echo-headers", allowed, headers={"If-None-Match": '"v0"'}, accept="text/html")
    sent = doc.body.decode()
    assert f"user-agent: {allowed.user_agent}" in sent
    assert "accept: text/html" in sent
    assert 'if-none-match: "v0"' in sent


def test_gzip_body_is_decoded(server, allowed):
    assert fetch(f"{server}/gzip-ok", allowed).body == b"compressed hello"


def test_missing_content_type_is_sniffed(server, allowed):
    assert fetch(f"{server}/no-type", allowed).content_type == "text/html"
    with pytest.raises(FetchRefused, match="does not look like text"):
        fetch(f"{server}/no-type-binary", allowed)


def test_redirect_to_allowed_path_is_followed(server, allowed):
    doc = fetch(f"{server}/redirect-article", allowed)
    assert doc.url == f"{server}/redirect-article"
    assert doc.final_url == f"{server}/article"
    assert b"Port Merrow" in doc.body


def test_cidr_allow_list(server):
    policy = FetchPolicy(allow_private=FetchPolicy.parse_allow_list("127.0.0.0/8"), **FAST)
    assert fetch(f"{server}/article", policy).status == 200


def test_allow_list_given_as_string_is_parsed(server):
    policy = FetchPolicy(allow_private=" 10.0.0.0/8 , 127.0.0.1 ", **FAST)  # type: ignore[arg-type]
    assert policy.allow_private == ("10.0.0.0/8", "127.0.0.1")
    assert fetch(f"{server}/article", policy).status == 200


def test_allowed_host_name_matches_case_insensitively(server):
    port = server.rsplit(":", 1)[1]
    policy = FetchPolicy(allow_private=("LocalHost",), **FAST)
    # localhost may resolve to ::1 first; the fetcher falls back to 127.0.0.1.
    assert fetch(f"http://LOCALHOST:{port}/article", policy).status == 200


# --------------------------------------------------------------------------- refusals: addresses


def test_loopback_refused_without_allow_list(server):
    with pytest.raises(FetchRefused) as info:
        fetch(f"{server}/article", FetchPolicy(**FAST))
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "loopback" in message
    assert "\n" not in message and "Traceback" not in message


def test_hostname_resolving_to_loopback_refused(server):
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(f"http://localhost:{port}/article", FetchPolicy(**FAST))


def test_decimal_ip_notation_is_resolved_and_refused(server):
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(f"http://2130706433:{port}/article", FetchPolicy(**FAST))


def test_redirect_to_metadata_refused_even_with_loopback_allowed(server, allowed):
    with pytest.raises(FetchRefused) as info:
        fetch(f"{server}/redirect-metadata", allowed)
    assert "169.254.169.254" in str(info.value)
    assert "link-local" in str(info.value)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "192.0.2.1",
        "198.18.0.1", "240.0.0.1", "::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1",
        "fec0::1", "ff02::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
        "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "::7f00:1",
    ],
)
def test_non_public_addresses_are_refused(address):
    with pytest.raises(FetchRefused, match="address"):
        check_address(address, FetchPolicy())


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    check_address(address, FetchPolicy())


def test_allow_list_cidr_matches_ipv4_mapped_address():
    check_address("::ffff:10.0.0.5", FetchPolicy(allow_private=("10.0.0.0/8",)))


def test_connects_to_the_checked_address_not_a_fresh_lookup(server, monkeypatch):
    """The name resolves only through the fetcher's resolver, so connecting at all proves it
    connects to the address it checked rather than resolving the name again."""
    port = int(server.rsplit(":", 1)[1])
    monkeypatch.setattr(fetch_module, "_resolve", lambda host, port: ["127.0.0.1"])
    policy = FetchPolicy(allow_private=("127.0.0.0/8",), **FAST)
    doc = fetch(f"http://news.invalid:{port}/article", policy)
    assert b"Port Merrow" in doc.body


def test_dns_rebinding_between_check_and_connect_is_refused(server, monkeypatch):
    port = int(server.rsplit(":", 1)[1])
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public for the check, loopback at connect
    monkeypatch.setattr(fetch_module, "_resolve", lambda host, port: next(answers))
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(f"http://rebind.invalid:{port}/article", FetchPolicy(**FAST))


def test_unresolvable_host_is_a_source_error(monkeypatch):
    def fail(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", fail)
    with pytest.raises(SourceError, match="Could not find the server nowhere.invalid") as info:
        fetch("https://nowhere.invalid/", FetchPolicy(**FAST))
    assert not isinstance(info.value, FetchRefused)


# --------------------------------------------------------------------------- refusals: URLs


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/file.txt", "gopher://example.com:70/1", "javascript:alert(1)", "example.com/x"]
)
def test_other_schemes_refused(url):
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch(url, FetchPolicy(**FAST))


def test_credentials_in_url_refused_without_echoing_them():
    with pytest.raises(FetchRefused, match="user name or password") as info:
        fetch("https://alice:s3cret@example.com/", FetchPolicy(**FAST))
    assert "s3cret" not in str(info.value)


def test_overly_long_url_refused():
    with pytest.raises(FetchRefused, match="2048"):
        fetch("https://example.com/" + "a" * 2100, FetchPolicy(**FAST))


def test_redirect_to_file_scheme_refused(server, allowed):
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch(f"{server}/redirect-file", allowed)


def test_redirect_loop_stops(server, allowed):
    with pytest.raises(FetchRefused, match="redirects more than 5 times"):
        fetch(f"{server}/redirect-loop", allowed)


def test_redirect_without_location(server, allowed):
    with pytest.raises(SourceError, match="redirects without saying where"):
        fetch(f"{server}/redirect-nowhere", allowed)


# --------------------------------------------------------------------------- refusals: responses


def test_image_refused_naming_the_type(server, allowed):
    with pytest.raises(FetchRefused, match="image/png"):
        fetch(f"{server}/image.png", allowed)


def test_octet_stream_refused(server, allowed):
    with pytest.raises(FetchRefused, match="application/octet-stream"):
        fetch(f"{server}/octet", allowed)


def test_huge_streamed_body_is_cut_off(server, allowed):
    with pytest.raises(FetchRefused, match="larger than 64 KB"):
        fetch(f"{server}/huge", allowed)


def test_huge_content_length_refused_before_reading(server, allowed):
    with pytest.raises(FetchRefused, match="larger than 64 KB"):
        fetch(f"{server}/huge-length", allowed)


def test_gzip_bomb_is_cut_off(server, allowed):
    with pytest.raises(FetchRefused, match="larger than"):
        fetch(f"{server}/gzip-bomb", allowed)


def test_slow_server_times_out_quickly(server, allowed):
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"Timed out fetching .* after 0.3 s\.") as info:
        fetch(f"{server}/slow", allowed)
    assert time.monotonic() - started < 0.9
    assert not isinstance(info.value, FetchRefused)


def test_dripping_body_hits_total_timeout(server):
    policy = FetchPolicy(allow_private=("127.0.0.1",), connect_timeout=1.0, read_timeout=0.5, total_timeout=0.4)
    with pytest.raises(SourceError, match="Timed out"):
        fetch(f"{server}/drip", policy)


@pytest.mark.parametrize(("path", "status"), [("/missing", "404"), ("/500", "500")])
def test_http_errors_name_the_status(server, allowed, path, status):
    with pytest.raises(SourceError, match=status) as info:
        fetch(f"{server}{path}", allowed)
    assert type(info.value) is SourceError


def test_connection_refused_is_a_source_error(allowed):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(SourceError, match="Could not connect") as info:
        fetch(f"http://127.0.0.1:{port}/", allowed)
    assert type(info.value) is SourceError


def test_custom_transport_still_gets_address_checks():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="hi", headers={"Content-Type": "text/plain"}))
    assert fetch("http://93.184.216.34/", FetchPolicy(), transport=transport).body == b"hi"
    with pytest.raises(FetchRefused, match="private"):
        fetch("http://10.0.0.7/", FetchPolicy(), transport=transport)


def test_cross_origin_redirect_drops_credentials_headers():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "93.184.216.34":
            return httpx.Response(302, headers={"Location": "http://93.184.216.35/next"})
        return httpx.Response(200, text="ok", headers={"Content-Type": "text/plain"})

    fetch("http://93.184.216.34/", FetchPolicy(), transport=httpx.MockTransport(handler), headers={"Authorization": "x"})
    assert seen == [("93.184.216.34", "x"), ("93.184.216.35", None)]


# --------------------------------------------------------------------------- allow-list parsing


def test_parse_allow_list():
    assert FetchPolicy.parse_allow_list(" localhost, 10.0.0.0/8 ,, ::1 , Intranet.Example. ,") == (
        "localhost",
        "10.0.0.0/8",
        "::1",
        "intranet.example",
    )
    assert FetchPolicy.parse_allow_list("") == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "300.1.2.3/8", "fe80::/129", "10.0.0.0/x"])
def test_bad_cidr_raises_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=bad.replace(".", r"\.")):
        FetchPolicy.parse_allow_list(f"localhost, {bad}")


@pytest.mark.parametrize("bad", ["not a host", "999.1.1.1", "exa mple.com", "-bad-.com", "a/b/c"])
def test_bad_allow_entries_raise_value_error(bad):
    with pytest.raises(ValueError, match="allow-list entry"):
        FetchPolicy.parse_allow_list(bad)


def test_bad_allow_entry_in_constructor_raises_value_error():
    with pytest.raises(ValueError, match="10.0.0.0/40"):
        FetchPolicy(allow_private=("10.0.0.0/40",))


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_allow_list_only_raises_value_error(text):
    try:
        result = FetchPolicy.parse_allow_list(text)
    except ValueError:
        return
    assert isinstance(result, tuple)
    policy = FetchPolicy(allow_private=result)  # what parses is accepted as a policy
    assert policy.allow_private == result


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.ip_addresses().map(str)))
def test_check_address_only_raises_value_error_or_refusal(text):
    try:
        check_address(text, FetchPolicy())
    except (ValueError, FetchRefused):
        pass


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text().map(lambda s: "http://" + s), st.text().map(lambda s: "https://x/" + s)))
def test_validate_url_only_raises_refusal(text):
    try:
        url = validate_url(text)
    except FetchRefused as exc:
        assert "\n" not in str(exc)
        return
    assert url.scheme in ("http", "https") and url.host
