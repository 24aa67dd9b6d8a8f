"""The Discord platform, on discord.py: ``/brief``, DM questions, mentions and thread follow-ups."""

from .client import DiscordPlatform

__all__ = ["DiscordPlatform"]
