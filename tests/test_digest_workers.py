"""Digests composed in a worker process: the same digest as in threads, and no worker left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import timedelta

from adapters.fake import FakePlatform
from bot.runtime import Runtime
from bot.service import BriefingService
from conftest import NOW, REPO, SEEDS


def test_a_worker_process_composes_the_same_digest_as_threads(settings, store, clock):
    clock.now = NOW - timedelta(hours=2)  # the articles arrived before the 08:00 slot
    service = BriefingService(settings, store, clock=clock)
    assert service.ingest(str(SEEDS)).error is None
    digests = {}
    for processes in (0, 1):
        channel = store.channels.channel("fake", f"C-{processes}")
        store.channels.set_schedule(channel.id, "daily", "08:00", "UTC", NOW - timedelta(days=1))
        mode = BriefingService(replace(settings, digest_processes=processes), store, clock=clock)
        chat = FakePlatform(mode)
        runtime = Runtime(mode, [chat], start_scheduler=False)
        clock.now = NOW + timedelta(minutes=1)

        async def post():
            try:
                return await runtime.deliver_digest(channel.id), runtime.workers.pids
            finally:
                await runtime.stop()

        delivery, pids = asyncio.run(post())
        assert delivery.posted and len(pids) == processes and os.getpid() not in pids
        digests[processes] = chat.last.reply.briefing
        assert store.channels.deliveries(channel.id) == [("2026-11-25T08:00+0000", "posted")]
    assert digests[0].stories and digests[1].stories == digests[0].stories


def test_a_worker_process_leaves_when_its_bot_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import asyncio
        from datetime import datetime, timezone
        from bot.digest_workers import DigestWorkers
        from bot.service import BriefingService
        from bot.settings import Settings
        from bot.store import Store

        url = "sqlite:///{tmp_path / 'bot.db'}"
        settings = Settings.from_env({{"BRIEFBOT_DATABASE_URL": url, "BRIEFBOT_DATA_DIR": "{tmp_path}"}})
        workers = DigestWorkers(BriefingService(settings, Store.open(url)), 1)

        async def main():
            await workers.compose([], datetime.now(timezone.utc), ("slack",))
            print(*workers.pids, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    bot = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(bot.stdout.readline())
        assert _running(worker)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker), "the worker outlived the bot"
    finally:
        bot.kill()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
