"""Many workspaces: the OAuth install flow, installations in the project's database, tokens per team."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("slack_bolt")

import aiohttp  # noqa: E402
from slack_sdk.oauth.installation_store import Installation  # noqa: E402

from bot.errors import BriefbotError  # noqa: E402
from bot.replies import Reply  # noqa: E402
from bot.store.database import create_database_engine  # noqa: E402
from slack_fake import (  # noqa: E402
    run,
    seeded_bot,
    serving,
    BOT_USER,
    SIGNING_SECRET,
    SlackFake,
    block_kit_problems,
    command_body,
    eventually,
    running,
    signed_headers,
)

from adapters.slack import SlackPlatform  # noqa: E402
from adapters.slack.oauth import BOT_SCOPES, installation_store  # noqa: E402

CLIENT_ID = "1111.2222"


@pytest.fixture
def fake():
    with serving(SlackFake(bot_tokens={"xoxb-team-two": "T0TWO", "xoxb-team-three": "T0THREE"})) as fake:
        yield fake


@pytest.fixture
def oauth_settings(settings, fake, store):
    return replace(settings, slack_client_id=CLIENT_ID, slack_client_secret="client-secret",
                   slack_state_secret="state-secret", slack_signing_secret=SIGNING_SECRET,
                   slack_api_url=f"{fake.base_url}/api/", host="127.0.0.1", port=0)


@pytest.fixture
def bot(service):
    return seeded_bot(service)


async def get(platform, path: str, cookie: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{platform.port}{path}", headers=headers,
                               allow_redirects=False) as resp:
            return resp.status, resp.headers, await resp.text()


async def slash(platform, fake, team: str, text: str = ""):
    body = command_body(text, response_url=fake.response_url(), team=team)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{platform.port}/slack/events", data=body,
                                headers=signed_headers(body)) as resp:
            return resp.status


def test_install_redirects_to_slack_and_the_callback_stores_a_working_installation(oauth_settings, fake, bot):
    fake.oauth_codes["good-code"] = {
        "app_id": "A0TEST", "authed_user": {"id": "U0ADMIN"}, "scope": ",".join(BOT_SCOPES),
        "token_type": "bot", "access_token": "xoxb-team-two", "bot_user_id": BOT_USER,
        "team": {"id": "T0TWO", "name": "Team Two"}, "enterprise": None, "is_enterprise_install": False,
    }

    async def scenario():
        async with running(SlackPlatform(oauth_settings), bot) as platform:
            status, headers, _ = await get(platform, "/slack/install")
            assert status == 302
            location = urlsplit(headers["Location"])
            assert (location.scheme, location.netloc, location.path) == ("https", "slack.com", "/oauth/v2/authorize")
            query = parse_qs(location.query)
            assert query["client_id"] == [CLIENT_ID]
            assert set(query["scope"][0].split(",")) == set(BOT_SCOPES)
            state = query["state"][0]
            cookie = headers["Set-Cookie"].split(";")[0]
            assert cookie.endswith("=" + state)

            # a forged state is turned away, and so is the right state without its cookie
            refused = (400, 401)
            assert (await get(platform, f"/slack/oauth_redirect?code=good-code&state=x.{state}", cookie))[0] in refused
            assert (await get(platform, f"/slack/oauth_redirect?code=good-code&state={state}"))[0] in refused

            status, _, _ = await get(platform, f"/slack/oauth_redirect?code=good-code&state={state}", cookie)
            assert status == 200
            # the state was single-use
            assert (await get(platform, f"/slack/oauth_redirect?code=good-code&state={state}", cookie))[0] in refused

            assert await slash(platform, fake, "T0TWO") == 200
            post = (await eventually(lambda: fake.posts("C0GENERAL")))[0]
            assert post.token == "xoxb-team-two"
            assert block_kit_problems(post.args) == []

    run(scenario())


def test_an_installation_in_the_database_answers_commands_from_its_team_only(oauth_settings, fake, bot, store):
    engine = create_database_engine(oauth_settings.database_url)
    installation_store(oauth_settings, engine).save(Installation(
        app_id="A0TEST", team_id="T0THREE", user_id="U0ADMIN", bot_token="xoxb-team-three",
        bot_id="B0BOT", bot_user_id=BOT_USER, bot_scopes=list(BOT_SCOPES)))
    engine.dispose()

    async def scenario():
        async with running(SlackPlatform(oauth_settings), bot) as platform:
            assert await slash(platform, fake, "T0THREE", "help") == 200
            response = (await eventually(lambda: fake.responses))[0]
            assert "Usage:" in response["text"]
            assert await slash(platform, fake, "T0THREE") == 200
            post = (await eventually(lambda: fake.posts("C0GENERAL")))[0]
            assert post.token == "xoxb-team-three"
            # the channel is known to the core with its workspace, so follow-ups and digests find it
            await eventually(lambda: store.posted_articles("slack", "T0THREE:C0GENERAL", post.ts) is not None)
            ref = await platform.deliver("T0THREE:C0GENERAL", Reply(text="A notice.", public=True))
            assert ref == fake.posts()[-1].ts and fake.posts()[-1].token == "xoxb-team-three"
            with pytest.raises(BriefbotError, match="not installed"):
                await platform.deliver("T0NOBODY:C0GENERAL", Reply(text="A notice.", public=True))

            # a team that never installed the app is told to install it, and nothing is posted for it
            await slash(platform, fake, "T0NOBODY")
            refusal = (await eventually(lambda: fake.responses[1:]))[0]
            assert "install" in refusal["text"]
            assert len(fake.posts()) == 2

    run(scenario())


def test_replicas_starting_together_on_a_new_database_all_get_the_installation_tables(oauth_settings):
    """slack-sdk checks for its tables, then creates them: six replicas doing so at once must not
    collide (the first start of a scaled-out install)."""
    import threading

    from adapters.slack.oauth import oauth_settings as build_oauth_settings

    engines = [create_database_engine(oauth_settings.database_url) for _ in range(6)]
    barrier, errors = threading.Barrier(len(engines)), []

    def start(engine) -> None:
        barrier.wait()
        try:
            build_oauth_settings(oauth_settings, engine)
        except Exception as exc:  # noqa: BLE001 - collected, so the assertion names it
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert installation_store(oauth_settings, engines[0]).find_installation(enterprise_id=None,
                                                                                team_id="T0NONE") is None
    finally:
        for engine in engines:
            engine.dispose()


def test_oauth_needs_its_secrets(settings):
    with pytest.raises(BriefbotError, match="SLACK_STATE_SECRET"):
        SlackPlatform(replace(settings, slack_client_id=CLIENT_ID, slack_client_secret="s",
                              slack_signing_secret=SIGNING_SECRET))


def test_the_manifest_asks_for_what_the_app_uses():
    from pathlib import Path

    import adapters.slack

    manifest = (Path(adapters.slack.__file__).parent / "manifest.yml").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].rstrip() for line in manifest.splitlines()]
    start = lines.index("    bot:")
    scopes = []
    for line in lines[start + 1:]:
        if not line.startswith("      - "):
            break
        scopes.append(line.removeprefix("      - ").strip())
    assert sorted(scopes) == sorted(BOT_SCOPES)
    for needed in ("command: /brief", "should_escape: false", "socket_mode_enabled: true",
                   "messages_tab_enabled: true", "- app_mention", "- message.im", "- message.channels",
                   "- message.groups"):
        assert any(needed in line for line in lines), needed
