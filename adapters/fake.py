"""A platform for tests: records every post, so a test reads like a conversation."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.render import reply_text
from bot.replies import Context, Reply
from bot.service import BriefingService


@dataclass(frozen=True)
class Post:
    ref: str
    channel: str
    text: str
    reply: Reply
    thread: str | None = None


class FakePlatform:
    """Drives the core synchronously, as a chat user would: ``chat.say("/brief")``."""

    name = "fake"

    def __init__(self, service: BriefingService, *, channel: str = "C-general", user: str = "U-alice",
                 is_admin: bool = False) -> None:
        self.service = service
        self.context = Context(platform="fake", channel=channel, user=user, is_admin=is_admin)
        self.posted: list[Post] = []

    def say(self, text: str, *, thread: str | None = None) -> Post:
        """A user types ``text``: a ``/brief`` command or a question, optionally in a thread.

        Returns the bot's post; a briefing's post ref can be used as a ``thread`` later.
        """
        ctx = replace(self.context, thread=thread)
        if text.startswith("/brief"):
            reply = self.service.handle_command(ctx, text[len("/brief"):])
        else:
            reply = self.service.handle_question(ctx, text)
        post = Post(f"m{len(self.posted) + 1}", ctx.channel, reply_text(reply), reply, thread)
        self.service.record_post(ctx, post.ref, reply)
        self.posted.append(post)
        return post

    async def deliver(self, channel: str, reply: Reply) -> str | None:
        """The bot posts on its own (a scheduled digest, a notice)."""
        post = Post(f"m{len(self.posted) + 1}", channel, reply_text(reply), reply)
        self.posted.append(post)
        return post.ref

    async def run(self, bot) -> None:  # pragma: no cover - tests drive the fake with say()
        return None

    @property
    def last(self) -> Post:
        return self.posted[-1]
