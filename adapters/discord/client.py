"""discord.py wiring: gateway events and ``/brief`` interactions in, core calls, messages out.

Every discord.py type stays in this package: the core sees a :class:`Context` and text,
and answers with a :class:`Reply` that :mod:`.embeds` turns into messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from typing import Optional

import discord
import yarl
from discord import app_commands

from bot.errors import BriefbotError
from bot.platform import BriefBot
from bot.replies import Context, Reply
from bot.settings import Settings

from ..inflight import Inflight
from .context import (PLATFORM, admin_roles, follow_up_contexts, interaction_is_admin, member_is_admin,
                      parse_shards, strip_mentions, unknown_options)
from .embeds import OutgoingMessage, reply_messages, text_messages

log = logging.getLogger(__name__)

# An answer ready within this many seconds is sent as the first response; a slower one is
# deferred first (Discord allows 3 s for the first response, network included).
INSTANT_SECONDS = 0.5
NO_MENTIONS = discord.AllowedMentions.none()


class DiscordPlatform:
    """The bot on Discord: ``/brief``, DM questions, mentions and follow-ups in briefing threads.

    Args:
        settings: token, endpoints, guilds to sync to, sharding and the admin role.
        message_content: ask for the privileged MESSAGE_CONTENT intent, needed only to read
            follow-ups in a briefing's thread that do not mention the bot.
        guild_ready_timeout: seconds discord.py waits for guilds at start-up.
        instant: seconds an answer may take and still be sent without deferring.
    """

    name = PLATFORM

    def __init__(self, settings: Settings, *, message_content: bool = False,
                 guild_ready_timeout: float = 2.0, instant: float = INSTANT_SECONDS) -> None:
        if not settings.discord_bot_token:
            raise BriefbotError("Discord needs DISCORD_BOT_TOKEN.")
        self.settings = settings
        self.message_content = message_content
        self.guild_ready_timeout = guild_ready_timeout
        self.instant = instant
        self.sharded, self.shard_count = parse_shards(settings.discord_shards)
        self.client: discord.Client | None = None
        self.ready = asyncio.Event()  # set once the client is connected

    def intents(self) -> discord.Intents:
        """Guilds (channels, threads, roles), guild and DM messages; message content only if asked."""
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = self.message_content
        return intents

    async def run(self, bot: BriefBot) -> None:
        """Connect and serve until cancelled; the client is closed on the way out."""
        with endpoints(self.settings.discord_api_url, self.settings.discord_gateway_url):
            client = self._client(bot)
            self.client = client
            try:
                await client.start(self.settings.discord_bot_token or "")
            except discord.LoginFailure:
                raise BriefbotError("Discord refused the bot token: check DISCORD_BOT_TOKEN.") from None
            except discord.PrivilegedIntentsRequired:
                raise BriefbotError("Discord refused the Message Content intent: enable it for the bot "
                                    "in the Developer Portal, or unset DISCORD_MESSAGE_CONTENT.") from None
            finally:
                self.ready.clear()
                await client.briefbot.close()
                if not client.is_closed():
                    await client.close()

    async def deliver(self, channel: str, reply: Reply) -> str | None:
        """Post what the bot says on its own (a digest, a notice) to a channel; its first message's id."""
        if not channel.isdigit():
            raise BriefbotError(f"{channel!r} is not a Discord channel id.")
        await asyncio.wait_for(self.ready.wait(), 30)
        if self.client is None:
            raise BriefbotError("Discord is not running.")
        target = self.client.get_partial_messageable(int(channel))
        ref: str | None = None
        for message in reply_messages(reply):
            sent = await target.send(**message.kwargs(), allowed_mentions=NO_MENTIONS)
            ref = ref or str(sent.id)
        return ref

    def _client(self, bot: BriefBot) -> discord.Client:
        options = dict(intents=self.intents(), allowed_mentions=NO_MENTIONS,
                       guild_ready_timeout=self.guild_ready_timeout)
        if self.settings.discord_shard_count:
            # This process runs some of the shards; other processes run the rest.
            client: discord.Client = _ShardedBriefClient(
                shard_count=self.settings.discord_shard_count,
                shard_ids=list(self.settings.discord_shard_ids) or None, **options)
        elif self.sharded:
            client = _ShardedBriefClient(shard_count=self.shard_count, **options)
        else:
            client = _BriefClient(**options)
        client.briefbot = Bridge(bot, client, admin_roles=admin_roles(self.settings.discord_admin_role),
                                 guild_ids=self.settings.discord_guild_ids,
                                 message_content=self.message_content, instant=self.instant,
                                 ready=self.ready)
        return client


