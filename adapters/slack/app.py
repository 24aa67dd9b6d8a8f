"""The Slack platform: bolt's AsyncApp in HTTP mode or Socket Mode, one or many workspaces."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientError, web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BriefbotError
from bot.platform import BriefBot
from bot.replies import Reply
from bot.settings import Settings
from bot.store.database import create_database_engine

from .blocks import reply_messages
from .server import EVENTS_PATH, web_application
from .listeners import SlackListeners

log = logging.getLogger(__name__)


class _TokenInClient(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN itself and warns it is unused beside a client; ours holds it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


bolt_log = log.getChild("bolt")
bolt_log.addFilter(_TokenInClient())


class SlackPlatform:
    """Runs until cancelled: Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP mode.

    With ``SLACK_CLIENT_ID`` the app installs into many workspaces through OAuth and
    looks each workspace's token up in the database; the install routes are then served
    over HTTP in either mode.
    """

    name = "slack"

    def __init__(self, settings: Settings) -> None:
        _check(settings)
        self.settings = settings
        self.socket_mode = bool(settings.slack_app_token)
        self.multi_workspace = bool(settings.slack_client_id)
        self.ready = asyncio.Event()  # set once Slack can reach the app
        self.port: int | None = None  # the HTTP port actually bound, once ready
        self._app: AsyncApp | None = None

    def retry_handlers(self) -> list[AsyncRetryHandler]:
        """Connection errors are retried; HTTP 429 is waited out for its Retry-After."""
        return [AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3)]

    def web_client(self, token: str | None = None) -> AsyncWebClient:
        base_url = self.settings.slack_api_url
        return AsyncWebClient(token=token, base_url=base_url if base_url.endswith("/") else base_url + "/",
                              timeout=30, retry_handlers=self.retry_handlers())

    def build(self, bot: BriefBot, oauth: AsyncOAuthSettings | None = None) -> tuple[AsyncApp, SlackListeners]:
        """The bolt app with the bot's listeners; ``oauth`` for many workspaces."""
        app = AsyncApp(
            name="briefbot",
            logger=bolt_log,
            client=self.web_client(None if oauth else self.settings.slack_bot_token),
            signing_secret=self.settings.slack_signing_secret or "",
            oauth_settings=oauth,
            installation_store_bot_only=True if oauth else None,
            before_authorize=_ack_retries,
            process_before_response=False,
        )
        listeners = SlackListeners(bot, self.retry_handlers, team_scoped=oauth is not None)
        listeners.register(app)
        return app, listeners

    async def run(self, bot: BriefBot) -> None:
        engine = create_database_engine(self.settings.database_url) if self.multi_workspace else None
        runner: web.AppRunner | None = None
        handler: AsyncSocketModeHandler | None = None
        listeners: SlackListeners | None = None
        try:
            oauth = await self._oauth_settings(engine) if engine is not None else None
            app, listeners = self.build(bot, oauth)
            if oauth is None:
                await self._check_bot_token(app.client)
            if self.socket_mode:
                handler = AsyncSocketModeHandler(app, app_token=self.settings.slack_app_token)
                handler.client.wss_uri = await self._open_socket(handler)
                await handler.connect_async()
                log.info("Slack: connected in Socket Mode")
            if not self.socket_mode or oauth is not None:
                runner = web.AppRunner(web_application(app, self.settings.slack_signing_secret or "",
                                                       events=not self.socket_mode), access_log=None)
                await runner.setup()
                await web.TCPSite(runner, self.settings.host, self.settings.port).start()
                self.port = runner.addresses[0][1]
                log.info("Slack: serving %s on %s:%s", EVENTS_PATH, self.settings.host, self.port)
            self._app = app
            self.ready.set()
            await asyncio.Event().wait()  # until cancelled
        finally:
            self.ready.clear()
            self._app = None
            if listeners is not None:
                await listeners.close()
            if handler is not None:
                await handler.close_async()
            if runner is not None:
                await runner.cleanup()
            if engine is not None:
                engine.dispose()

    async def deliver(self, channel: str, reply: Reply) -> str | None:
        """Post what the bot says on its own (a digest, a notice); the ts of its first message."""
        await asyncio.wait_for(self.ready.wait(), 30)
        app = self._app
        if app is None:
            raise BriefbotError("Slack is not running")
        team, _, channel_id = channel.rpartition(":")
        client = app.client
        if app.installation_store is not None:  # many workspaces: this channel's own token
            installed = await app.installation_store.async_find_bot(enterprise_id=None, team_id=team)
            if installed is None:
                raise BriefbotError(f"briefbot is not installed in the Slack workspace {team or '?'}")
            client = self.web_client(installed.bot_token)
        ref: str | None = None
        for message in reply_messages(reply):
            result = await client.chat_postMessage(channel=channel_id, **message)
            ref = ref or str(result["ts"])
        return ref

    async def _oauth_settings(self, engine) -> AsyncOAuthSettings:
        from .oauth import oauth_settings  # slack-sdk's SQLAlchemy stores: only for many workspaces

        return await asyncio.to_thread(oauth_settings, self.settings, engine)

    async def _check_bot_token(self, client: AsyncWebClient) -> None:
        """Fail at start-up, in one line, when the token is wrong or Slack is unreachable."""
        try:
            await client.auth_test()
        except SlackApiError as exc:
            raise BriefbotError(f"Slack refused SLACK_BOT_TOKEN: {exc.response.get('error')}") from None
        except (ClientError, OSError, asyncio.TimeoutError) as exc:
            raise BriefbotError(f"Cannot reach the Slack API at {client.base_url}: {exc}") from None

    async def _open_socket(self, handler: AsyncSocketModeHandler) -> str:
        try:
            return await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            raise BriefbotError(f"Slack refused SLACK_APP_TOKEN: {exc.response.get('error')}") from None
        except (ClientError, OSError, asyncio.TimeoutError) as exc:
            raise BriefbotError(f"Cannot reach the Slack API for Socket Mode: {exc}") from None


async def _ack_retries(req, next):
    """Slack's retries (X-Slack-Retry-Num) are acknowledged and dropped: one event, one answer.

    Socket Mode reports the first delivery as attempt 0, so only a number above 0 is a retry.
    """
    attempt = (req.headers.get("x-slack-retry-num") or ["0"])[0].strip()
    if attempt not in ("", "0"):
        return BoltResponse(status=200, body="")
    return await next()


def _check(settings: Settings) -> None:
    """The variables each way of running needs, named when missing."""
    missing: list[str] = []
    if settings.slack_client_id:
        missing += [name for name, value in (("SLACK_CLIENT_SECRET", settings.slack_client_secret),
                                             ("SLACK_STATE_SECRET", settings.slack_state_secret)) if not value]
    elif not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if (not settings.slack_app_token or settings.slack_client_id) and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        raise BriefbotError(f"Slack needs {' and '.join(missing)} as well (see docs/slack.md).")
