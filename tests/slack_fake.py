"""A loopback fake of Slack: the Web API, ``response_url`` and the Socket Mode websocket.

Serve :meth:`SlackFake.application` with ``tests.loopback.serve`` and point the bot's
``SLACK_API_URL`` at ``{base}/api/``. The fake records every call, checks each message
it is sent against Block Kit's limits, and can answer 429, ``not_in_channel`` or a
failing ``response_url`` on demand. Helpers build and sign requests as Slack does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0TEST"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"

_TEXT_BLOCKS = {"section", "header", "context", "divider", "image", "actions", "rich_text"}


@dataclass
class ApiCall:
    method: str
    token: str | None
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] | None = None  # what the fake answered (None for a 429)

    @property
    def ts(self) -> str | None:
        return (self.result or {}).get("ts")


class SlackFake:
    """What the bot sent to Slack, and what Slack should answer."""

    def __init__(self, *, bot_tokens: dict[str, str] | None = None, app_token: str = APP_TOKEN) -> None:
        self.bot_tokens = dict(bot_tokens or {BOT_TOKEN: TEAM})  # token -> team id
        self.app_token = app_token
        self.base_url = ""  # set by the test once served
        self.calls: list[ApiCall] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url
        self.acks: list[dict[str, Any]] = []  # Socket Mode acknowledgements
        self.problems: list[str] = []  # Block Kit limits broken by anything posted
        self.not_in_channel: set[str] = set()
        self.rate_limited: dict[str, int] = {}  # method -> how many 429s to answer first
        self.retry_after = 1
        self.failing_hooks = 0  # how many response_url posts to answer with 500
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.admins: set[str] = set()  # users whom users.info reports as workspace admins
        self._ts = 0
        self._sockets: list[web.WebSocketResponse] = []
        self.sent_on: dict[str, web.WebSocketResponse] = {}  # envelope id -> the connection it went to
        self.acked_on: dict[str, web.WebSocketResponse] = {}  # envelope id -> the connection that acked it
        self._loop: asyncio.AbstractEventLoop | None = None

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{hook}", self._hook)
        app.router.add_get("/link", self._socket)
        app.on_shutdown.append(self._close_sockets)
        return app

    # -- what tests read ----------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[ApiCall]:
        return [c for c in self.calls_to("chat.postMessage") if channel is None or c.args.get("channel") == channel]

    def response_url(self, hook: str = "1") -> str:
        return f"{self.base_url}/hooks/{hook}"

    def send_envelope(self, envelope: dict[str, Any], connection: int = -1) -> None:
        """Send one Socket Mode envelope on an open connection (from any thread).

        With several connections open (one per replica), Slack sends each envelope to one of
        them: ``connection`` is its index in the order they connected (the newest by default).
        """
        deadline = time.monotonic() + 5
        while len(self._sockets) <= (connection if connection >= 0 else 0) or self._loop is None:
            if time.monotonic() > deadline:  # the server may lag the client's handshake
                raise AssertionError("that Socket Mode connection is not open")
            time.sleep(0.01)
        socket = self._sockets[connection]
        asyncio.run_coroutine_threadsafe(socket.send_str(json.dumps(envelope)), self._loop).result(5)
        self.sent_on[envelope.get("envelope_id")] = socket

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    # -- the Web API -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else args.get("token")
        call = ApiCall(method, token, args)
        self.calls.append(call)
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        call.result = self._answer(method, token, args)
        return web.json_response(call.result)

    def _answer(self, method: str, token: str | None, args: dict[str, Any]) -> dict[str, Any]:
        if method == "oauth.v2.access":
            answer = self.oauth_codes.get(str(args.get("code")))
            return {"ok": True, **answer} if answer else _error("invalid_code")
        if method == "apps.connections.open":
            if token != self.app_token:
                return _error("invalid_auth")
            return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/link"}
        if token not in self.bot_tokens:
            return _error("not_authed" if not token else "invalid_auth")
        if method == "auth.test":
            return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "briefbot",
                    "team_id": self.bot_tokens[token], "user_id": BOT_USER, "bot_id": BOT_ID,
                    "is_enterprise_install": False}
        if method == "users.info":
            user = str(args.get("user", ""))
            return {"ok": True, "user": {"id": user, "team_id": self.bot_tokens[token], "is_admin": user in self.admins,
                                         "is_owner": False, "is_primary_owner": False}}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            channel = str(args.get("channel", ""))
            if channel in self.not_in_channel:
                return _error("not_in_channel")
            problems = block_kit_problems(args)
            if problems:
                self.problems += problems
                return _error("invalid_blocks")
            self._ts += 1
            ts = f"1790000000.{self._ts:06d}"
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}
        return _error("unknown_method")

    # -- response_url ------------------------------------------------------------------

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append(body)
        if self.failing_hooks > 0:
            self.failing_hooks -= 1
            return web.Response(status=500, text="internal_error")
        problems = block_kit_problems(body)
        if problems:
            self.problems += problems
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    # -- Socket Mode -------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._loop = asyncio.get_running_loop()
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0TEST"}}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    self.acks.append(ack)
                    self.acked_on[ack.get("envelope_id")] = ws
        finally:
            self._sockets.remove(ws)
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close()


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def block_kit_problems(message: dict[str, Any]) -> list[str]:
    """What Slack would refuse in a message: missing fallback text, blocks past their limits."""
    problems: list[str] = []
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not str(message.get("text") or "").strip():
        problems.append("no fallback text")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or not blocks:
        return problems + ["blocks is not a non-empty list"]
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks")
    for block in blocks:
        kind = block.get("type")
        if kind not in _TEXT_BLOCKS:
            problems.append(f"unknown block {kind!r}")
        elif kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                problems.append(f"bad header {text!r:.80}")
        elif kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text") or not 0 < len(text.get("text", "")) <= 3000:
                problems.append(f"bad section of {len(text.get('text', ''))} characters")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10 or any(not 0 < len(e.get("text", "")) <= 3000 for e in elements):
                problems.append("bad context")
    return problems


# -- requests as Slack sends them ---------------------------------------------------------


def all_text(message: dict[str, Any]) -> str:
    """Everything a reader sees of a message: its blocks and its text."""
    return json.dumps(message.get("blocks") or [], ensure_ascii=False) + message.get("text", "")


def signed_headers(body: str | bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def command_payload(text: str = "", *, response_url: str | None, command: str = "/brief",
                    channel: str = "C0GENERAL", user: str = "U0ALICE", team: str = TEAM) -> dict[str, str]:
    payload = {"token": "legacy", "team_id": team, "team_domain": "test", "channel_id": channel,
               "channel_name": "general", "user_id": user, "user_name": "alice", "command": command,
               "text": text, "api_app_id": "A0TEST", "is_enterprise_install": "false",
               "trigger_id": "1.2.3"}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def command_body(text: str = "", **kwargs: Any) -> str:
    return urlencode(command_payload(text, **kwargs))


_event_ids = iter(range(1, 1_000_000))


def event_payload(event: dict[str, Any], *, team: str = TEAM, event_id: str | None = None) -> dict[str, Any]:
    return {"token": "legacy", "team_id": team, "api_app_id": "A0TEST", "event": event,
            "type": "event_callback", "event_id": event_id or f"Ev{next(_event_ids):06d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": BOT_USER,
                                "is_bot": True, "is_enterprise_install": False}]}


def dm_event(text: str, *, user: str = "U0ALICE", channel: str = "D0ALICE", ts: str = "1790000100.000100",
             **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
            "channel_type": "im", "event_ts": ts, **extra}


def channel_message(text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                    ts: str = "1790000200.000100", thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
             "channel_type": "channel", "event_ts": ts, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def mention_event(text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                  ts: str = "1790000300.000100", thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT_USER}> {text}",
             "ts": ts, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.01):
    """Wait until ``predicate()`` is truthy; its value, or an AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {getattr(predicate, '__name__', predicate)}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running(platform, bot, timeout: float = 5.0):
    """Run ``platform.run(bot)`` until the block ends; fail fast if it stops before it is ready."""
    task = asyncio.create_task(platform.run(bot))
    ready = asyncio.create_task(platform.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()  # raises what stopped it
        task.cancel()
        raise AssertionError("the platform did not become ready")
    try:
        yield platform
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


@contextmanager
def serving(fake: SlackFake):
    """Serve ``fake`` on loopback for one test; afterwards, nothing the bot sent may be refused."""
    from loopback import serve

    with serve(fake.application()) as base:
        fake.base_url = base
        yield fake
    assert fake.problems == [], "the bot sent Slack something it would refuse"


def seeded_bot(service):
    """The core, as an adapter sees it, with the seed article stored."""
    from bot.platform import BriefBot
    from conftest import SEED_ARTICLE

    assert service.ingest(str(SEED_ARTICLE)).error is None
    return BriefBot(service)


def run(scenario):
    """Run one async scenario, failing it after 20 seconds rather than hanging the suite."""
    return asyncio.run(asyncio.wait_for(scenario, 20))