class Bridge:
    """Turns one client's interactions and messages into core calls, and replies into messages."""

    def __init__(self, bot: BriefBot, client: discord.Client, *, admin_roles: frozenset[str],
                 guild_ids: Iterable[int] = (), message_content: bool = False,
                 instant: float = INSTANT_SECONDS, ready: asyncio.Event | None = None) -> None:
        self.bot = bot
        self.ready = ready or asyncio.Event()
        self.client = client
        self.admin_roles = admin_roles
        self.guild_ids = tuple(guild_ids)
        self.message_content = message_content
        self.instant = instant
        self.tree = _BriefTree(client)
        self._inflight = Inflight()
        self._register()

    async def close(self) -> None:
        """Cancel the answers still being worked on (called on shutdown)."""
        await self._inflight.cancel_all()

    async def owned(self, work: Awaitable[None]) -> None:
        """Run ``work`` as a task that :meth:`close` can cancel."""
        await self._inflight.run(work)

    # -- commands ---------------------------------------------------------------------

    def _register(self) -> None:
        @app_commands.command(name="brief", description="A news briefing: the latest, of a URL, or on a topic")
        @app_commands.describe(query="A URL, some topic words, or help; empty for the latest briefing")
        async def brief(interaction: discord.Interaction, query: Optional[str] = None) -> None:
            await self.owned(self.brief(interaction, query or ""))

        self.tree.add_command(brief)

    async def sync(self) -> None:
        """Register ``/brief``: in the listed guilds only (instant), else globally."""
        targets = [discord.Object(id=g) for g in self.guild_ids] or [None]
        for guild in targets:
            try:
                if guild is not None:
                    self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                where = f"guild {guild.id}" if guild else "all guilds"
                log.warning("could not register /brief in %s: %s", where, exc)

    async def brief(self, interaction: discord.Interaction, query: str) -> None:
        unknown = unknown_options(interaction.data)
        if unknown:
            names = ", ".join(sorted(unknown))
            await self._respond(interaction, None, Reply(
                text=f"/brief has no option {names}; it takes one optional `query`. Try /brief help.",
                error=True))
            return
        ctx = Context(platform=PLATFORM, channel=str(interaction.channel_id), user=str(interaction.user.id),
                      is_admin=interaction_is_admin(interaction, self.admin_roles))
        work = asyncio.ensure_future(self.bot.command(ctx, query))
        done, _ = await asyncio.wait({work}, timeout=self.instant)
        if done:
            await self._respond(interaction, ctx, work.result())
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not defer /brief (%s); the answer is dropped", exc)
            work.cancel()
            return
        await self._follow_up(interaction, ctx, await work)

    async def _respond(self, interaction: discord.Interaction, ctx: Context | None, reply: Reply) -> None:
        """Answer within the first response; more messages, if any, as follow-ups."""
        messages = reply_messages(reply)
        ephemeral = not reply.public
        sent: list[int] = []
        try:
            response = await interaction.response.send_message(
                **messages[0].kwargs(), ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
            if reply.briefing is not None:
                sent.append(response.message_id or (await interaction.original_response()).id)
            for message in messages[1:]:
                sent.append(await self._send_follow_up(interaction, message, ephemeral))
        except discord.HTTPException as exc:
            log.warning("could not answer /brief: %s", exc)
        await self._report(ctx, sent, reply)

    async def _follow_up(self, interaction: discord.Interaction, ctx: Context, reply: Reply) -> None:
        """After a deferral: public replies replace the "thinking" message, private ones are
        sent as ephemeral follow-ups once it is removed."""
        messages = reply_messages(reply)
        sent: list[int] = []
        try:
            if not reply.public:
                try:
                    await interaction.delete_original_response()
                except discord.HTTPException:
                    pass
            for message in messages:
                sent.append(await self._send_follow_up(interaction, message, not reply.public))
        except discord.HTTPException as exc:
            log.warning("could not send the /brief follow-up: %s", exc)
        await self._report(ctx, sent, reply)

    @staticmethod
    async def _send_follow_up(interaction: discord.Interaction, message: OutgoingMessage,
                              ephemeral: bool) -> int:
        sent = await interaction.followup.send(**message.kwargs(), ephemeral=ephemeral, wait=True,
                                               allowed_mentions=NO_MENTIONS)
        return sent.id

    async def _report(self, ctx: Context | None, message_ids: list[int], reply: Reply) -> None:
        """Tell the core where a briefing went, every part of it, so replies to any part follow up."""
        if ctx is None or reply.briefing is None:
            return
        for message_id in message_ids:
            await self.bot.posted(ctx, str(message_id), reply)

    # -- messages ---------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if me is None or message.author.bot or message.author.id == me.id or message.webhook_id:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if message.guild is None and not isinstance(message.channel, discord.DMChannel):
            return
        mentioned = message.guild is None or self._mentions_me(message)
        if not mentioned and not self.message_content:
            return  # Discord withholds the text of messages that do not mention the bot
        ctx, follows_briefing = await self._where(message)
        if not (mentioned or follows_briefing or self._replies_to_me(message)):
            return  # chatter that is not addressed to the bot
        text = strip_mentions(message.content, me.id, _self_role_id(message.guild))
        await _typing(message.channel)
        reply = await self.bot.question(ctx, text)
        await self._answer(message, reply)

    async def _where(self, message: discord.Message) -> tuple[Context, bool]:
        """The context of a question, and whether it follows up on a briefing the bot posted."""
        is_admin = member_is_admin(message.author, self.admin_roles)
        for ctx in follow_up_contexts(message, is_admin=is_admin):
            if await self.bot.is_briefing(ctx):
                return ctx, True
        return Context(PLATFORM, str(message.channel.id), str(message.author.id), is_admin), False

    async def _answer(self, message: discord.Message, reply: Reply) -> None:
        """The answer where the question was: in the DM, or as a reply in the channel or thread."""
        try:
            for i, outgoing in enumerate(reply_messages(reply)):
                if i == 0 and message.guild is not None:
                    await message.reply(**outgoing.kwargs(), mention_author=False, allowed_mentions=NO_MENTIONS)
                else:
                    await message.channel.send(**outgoing.kwargs(), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not answer in channel %s: %s", message.channel.id, exc)

    def _mentions_me(self, message: discord.Message) -> bool:
        me = self.client.user
        if me is not None and any(user.id == me.id for user in message.mentions):
            return True
        role = _self_role_id(message.guild)  # people often pick the bot's own role in the mention menu
        return role is not None and any(r.id == role for r in message.role_mentions)

    def _replies_to_me(self, message: discord.Message) -> bool:
        ref = message.reference
        me = self.client.user
        return (ref is not None and isinstance(ref.resolved, discord.Message) and me is not None
                and ref.resolved.author.id == me.id)


class _BriefTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound):
            text = "That command is not available here. Try /brief help."
        else:
            log.error("/brief failed", exc_info=error)
            text = "Sorry, something went wrong with that command. The error has been logged."
        message = text_messages(text)[0]
        try:
            if interaction.response.is_done():
                await interaction.followup.send(**message.kwargs(), ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(**message.kwargs(), ephemeral=True,
                                                        allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            pass


class _BriefClientMixin:
    briefbot: Bridge

    async def setup_hook(self) -> None:
        await self.briefbot.sync()

    async def on_ready(self) -> None:
        self.briefbot.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.briefbot.owned(self.briefbot.on_message(message))


class _BriefClient(_BriefClientMixin, discord.Client):
    pass


class _ShardedBriefClient(_BriefClientMixin, discord.AutoShardedClient):
    pass


def _self_role_id(guild: discord.Guild | None) -> int | None:
    role = guild.self_role if guild is not None else None
    return role.id if role is not None else None


async def _typing(channel: discord.abc.Messageable) -> None:
    """Show "typing" while the core works; best effort."""
    try:
        await channel.typing()
    except discord.HTTPException:
        pass


@contextmanager
def endpoints(api_url: str, gateway_url: str | None) -> Iterator[None]:
    """Point discord.py at ``DISCORD_API_URL`` and ``DISCORD_GATEWAY_URL`` while the client runs.

    A configured gateway takes every connection: the first, each shard's (which would
    otherwise use the URL from ``GET /gateway/bot``) and each resume (the URL in READY).
    discord.py keeps these as class attributes, so they are process-wide: one Discord
    connection per process, which is how the bot runs.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    saved = Route.BASE, DiscordWebSocket.__dict__["from_client"]
    Route.BASE = api_url.rstrip("/")
    if gateway_url:
        pinned, connect = yarl.URL(gateway_url), saved[1].__func__

        async def from_client(cls, client, **options):
            return await connect(cls, client, **{**options, "gateway": pinned})

        DiscordWebSocket.from_client = classmethod(from_client)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Route.BASE = saved[0]
        DiscordWebSocket.from_client = saved[1]  # type: ignore[method-assign]
