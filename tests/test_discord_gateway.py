"""The Discord platform end to end: the real discord.py client against a loopback fake of
Discord's gateway and REST API (tests/discord_fake.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from aiohttp import web

pytest.importorskip("discord")

import discord  # noqa: E402
from discord.gateway import DiscordWebSocket  # noqa: E402
from discord.http import Route  # noqa: E402

from adapters import configured_platforms  # noqa: E402
from adapters.discord import DiscordPlatform  # noqa: E402
from adapters.discord.embeds import (  # noqa: E402
    CONTENT_LIMIT, DESCRIPTION_LIMIT, EMBEDS_PER_MESSAGE, MESSAGE_EMBED_LIMIT, TITLE_LIMIT, briefing_messages,
    units)
from bot.articles import Article  # noqa: E402
from bot.errors import BriefbotError  # noqa: E402
from bot.platform import BriefBot  # noqa: E402
from bot.replies import Context  # noqa: E402
from conftest import DATA, NOW, SEED_ARTICLE  # noqa: E402
from discord_fake import (  # noqa: E402
    ALICE_ID, APP_ID, BOB_ID, BOT_ROLE_ID, CHANNEL_ID, DM_CHANNEL_ID, EDITORS_ROLE_ID, EPHEMERAL, GUILD_ID,
    LOCKED_CHANNEL_ID, MANAGE_GUILD, MEMBER_PERMISSIONS, MESSAGE_CONTENT, OTHER_BOT_ID, TOKEN, FakeDiscord)
from loopback import serve  # noqa: E402

TRUCE = "What truce did Macron and Starmer propose?"
TIDAL = "What will the tidal power station supply?"
NOT_COVERED = "The stories in this briefing do not cover that."


def scenario(test):
    """Run an async test body in a fresh event loop, with an overall time limit."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 20))

    return run


class RecordingBot(BriefBot):
    """The real core, with a record of the contexts the adapter built."""

    def __init__(self, service) -> None:
        super().__init__(service)
        self.contexts = []
        self.posted_refs = []

    async def command(self, ctx, text):
        self.contexts.append(ctx)
        return await super().command(ctx, text)

    async def question(self, ctx, text):
        self.contexts.append(ctx)
        return await super().question(ctx, text)

    async def posted(self, ctx, message_ref, reply):
        await super().posted(ctx, message_ref, reply)
        self.posted_refs.append((ctx, message_ref))


@dataclass
class Running:
    fake: FakeDiscord
    bot: RecordingBot
    platform: DiscordPlatform
    task: asyncio.Task

    async def slash(self, query=None, **kwargs) -> dict:
        """Dispatch ``/brief`` and return the first response the bot gave it."""
        payload = self.fake.slash(query, **kwargs)
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        path = f"interactions/{payload['id']}/"
        [callback] = await self.fake.wait_request("POST", path)
        return {"payload": payload, "callback": callback, "token": payload["token"]}

    async def briefing_ids(self, token: str, count: int = 1) -> list[int]:
        """The ids of the messages a ``/brief`` briefing was posted as (reported to the core)."""
        await self.fake.wait_for(lambda: len(self.bot.posted_refs) >= count)
        return [int(ref) for _, ref in self.bot.posted_refs]

    async def say(self, content: str, **kwargs) -> dict:
        payload = self.fake.message(content, **kwargs)
        await self.fake.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def answer_in(self, channel_id: int, count: int = 1) -> list[dict]:
        found = await self.fake.wait_request("POST", f"channels/{channel_id}/messages", count=count)
        return [r.body for r in found]


