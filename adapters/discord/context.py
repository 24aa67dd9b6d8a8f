"""From Discord's events to the core's :class:`Context`: who asks, where, and with what rights.

Pure functions of discord.py objects and settings values; no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import discord

from bot.errors import BriefbotError
from bot.replies import Context

PLATFORM = "discord"
COMMAND_OPTIONS = frozenset({"query"})


def parse_shards(value: str | None) -> tuple[bool, int | None]:
    """``DISCORD_SHARDS``: unset (one connection), ``auto`` (Discord's count) or a number."""
    if value is None or not value.strip():
        return False, None
    value = value.strip().lower()
    if value == "auto":
        return True, None
    if value.isdigit() and int(value) > 0:
        return True, int(value)
    raise BriefbotError(f"DISCORD_SHARDS must be auto or a number of shards, not {value!r}.")


def admin_roles(value: str | None) -> frozenset[str]:
    """``DISCORD_ADMIN_ROLE``: role names or ids, comma-separated, compared case-insensitively."""
    return frozenset(part.strip().casefold() for part in (value or "").split(",") if part.strip())


def is_admin(permissions: discord.Permissions, roles: Iterable[discord.Role], admin_roles: frozenset[str]) -> bool:
    """Manage Server (or Administrator), or a role named in ``DISCORD_ADMIN_ROLE``."""
    if permissions.administrator or permissions.manage_guild:
        return True
    return any(role.name.casefold() in admin_roles or str(role.id) in admin_roles for role in roles)


def interaction_is_admin(interaction: discord.Interaction, admin_roles: frozenset[str]) -> bool:
    if interaction.guild_id is None:
        return True  # a direct message with the bot: the user's own channel
    roles = interaction.user.roles if isinstance(interaction.user, discord.Member) else ()
    return is_admin(interaction.permissions, roles, admin_roles)


def member_is_admin(author: discord.User | discord.Member, admin_roles: frozenset[str]) -> bool:
    if not isinstance(author, discord.Member):
        return True  # a direct message
    return is_admin(author.guild_permissions, author.roles, admin_roles)


def unknown_options(data: object) -> set[str]:
    """Option names in an interaction's data that ``/brief`` does not declare."""
    options = data.get("options") if isinstance(data, dict) else None
    return {str(o.get("name")) for o in options or () if isinstance(o, dict)} - COMMAND_OPTIONS


def follow_up_contexts(message: discord.Message, *, is_admin: bool) -> list[Context]:
    """Where a message may follow up on a briefing, most specific first, as the core finds
    briefings (by channel and message id): the message it replies to, then the thread it is
    in (a thread started from a briefing has the briefing's id, and the briefing was posted
    in the thread's parent)."""
    channel = message.channel
    user = str(message.author.id)
    out = []
    ref = message.reference
    if ref is not None and ref.message_id is not None:
        out.append(Context(PLATFORM, str(ref.channel_id or channel.id), user, is_admin, thread=str(ref.message_id)))
    if isinstance(channel, discord.Thread):
        out.append(Context(PLATFORM, str(channel.parent_id), user, is_admin, thread=str(channel.id)))
    return out


def strip_mentions(text: str, user_id: int, role_id: int | None = None) -> str:
    """The question without the mention(s) of the bot that addressed it."""
    pattern = rf"<@!?{user_id}>"
    if role_id is not None:
        pattern += rf"|<@&{role_id}>"
    return " ".join(re.sub(pattern, " ", text).split())
