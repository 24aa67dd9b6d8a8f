"""Platform adapters: each converts one chat platform's events to core calls and back.

Which platforms run is decided here, from the settings, in one explicit place. Each
adapter module imports its SDK itself, so a missing extra fails with its install line
only when that platform is configured.
"""

from __future__ import annotations

from bot.extras import require
from bot.platform import Platform
from bot.settings import Settings


def configured_platforms(settings: Settings, *, stay: bool = False) -> list[Platform]:
    """The platforms whose credentials are set; the console when there are none."""
    platforms: list[Platform] = []
    if settings.slack_bot_token or settings.slack_client_id:
        require("slack_bolt", "slack", "Slack")
        from .slack import SlackPlatform

        platforms.append(SlackPlatform(settings))
    if settings.discord_bot_token:
        require("discord", "discord", "Discord")
        from .discord import DiscordPlatform

        platforms.append(DiscordPlatform(settings, message_content=settings.discord_message_content))
    if not platforms:
        from .console import ConsolePlatform

        platforms.append(ConsolePlatform(stay=stay))
    return platforms