@contextlib.asynccontextmanager
async def discord_bot(service, settings, *, shards: int = 1, env: dict | None = None,
                      resume_gateway_url: str | None = None, **options):
    fake = FakeDiscord(shards=shards)
    fake.resume_gateway_url = resume_gateway_url
    await fake.start()
    configured = replace(settings, discord_bot_token=TOKEN, discord_api_url=fake.api_url,
                         discord_gateway_url=fake.gateway_url, **(env or {}))
    platform = DiscordPlatform(configured, guild_ready_timeout=0, **options)
    bot = RecordingBot(service)
    task = asyncio.create_task(platform.run(bot))
    try:
        ready = asyncio.ensure_future(_ready(fake, platform))
        await asyncio.wait({ready, task}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # a client that died while connecting fails the test with its error
        assert ready.done(), "the client did not connect to the fake gateway"
        running = Running(fake, bot, platform, task)
        yield running
        assert not running.task.done(), "the client stopped"
        for body in fake.bodies_with_messages():
            assert_mentions_nobody(body)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.close()


def assert_mentions_nobody(body: dict) -> None:
    allowed = body.get("allowed_mentions")
    assert allowed is not None and allowed["parse"] == [], body
    assert not allowed.get("users") and not allowed.get("roles") and not allowed.get("replied_user"), body


async def _ready(fake: FakeDiscord, platform: DiscordPlatform) -> None:
    await fake.wait_for(lambda: fake.identifies)
    await platform.client.wait_until_ready()


def ingest(service, *paths) -> None:
    for path in paths or (SEED_ARTICLE,):
        report = service.ingest(str(path))
        assert report.error is None, report.error


def embeds_text(body: dict) -> str:
    embeds = body.get("embeds") or []
    parts = [body.get("content") or ""]
    for e in embeds:
        parts += [e.get("title") or "", e.get("description") or "", (e.get("footer") or {}).get("text", "")]
    return "\n".join(parts)


def response_body(callback) -> dict:
    return callback.body.get("data") or {}


# -- /brief --------------------------------------------------------------------------------


@scenario
async def test_brief_is_synced_and_answered_with_embeds_within_three_seconds(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        [sync] = bot.fake.find("PUT", f"applications/{APP_ID}/commands")
        [command] = sync.body
        assert command["name"] == "brief"
        assert [(o["name"], o["type"], o.get("required", False)) for o in command["options"]] == [
            ("query", 3, False)]

        started = time.monotonic()
        sent = await bot.slash()
        assert sent["callback"].at - started < 3.0
        body = response_body(sent["callback"])
        assert sent["callback"].body["type"] == 4  # answered at once: nothing to defer
        assert not body.get("flags", 0) & EPHEMERAL  # a briefing is for the channel
        [embed] = body["embeds"]
        assert embed["title"] == "Latest briefing"
        assert "Starmer" in embed["description"] and "\u2022 " in embed["description"]
        assert "Source:" in embed["description"]
        assert embed["footer"]["text"].startswith("1 source") and embed["timestamp"]
        [ref] = await bot.briefing_ids(sent["token"])
        [(ctx, _)] = bot.bot.posted_refs
        assert ctx.platform == "discord" and ctx.channel == str(CHANNEL_ID) and ctx.user == str(ALICE_ID)
        assert int(ref) in bot.fake.messages


@scenario
async def test_a_slow_briefing_is_deferred_then_arrives_as_a_follow_up(service, settings):
    article = (DATA / "article.html").read_bytes()

    async def slow_article(request):
        await asyncio.sleep(0.6)
        return web.Response(body=article, content_type="text/html")

    app = web.Application()
    app.router.add_get("/story", slow_article)
    with serve(app) as base:
        settings = replace(settings, allow_private_urls=("127.0.0.1",))
        from bot.service import BriefingService

        service = BriefingService(settings, service.store, clock=service.clock)
        async with discord_bot(service, settings, instant=0.2) as bot:
            started = time.monotonic()
            sent = await bot.slash(f"{base}/story")
            assert sent["callback"].at - started < 3.0
            assert sent["callback"].body["type"] == 5  # deferred: the user sees "thinking"
            [follow] = await bot.fake.wait_request("POST", f"webhooks/{APP_ID}/{sent['token']}")
            assert follow.query.get("wait") in ("1", "true")  # the message comes back, with its id
            assert not follow.body.get("flags", 0) & EPHEMERAL
            text = embeds_text(follow.body)
            assert "tidal" in text.lower() and "Coastal Ledger" in text
            [ref] = await bot.briefing_ids(sent["token"])
            interaction = bot.fake.interactions[sent["token"]]
            assert ref == interaction.original  # the follow-up replaced the "thinking" message


@scenario
async def test_help_and_bad_input_get_ephemeral_messages_and_the_bot_keeps_running(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        cases = [
            ("help", "/brief <url>"),
            ("x" * 6000, "6,000 characters"),
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ]
        for query, expected in cases:
            sent = await bot.slash(query)
            body = response_body(sent["callback"])
            assert body["flags"] & EPHEMERAL, query
            assert expected in body["content"].replace("\\", ""), body["content"]
            assert len(body["content"]) <= CONTENT_LIMIT

        unknown = await bot.slash(options=[{"name": "topic", "type": 3, "value": "ports"}])
        body = response_body(unknown["callback"])
        assert body["flags"] & EPHEMERAL and "no option topic" in body["content"]

        stale = await bot.slash(name="digest")
        body = response_body(stale["callback"])
        assert body["flags"] & EPHEMERAL and "not available" in body["content"]
        assert service.store.count() == 1  # the refused URL stored nothing

        await bot.say(TRUCE, dm=True)
        [answer] = await bot.answer_in(DM_CHANNEL_ID)
        assert "30-day partial truce" in embeds_text(answer)


@scenario
async def test_an_error_after_deferring_replaces_thinking_with_an_ephemeral_message(service, settings):
    async with discord_bot(service, settings, instant=0) as bot:  # empty store: /brief is an error
        sent = await bot.slash()
        assert sent["callback"].body["type"] == 5
        await bot.fake.wait_request("DELETE", f"webhooks/{APP_ID}/{sent['token']}/messages/@original")
        [follow] = await bot.fake.wait_request("POST", f"webhooks/{APP_ID}/{sent['token']}")
        assert follow.body["flags"] & EPHEMERAL
        assert "no stored articles" in follow.body["content"].lower()
        assert bot.bot.posted_refs == []


@scenario
async def test_an_expired_interaction_or_a_channel_the_bot_cannot_post_in_is_survived(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        payload = bot.fake.slash()
        bot.fake.expired_interactions.add(int(payload["id"]))
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        await bot.fake.wait_request("POST", f"interactions/{payload['id']}/")

        await bot.say(f"<@{APP_ID}> {TRUCE}", channel_id=LOCKED_CHANNEL_ID, mention_bot=True)
        await bot.fake.wait_request("POST", f"channels/{LOCKED_CHANNEL_ID}/messages")  # refused with 403

        sent = await bot.slash(channel_id=LOCKED_CHANNEL_ID)  # interactions still work there
        assert "Starmer" in embeds_text(response_body(sent["callback"]))
        await bot.say(TRUCE, dm=True)
        assert "30-day partial truce" in embeds_text((await bot.answer_in(DM_CHANNEL_ID))[0])


# -- messages --------------------------------------------------------------------------------


@scenario
async def test_a_direct_message_is_answered_in_the_dm_with_sources(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        await bot.say("Are you there?", dm=True, user_id=OTHER_BOT_ID)  # another bot: silence
        await bot.say(TRUCE, dm=True)
        [answer] = await bot.answer_in(DM_CHANNEL_ID)
        text = embeds_text(answer)
        assert "30-day partial truce" in text and "Source:" in text
        assert bot.fake.find("POST", f"channels/{DM_CHANNEL_ID}/typing")
        await asyncio.sleep(0.2)
        assert len(bot.fake.find("POST", f"channels/{DM_CHANNEL_ID}/messages")) == 1
        assert [c.user for c in bot.bot.contexts] == [str(ALICE_ID)]


@scenario
async def test_a_mention_in_a_channel_is_answered_as_a_reply_and_other_chatter_is_ignored(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        await bot.say("Nice weather for a truce today")  # no mention: not for the bot
        question = await bot.say(f"<@{APP_ID}> {TRUCE}", mention_bot=True)
        [answer] = await bot.answer_in(CHANNEL_ID)
        assert str(answer["message_reference"]["message_id"]) == question["id"]
        assert "30-day partial truce" in embeds_text(answer)
        assert bot.bot.contexts[-1].thread is None

        await bot.say(f"<@&{BOT_ROLE_ID}> {TRUCE}", mention_role=BOT_ROLE_ID)  # the bot's own role
        await bot.answer_in(CHANNEL_ID, count=2)
        assert len(bot.bot.contexts) == 2


@scenario
async def test_a_reply_to_a_briefing_is_answered_from_that_briefings_stories(service, settings):
    ingest(service, SEED_ARTICLE, DATA / "article.html")
    async with discord_bot(service, settings) as bot:
        sent = await bot.slash("Starmer")
        [briefing] = await bot.briefing_ids(sent["token"])

        await bot.say(f"<@{APP_ID}> {TIDAL}", mention_bot=True)  # outside the thread: everything
        [general] = await bot.answer_in(CHANNEL_ID)
        assert "fifth" in embeds_text(general)

        await bot.say(TIDAL, reply_to=briefing, mention_bot=True)
        [_, scoped] = await bot.answer_in(CHANNEL_ID, count=2)
        assert NOT_COVERED in scoped["content"]
        await bot.say(TRUCE, reply_to=briefing, mention_bot=True)
        [*_, covered] = await bot.answer_in(CHANNEL_ID, count=3)
        assert "30-day partial truce" in embeds_text(covered)
        assert bot.bot.contexts[-1].thread == str(briefing)


@scenario
async def test_a_follow_up_in_a_briefings_thread_needs_only_the_message_content_intent(service, settings):
    ingest(service, SEED_ARTICLE, DATA / "article.html")
    async with discord_bot(service, settings, message_content=True) as bot:
        assert bot.fake.identifies[0]["intents"] & MESSAGE_CONTENT
        sent = await bot.slash("Starmer")
        [briefing] = await bot.briefing_ids(sent["token"])
        await bot.fake.dispatch("THREAD_CREATE", bot.fake.thread(briefing))
        await bot.say(TRUCE, channel_id=briefing)  # no mention: a reply in the briefing's thread
        [answer] = await bot.answer_in(briefing)
        assert "30-day partial truce" in embeds_text(answer)
        assert (bot.bot.contexts[-1].channel, bot.bot.contexts[-1].thread) == (str(CHANNEL_ID), str(briefing))
        await bot.say(TIDAL, channel_id=briefing)
        [_, scoped] = await bot.answer_in(briefing, count=2)
        assert NOT_COVERED in scoped["content"]
        answer_id = max(i for i, m in bot.fake.messages.items() if m["channel_id"] == str(briefing))
        await bot.say(TIDAL, channel_id=briefing, reply_to=answer_id, mention_bot=True)  # still the thread's
        [*_, scoped] = await bot.answer_in(briefing, count=3)
        assert NOT_COVERED in scoped["content"]

        other = bot.fake.next_id()  # a thread someone else started: not the bot's business
        await bot.fake.dispatch("THREAD_CREATE", bot.fake.thread(other))
        await bot.say(TRUCE, channel_id=other)
        await bot.say("Lovely photos of the harbour!")  # plain channel chatter, readable with the intent
        await asyncio.sleep(0.2)
        assert not bot.fake.find("POST", f"channels/{other}/messages")
        assert len(bot.fake.find("POST", f"channels/{CHANNEL_ID}/messages")) == 0


@scenario
async def test_without_the_intent_a_thread_message_without_a_mention_is_left_alone(service, settings):
    ingest(service)
    async with discord_bot(service, settings) as bot:
        assert not bot.fake.identifies[0]["intents"] & MESSAGE_CONTENT
        sent = await bot.slash("Starmer")
        [briefing] = await bot.briefing_ids(sent["token"])
        await bot.fake.dispatch("THREAD_CREATE", bot.fake.thread(briefing))
        await bot.say(TRUCE, channel_id=briefing)  # Discord blanks its content for this bot
        await bot.say(f"<@{APP_ID}> {TRUCE}", channel_id=briefing, mention_bot=True)
        [answer] = await bot.answer_in(briefing)
        assert "30-day partial truce" in embeds_text(answer)
        await asyncio.sleep(0.1)
        assert len(bot.bot.contexts) == 2  # the /brief and the mention


# -- limits, mentions, permissions ---------------------------------------------------------------


def long_articles(service, count: int = 8) -> None:
    """Articles whose summaries are far longer than one Discord message can hold."""
    sentence = ("The harbour authority said on {day} that dredging of berth {n} would continue through "
                "the winter, that the cost had risen to {cost} million and that the review, which the "
                "council requested, would be published before the spring session of the assembly. ")
    articles = []
    for n in range(count):
        body = "".join(sentence.format(day=d, n=n, cost=10 + n + i) for i, d in enumerate(
            ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] * 3))
        articles.append(Article(title=f"Harbour works, part {n}: " + "a long headline " * 12, text=body * 2,
                                url=f"https://news.example/harbour/{n}", source="Harbour Gazette",
                                published=NOW - timedelta(hours=n + 1)))
    service.add(articles)


def assert_within_limits(body: dict) -> None:
    assert len(body.get("content") or "") <= CONTENT_LIMIT
    embeds = body.get("embeds") or []
    assert 1 <= len(embeds) <= EMBEDS_PER_MESSAGE
    total = 0
    for e in embeds:
        assert units(e.get("title") or "") <= TITLE_LIMIT
        assert units(e.get("description") or "") <= DESCRIPTION_LIMIT
        total += sum(units(x) for x in (e.get("title") or "", e.get("description") or "",
                                        (e.get("footer") or {}).get("text", "")))
    assert total <= MESSAGE_EMBED_LIMIT


@scenario
async def test_a_long_briefing_is_split_across_messages_within_discords_limits(service, settings):
    long_articles(service)
    settings = replace(settings, summary_sentences=6)
    from bot.service import BriefingService

    service = BriefingService(settings, service.store, clock=service.clock)
    async with discord_bot(service, settings) as bot:
        expected = len(briefing_messages(service.latest()))
        assert expected >= 2
        sent = await bot.slash()
        refs = await bot.briefing_ids(sent["token"], count=expected)  # every part can be replied to
        follow_ups = bot.fake.find("POST", f"webhooks/{APP_ID}/{sent['token']}")
        bodies = [response_body(sent["callback"])] + [r.body for r in follow_ups]
        assert len(bodies) == len(refs) == expected
        for body in bodies:
            assert_within_limits(body)
        text = "\n".join(embeds_text(b) for b in bodies)
        for n in range(8):
            assert f"part {n}" in text  # every story arrived


@scenario
async def test_nothing_the_bot_sends_can_mention_anyone(service, settings):
    service.add([Article(
        title="@everyone: port closes <@&410000000000000400>",
        text=(f"Harbour staff told @everyone and @here that <@{BOB_ID}> had signed the order. "
              "The port will close on Friday for repairs to the sea wall. "
              "Ferries will use the northern pier until the work is finished."),
        url="https://news.example/port", source="Harbour Gazette", published=NOW)])
    async with discord_bot(service, settings) as bot:
        sent = await bot.slash()
        text = embeds_text(response_body(sent["callback"]))
        assert "port closes" in text
        await bot.say("Who signed the order to close the port?", dm=True)
        [answer] = await bot.answer_in(DM_CHANNEL_ID)
        text += embeds_text(answer)
        assert "signed the order" in text
        for raw in ("@everyone", "@here", f"<@{BOB_ID}>", f"<@&{EDITORS_ROLE_ID}>"):
            assert raw not in text
        # and the allowed-mentions check runs on every message body when the bot stops
        assert bot.platform.client.allowed_mentions.to_dict() == {"parse": []}


@scenario
async def test_admin_comes_from_manage_server_or_the_admin_role(service, settings):
    async with discord_bot(service, settings, env={"discord_admin_role": "editors"}) as bot:
        await bot.slash("help")
        await bot.slash("help", user_id=BOB_ID, roles=[EDITORS_ROLE_ID])
        await bot.slash("help", user_id=BOB_ID, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
        await bot.slash("help", dm=True)
        assert [c.is_admin for c in bot.bot.contexts] == [False, True, True, True]

    async with discord_bot(service, settings) as bot:  # no admin role configured
        await bot.slash("help", user_id=BOB_ID, roles=[EDITORS_ROLE_ID])
        assert [c.is_admin for c in bot.bot.contexts] == [False]


@scenario
async def test_deliver_posts_a_digest_to_a_channel_and_its_replies_follow_up(service, settings):
    ingest(service, SEED_ARTICLE, DATA / "article.html")
    async with discord_bot(service, settings) as bot:
        reply = await bot.bot.command(Context("discord", str(CHANNEL_ID)), "Starmer")
        ref = await bot.platform.deliver(str(CHANNEL_ID), reply)
        [posted] = bot.fake.find("POST", f"channels/{CHANNEL_ID}/messages")
        assert "Starmer" in embeds_text(posted.body) and int(ref) in bot.fake.messages
        await bot.bot.posted(Context("discord", str(CHANNEL_ID)), ref, reply)  # as the scheduler does
        await bot.say(TIDAL, reply_to=int(ref), mention_bot=True)
        [_, scoped] = await bot.answer_in(CHANNEL_ID, count=2)
        assert NOT_COVERED in scoped["content"]
        with pytest.raises(discord.Forbidden):
            await bot.platform.deliver(str(LOCKED_CHANNEL_ID), reply)


# -- the connection ----------------------------------------------------------------------------


@scenario
async def test_a_reconnect_in_the_middle_of_a_conversation_resumes_and_loses_nothing(service, settings):
    ingest(service, SEED_ARTICLE, DATA / "article.html")
    # DISCORD_GATEWAY_URL takes resumes too, whatever READY says (as a proxy needs).
    async with discord_bot(service, settings, resume_gateway_url="ws://127.0.0.1:9/elsewhere") as bot:
        sent = await bot.slash("Starmer")
        [briefing] = await bot.briefing_ids(sent["token"])
        await bot.fake.reconnect()
        await bot.say(TRUCE, reply_to=briefing, mention_bot=True)  # sent while the bot is away
        [answer] = await bot.answer_in(CHANNEL_ID)
        assert "30-day partial truce" in embeds_text(answer)
        assert len(bot.fake.identifies) == 1
        [resume] = bot.fake.resumes
        assert resume["session_id"] == "session-1" and resume["token"] == TOKEN
        await bot.say(TIDAL, reply_to=briefing, mention_bot=True)
        [_, scoped] = await bot.answer_in(CHANNEL_ID, count=2)
        assert NOT_COVERED in scoped["content"]


@scenario
async def test_guild_ids_sync_the_command_to_those_guilds_only(service, settings):
    async with discord_bot(service, settings, env={"discord_guild_ids": (GUILD_ID,)}) as bot:
        [sync] = bot.fake.find("PUT", f"applications/{APP_ID}/guilds/{GUILD_ID}/commands")
        assert [c["name"] for c in sync.body] == ["brief"]
        assert not bot.fake.find("PUT", f"applications/{APP_ID}/commands")
        sent = await bot.slash("help")
        assert "Usage" in response_body(sent["callback"])["content"]


@scenario
async def test_auto_sharding_asks_discord_for_the_shard_count_and_still_answers(service, settings):
    ingest(service)
    async with discord_bot(service, settings, env={"discord_shards": "auto"}) as bot:
        assert bot.fake.find("GET", "gateway/bot")
        assert bot.fake.identifies[0]["shard"] == [0, 1]
        await bot.say(TRUCE, dm=True)
        assert "30-day partial truce" in embeds_text((await bot.answer_in(DM_CHANNEL_ID))[0])


@scenario
async def test_a_process_runs_only_its_share_of_the_shards(service, settings):
    # (One shard here: discord.py spaces the identifies of a process's shards five seconds apart.)
    split = {"discord_shard_count": 4, "discord_shard_ids": (3,)}
    async with discord_bot(service, settings, shards=4, env=split) as bot:
        assert [tuple(i["shard"]) for i in bot.fake.identifies] == [(3, 4)]
        assert not bot.fake.find("GET", "gateway/bot")  # the count is given, not asked for


def test_shard_ids_are_ranges_within_the_shard_count():
    from bot.errors import BriefbotError
    from bot.settings import Settings

    env = {"BRIEFBOT_DATA_DIR": "unused", "DISCORD_SHARD_COUNT": "8", "DISCORD_SHARD_IDS": "0-2,5"}
    assert Settings.from_env(env).discord_shard_ids == (0, 1, 2, 5)
    for bad in ({"DISCORD_SHARD_IDS": "0-3"}, {"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "2-4"},
                {"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "two"}):
        with pytest.raises(BriefbotError, match="DISCORD_SHARD"):
            Settings.from_env({"BRIEFBOT_DATA_DIR": "unused", **bad})


@scenario
async def test_cancelling_run_closes_the_client_and_restores_the_endpoints(service, settings):
    before, saved = Route.BASE, DiscordWebSocket.from_client
    async with discord_bot(service, settings) as bot:
        assert Route.BASE == bot.fake.api_url
        client = bot.platform.client
        bot.task.cancel()
        await asyncio.gather(bot.task, return_exceptions=True)
        assert client.is_closed()
        assert Route.BASE == before
        assert DiscordWebSocket.from_client == saved
        bot.task = asyncio.create_task(asyncio.sleep(3600))  # the harness expects a running task
    bot.task.cancel()


def test_briefbot_run_connects_to_discord_when_the_token_is_set(settings):
    [platform] = configured_platforms(replace(settings, discord_bot_token=TOKEN))
    assert isinstance(platform, DiscordPlatform) and platform.name == "discord"
    intents = platform.intents()
    assert intents.guilds and intents.guild_messages and intents.dm_messages
    assert not intents.message_content and not intents.members and not intents.presences


@pytest.mark.parametrize("value", ["zero", "0", "-2", "1.5"])
def test_a_bad_shard_setting_is_one_clear_line(settings, value):
    with pytest.raises(BriefbotError, match="DISCORD_SHARDS"):
        DiscordPlatform(replace(settings, discord_bot_token=TOKEN, discord_shards=value))
