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

    async def posted(self, ctx: Context, message_ref: str, reply: Reply) -> None:
        """Tell the core where a reply was posted, so its thread can hold follow-ups."""
        await asyncio.to_thread(self.service.record_post, ctx, message_ref, reply)


class Platform(Protocol):
    """A chat platform: runs until stopped, turning its events into core calls and back."""

    name: str

    async def run(self, bot: BriefBot) -> None: ...
