"""A loopback fake of Discord's gateway (websocket) and REST API for the real discord.py client.

It speaks just enough of the protocol for a bot: login, command sync, READY with one
guild, heartbeats, RECONNECT and RESUME (events dispatched while the client is away are
replayed), interactions, follow-ups through the interaction webhook, channel messages and
typing. Every REST request is recorded, with its JSON body, for tests to assert on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

TOKEN = "fake-bot-token"
APP_ID = 410000000000000001  # the bot user has the application's id, as on Discord
GUILD_ID = 410000000000000100
CHANNEL_ID = 410000000000000200
LOCKED_CHANNEL_ID = 410000000000000201  # the bot may not post here
OWNER_ID = 410000000000000300
ALICE_ID = 410000000000000301
BOB_ID = 410000000000000302
OTHER_BOT_ID = 410000000000000303
EDITORS_ROLE_ID = 410000000000000400
BOT_ROLE_ID = 410000000000000401
DM_CHANNEL_ID = 410000000000000500

EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
MESSAGE_CONTENT = 1 << 15  # the privileged intent
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)  # view, send, read history, use commands

BOT_USER = {"id": str(APP_ID), "username": "briefbot", "discriminator": "0", "global_name": None,
            "avatar": None, "bot": True, "flags": 0}


def user(user_id: int, name: str, *, bot: bool = False) -> dict:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name.title(),
            "avatar": None, "bot": bot, "flags": 0}


USERS = {OWNER_ID: user(OWNER_ID, "owner"), ALICE_ID: user(ALICE_ID, "alice"), BOB_ID: user(BOB_ID, "bob"),
         OTHER_BOT_ID: user(OTHER_BOT_ID, "otherbot", bot=True)}


def _role(role_id: int, name: str, permissions: int, position: int, **extra) -> dict:
    return {"id": str(role_id), "name": name, "permissions": str(permissions), "position": position,
            "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0,
            "icon": None, "unicode_emoji": None, **extra}


def _channel(channel_id: int, name: str, position: int, overwrites: list | None = None) -> dict:
    return {"id": str(channel_id), "type": 0, "name": name, "position": position, "guild_id": str(GUILD_ID),
            "permission_overwrites": overwrites or [], "nsfw": False, "parent_id": None, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0}


def guild_payload() -> dict:
    everyone = _role(GUILD_ID, "@everyone", MEMBER_PERMISSIONS, 0)
    editors = _role(EDITORS_ROLE_ID, "Editors", 0, 1)
    bot_role = _role(BOT_ROLE_ID, "briefbot", MEMBER_PERMISSIONS, 2, managed=True, tags={"bot_id": str(APP_ID)})
    deny_send = [{"id": str(BOT_ROLE_ID), "type": 0, "allow": "0", "deny": str(1 << 11)}]
    return {
        "id": str(GUILD_ID), "name": "News Club", "icon": None, "owner_id": str(OWNER_ID),
        "roles": [everyone, editors, bot_role],
        "channels": [_channel(CHANNEL_ID, "news", 0), _channel(LOCKED_CHANNEL_ID, "announcements", 1, deny_send)],
        "threads": [], "members": [member_payload(APP_ID, roles=[BOT_ROLE_ID])], "emojis": [], "stickers": [],
        "features": [], "member_count": 4, "large": False, "unavailable": False, "premium_tier": 0,
        "preferred_locale": "en-US", "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "system_channel_id": None,
        "afk_channel_id": None, "afk_timeout": 300, "voice_states": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }


def member_payload(user_id: int, *, roles: list[int] = (), permissions: int | None = None) -> dict:
    data = {"user": BOT_USER if user_id == APP_ID else USERS[user_id], "roles": [str(r) for r in roles],
            "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0,
            "nick": None, "avatar": None, "pending": False}
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Interaction:
    id: int
    token: str
    channel_id: int
    dispatched_at: float
    deferred: bool = False
    ephemeral: bool = False
    original: int | None = None  # the id of the response message, once there is one
    followups: int = 0


class FakeDiscord:
    """Discord on 127.0.0.1: ``await fake.start()``, then point discord.py at ``api_url`` and
    ``gateway_url``."""

    def __init__(self, *, shards: int = 1) -> None:
        self.shards = shards
        self.requests: list[Recorded] = []
        self.identifies: list[dict] = []
        self.resumes: list[dict] = []
        self.messages: dict[int, dict] = {}  # every message the bot created, by id
        self.interactions: dict[str, Interaction] = {}
        self.locked_channels = {LOCKED_CHANNEL_ID}
        self.expired_interactions: set[int] = set()
        self._ids = itertools.count(510000000000000000)
        self._seq = 0
        self._sockets: dict[int, web.WebSocketResponse] = {}  # shard id -> live, identified socket
        self._backlog: list[dict] = []  # events waiting for the client to come back
        self._session = 0
        self._away = 0  # the shard that was asked to reconnect
        self.resume_gateway_url: str | None = None  # what READY offers for resuming; default: this fake
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.app = web.Application()
        self.app.router.add_get("/gateway", self._gateway)
        self.app.router.add_route("*", "/api/v10/{path:.*}", self._rest)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for ws in list(self._sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url.replace('http://', 'ws://')}/gateway"

    # -- what tests do --------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    async def dispatch(self, event: str, data: dict, *, shard: int = 0) -> None:
        """Send a DISPATCH; while the client is reconnecting it waits and is replayed on RESUME."""
        if event == "MESSAGE_CREATE":
            data = self._as_the_bot_sees(data)
        self._seq += 1
        frame = {"op": 0, "t": event, "s": self._seq, "d": data}
        ws = self._sockets.get(shard)
        if ws is None or ws.closed:
            self._backlog.append(frame)
        else:
            await ws.send_str(json.dumps(frame))

    def _as_the_bot_sees(self, data: dict) -> dict:
        """Without the Message Content intent, Discord blanks guild messages that do not mention
        the bot."""
        intents = self.identifies[-1].get("intents", 0) if self.identifies else 0
        mentioned = (any(u["id"] == str(APP_ID) for u in data.get("mentions", []))
                     or str(BOT_ROLE_ID) in data.get("mention_roles", []))
        if data.get("guild_id") and not mentioned and not intents & MESSAGE_CONTENT:
            return {**data, "content": ""}
        return data

    async def reconnect(self, *, shard: int = 0) -> None:
        """Ask the client to reconnect (op 7); it should RESUME the session on a new socket."""
        ws = self._sockets.pop(shard)
        self._away = shard
        await ws.send_str(json.dumps({"op": 7, "d": None}))

    async def wait_for(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``check()`` is truthy: re-checked on the fake's traffic, and every 20 ms."""
        async def waiting():
            async with self._changed:
                while not (result := check()):
                    try:
                        await asyncio.wait_for(self._changed.wait(), 0.02)
                    except asyncio.TimeoutError:
                        pass
                return result

        return await asyncio.wait_for(waiting(), timeout)

    async def wait_request(self, method: str, prefix: str, *, count: int = 1, timeout: float = 5.0) -> list[Recorded]:
        return await self.wait_for(lambda: (found := self.find(method, prefix)) and len(found) >= count
                                   and found, timeout)

    def find(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def bodies_with_messages(self) -> list[dict]:
        """Every request body that creates or edits a message (where allowed mentions matter)."""
        out = []
        for r in self.requests:
            body = r.body if isinstance(r.body, dict) else None
            if body is None:
                continue
            if r.path.startswith("interactions/"):
                body = body.get("data") or {}
                if not ({"content", "embeds"} & body.keys()):
                    continue
            elif not ({"content", "embeds"} & body.keys()):
                continue
            out.append(body)
        return out

    # -- payload builders -------------------------------------------------------------------

    def slash(self, query: str | None = None, *, user_id: int = ALICE_ID, channel_id: int = CHANNEL_ID,
              roles: list[int] = (), permissions: int = MEMBER_PERMISSIONS, options: list | None = None,
              name: str = "brief", dm: bool = False) -> dict:
        """An INTERACTION_CREATE for ``/brief`` (``query`` as its option), in the guild or a DM."""
        interaction_id = self.next_id()
        token = f"itoken-{interaction_id}"
        if options is None:
            options = [] if query is None else [{"name": "query", "type": 3, "value": query}]
        data: dict = {
            "id": str(interaction_id), "application_id": str(APP_ID), "type": 2, "token": token,
            "version": 1, "locale": "en-US", "entitlements": [], "app_permissions": str(MEMBER_PERMISSIONS),
            "data": {"id": "420000000000000001", "name": name, "type": 1, "options": options},
            "attachment_size_limit": 8388608,
        }
        if dm:
            data.update(channel_id=str(DM_CHANNEL_ID), user=USERS[user_id], context=1,
                        channel={"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [USERS[user_id]]},
                        authorizing_integration_owners={"0": "0"})
        else:
            data.update(guild_id=str(GUILD_ID), channel_id=str(channel_id), guild_locale="en-US", context=0,
                        member=member_payload(user_id, roles=roles, permissions=permissions),
                        channel={"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "name": "news",
                                 "position": 0, "permission_overwrites": []},
                        authorizing_integration_owners={"0": str(GUILD_ID)})
        self.interactions[token] = Interaction(interaction_id, token, int(data["channel_id"]), time.monotonic())
        return data

    def message(self, content: str, *, user_id: int = ALICE_ID, channel_id: int = CHANNEL_ID,
                dm: bool = False, mention_bot: bool = False, reply_to: int | None = None,
                mention_role: int | None = None) -> dict:
        """A MESSAGE_CREATE from a user: in the guild channel (or a thread), or a DM."""
        author = USERS[user_id]
        mentions = [BOT_USER] if mention_bot else []
        data: dict = {
            "id": str(self.next_id()), "channel_id": str(DM_CHANNEL_ID if dm else channel_id), "author": author,
            "content": content, "timestamp": "2026-11-25T08:00:00+00:00", "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": mentions,
            "mention_roles": [str(mention_role)] if mention_role else [], "attachments": [], "embeds": [],
            "pinned": False, "type": 0, "flags": 0, "components": [],
        }
        if not dm:
            data["guild_id"] = str(GUILD_ID)
            data["member"] = {k: v for k, v in member_payload(user_id).items() if k != "user"}
        if reply_to is not None:
            data["type"] = 19
            ref = self.messages.get(reply_to)
            data["message_reference"] = {"message_id": str(reply_to),
                                         "channel_id": ref["channel_id"] if ref else str(channel_id),
                                         "guild_id": None if dm else str(GUILD_ID)}
            data["referenced_message"] = ref
            if ref is not None and ref["author"]["id"] == str(APP_ID) and mention_bot:
                data["mentions"] = [BOT_USER]
        return data

    def thread(self, starter_id: int, *, parent_id: int = CHANNEL_ID) -> dict:
        """A THREAD_CREATE for a public thread started from message ``starter_id`` (same id)."""
        return {"id": str(starter_id), "guild_id": str(GUILD_ID), "parent_id": str(parent_id), "type": 11,
                "name": "Discussion", "owner_id": str(ALICE_ID), "last_message_id": None,
                "rate_limit_per_user": 0, "message_count": 0, "member_count": 1, "flags": 0,
                "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                    "archive_timestamp": "2026-11-25T08:00:00+00:00"},
                "newly_created": True}

    # -- gateway --------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, data = frame.get("op"), frame.get("d")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                await self._resume(ws, data)
            await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict) -> None:
        if data.get("token") != TOKEN:
            await ws.close(code=4004)
            return
        self.identifies.append(data)
        shard = (data.get("shard") or [0, 1])[0]
        self._session += 1
        self._seq += 1
        ready = {"v": 10, "user": BOT_USER, "guilds": [guild_payload()] if shard == 0 else [],
                 "session_id": f"session-{self._session}", "resume_gateway_url": self.resume_gateway_url or self.gateway_url,
                 "application": {"id": str(APP_ID), "flags": 0}, "shard": data.get("shard") or [0, 1],
                 "private_channels": [], "relationships": []}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self._sockets[shard] = ws

    async def _resume(self, ws: web.WebSocketResponse, data: dict) -> None:
        self.resumes.append(data)
        backlog, self._backlog = self._backlog, []
        for frame in backlog:  # the events the client missed, then RESUMED, as Discord does
            await ws.send_str(json.dumps(frame))
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": self._seq, "d": {}}))
        self._sockets[self._away] = ws

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- REST -------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
            elif request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(form.get("payload_json", "null"))
        self.requests.append(Recorded(request.method, path, dict(request.query), body))
        try:
            if request.headers.get("Authorization") != f"Bot {TOKEN}" and not path.startswith(
                    ("webhooks/", "interactions/")):
                return _json({"message": "401: Unauthorized", "code": 0}, 401)
            return self._route(request.method, path.split("/"), body)
        finally:
            await self._notify()

    def _route(self, method: str, parts: list[str], body: Any) -> web.Response:
        match method, parts:
            case "GET", ["users", "@me"]:
                return _json(BOT_USER)
            case "GET", ["oauth2", "applications", "@me"]:
                return _json({"id": str(APP_ID), "name": "briefbot", "icon": None, "description": "",
                              "bot_public": True, "bot_require_code_grant": False, "owner": USERS[OWNER_ID],
                              "verify_key": "00", "flags": 0})
            case "GET", ["gateway", "bot"]:
                return _json({"url": "wss://gateway.invalid", "shards": self.shards,
                              "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                      "max_concurrency": 1}})
            case "PUT", ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]:
                return _json([{**cmd, "id": str(420000000000000001 + i), "application_id": str(APP_ID),
                               "version": "1", "default_member_permissions": None, "type": 1}
                              for i, cmd in enumerate(body or [])])
            case "POST", ["interactions", _, token, "callback"]:
                return self._callback(token, body)
            case "POST", ["webhooks", _, token]:
                return self._followup(token, body)
            case "GET" | "PATCH", ["webhooks", _, token, "messages", "@original"]:
                found = self.interactions.get(token)
                if found is None or found.original not in self.messages:
                    return _json({"message": "Unknown Message", "code": 10008}, 404)
                if method == "PATCH":
                    self.messages[found.original].update(body or {})
                return _json(self.messages[found.original])
            case "DELETE", ["webhooks", _, token, "messages", "@original"]:
                found = self.interactions.get(token)
                if found is not None and found.original is not None:
                    self.messages.pop(found.original, None)
                    found.original = None
                return web.Response(status=204)
            case "POST", ["channels", channel, "typing"]:
                return web.Response(status=204)
            case "POST", ["channels", channel, "messages"]:
                if int(channel) in self.locked_channels:
                    return _json({"message": "Missing Permissions", "code": 50013}, 403)
                return _json(self._create(int(channel), body or {}))
            case "GET", ["channels", channel, "messages", message_id]:
                found = self.messages.get(int(message_id))
                if found is None:
                    return _json({"message": "Unknown Message", "code": 10008}, 404)
                return _json(found)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _callback(self, token: str, body: dict) -> web.Response:
        found = self.interactions.get(token)
        if found is None or found.id in self.expired_interactions:
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if found.original is not None or found.deferred:
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        data = body.get("data") or {}
        found.ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
        loading = body["type"] == 5
        found.deferred = loading
        message = self._create(found.channel_id, {} if loading else data, flags=data.get("flags", 0),
                               interaction=found)
        found.original = int(message["id"])
        return _json({"interaction": {"id": str(found.id), "type": 2, "response_message_id": message["id"],
                                      "response_message_loading": loading,
                                      "response_message_ephemeral": found.ephemeral},
                      "resource": {"type": body["type"], "message": message}})

    def _followup(self, token: str, body: dict) -> web.Response:
        found = self.interactions.get(token)
        if found is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        found.followups += 1
        if found.deferred and found.followups == 1 and found.original is not None:
            # Discord: the first follow-up after a deferral replaces the "thinking" message,
            # keeping the deferral's flags.
            message = self.messages[found.original]
            message.update({k: v for k, v in body.items() if k in ("content", "embeds", "allowed_mentions")})
            return _json(message)
        return _json(self._create(found.channel_id, body, flags=body.get("flags", 0), interaction=found))

    def _create(self, channel_id: int, body: dict, *, flags: int = 0, interaction: Interaction | None = None) -> dict:
        message_id = self.next_id()
        message = {
            "id": str(message_id), "channel_id": str(channel_id), "author": BOT_USER,
            "content": body.get("content") or "", "embeds": body.get("embeds") or [],
            "allowed_mentions": body.get("allowed_mentions"), "timestamp": "2026-11-25T08:00:00+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": [], "pinned": False, "type": 0 if interaction is None else 20,
            "flags": flags, "components": [],
        }
        if channel_id != DM_CHANNEL_ID:
            message["guild_id"] = str(GUILD_ID)
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
            message["type"] = 19
        if interaction is not None:
            message["webhook_id"] = str(APP_ID)
        self.messages[message_id] = message
        return message


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py reads a body as JSON only when Content-Type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})
