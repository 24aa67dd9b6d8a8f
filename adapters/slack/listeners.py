"""The edge converter: Slack payloads in, core calls; core replies out, Slack messages.

Commands are acknowledged at once and answered after the ack through ``response_url``
(or ``chat.postMessage`` for a public briefing, whose ``ts`` then holds its follow-ups).
Direct messages and mentions are questions; a reply in a briefing's thread is a
follow-up about that briefing. Nothing here lets a Slack type reach the core.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.platform import BriefBot
from bot.replies import Context, Reply

from ..inflight import Inflight
from .blocks import Message, reply_messages, text_messages
from .mrkdwn import incoming_text

PLATFORM = "slack"
NO_RESPONSE_URL = ("This command arrived without a response URL, so there is nowhere to send "
                   "the answer. Please run it again.")
FAILED = "Sorry, something went wrong while answering that command. The error has been logged."
ADMIN_CACHE_SECONDS = 300

log = logging.getLogger(__name__)


class SlackListeners:
    """Registers the bot's listeners on a bolt app and owns the work they start."""

    def __init__(self, bot: BriefBot, retry_handlers: Callable[[], list[AsyncRetryHandler]], *,
                 team_scoped: bool = False) -> None:
        self.bot = bot
        self.retry_handlers = retry_handlers
        self.team_scoped = team_scoped
        self._inflight = Inflight()
        self._admins: dict[tuple[str, str], tuple[bool, float]] = {}

    def context(self, team: str | None, channel: str, user: str, *, thread: str | None = None,
                is_admin: bool = False) -> Context:
        """The core's view of a Slack channel: its id, qualified by its workspace when there are many."""
        key = f"{team}:{channel}" if self.team_scoped and team else channel
        return Context(platform=PLATFORM, channel=key, user=user, is_admin=is_admin, thread=thread)

    def register(self, app: AsyncApp) -> None:
        # Any command name: the app may register /brief under another name.
        app.command(re.compile(r"^/.+"))(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)

    async def close(self) -> None:
        """Cancel work still running after its ack (called on shutdown)."""
        await self._inflight.cancel_all()

    # -- commands --------------------------------------------------------------------

    async def on_command(self, ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        response_url = body.get("response_url")
        if not response_url:
            await ack(response_type="ephemeral", **text_messages(NO_RESPONSE_URL)[0])
            return
        await ack()
        await self._inflight.run(self._answer_command(body, response_url, client))

    async def _answer_command(self, body: dict[str, Any], response_url: str, client: AsyncWebClient) -> None:
        team, channel = str(body.get("team_id") or ""), str(body.get("channel_id") or "")
        user = str(body.get("user_id") or "")
        try:
            ctx = self.context(team, channel, user, is_admin=await self._is_admin(client, team, channel, user))
            reply = await self.bot.command(ctx, incoming_text(str(body.get("text") or "")))
            if reply.public:
                await self._post_public(client, ctx, channel, reply, response_url)
            else:
                await self._respond_all(response_url, reply_messages(reply), "ephemeral")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("failed to answer a Slack command")
            await self._report_failure(client, channel, user, response_url)

    async def _post_public(self, client: AsyncWebClient, ctx: Context, channel: str, reply: Reply,
                           response_url: str) -> None:
        """Post to the channel (so the briefing has a ts for follow-ups), else via response_url."""
        messages = reply_messages(reply)
        for index, message in enumerate(messages):
            try:
                result = await client.chat_postMessage(channel=channel, **message)
            except SlackApiError as exc:
                log.info("chat.postMessage to %s failed (%s); answering through response_url",
                         channel, exc.response.get("error"))
                await self._respond_all(response_url, messages[index:], "in_channel")
                return
            try:
                await self.bot.posted(ctx, str(result["ts"]), reply)
            except Exception:  # the briefing is out; only its follow-ups are lost
                log.warning("could not record the briefing posted as %s in %s", result["ts"], channel,
                            exc_info=True)

    async def _respond_all(self, response_url: str, messages: list[Message], response_type: str) -> None:
        webhook = AsyncWebhookClient(response_url, timeout=15, retry_handlers=self.retry_handlers())
        for message in messages:
            response = await webhook.send_dict({**message, "response_type": response_type,
                                                "replace_original": False})
            if response.status_code != 200:
                raise SlackClientError(f"response_url answered {response.status_code}: {response.body[:200]}")

    async def _report_failure(self, client: AsyncWebClient, channel: str, user: str, response_url: str) -> None:
        """No command goes silent: say it failed, through response_url or else an ephemeral post."""
        try:
            await self._respond_all(response_url, text_messages(FAILED), "ephemeral")
            return
        except Exception:
            log.warning("could not report a failure through response_url", exc_info=True)
        try:
            await client.chat_postEphemeral(channel=channel, user=user, **text_messages(FAILED)[0])
        except Exception:
            log.warning("could not report a failure to %s in %s", user, channel, exc_info=True)

    async def _is_admin(self, client: AsyncWebClient, team: str, channel: str, user: str) -> bool:
        """Workspace admins and owners manage channels' feeds and schedules; anyone manages their DM."""
        if channel.startswith("D"):
            return True
        cached = self._admins.get((team, user))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            profile = (await client.users_info(user=user))["user"]
        except SlackApiError as exc:
            log.warning("users.info for %s failed (%s); treating them as a member", user,
                        exc.response.get("error"))
            return False
        admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
        self._admins[(team, user)] = (admin, time.monotonic() + ADMIN_CACHE_SECONDS)
        return admin

    # -- questions -------------------------------------------------------------------

    async def on_mention(self, body: dict[str, Any], client: AsyncWebClient, context) -> None:
        """A mention in a channel is a question, answered in its thread."""
        event = body.get("event") or {}
        if event.get("bot_id") or not event.get("user") or not event.get("channel"):
            return
        ctx = self.context(_team(body, context), event["channel"], event["user"], thread=event.get("thread_ts"))
        text = incoming_text(event.get("text") or "", bot_user_id=context.bot_user_id)
        await self._inflight.run(self._answer(client, ctx, event["channel"], text,
                                       thread_ts=event.get("thread_ts") or event.get("ts")))

    async def on_message(self, body: dict[str, Any], client: AsyncWebClient, context) -> None:
        """A direct message is a question; so is a reply in the thread of a briefing we posted."""
        event = body.get("event") or {}
        if event.get("subtype") or event.get("bot_id") or not event.get("user") or not event.get("channel"):
            return  # edits, joins, bots (ourselves included) ...
        if event["user"] == context.bot_user_id:
            return
        text = event.get("text") or ""
        thread_ts = event.get("thread_ts")
        channel = event["channel"]
        ctx = self.context(_team(body, context), channel, event["user"], thread=thread_ts)
        if event.get("channel_type") == "im":
            question = incoming_text(text, bot_user_id=context.bot_user_id)
            await self._inflight.run(self._answer(client, ctx, channel, question, thread_ts=thread_ts))
            return
        if not thread_ts or thread_ts == event.get("ts"):
            return  # channel chatter: only replies in a briefing's thread are for us
        if context.bot_user_id and f"<@{context.bot_user_id}" in text:
            return  # a mention: app_mention answers it
        if not await self.bot.is_briefing(ctx):
            return
        await self._inflight.run(self._answer(client, ctx, channel, incoming_text(text), thread_ts=thread_ts))

    async def _answer(self, client: AsyncWebClient, ctx: Context, channel: str, question: str, *,
                      thread_ts: str | None) -> None:
        try:
            reply = await self.bot.question(ctx, question)
            for message in reply_messages(reply):
                await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("failed to answer a Slack question in %s", channel)



def _team(body: dict[str, Any], context) -> str:
    return str(context.team_id or body.get("team_id") or "")
