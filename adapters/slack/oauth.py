"""Multi-workspace installs: slack-sdk's SQLAlchemy stores in the project's database.

The stores are synchronous (they share the store's engine); the wrappers here call
them off the event loop so an install never blocks the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from logging import Logger

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from bot.settings import Settings
from bot.store.database import create_tables_once

# The bot scopes an install asks for; the manifest lists the same ones, with the reason for each.
BOT_SCOPES = ("app_mentions:read", "channels:history", "chat:write", "commands", "groups:history",
              "im:history", "users:read")
STATE_SECONDS = 600

log = logging.getLogger(__name__)


class ThreadedInstallationStore(AsyncInstallationStore):
    """A synchronous installation store, each call run in a worker thread."""

    def __init__(self, store: InstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> Logger:
        return self.store.logger

    async def async_save(self, installation: Installation):
        await asyncio.to_thread(self.store.save, installation)

    async def async_save_bot(self, bot: Bot):
        await asyncio.to_thread(self.store.save_bot, bot)

    async def async_find_bot(self, *, enterprise_id, team_id, is_enterprise_install=False) -> Bot | None:
        return await asyncio.to_thread(self.store.find_bot, enterprise_id=enterprise_id, team_id=team_id,
                                       is_enterprise_install=is_enterprise_install)

    async def async_find_installation(self, *, enterprise_id, team_id, user_id=None,
                                      is_enterprise_install=False) -> Installation | None:
        return await asyncio.to_thread(self.store.find_installation, enterprise_id=enterprise_id,
                                       team_id=team_id, user_id=user_id,
                                       is_enterprise_install=is_enterprise_install)

    async def async_delete_bot(self, *, enterprise_id, team_id) -> None:
        await asyncio.to_thread(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id, team_id, user_id=None) -> None:
        await asyncio.to_thread(self.store.delete_installation, enterprise_id=enterprise_id,
                                team_id=team_id, user_id=user_id)

    async def async_delete_all(self, *, enterprise_id, team_id):
        await asyncio.to_thread(self.store.delete_all, enterprise_id=enterprise_id, team_id=team_id)


class SignedStateStore(AsyncOAuthStateStore):
    """OAuth ``state`` values that are signed with the state secret and usable once.

    The signature turns away forged states before the database is read; the stored
    row makes each state single-use and lets it expire.
    """

    def __init__(self, store: OAuthStateStore, secret: str) -> None:
        self.store = store
        self._key = secret.encode("utf-8")

    @property
    def logger(self) -> Logger:
        return self.store.logger

    async def async_issue(self, *args, **kwargs) -> str:
        state = await asyncio.to_thread(self.store.issue)
        return f"{state}.{self._sign(state)}"

    async def async_consume(self, state: str) -> bool:
        value, _, signature = (state or "").rpartition(".")
        if not value or not hmac.compare_digest(signature.encode("utf-8", "replace"),
                                                self._sign(value).encode("ascii")):
            log.info("refused an OAuth state with a bad signature")
            return False
        return await asyncio.to_thread(self.store.consume, value)

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def installation_store(settings: Settings, engine: Engine) -> SQLAlchemyInstallationStore:
    """The installations table in the project's database (created if missing)."""
    store = SQLAlchemyInstallationStore(client_id=settings.slack_client_id or "", engine=engine)
    create_tables_once(engine, store.create_tables)
    return store


def oauth_settings(settings: Settings, engine: Engine) -> AsyncOAuthSettings:
    """The install flow at ``/slack/install`` and ``/slack/oauth_redirect``. Blocking: creates tables."""
    states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine)
    create_tables_once(engine, states.create_tables)
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=ThreadedInstallationStore(installation_store(settings, engine)),
        installation_store_bot_only=True,
        state_store=SignedStateStore(states, settings.slack_state_secret or ""),
        state_expiration_seconds=STATE_SECONDS,
        install_page_rendering_enabled=False,
    )
