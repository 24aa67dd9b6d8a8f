"""Slack in Socket Mode: the real bolt handler on a loopback websocket that speaks Slack's protocol."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

pytest.importorskip("slack_bolt")

from bot.errors import BriefbotError  # noqa: E402
from slack_fake import (  # noqa: E402
    all_text,
    channel_message,
    run,
    seeded_bot,
    serving,
    APP_TOKEN,
    BOT_TOKEN,
    SlackFake,
    block_kit_problems,
    command_payload,
    dm_event,
    event_payload,
    eventually,
    mention_event,
    running,
)

from adapters.slack import SlackPlatform  # noqa: E402


@pytest.fixture
def fake():
    with serving(SlackFake()) as fake:
        yield fake


@pytest.fixture
def socket_settings(settings, fake):
    # No signing secret and no port: Socket Mode needs neither.
    return replace(settings, slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN,
                   slack_api_url=f"{fake.base_url}/api/")


@pytest.fixture
def bot(service):
    return seeded_bot(service)


def envelope(kind: str, payload: dict, n: int, **extra) -> dict:
    return {"envelope_id": f"env-{n}", "type": kind, "payload": payload,
            "accepts_response_payload": kind == "slash_commands", **extra}


def ack_for(fake: SlackFake, n: int):
    return next((a for a in fake.acks if a.get("envelope_id") == f"env-{n}"), None)


def test_a_command_over_the_socket_is_acked_at_once_and_the_briefing_posted(socket_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(socket_settings), bot) as platform:
            assert platform.port is None  # nothing listens for HTTP in Socket Mode
            assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN
            sent = time.monotonic()
            fake.send_envelope(envelope("slash_commands", command_payload(response_url=fake.response_url()), 1))
            await eventually(lambda: ack_for(fake, 1))
            assert time.monotonic() - sent < 3
            post = (await eventually(lambda: fake.posts("C0GENERAL")))[0]
            assert block_kit_problems(post.args) == [] and post.token == BOT_TOKEN

            fake.send_envelope(envelope("slash_commands", command_payload("help", response_url=fake.response_url()), 2))
            response = (await eventually(lambda: fake.responses))[0]
            assert response["response_type"] == "ephemeral" and "Usage:" in response["text"]

    run(scenario())


def test_dm_and_mention_over_the_socket_and_retries_answered_once(socket_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(socket_settings), bot):
            dm = event_payload(dm_event("What truce did Macron and Starmer propose?"))
            fake.send_envelope(envelope("events_api", dm, 1, retry_attempt=0, retry_reason=""))
            answer = (await eventually(lambda: fake.posts("D0ALICE")))[0].args
            assert "30-day partial truce" in answer["text"] + str(answer["blocks"])
            fake.send_envelope(envelope("events_api", dm, 2, retry_attempt=1, retry_reason="timeout"))
            await eventually(lambda: ack_for(fake, 2))

            mention = event_payload(mention_event("What truce was proposed?", ts="1790000500.000100"))
            fake.send_envelope(envelope("events_api", mention, 3, retry_attempt=0, retry_reason=""))
            reply = (await eventually(lambda: fake.posts("C0GENERAL")))[0].args
            assert reply["thread_ts"] == "1790000500.000100"
            await asyncio.sleep(0.2)
            assert len(fake.posts("D0ALICE")) == 1  # the retry was acknowledged, not answered again

    run(scenario())


def test_two_replicas_connected_answer_as_one_bot(socket_settings, fake, bot, settings, clock):
    """Slack spreads envelopes over every open connection: a briefing posted by one replica is
    followed up in its thread through the other, which finds the briefing in the database."""
    from bot.platform import BriefBot
    from bot.service import BriefingService
    from bot.store import Store

    other_store = Store.open(settings.database_url)
    other = BriefBot(BriefingService(settings, other_store, clock=clock))

    async def scenario():
        async with running(SlackPlatform(socket_settings), bot), \
                running(SlackPlatform(socket_settings), other):
            await eventually(lambda: len(fake.calls_to("apps.connections.open")) == 2)
            fake.send_envelope(envelope("slash_commands", command_payload(
                "Starmer", response_url=fake.response_url()), 1), connection=0)
            ts = (await eventually(lambda: fake.posts("C0GENERAL")))[0].ts
            question = event_payload(channel_message("What truce was proposed?", ts="1790000400.4", thread_ts=ts))
            fake.send_envelope(envelope("events_api", question, 2, retry_attempt=0, retry_reason=""), connection=1)
            reply = (await eventually(lambda: fake.posts("C0GENERAL")[1:]))[0].args
            assert reply["thread_ts"] == ts and "30-day partial truce" in all_text(reply)
            for n in (1, 2):  # each envelope acknowledged once, on the connection it came by
                await eventually(lambda n=n: ack_for(fake, n))
                assert [a["envelope_id"] for a in fake.acks].count(f"env-{n}") == 1
                assert fake.acked_on[f"env-{n}"] is fake.sent_on[f"env-{n}"]
            await asyncio.sleep(0.2)
            assert len(fake.posts("C0GENERAL")) == 2

    try:
        run(scenario())
    finally:
        other_store.close()


def test_cancelling_the_platform_closes_the_socket_promptly(socket_settings, fake, bot):
    async def scenario():
        task = asyncio.create_task(SlackPlatform(socket_settings).run(bot))
        await eventually(lambda: fake.connected)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 2
        await eventually(lambda: not fake.connected)

    run(scenario())


def test_a_refused_app_token_stops_start_up_with_one_line(socket_settings, bot):
    async def scenario():
        with pytest.raises(BriefbotError, match="SLACK_APP_TOKEN.*invalid_auth"):
            await SlackPlatform(replace(socket_settings, slack_app_token="xapp-wrong")).run(bot)

    run(scenario())
