"""The answers an adapter is still working on, so shutting down cancels them instead of leaking them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


class Inflight:
    """Runs each piece of work as a task it owns; :meth:`cancel_all` stops the ones still running."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future] = set()

    async def run(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        try:
            await task
        finally:
            self._tasks.discard(task)

    async def cancel_all(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
