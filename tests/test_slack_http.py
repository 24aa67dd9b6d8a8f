"""Slack in HTTP mode, end to end: signed requests in, the real bolt app, a loopback Slack out."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace

import pytest

pytest.importorskip("slack_bolt")

import aiohttp  # noqa: E402

from bot.articles import Article  # noqa: E402
from bot.errors import BriefbotError  # noqa: E402
from bot.platform import BriefBot  # noqa: E402
from bot.service import BriefingService  # noqa: E402
from conftest import SEED_ARTICLE  # noqa: E402
from slack_fake import (  # noqa: E402
    all_text,
    run,
    seeded_bot,
    serving,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    SlackFake,
    block_kit_problems,
    channel_message,
    command_body,
    dm_event,
    event_payload,
    eventually,
    mention_event,
    running,
    signed_headers,
)
from summarizer import default_summarizer  # noqa: E402

from adapters.slack import SlackPlatform  # noqa: E402
from adapters.slack.listeners import FAILED  # noqa: E402


@pytest.fixture
def fake():
    with serving(SlackFake()) as fake:
        yield fake


@pytest.fixture
def slack_settings(settings, fake):
    return replace(settings, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                   slack_api_url=f"{fake.base_url}/api/", host="127.0.0.1", port=0)


@pytest.fixture
def bot(service):
    return seeded_bot(service)


async def post(platform, body: str | bytes, headers: dict[str, str], path: str = "/slack/events"):
    """POST to the running app; (status, body text, seconds taken)."""
    start = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{platform.port}{path}", data=body, headers=headers) as resp:
            return resp.status, await resp.text(), time.monotonic() - start


async def slash(platform, fake, text: str = "", **kwargs):
    body = command_body(text, response_url=kwargs.pop("response_url", fake.response_url()), **kwargs)
    return await post(platform, body, signed_headers(body))


async def event(platform, payload: dict, **headers: str):
    body = json.dumps(payload)
    return await post(platform, body, {**signed_headers(body, content_type="application/json"), **headers})


# -- /brief ---------------------------------------------------------------------------------


def test_a_signed_brief_is_acked_at_once_and_the_briefing_is_posted_as_block_kit(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            status, _, took = await slash(platform, fake)
            assert status == 200 and took < 3
            post_ = (await eventually(lambda: fake.posts("C0GENERAL")))[0]
            assert post_.token == BOT_TOKEN
            assert block_kit_problems(post_.args) == []
            assert post_.args["blocks"][0]["type"] == "header"
            assert "Starmer" in all_text(post_.args)
            assert fake.responses == []  # the bot is in the channel: no response_url needed

    run(scenario())


def test_without_access_to_the_channel_the_briefing_arrives_at_response_url_in_channel(slack_settings, fake, bot):
    fake.not_in_channel.add("C0GENERAL")

    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            status, _, took = await slash(platform, fake, "Starmer")
            assert status == 200 and took < 3
            response = (await eventually(lambda: fake.responses))[0]
            assert response["response_type"] == "in_channel"
            assert block_kit_problems(response) == []
            assert "Starmer" in all_text(response)

    run(scenario())


def test_the_ack_does_not_wait_for_a_slow_summarization(slack_settings, fake, settings, store, clock):
    gate = threading.Event()

    class GatedSummarizer:
        name = "extractive"

        def __init__(self):
            self.inner = default_summarizer()

        def summarize(self, document, budget):
            gate.wait(10)
            return self.inner.summarize(document, budget)

    service = BriefingService(settings, store, summarizer=GatedSummarizer(), clock=clock)
    assert service.ingest(str(SEED_ARTICLE)).error is None

    async def scenario():
        async with running(SlackPlatform(slack_settings), BriefBot(service)) as platform:
            status, _, took = await slash(platform, fake)
            assert status == 200 and took < 1.5  # acknowledged while the summarizer is still blocked
            await asyncio.sleep(0.2)
            assert fake.posts() == [] and fake.responses == []
            gate.set()
            await eventually(lambda: fake.posts("C0GENERAL"))

    try:
        run(scenario())
    finally:
        gate.set()


def test_help_errors_and_refusals_are_ephemeral(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            for text, expected in [("help", "/brief &lt;url&gt;"),
                                   ("x" * 10_000, "Usage:"),
                                   ("http://169.254.169.254/latest/meta-data/", "169.254.169.254")]:
                before = len(fake.responses)
                status, _, took = await slash(platform, fake, text)
                assert status == 200 and took < 3
                response = (await eventually(lambda: fake.responses[before:]))[0]
                assert response["response_type"] == "ephemeral"
                assert expected in all_text(response)
            assert fake.posts() == []

    run(scenario())


def test_only_workspace_admins_change_a_channel_schedule_and_anyone_their_own_dm(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            await slash(platform, fake, "schedule off")
            refused = (await eventually(lambda: fake.responses))[0]
            assert "Only people who manage this channel" in refused["text"]
            fake.admins.add("U0ADMIN")
            await slash(platform, fake, "schedule off", user="U0ADMIN")
            done = (await eventually(lambda: fake.responses[1:]))[0]
            assert "The digest here is off" in done["text"]
            await slash(platform, fake, "schedule off", channel="D0ALICE")
            assert "The digest here is off" in (await eventually(lambda: fake.responses[2:]))[0]["text"]
            assert [c.args["user"] for c in fake.calls_to("users.info")] == ["U0ALICE", "U0ADMIN"]

    run(scenario())


def test_the_bot_delivers_digests_on_its_own_and_returns_the_first_ts(slack_settings, fake, bot, service):
    async def scenario():
        platform = SlackPlatform(slack_settings)
        async with running(platform, bot):
            reply = await bot.command(service.context_for("slack", "C0GENERAL"), "")
            ref = await platform.deliver("C0GENERAL", reply)
            post = fake.posts("C0GENERAL")[0]
            assert ref == post.ts and block_kit_problems(post.args) == []

    run(scenario())


def test_the_command_works_under_another_name(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            assert (await slash(platform, fake, "help", command="/news"))[0] == 200
            assert "Usage:" in all_text((await eventually(lambda: fake.responses))[0])

    run(scenario())


def test_a_payload_without_response_url_gets_an_ephemeral_explanation_in_the_ack(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            status, text, _ = await slash(platform, fake, "help", response_url=None)
            assert status == 200
            ack = json.loads(text)
            assert ack["response_type"] == "ephemeral" and "response URL" in ack["text"]

    run(scenario())


def test_a_failure_after_the_ack_still_reaches_the_user(slack_settings, fake, bot):
    fake.failing_hooks = 1  # the answer itself cannot be delivered

    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            await slash(platform, fake, "help")
            responses = await eventually(lambda: fake.responses[1:])
            assert responses[0]["response_type"] == "ephemeral"
            assert "something went wrong" in responses[0]["text"]

    run(scenario())
    assert FAILED.startswith("Sorry")


def test_a_long_briefing_is_split_across_valid_messages_each_a_followup_thread(settings, store, clock, fake):
    settings = replace(settings, max_stories=70)
    service = BriefingService(settings, store, clock=clock)
    def text(n: int) -> str:
        return " ".join(f"Sentence {i} of story {n} says that the council voted on budget item {i} after a "
                        f"long debate about the harbour." for i in range(12))

    service.add([Article(title=f"Council story {n}", url=f"https://news.example/{n}", text=text(n),
                         published=clock.now) for n in range(60)])
    slack_settings = replace(settings, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=f"{fake.base_url}/api/", host="127.0.0.1", port=0)

    async def scenario():
        async with running(SlackPlatform(slack_settings), BriefBot(service)) as platform:
            await slash(platform, fake)

            def everything_posted():
                text = "".join(all_text(p.args) for p in fake.posts())
                return all(f"Council story {n}*" in text for n in range(60))

            await eventually(everything_posted, timeout=10)
            posts = fake.posts()
            assert len(posts) >= 2
            assert all(block_kit_problems(p.args) == [] for p in posts)
            # a reply in the thread of any part is a follow-up about this briefing
            for part in (posts[0], posts[-1]):
                await eventually(lambda: store.posted_articles("slack", "C0GENERAL", part.ts) is not None)

    run(scenario())


# -- questions --------------------------------------------------------------------------------


def test_a_direct_message_is_answered_in_the_dm_with_sources(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            status, _, _ = await event(platform, event_payload(dm_event("What truce did Macron and Starmer propose?")))
            assert status == 200
            answer = (await eventually(lambda: fake.posts("D0ALICE")))[0].args
            assert "30-day partial truce" in all_text(answer)
            assert "Source" in all_text(answer)
            assert "thread_ts" not in answer

    run(scenario())


def test_a_mention_is_answered_in_its_thread(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            question = mention_event("What truce did Macron propose?", ts="1790000300.000100")
            await event(platform, event_payload(question))
            answer = (await eventually(lambda: fake.posts("C0GENERAL")))[0].args
            assert answer["thread_ts"] == "1790000300.000100"
            assert "30-day partial truce" in all_text(answer)

    run(scenario())


def test_a_reply_in_a_briefing_thread_is_a_follow_up_and_other_chatter_is_ignored(slack_settings, fake, bot, service):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            await slash(platform, fake, "Starmer")
            ts = (await eventually(lambda: fake.posts("C0GENERAL")))[0].ts
            await eventually(lambda: service.store.posted_articles("slack", "C0GENERAL", ts) is not None)
            service.add([Article(title="Truce talks elsewhere", url="https://other.example/truce",
                                 text="A 30-day partial truce was also proposed in another war entirely. "
                                      "Officials in that war said the truce would start on Monday.")])
            # chatter: a top-level message and a reply in someone else's thread
            await event(platform, event_payload(channel_message("What truce was proposed?", ts="1790000400.1")))
            await event(platform, event_payload(channel_message("What truce was proposed?", ts="1790000400.3",
                                                                thread_ts="1790000400.2")))
            await event(platform, event_payload(channel_message("What truce was proposed?", ts="1790000400.4",
                                                                thread_ts=ts)))
            reply = (await eventually(lambda: fake.posts("C0GENERAL")[1:]))[0].args
            assert reply["thread_ts"] == ts
            assert "30-day partial truce" in all_text(reply)
            assert "other.example" not in all_text(reply)  # answered from the briefing's stories only
            await asyncio.sleep(0.2)
            assert len(fake.posts("C0GENERAL")) == 2

    run(scenario())


def test_own_and_other_bots_messages_edits_and_retries_get_no_answer(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            ignored = [
                dm_event("What truce was proposed?", user=BOT_USER),
                dm_event("What truce was proposed?", user="U0OTHER", bot_id="B0OTHER"),
                dm_event("What truce was proposed?", subtype="bot_message", bot_id=BOT_ID),
                dm_event("What truce was proposed?", subtype="message_changed"),
            ]
            for e in ignored:
                assert (await event(platform, event_payload(e)))[0] == 200
            original = event_payload(dm_event("What truce was proposed?"))
            assert (await event(platform, original))[0] == 200
            for attempt in ("1", "2"):
                status, _, _ = await event(platform, original, **{"X-Slack-Retry-Num": attempt,
                                                                   "X-Slack-Retry-Reason": "http_timeout"})
                assert status == 200
            await eventually(lambda: fake.posts())
            await asyncio.sleep(0.3)
            assert len(fake.posts()) == 1

    run(scenario())


def test_http_429_is_waited_out_for_its_retry_after(slack_settings, fake, bot):
    fake.rate_limited["chat.postMessage"] = 1
    fake.retry_after = 1

    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            await event(platform, event_payload(dm_event("What truce was proposed?")))
            await eventually(lambda: len(fake.posts()) == 2, timeout=6)
            first, second = fake.posts()
            assert second.at - first.at >= 1.0
            assert "30-day partial truce" in all_text(second.args)

    run(scenario())


# -- bad input -------------------------------------------------------------------------------


def test_bad_requests_get_the_right_status_and_the_app_keeps_serving(slack_settings, fake, bot):
    async def scenario():
        async with running(SlackPlatform(slack_settings), bot) as platform:
            body = command_body("help", response_url=fake.response_url())
            good = signed_headers(body)
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            cases = [
                (signed_headers(body, secret="forged"), body, 401),
                (signed_headers(body, timestamp=int(time.time()) - 600), body, 401),
                (form, body, 401),
                ({**form, "X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""}, body, 401),
                ({**good, "X-Slack-Request-Timestamp": "soon"}, body, 401),
                ({**good, "X-Slack-Signature": "v0=\u00e9\u00e9"}, body, 401),
                ({**good, "X-Slack-Signature": good["X-Slack-Signature"][:-1] + "0"}, body + "&x=1", 401),
            ]
            for headers, data, expected in cases:
                assert (await post(platform, data, headers))[0] == expected, headers
            for data, content_type in [("just some words", "text/plain"),
                                       ("{not json", "application/json"),
                                       ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
                                       ("user_id=U1&text=hi", "application/x-www-form-urlencoded")]:
                status, _, _ = await post(platform, data, signed_headers(data, content_type=content_type))
                assert status == 400, data
            bad_bytes = b"command=%2Fbrief&text=\xff\xfe"
            assert (await post(platform, bad_bytes, signed_headers(bad_bytes)))[0] == 400
            # still serving
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{platform.port}/healthz") as resp:
                    assert resp.status == 200
            assert (await post(platform, body, signed_headers(body)))[0] == 200
            await eventually(lambda: fake.responses)
            challenge = {"token": "legacy", "challenge": "abc123", "type": "url_verification"}
            status, text, _ = await event(platform, challenge)
            assert status == 200 and "abc123" in text

    run(scenario())


def test_missing_configuration_is_named(settings):
    with pytest.raises(BriefbotError, match="SLACK_SIGNING_SECRET"):
        SlackPlatform(replace(settings, slack_bot_token=BOT_TOKEN))
    with pytest.raises(BriefbotError, match="SLACK_CLIENT_SECRET and SLACK_STATE_SECRET"):
        SlackPlatform(replace(settings, slack_client_id="1.2", slack_signing_secret="s"))


def test_a_refused_bot_token_stops_start_up_with_one_line(slack_settings, bot):
    async def scenario():
        platform = SlackPlatform(replace(slack_settings, slack_bot_token="xoxb-wrong"))
        with pytest.raises(BriefbotError, match="invalid_auth"):
            await platform.run(bot)

    run(scenario())
