"""The seam between the core and a chat platform: one method to run, async calls into the core."""

from __future__ import annotations

import asyncio
from typing import Protocol

from .replies import Context, Reply
from .service import BriefingService


class BriefBot:
    """The core as an async platform adapter sees it; heavy work runs off the event loop."""

    def __init__(self, service: BriefingService) -> None:
        self.service = service

    async def command(self, ctx: Context, text: str) -> Reply:
        return await asyncio.to_thread(self.service.handle_command, ctx, text)

    async def question(self, ctx: Context, text: str) -> Reply:
        return await asyncio.to_thread(self.service.handle_question, ctx, text)

    async def is_briefing(self, ctx: Context) -> bool:
        """Whether ``ctx.thread`` is a briefing the bot posted (so a message there is a follow-up)."""
        if not ctx.thread:
            return False
        found = await asyncio.to_thread(self.service.store.posted_articles, ctx.platform, ctx.channel, ctx.thread)
        return found is not None

    async def posted(self, ctx: Context, message_ref: str, reply: Reply) -> None:
        """Tell the core where a reply was posted, so its thread can hold follow-ups."""
        await asyncio.to_thread(self.service.record_post, ctx, message_ref, reply)


class Platform(Protocol):
    """A chat platform: runs until stopped, turning its events into core calls and back.

    ``deliver`` posts something the bot says on its own (a scheduled digest, a notice)
    to a channel, given the platform's own channel id, and returns the posted message's
    reference (used to recognise replies in its thread), or None.
    """

    name: str

    async def run(self, bot: BriefBot) -> None: ...

    async def deliver(self, channel: str, reply: Reply) -> str | None: ...
