"""Several replicas on one PostgreSQL database are one bot: one scheduler, each slot posted once.

The first test runs three ``briefbot run --stay`` processes on one database with fifty
scheduled channels, kills the one holding the scheduler lock with SIGKILL just before the
slot, and checks that every channel gets exactly one digest; then it restarts the killed
replica, hands the lock over once more, and checks that nothing is posted again. The others
run in-process: a schedule set on a standby reaches the leader, a claim abandoned by a dead
replica is taken over after its lease, and a PostgreSQL connection cut for a few seconds is
retried rather than fatal.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.fake import FakePlatform
from bot.leadership import LOCK_KEY
from bot.runtime import Runtime
from bot.service import BriefingService
from bot.settings import Settings
from bot.store import Store
from conftest import REPO, SEEDS
from postgres import fresh_database, need_postgres

BRIEFBOT = Path(sys.executable).parent / "briefbot"
CHANNELS = 50
DIGEST = re.compile(r"^\[(c\d\d)\] ", re.MULTILINE)


@pytest.fixture
def pg_url():
    need_postgres()
    with fresh_database() as url:
        yield url


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings.from_env({"BRIEFBOT_DATA_DIR": str(tmp_path / "data"), "BRIEFBOT_SEEDS": str(SEEDS),
                              "BRIEFBOT_DATABASE_URL": url})


class Replica:
    """A ``briefbot run --stay`` process (console platform); stdout and stderr collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([str(BRIEFBOT), "run", "--stay"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.decode())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return "".join(self.out)

    def digests(self) -> list[str]:
        return DIGEST.findall(self.text())

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(15)

    def __repr__(self) -> str:
        return f"<replica {self.pid} rc={self.proc.poll()} stderr={''.join(self.err)[-1500:]!r}>"


def leader_pids(url: str) -> list[int]:
    """The process ids (from the application name) of the connections holding the scheduler lock."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            names = conn.execute(text(
                "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                "where l.locktype = 'advisory' and l.granted and l.classid = 0 and l.objid = :key "
                "and l.objsubid = 1 and l.database = (select oid from pg_database where datname = current_database())"),
                {"key": LOCK_KEY}).scalars().all()
    finally:
        engine.dispose()
    return [int(name.rpartition(":")[2]) for name in names if name.rpartition(":")[2].isdigit()]


def posted(url: str) -> list[tuple[str, str, str]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "select c.external_id, d.slot, d.status from deliveries d join channels c on c.id = d.channel_id "
                "order by c.external_id, d.id")).all()]
    finally:
        engine.dispose()


def wait_until(condition, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def test_three_replicas_post_each_slot_once_when_the_leader_is_killed_before_it(tmp_path, pg_url):
    now = datetime.now(timezone.utc)
    slot = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (slot - now).total_seconds() < 25:
        slot += timedelta(minutes=1)
    key = f"{slot:%Y-%m-%dT%H:%M}+0000"

    # The database as an operator would leave it: migrated, articles stored, fifty channels scheduled.
    settings = _settings(tmp_path, pg_url)
    store = Store.open(pg_url)
    try:
        assert BriefingService(settings, store).ingest(str(SEEDS)).error is None
        for i in range(CHANNELS):
            channel = store.channels.channel("console", f"c{i:02d}")
            store.channels.set_schedule(channel.id, "daily", f"{slot:%H:%M}", "UTC", now)
    finally:
        store.close()

    empty = tmp_path / "no-seeds"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_", "DISCORD_", "OPENAI_"))}
    env.update(BRIEFBOT_DATABASE_URL=pg_url, BRIEFBOT_DATA_DIR=str(tmp_path / "data"), BRIEFBOT_SEEDS=str(empty))
    replicas = [Replica(env) for _ in range(3)]
    try:
        assert all(wait_until(lambda r=r: "Latest briefing" in r.text(), 40) for r in replicas), replicas
        by_pid = {r.pid: r for r in replicas}
        leaders = wait_until(lambda: [p for p in leader_pids(pg_url) if p in by_pid], 15)
        assert len(leaders) == 1, (leader_pids(pg_url), replicas)

        time.sleep(max(0.0, (slot - datetime.now(timezone.utc)).total_seconds() - 2))
        leaders = leader_pids(pg_url)
        assert len(leaders) == 1 and leaders[0] in by_pid
        killed = by_pid[leaders[0]]
        killed.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        assert posted(pg_url) == [], "nothing was due before the slot"

        survivors = [r for r in replicas if r is not killed]
        new = wait_until(lambda: [p for p in leader_pids(pg_url) if p in by_pid and p != killed.pid], 15)
        assert len(new) == 1, (leader_pids(pg_url), replicas)
        took_over = time.monotonic() - killed_at
        assert wait_until(lambda: len([r for r in posted(pg_url) if r[2] == "posted"]) == CHANNELS, 60), \
            (posted(pg_url), replicas)
        expected = [(f"c{i:02d}", key, "posted") for i in range(CHANNELS)]
        assert posted(pg_url) == expected
        assert wait_until(lambda: sum(len(r.digests()) for r in replicas) >= CHANNELS, 10)
        counts = _counts(replicas)
        assert counts == {f"c{i:02d}": 1 for i in range(CHANNELS)}, counts
        assert killed.digests() == []
        assert sum(len(r.digests()) for r in survivors) == CHANNELS
        assert took_over < 12, took_over

        # Restart the killed replica; then hand the lock over once more, which runs a catch-up.
        restarted = Replica(env)
        replicas.append(restarted)
        by_pid[restarted.pid] = restarted
        assert wait_until(lambda: "Latest briefing" in restarted.text(), 40), restarted
        leader = by_pid[new[0]]
        leader.stop(signal.SIGTERM)
        assert leader.proc.returncode == 0, leader
        assert wait_until(lambda: [p for p in leader_pids(pg_url) if p in by_pid and p != leader.pid], 15), \
            replicas
        time.sleep(3)  # the new leader's catch-up has run by now (it finds every slot delivered)
        assert _counts(replicas) == counts
        assert posted(pg_url) == expected
    finally:
        for replica in replicas:
            replica.stop(signal.SIGKILL)


def _counts(replicas: list[Replica]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for replica in replicas:
        for channel in replica.digests():
            counts[channel] = counts.get(channel, 0) + 1
    return counts


# -- in-process ------------------------------------------------------------------------------


async def _eventually(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


def test_a_schedule_set_on_a_standby_reaches_the_leader(tmp_path, pg_url):
    settings = _settings(tmp_path, pg_url)

    async def main():
        stores = [Store.open(pg_url), Store.open(pg_url)]
        services = [BriefingService(settings, s) for s in stores]
        chats = [FakePlatform(s, is_admin=True) for s in services]
        leader, standby = (Runtime(s, [c], leader_retry=0.5) for s, c in zip(services, chats))
        await leader.start()
        await standby.start()
        try:
            assert leader.leading and not standby.leading
            await asyncio.to_thread(chats[1].say, "/brief schedule daily 07:30 UTC")
            assert await _eventually(lambda: leader.scheduler.get_job("digest:daily 07:30 UTC") is not None, 5)
            await asyncio.to_thread(chats[1].say, "/brief schedule off")
            assert await _eventually(lambda: leader.scheduler.get_job("digest:daily 07:30 UTC") is None, 5)

            await leader.stop()  # a clean stop hands the lock over at once
            assert await _eventually(lambda: standby.leading, 3)
        finally:
            await leader.stop()
            await standby.stop()
            for store in stores:
                store.close()

    asyncio.run(main())


def test_a_claim_abandoned_by_a_dead_replica_is_taken_over_after_its_lease(tmp_path, pg_url):
    settings = _settings(tmp_path, pg_url)
    store = Store.open(pg_url)
    try:
        service = BriefingService(settings, store)
        chat = FakePlatform(service, is_admin=True)
        service.ingest(str(SEEDS))
        channel = store.channels.channel("fake", chat.context.channel)
        now = datetime.now(timezone.utc)
        slot = now.replace(second=0, microsecond=0) - timedelta(minutes=10)
        store.channels.set_schedule(channel.id, "daily", f"{slot:%H:%M}", "UTC", slot - timedelta(days=1))
        key = f"{slot:%Y-%m-%dT%H:%M}+0000"
        # A replica claimed the slot nine minutes ago and died before posting it.
        assert store.channels.claim(channel.id, key, now - timedelta(minutes=9)) is not None

        async def main():
            fresh = Runtime(service, [chat], start_scheduler=False, claim_lease=timedelta(minutes=15))
            assert (await fresh.deliver_digest(channel.id)).reason == "already delivered"  # lease still runs
            runtime = Runtime(service, [chat], start_scheduler=False, claim_lease=timedelta(minutes=5))
            done = await runtime.work_queue()
            again = await runtime.work_queue()
            await runtime.stop()
            await fresh.stop()
            return done, again

        done, again = asyncio.run(main())
        assert [d.posted for d in done] == [True] and again == []
        assert store.channels.deliveries(channel.id) == [(key, "posted")]
        assert len([p for p in chat.posted if p.reply.briefing]) == 1
    finally:
        store.close()


class Proxy:
    """A TCP proxy to the PostgreSQL server that can cut every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.down = False
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    async def _client(self, reader, writer) -> None:
        if self.down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()
                self.writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        def close_all() -> None:
            self.down = True
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        self.loop.call_soon_threadsafe(close_all)

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self, "down", False)

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_a_postgresql_connection_lost_for_a_few_seconds_is_retried_not_fatal(tmp_path, pg_url):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    target = make_url(pg_url)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 5432)
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = replace(_settings(tmp_path, url), misfire_grace=3600)

    async def main():
        store = Store.open(url)
        service = BriefingService(settings, store)
        chat = FakePlatform(service, is_admin=True)
        runtime = Runtime(service, [chat], leader_retry=0.5)
        await runtime.start()
        try:
            assert runtime.leading
            proxy.cut()
            assert await _eventually(lambda: not runtime.leading, 5), "the leader did not notice"
            with pytest.raises(OperationalError):
                await asyncio.to_thread(store.count)  # the database is unreachable for now
            await asyncio.sleep(3)
            proxy.restore()
            assert await _eventually(lambda: runtime.leading, 10), "the lock was not taken back"
            # The pool reconnects and the re-elected scheduler takes new schedules.
            reply = await asyncio.to_thread(chat.say, "/brief schedule daily 06:15 UTC")
            assert "Digest scheduled" in reply.text
            assert await _eventually(lambda: runtime.scheduler.get_job("digest:daily 06:15 UTC") is not None, 5)
        finally:
            await runtime.stop()
            store.close()

    try:
        asyncio.run(main())
    finally:
        proxy.close()
