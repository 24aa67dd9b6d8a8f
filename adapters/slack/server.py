"""Slack's HTTP mode: ``POST /slack/events``, the install routes and ``GET /healthz``.

Requests are checked here before bolt sees them, so that bad input gets a plain status
instead of an exception: missing or empty signature headers and forged or stale
signatures get 401, a signed body that is not a Slack payload gets 400.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW = 5 * 60

log = logging.getLogger(__name__)


def web_application(app: AsyncApp, signing_secret: str, *, events: bool = True) -> web.Application:
    """The aiohttp application serving ``app``; ``events=False`` serves only install routes and health."""
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_app.router.add_get(HEALTH_PATH, _health)
    if events:
        web_app.router.add_post(EVENTS_PATH, _EventsEndpoint(app, signing_secret).handle)
    flow = app.oauth_flow
    if flow is not None:
        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await _bolt_request(request)))

        async def redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await _bolt_request(request)))

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, redirect)
    return web_app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _bolt_request(request: web.Request) -> AsyncBoltRequest:
    return AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)


class _EventsEndpoint:
    def __init__(self, app: AsyncApp, signing_secret: str) -> None:
        self.app = app
        self._key = signing_secret.encode("utf-8")

    async def handle(self, request: web.Request) -> web.Response:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "").strip()
        signature = request.headers.get("X-Slack-Signature", "").strip()
        body = await request.read()
        if body.startswith(b"ssl_check=1") and b"command=" not in body:
            return web.Response(status=200)  # Slack checking the certificate: nothing to verify
        if not timestamp or not signature:
            return _refuse(401, "missing signature headers")
        if not self._signed(body, timestamp, signature):
            return _refuse(401, "invalid signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "the body is not UTF-8")
        if not _looks_like_slack(text, request.content_type):
            return _refuse(400, "the body is not a Slack payload")
        try:
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=request.headers)
        except ValueError:  # bad JSON in a payload
            return _refuse(400, "the body is not a Slack payload")
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Slack's v0 signature over the raw bytes, within five minutes of now."""
        if not timestamp.isascii() or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW:
            return False
        expected = "v0=" + hmac.new(self._key, b"v0:" + timestamp.encode() + b":" + body,
                                    hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def _looks_like_slack(text: str, content_type: str) -> bool:
    """A form-encoded command or interaction, or a JSON event: the shapes Slack sends."""
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return False
        return isinstance(data, dict) and isinstance(data.get("type"), str)
    if content_type not in ("application/x-www-form-urlencoded", ""):
        return False
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            return False
        return isinstance(payload, dict) and isinstance(payload.get("type"), str)
    return bool(form.get("command"))


def _refuse(status: int, reason: str) -> web.Response:
    log.info("refused a request to %s: %s", EVENTS_PATH, reason)
    return web.json_response({"ok": False, "error": reason}, status=status)
