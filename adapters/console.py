"""The console platform: the terminal is one channel; stdin lines are commands or questions."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import IO

from bot.platform import BriefBot
from bot.render import reply_text
from bot.replies import Context, Reply

PROMPT_HELP = "Type /brief, /brief <url>, /brief <topic>, /brief help, or a question. Ctrl-D quits."


class ConsolePlatform:
    """Posts the latest briefing, then answers each line typed on stdin until EOF."""

    name = "console"

    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 *, post_digest: bool = True, stay: bool = False) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.post_digest = post_digest
        self.stay = stay  # keep running after end of input, for scheduled digests
        self.context = Context(platform="console", channel="console", user="you", is_admin=True)
        self.posts = 0

    async def run(self, bot: BriefBot) -> None:
        if self.post_digest:
            self.post(await bot.command(self.context, ""))
        if self.stdin.isatty():
            self.write(PROMPT_HELP)
        async for line in self._lines():
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            if text.startswith("/brief"):
                reply = await bot.command(self.context, text[len("/brief"):])
            elif text.startswith("/"):
                reply = Reply(text=f"Unknown command {text.split()[0]}. {PROMPT_HELP}", error=True)
            else:
                reply = await bot.question(self.context, text)
            self.post(reply)
        if self.stay:
            await asyncio.Event().wait()

    def post(self, reply: Reply) -> None:
        self.write(reply_text(reply))

    async def deliver(self, channel: str, reply: Reply) -> str | None:
        """Print what the bot posts on its own; a post to another channel than the terminal's is
        headed ``[channel]`` (channels made in the database, e.g. on a shared server)."""
        self.posts += 1
        if channel != self.context.channel:
            self.write(f"[{channel}] " + reply_text(reply))
        else:
            self.post(reply)
        return f"console-{self.posts}"

    def write(self, text: str) -> None:
        self.stdout.write(text + "\n\n")
        self.stdout.flush()

    async def _lines(self):
        """Lines of stdin, read by a daemon thread so Ctrl-C never waits on a blocked read."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def reader() -> None:
            try:
                for line in self.stdin:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except (OSError, ValueError, UnicodeDecodeError):
                pass
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=reader, name="console-stdin", daemon=True).start()
        while (line := await queue.get()) is not None:
            yield line
