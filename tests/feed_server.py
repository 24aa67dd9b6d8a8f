"""A loopback feed server: conditional GET, failures on demand, items that change."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass
class FeedItem:
    title: str
    text: str
    link: str
    published: datetime | None = None


@dataclass
class FeedServer:
    """Serves ``/feed.xml`` from ``items``; set ``fail`` to answer 500, ``down`` to close."""

    title: str = "Loopback News"
    items: list[FeedItem] = field(default_factory=list)
    fail: bool = False
    version: int = 0
    requests: list[dict] = field(default_factory=list)

    def set_items(self, items: list[FeedItem]) -> None:
        self.items = list(items)
        self.version += 1

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feed.xml", self._feed)
        app.router.add_get("/page.html", self._page)
        return app

    async def _feed(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "if_none_match": request.headers.get("If-None-Match"),
                              "if_modified_since": request.headers.get("If-Modified-Since")})
        if self.fail:
            return web.Response(status=500, text="upstream broke")
        etag = f'"v{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        items = "".join(
            f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
            f"<description>{escape(i.text)}</description>"
            + (f"<pubDate>{format_datetime(i.published)}</pubDate>" if i.published else "")
            + "</item>" for i in self.items)
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{escape(self.title)}</title><link>http://example.invalid/</link>{items}</channel></rss>")
        return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml", "ETag": etag,
                                                         "Last-Modified": format_datetime(datetime(2026, 11, 1, tzinfo=timezone.utc), usegmt=True)})

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><head><title>Not a feed</title></head><body><article><p>"
                                 + "This is a web page with a long enough paragraph of text to be an article. " * 5
                                 + "</p></article></body></html>", content_type="text/html")
