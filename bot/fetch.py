"""A guarded URL fetcher for URLs that users paste into chat.

Everything a chat user can type ends up here, so the fetcher refuses anything
that is not a plain public web page or feed:

* only ``http`` and ``https``; no credentials in the URL; at most 2048 characters;
* every address the host name resolves to must be a public (global) address,
  unless the host name or the address is on the policy's allow list;
* redirects are followed by hand, and every hop is checked again;
* the connection is made to the very address that was checked (see
  :class:`_GuardedBackend`), so a DNS answer that changes between the check and
  the connection ("DNS rebinding") cannot smuggle in a private address;
* the body is streamed and cut off past ``max_bytes`` (after decompression);
* only text-like content types are accepted.

Every failure is a :class:`~bot.errors.SourceError` (refusals are the subclass
:class:`~bot.errors.FetchRefused`) whose message is one sentence for the user.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import httpcore
import httpx

from bot.errors import FetchRefused, SourceError

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "DEFAULT_ACCEPT",
    "FEED_ACCEPT",
    "FetchPolicy",
    "FetchedDocument",
    "MAX_URL_LENGTH",
    "check_address",
    "check_host",
    "fetch",
    "validate_url",
]

MAX_URL_LENGTH = 2048

#: Media types the fetcher lets through; everything else is refused before the body is read.
ALLOWED_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "text/markdown",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/json",
        "application/feed+json",
    }
)

DEFAULT_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/feed+json;q=0.9,application/xml;q=0.9,text/xml;q=0.9,"
    "text/markdown;q=0.8,text/plain;q=0.8,application/json;q=0.7"
)

FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1"
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Ranges that ``ipaddress`` may call global (depending on the Python version) but
# that must never be fetched, plus ranges that embed an IPv4 address.
_SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class FetchPolicy:
    """What the fetcher may do.

    ``allow_private`` lists host names (matched case-insensitively against the
    URL's host), IP addresses and CIDR networks (matched against the resolved
    addresses) that may be fetched although they are not public, e.g.
    ``("intranet.example", "10.1.0.0/16")``.  ``total_timeout`` bounds the whole
    fetch including redirects and a slowly dripping body; by default it is
    ``connect_timeout + 2 * read_timeout``.
    """

    allow_private: tuple[str, ...] = ()
    max_bytes: int = 5 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_redirects: int = 5
    user_agent: str = "briefbot/0.1 (+https://github.com/briefbot/briefbot)"
    total_timeout: float | None = None

    def __post_init__(self) -> None:
        allow = self.allow_private
        if isinstance(allow, str):
            allow = self.parse_allow_list(allow)
        else:
            allow = tuple(_normalise_allow_entry(str(entry)) for entry in allow)
        object.__setattr__(self, "allow_private", allow)
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive.")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative.")
        for name in ("connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive.")
        if self.total_timeout is not None and not self.total_timeout > 0:
            raise ValueError("total_timeout must be positive.")

    @property
    def deadline(self) -> float:
        """Seconds allowed for one whole fetch, redirects included."""
        if self.total_timeout is not None:
            return self.total_timeout
        return self.connect_timeout + 2 * self.read_timeout

    @classmethod
    def parse_allow_list(cls, value: str) -> tuple[str, ...]:
        """Parse a comma-separated allow list such as ``"localhost, 10.0.0.0/8"``.

        Raises ``ValueError`` naming the first entry that is neither a host
        name, an IP address nor a CIDR network.
        """
        if not isinstance(value, str):
            raise ValueError("The allow list must be a comma-separated string.")
        entries = (part.strip() for part in value.split(","))
        return tuple(_normalise_allow_entry(entry) for entry in entries if entry)

    def allows_host(self, host: str) -> bool:
        """True when the host name itself is on the allow list."""
        return _normalise_host(host) in _allowed(self.allow_private)[0]

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """True when the address falls in an allowed address or CIDR."""
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        networks = _allowed(self.allow_private)[1]
        return any(a.version == n.version and a in n for a in candidates for n in networks)


def _normalise_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host != "." else host


def _normalise_allow_entry(entry: str) -> str:
    """One allow-list entry, validated: a CIDR, an IP address or a host name."""
    raw = entry
    entry = entry.strip()
    if not entry:
        raise ValueError("Empty entry in the allow list.")
    if "/" in entry:
        try:
            return str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"Bad allow-list entry {raw!r}: not a valid CIDR network.") from None
    host = _normalise_host(entry)
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if not host or not all(_HOST_LABEL.match(label) for label in labels) or len(host) > 253:
        raise ValueError(
            f"Bad allow-list entry {raw!r}: not a host name, IP address or CIDR network."
        )
    if all(label.isdigit() for label in labels):
        raise ValueError(f"Bad allow-list entry {raw!r}: not a valid IP address.")
    return host


@lru_cache(maxsize=64)
def _allowed(
    entries: tuple[str, ...],
) -> tuple[frozenset[str], tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    hosts: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry)
    return frozenset(hosts), tuple(networks)


# --------------------------------------------------------------------------- address checks


def _non_public_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` is not a public address ("loopback", "private", ...), or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _non_public_kind(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            inner = _non_public_kind(ip.sixtofour)
            if inner:
                return inner
        if ip.teredo is not None:
            for embedded in ip.teredo:
                inner = _non_public_kind(embedded)
                if inner:
                    return inner
        if any(ip in net for net in _NAT64):
            inner = _non_public_kind(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            if inner:
                return inner
        if ip.is_site_local:
            return "site-local"
        if ip in _IPV4_COMPATIBLE and not ip.is_unspecified and not ip.is_loopback:
            return "reserved"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_V4:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def check_address(address: str, policy: FetchPolicy, *, host: str | None = None) -> None:
    """Refuse ``address`` unless it is public or allowed by ``policy``.

    Raises ``ValueError`` if ``address`` is not an IP address at all, and
    :class:`FetchRefused` if it is one the policy does not allow.
    """
    if not isinstance(address, str):
        raise ValueError("An IP address must be given as a string.")
    # Scoped IPv6 addresses ("fe80::1%eth0") are link-local anyway; the scope
    # must not hide that, so it is dropped before the check.
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    kind = _non_public_kind(ip)
    if kind is None or policy.allows_address(ip):
        return
    shown = str(ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        shown = f"::ffff:{ip.ipv4_mapped}"
    name = host or shown
    raise FetchRefused(f"Refused {_shorten(name)}: it resolves to a {kind} address ({shown}).")


def _resolve(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (IP literals resolve to themselves)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError, ValueError):
        raise SourceError(f"Could not find the server {_shorten(host)} (the name does not resolve).") from None
    addresses: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise SourceError(f"Could not find the server {_shorten(host)} (no usable address).")
    return addresses


def check_host(host: str, policy: FetchPolicy, *, port: int = 443, label: str | None = None) -> list[str]:
    """Resolve ``host`` and return its addresses if every one may be fetched.

    A host name on the allow list is accepted whatever it resolves to; otherwise
    every resolved address must be public or on the allow list.  Raises
    :class:`FetchRefused` for a refused address and :class:`SourceError` when
    the name does not resolve.  ``label`` (e.g. the URL) names the target in messages.
    """
    addresses = _resolve(host, port)
    if policy.allows_host(host):
        return addresses
    for address in addresses:
        check_address(address, policy, host=label or host)
    return addresses


# --------------------------------------------------------------------------- URL checks


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_url(url: str) -> httpx.URL:
    """Parse ``url`` and refuse anything but a plain http(s) URL.

    Raises :class:`FetchRefused` for a bad scheme, credentials in the URL, a URL
    longer than 2048 characters, a missing host, or a URL that does not parse.
    """
    if not isinstance(url, str):
        raise FetchRefused("Refused the URL: it is not text.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FetchRefused(f"Refused a URL of {len(url)} characters: the limit is {MAX_URL_LENGTH}.")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise FetchRefused(f"Refused {_shorten(url)!r}: it contains control characters.")
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in ("http", "https"):
        after = url[match.end() :] if match else ""
        # "host:8080/path" has no scheme at all; "ftp:", "file:", "javascript:" have a wrong one.
        is_scheme = match is not None and not after.split("/", 1)[0].isdigit()
        shown = f"{scheme} URLs" if is_scheme else _shorten(url)
        raise FetchRefused(f"Refused {shown}: only http and https URLs can be fetched.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
        raise FetchRefused(f"Refused {_shorten(url)}: it is not a valid URL.") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"Refused {_shorten(url)}: only http and https URLs can be fetched.")
    if parsed.userinfo:
        # Do not echo the URL: it contains a password.
        raise FetchRefused("Refused a URL that contains a user name or password.")
    if not parsed.host:
        raise FetchRefused(f"Refused {_shorten(url)}: it has no host name.")
    return parsed


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


# --------------------------------------------------------------------------- transport


class _GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects only to checked addresses.

    httpcore hands ``connect_tcp`` the host name from the URL; this backend
    resolves it once, checks every address against the policy and then
    connects to one of *those* addresses, so the address that was checked is
    the address that is used.  TLS still verifies the certificate against the
    host name (httpcore passes the origin host as SNI / server_hostname).
    """

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = check_host(host, self._policy, port=port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # type: ignore[no-untyped-def]
        raise FetchRefused("Refused a connection to a local socket.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's default transport, with the connection pool built on :class:`_GuardedBackend`.

    No proxy is ever used (a proxy would make the address check meaningless).
    """

    def __init__(self, policy: FetchPolicy) -> None:
        # HTTPTransport.__init__ would only build a default pool (and SSL
        # context) to be thrown away; its methods need nothing but ``_pool``.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            max_keepalive_connections=2,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class FetchedDocument:
    """A fetched body with what is needed to interpret it.

    ``url`` is the URL as requested, ``final_url`` the one after redirects,
    ``content_type`` the lowercased media type without parameters, ``headers``
    a few useful response headers (etag, last-modified, cache-control) with
    lowercase names.  ``status`` is 200 normally, or 304 with an empty body
    when a conditional request (If-None-Match / If-Modified-Since) hit.
    """

    url: str
    final_url: str
    content_type: str
    charset: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    def text(self) -> str:
        """The body decoded with the declared charset (falling back to UTF-8, never raising)."""
        for encoding in (self.charset, "utf-8"):
            if not encoding:
                continue
            try:
                return self.body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
        return self.body.decode("utf-8", errors="replace")


_KEPT_HEADERS = ("etag", "last-modified", "cache-control", "content-language")
_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def _media_type(value: str | None) -> tuple[str, str | None]:
    if not value:
        return "", None
    parts = value.split(";")
    media = parts[0].strip().lower()
    charset = None
    for param in parts[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'").lower() or None
    return media, charset


def _sniff_type(body: bytes) -> str | None:
    """A content type for a response that did not declare one, or None for binary data."""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" in body[:8192]:
        return None
    lowered = head.lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if lowered.startswith(b"<"):
        return "application/xml"
    try:
        body[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 8188:  # not just a multi-byte character cut at the end
            return None
    return "text/plain"


class _Decoder:
    """Content-Encoding decoding with a hard output limit (no decompression bombs)."""

    def __init__(self, encoding: str, url: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise SourceError(f"Could not read {_shorten(url)}: it uses several content encodings at once.")
        self._coding = codings[0] if codings else ""
        if self._coding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self._coding == "deflate":
            self._obj = zlib.decompressobj()
            self._raw_deflate_tried = False
        elif self._coding:
            raise SourceError(f"Could not read {_shorten(url)}: unsupported content encoding {self._coding!r}.")
        self._url = url
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``, producing at most ``limit`` bytes (more means the cap was hit)."""
        if not self._coding:
            return data
        try:
            out = self._obj.decompress(data, limit)
        except zlib.error:
            if self._coding == "deflate" and not self._started and not self._raw_deflate_tried:
                self._raw_deflate_tried = True
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, limit)
            raise SourceError(f"Could not read {_shorten(self._url)}: the compressed body is corrupt.") from None
        self._started = True
        return out


def _read_body(response: httpx.Response, policy: FetchPolicy, url: str, deadline: float) -> bytes:
    limit = policy.max_bytes
    if response.is_stream_consumed:
        # A response built in memory (e.g. by httpx.MockTransport) is already read.
        body = response.content
        if len(body) > limit:
            raise FetchRefused(f"Refused {_shorten(url)}: the page is larger than {_format_size(limit)}.")
        return body
    decoder = _Decoder(response.headers.get("content-encoding", ""), url)
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if time.monotonic() > deadline:
            raise SourceError(f"Timed out fetching {_shorten(url)} after {policy.deadline:g} s.")
        out = decoder.decode(raw, limit - size + 1)
        size += len(out)
        chunks.append(out)
        if size > limit:
            raise FetchRefused(
                f"Refused {_shorten(url)}: the page is larger than {_format_size(limit)}."
            )
    return b"".join(chunks)


def _format_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"


def _kept_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}


def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    accept: str = DEFAULT_ACCEPT,
    transport: httpx.BaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> FetchedDocument:
    """Fetch one text-like document, applying every rule of ``policy``.

    ``transport`` replaces the guarded network transport (for tests, e.g. an
    ``httpx.MockTransport``); the URL, host and address checks still run before
    every request, but then the last guarantee (connecting to the checked
    address) is up to that transport.  ``headers`` are extra request headers;
    Authorization and Cookie are dropped when a redirect leaves the origin.

    Raises :class:`FetchRefused` when a rule refuses the URL or the response and
    :class:`SourceError` for network errors, timeouts and HTTP error statuses.
    """
    requested = url
    current = validate_url(url)
    timeout = httpx.Timeout(
        connect=policy.connect_timeout,
        read=policy.read_timeout,
        write=policy.read_timeout,
        pool=policy.connect_timeout,
    )
    request_headers = {
        "User-Agent": policy.user_agent,
        "Accept": accept,
        "Accept-Encoding": "gzip, deflate",
    }
    if headers:
        request_headers.update(headers)
    deadline = time.monotonic() + policy.deadline
    guarded = transport or _GuardedTransport(policy)
    try:
        with httpx.Client(
            transport=guarded,
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
        ) as client:
            for _hop in range(policy.max_redirects + 1):
                # Check the host before every request.  With the guarded
                # transport this is repeated at connect time on the exact
                # address used; with a custom transport this is the check.
                shown = _shorten(str(current))
                if time.monotonic() > deadline:
                    raise SourceError(f"Timed out fetching {shown} after {policy.deadline:g} s.")
                if not policy.allows_host(current.host):
                    check_host(current.host, policy, port=_port(current), label=str(current))
                try:
                    with client.stream("GET", current, headers=request_headers) as response:
                        status = response.status_code
                        if status in _REDIRECT_STATUSES:
                            location = response.headers.get("location")
                            if not location:
                                raise SourceError(f"Could not fetch {shown}: it redirects without saying where to.")
                            try:
                                target = str(response.url.join(location))
                            except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
                                raise FetchRefused(f"Refused {shown}: it redirects to an invalid URL.") from None
                            nxt = validate_url(target)
                            if (nxt.scheme, nxt.host, _port(nxt)) != (current.scheme, current.host, _port(current)):
                                request_headers = {
                                    k: v for k, v in request_headers.items() if k.lower() not in _SENSITIVE_HEADERS
                                }
                            current = nxt
                            continue
                        if status == 304:
                            media, charset = _media_type(response.headers.get("content-type"))
                            return FetchedDocument(
                                url=requested,
                                final_url=str(response.url),
                                content_type=media,
                                charset=charset,
                                body=b"",
                                headers=_kept_headers(response.headers),
                                status=304,
                            )
                        if status >= 400:
                            reason = response.reason_phrase or "error"
                            raise SourceError(f"Could not fetch {shown}: the server answered {status} {reason}.")
                        if not 200 <= status < 300:
                            raise SourceError(f"Could not fetch {shown}: unexpected HTTP status {status}.")
                        media, charset = _media_type(response.headers.get("content-type"))
                        if media and media not in ALLOWED_CONTENT_TYPES:
                            raise FetchRefused(
                                f"Refused {shown}: it is {media}, not a web page or feed."
                            )
                        length = response.headers.get("content-length")
                        if length and length.strip().isdigit() and int(length) > policy.max_bytes:
                            raise FetchRefused(
                                f"Refused {shown}: the page is larger than {_format_size(policy.max_bytes)}."
                            )
                        body = _read_body(response, policy, str(current), deadline)
                        if not media:
                            sniffed = _sniff_type(body)
                            if sniffed is None:
                                raise FetchRefused(
                                    f"Refused {shown}: it has no content type and does not look like text."
                                )
                            media = sniffed
                        return FetchedDocument(
                            url=requested,
                            final_url=str(response.url),
                            content_type=media,
                            charset=charset,
                            body=body,
                            headers=_kept_headers(response.headers),
                        )
                except httpx.ConnectTimeout:
                    raise SourceError(
                        f"Timed out connecting to {shown} after {policy.connect_timeout:g} s."
                    ) from None
                except httpx.TimeoutException:
                    raise SourceError(f"Timed out fetching {shown} after {policy.read_timeout:g} s.") from None
            raise FetchRefused(
                f"Refused {_shorten(requested)}: it redirects more than {policy.max_redirects} times."
            )
    except SourceError:
        raise
    except httpx.ConnectError as exc:
        raise SourceError(f"Could not connect to {_shorten(str(current))}{_connect_reason(exc)}.") from None
    except (httpx.TooManyRedirects, httpx.DecodingError, httpx.InvalidURL) as exc:
        raise SourceError(f"Could not fetch {_shorten(str(current))}: {_one_line(exc)}.") from None
    except (httpx.HTTPError, httpx.StreamError, OSError, ssl.SSLError, httpcore.ProtocolError) as exc:
        raise SourceError(f"Could not fetch {_shorten(str(current))}: {_one_line(exc)}.") from None
    finally:
        if transport is None:
            guarded.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).rstrip(".")
    return _shorten(text, 160) if text else type(exc).__name__


def _connect_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "certificate" in text or "ssl" in text:
        return " (its TLS certificate could not be verified)"
    if "refused" in text:
        return " (connection refused)"
    if "unreachable" in text:
        return " (network unreachable)"
    return ""

