"""Load figures against the loopback fakes: ``python -m bench.load [--quick]``.

Runs ``briefbot run`` as real processes in Slack HTTP mode on a fresh PostgreSQL database,
with a loopback Slack (Web API and ``response_url``) and a loopback feed server in this
process, and prints each figure beside its target:

1. ``/brief`` acknowledgement latency for a burst of 500 simultaneous signed commands;
2. acknowledgement latency at a sustained 50 commands/s while the slot's digests are composed;
3. N subscribed channels (10,000) due at one slot: time from the slot to the last digest
   handed to the Slack fake, on one replica, then on two replicas;
4. 1,000 feeds polled with conditional GET from the loopback feed server;
5. resident memory of an idle bot, and with N channels subscribed.

It then names the bottleneck it found: the CPU time the bots, the PostgreSQL server and the
fakes used during each slot, read from ``/proc`` (so it runs on Linux). It takes several minutes (two slots are waited for at
minute boundaries); ``--quick`` uses 1,000 channels and 200 feeds. It is not part of the tests.
The PostgreSQL server is ``BRIEFBOT_TEST_DATABASE_URL`` (default: postgres on 127.0.0.1:5432,
database ``test``); a database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the loopback fakes the tests use

from loopback import serve  # noqa: E402
from slack_fake import BOT_TOKEN, SIGNING_SECRET, SlackFake, command_body, signed_headers  # noqa: E402

BRIEFBOT = Path(sys.executable).parent / "briefbot"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONTENT_FEEDS = 100
ARTICLES_PER_FEED = 6
SUBSCRIPTIONS_PER_CHANNEL = 3

TOPICS = [
    ("council", "bridge", "river", "engineers", "budget"), ("hospital", "nurses", "strike", "wages", "union"),
    ("storm", "flooding", "coast", "evacuation", "rain"), ("election", "mayor", "ballots", "turnout", "campaign"),
    ("railway", "timetable", "commuters", "delays", "signals"), ("school", "teachers", "exams", "pupils", "term"),
    ("harbour", "ferry", "freight", "dock", "shipping"), ("museum", "exhibition", "paintings", "curator", "loan"),
    ("wind", "turbines", "offshore", "grid", "megawatts"), ("football", "stadium", "league", "coach", "season"),
    ("library", "books", "funding", "volunteers", "hours"), ("airport", "runway", "flights", "noise", "expansion"),
    ("farmers", "harvest", "drought", "wheat", "prices"), ("police", "patrols", "burglaries", "district", "arrests"),
    ("housing", "tenants", "rents", "landlords", "council"), ("university", "research", "grant", "laboratory", "vaccine"),
]
NAMES = ["Ana Ruiz", "Tom Hale", "Mira Patel", "Jon Berg", "Lea Costa", "Sam Okafor", "Ines Vidal", "Paul Grey"]


# -- loopback servers and processes -----------------------------------------------------------


class Feeds:
    """``/feeds/{n}.xml``: an RSS feed per number, with ETags (answers 304 to a matching If-None-Match)."""

    def __init__(self, articles: dict[int, list[tuple[str, str, str]]]) -> None:
        self.articles = articles
        self.requests = 0
        self.not_modified = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{n}.xml", self._feed)
        return app

    async def _feed(self, request: web.Request) -> web.Response:
        self.requests += 1
        n = int(request.match_info["n"])
        etag = f'"f{n}-v1"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        items = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}</description></item>"
                        for t, d, link in self.articles.get(n % CONTENT_FEEDS, []))
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
                f"<link>http://feeds.example/{n}</link>{items}</channel></rss>")
        return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml", "ETag": etag})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bot:
    """A ``briefbot run`` process in Slack HTTP mode."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(BRIEFBOT), "run"], env={**env, "BRIEFBOT_PORT": str(port)},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, cwd=REPO)

    def wait_ready(self, timeout: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"briefbot run exited: {self.log.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("briefbot run did not become ready")

    def log_tail(self, lines: int = 15) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def database(server: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"briefbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- data -------------------------------------------------------------------------------------


def synthetic_articles(rng: random.Random) -> dict[int, list[tuple[str, str, str]]]:
    """Six articles per content feed, on topics distinct enough to make several stories."""
    feeds: dict[int, list[tuple[str, str, str]]] = {}
    for f in range(CONTENT_FEEDS):
        items = []
        for a in range(ARTICLES_PER_FEED):
            words = TOPICS[(f * 7 + a) % len(TOPICS)]
            who, n = rng.choice(NAMES), rng.randint(2, 900)
            title = f"{words[0].capitalize()} {words[1]} plan: {who} on {n} {words[4]}"
            text = " ".join([
                f"The {words[0]} said on Tuesday that the {words[1]} plan would cost {n} million pounds.",
                f"{who}, who leads the {words[2]} committee, said the {words[3]} had asked for it for years.",
                f"Critics said the {words[4]} figures were optimistic and the {words[1]} could be late.",
                f"A decision on the {words[2]} is expected in {rng.choice(['March', 'June', 'October'])}.",
                f"The {words[3]} will meet again next week to discuss the {words[4]} in detail.",
            ])
            items.append((title, text, f"http://news{f}.example/{a}-{n}"))
        feeds[f] = items
    return feeds


def populate(url: str, feed_base: str, channels: int, slot: datetime, feeds: int) -> None:
    """Articles from the content feeds, ``channels`` Slack channels subscribed to three of them each,
    scheduled at ``slot``, and ``feeds`` feeds in all (the rest subscribed by a spare channel)."""
    from sqlalchemy import insert

    from bot.service import BriefingService
    from bot.settings import Settings
    from bot.store import Store
    from bot.store.models import ChannelRow, SubscriptionRow

    settings = Settings.from_env({"BRIEFBOT_DATABASE_URL": url, "BRIEFBOT_ALLOW_PRIVATE_URLS": "127.0.0.1"})
    store = Store.open(url)
    try:
        service = BriefingService(settings, store)
        for f in range(CONTENT_FEEDS):
            report = service.ingest(f"{feed_base}/feeds/{f}.xml")
            if report.error:
                raise SystemExit(f"could not load the feed server: {report.error}")
        spare = store.channels.channel("slack", "CSPARE")
        for f in range(feeds):
            store.channels.subscribe(spare.id, f"{feed_base}/feeds/{f}.xml", f"Feed {f}", ())
        feed_ids = [feed.id for feed in store.channels.feeds()][:CONTENT_FEEDS]
        now = datetime.now(timezone.utc)
        rng = random.Random(7)
        with store.session() as session, session.begin():
            rows = [{"platform": "slack", "external_id": f"CH{i:05d}", "name": "", "created_at": now,
                     "timezone": "UTC", "schedule_kind": "daily", "schedule_time": f"{slot:%H:%M}",
                     "schedule_set_at": now} for i in range(channels)]
            session.execute(insert(ChannelRow), rows)
        with store.session() as session, session.begin():
            ids = [r.id for r in session.query(ChannelRow.id).filter(ChannelRow.external_id.like("CH%"))]
            subs = [{"channel_id": cid, "feed_id": fid, "keywords": "", "created_at": now}
                    for cid in ids for fid in rng.sample(feed_ids, SUBSCRIPTIONS_PER_CHANNEL)]
            session.execute(insert(SubscriptionRow), subs)
    finally:
        store.close()


def reschedule(url: str, slot: datetime) -> None:
    """Move every channel's schedule to ``slot`` and forget what was delivered (for the next run)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("delete from served_stories"))
        conn.execute(text("delete from deliveries"))
        conn.execute(text("update channels set schedule_time = :t, last_digest_at = null, schedule_set_at = :now "
                          "where schedule_kind is not null"),
                     {"t": f"{slot:%H:%M}", "now": datetime.now(timezone.utc)})
        conn.execute(text("delete from apscheduler_jobs where id like 'digest:%'"))
    engine.dispose()


def next_slot(lead: float) -> datetime:
    now = datetime.now(timezone.utc)
    slot = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    while (slot - now).total_seconds() < lead:
        slot += timedelta(minutes=1)
    return slot


# -- load -------------------------------------------------------------------------------------

COMMAND_TIMEOUT = 10.0  # seconds a command may wait for its acknowledgement before it counts as lost


async def command(session: aiohttp.ClientSession, base: str, fake: SlackFake, i: int) -> float:
    """Seconds to the acknowledgement; infinity when none came (refused, timed out, not 200)."""
    body = command_body("", response_url=fake.response_url(f"c{i}"), channel="C0GENERAL", user=f"U{i % 50:04d}")
    started = time.perf_counter()
    try:
        async with session.post(f"{base}/slack/events", data=body, headers=signed_headers(body),
                                timeout=aiohttp.ClientTimeout(total=COMMAND_TIMEOUT)) as response:
            await response.read()
            if response.status != 200:
                return math.inf
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return math.inf
    return time.perf_counter() - started


async def burst(bases: list[str], fake: SlackFake, n: int) -> list[float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await asyncio.gather(*(command(session, bases[i % len(bases)], fake, i) for i in range(n)))


async def sustained(bases: list[str], fake: SlackFake, rate: float, seconds: float, stop=None) -> list[float]:
    connector = aiohttp.TCPConnector(limit=0)
    tasks = []
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        i = 0
        while time.perf_counter() - started < seconds and not (stop and i % int(rate) == 0 and stop()):
            tasks.append(asyncio.ensure_future(command(session, bases[i % len(bases)], fake, 100_000 + i)))
            i += 1
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        return await asyncio.gather(*tasks)


def digests_posted(fake: SlackFake) -> list[float]:
    return [c.at for c in list(fake.calls) if c.method == "chat.postMessage"
            and str(c.args.get("channel", "")).startswith("CH")]


class CpuMeter:
    """CPU time used by the bots, the PostgreSQL server and this process (the loopback fakes and the
    load) over a phase, read from ``/proc``: what was busy, to name the bottleneck."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, bots: list[Bot]) -> None:
        self.bot_pids = [b.proc.pid for b in bots]
        self.bots = len(bots)
        self.started = time.monotonic()
        self.before = self._sample()

    def _groups(self) -> dict[str, list[int]]:
        """The processes of each group now: a bot's worker processes and new PostgreSQL backends count."""
        bots = self.bot_pids + [pid for parent in self.bot_pids for pid in children(parent)]
        return {"briefbot": bots, "PostgreSQL": postgres_pids(), "fakes and load": [os.getpid()]}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in self._groups().items()}

    def cores(self) -> tuple[dict[str, float], float]:
        """Average cores busy per group since the meter started (a process born meanwhile counts
        whole), and the most any one briefbot process used."""
        elapsed = max(1e-9, time.monotonic() - self.started)
        now = self._sample()
        used = {name: {pid: (cpu - self.before[name].get(pid, 0.0)) / elapsed for pid, cpu in now[name].items()}
                for name in now}
        return {name: sum(per.values()) for name, per in used.items()}, max(used["briefbot"].values(), default=0.0)

    def verdict(self) -> str:
        cores, busiest = self.cores()
        machine = os.cpu_count() or 1
        busy = sum(cores.values())
        parts = ", ".join(f"{name} {value:.2f}" for name, value in cores.items())
        if busy >= 0.85 * machine:
            what = f"the machine's {machine} CPUs, all busy"
        elif busiest >= 0.85:
            what = "one briefbot process's Python interpreter (a full core)"
        elif cores["PostgreSQL"] >= 0.85:
            what = "PostgreSQL"
        else:
            what = "not CPU (the bot mostly waits: the database or the platform)"
        return f"{what}; cores busy: {parts} (of {machine}; briefbot counts its worker processes)"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CpuMeter.TICK


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def slot_run(bots: list[Bot], fake: SlackFake, slot: datetime, channels: int, timeout: float,
             load: bool) -> tuple[float | None, int, list[float], str]:
    """Wait for the slot, load the bots with commands meanwhile, and time the last digest.

    Also says what was busy meanwhile (see :class:`CpuMeter`)."""
    before = len(digests_posted(fake))
    wait = (slot - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(0.0, wait))
    meter = CpuMeter(bots)
    slot_mono = time.monotonic() - max(0.0, (datetime.now(timezone.utc) - slot).total_seconds())
    latencies: list[float] = []

    def done() -> bool:
        return len(digests_posted(fake)) - before >= channels or time.monotonic() - slot_mono > timeout

    if load:  # 50 commands/s while the digests are composed (at least 20 s of it)
        latencies = asyncio.run(sustained([b.url for b in bots], fake, 50, min(timeout, 60),
                                          stop=lambda: done() and time.monotonic() - slot_mono > 20))
    while not done():
        time.sleep(0.5)
    busy = meter.verdict()
    posted = digests_posted(fake)[before:]
    if len(posted) >= channels:
        return sorted(posted)[channels - 1] - slot_mono, len(posted), latencies, busy
    for bot in bots:  # what went wrong, in the bots' own words
        print(f"  (slot not done; the end of the log of the bot on port {bot.port}:)\n{bot.log_tail()}", flush=True)
    return None, len(posted), latencies, busy


def rate(elapsed: float | None, count: int, timeout: float) -> float:
    return count / elapsed if elapsed else count / timeout


def slot_figure(elapsed: float | None, count: int, channels: int, timeout: float) -> str:
    if elapsed is not None:
        return f"{elapsed:.1f} s ({channels / elapsed:.0f} digests/s)"
    return (f"not done: {count} of {channels} after {timeout:.0f} s ({count / timeout:.0f} digests/s, "
            f"all in ~{channels / max(count / timeout, 0.01):.0f} s)")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if math.isfinite(value) else f"none within {COMMAND_TIMEOUT:.0f} s"


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 channels and 200 feeds")
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--feeds", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for a slot's digests")
    args = parser.parse_args(argv)
    channels = args.channels or (1000 if args.quick else 10_000)
    n_feeds = args.feeds or (200 if args.quick else 1000)
    server = os.environ.get("BRIEFBOT_TEST_DATABASE_URL") or DEFAULT_SERVER
    rows: list[tuple[str, str, str, str]] = []  # figure, measured, target, verdict

    def row(figure: str, measured: str, target: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
        rows.append((figure, measured, target, verdict))
        print(f"  {figure}: {measured}   (target: {target}) {verdict}", flush=True)

    print(f"briefbot load benchmark: {os.cpu_count()} CPUs, {channels} channels, {n_feeds} feeds, PostgreSQL",
          flush=True)
    fake = SlackFake()
    feeds = Feeds(synthetic_articles(random.Random(1)))
    with serve(fake.application()) as slack_base, serve(feeds.app()) as feed_base, \
            tempfile.TemporaryDirectory() as tmp:
        fake.base_url = slack_base
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_", "DISCORD_", "OPENAI_"))}
        env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=f"{slack_base}/api/",
                   BRIEFBOT_HOST="127.0.0.1", BRIEFBOT_DATA_DIR=tmp, BRIEFBOT_ALLOW_PRIVATE_URLS="127.0.0.1")

        # 5a. Idle memory: a bot on an empty database.
        with database(server) as url:
            idle = Bot({**env, "BRIEFBOT_DATABASE_URL": url}, free_port())
            try:
                idle.wait_ready()
                time.sleep(3)
                idle_mb = idle.rss_mb()
            finally:
                idle.stop()
        row("resident memory, idle bot", f"{idle_mb:.0f} MB", "below 150 MB", idle_mb < 150)

        with database(server) as url:
            env["BRIEFBOT_DATABASE_URL"] = url
            slot = next_slot(90)
            t = time.perf_counter()
            populate(url, feed_base, channels, slot, n_feeds)
            print(f"  (populated {channels} channels and {n_feeds} feeds in {time.perf_counter() - t:.0f} s)",
                  flush=True)

            # One replica: memory, the burst, then the slot under a sustained load.
            bot = Bot(env, free_port())
            try:
                t = time.perf_counter()
                bot.wait_ready()
                time.sleep(3)
                row(f"resident memory, {channels} channels subscribed (after start)", f"{bot.rss_mb():.0f} MB",
                    "none set", None)
                if datetime.now(timezone.utc) > slot - timedelta(seconds=25):
                    raise SystemExit("start-up took too long for the slot; run again")
                lat = asyncio.run(burst([bot.url], fake, 500))
                row("burst of 500 simultaneous /brief: ack p50 / p99 / max",
                    f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))} / {ms(max(lat))}", "none later than 3 s",
                    max(lat) <= 3)
                time.sleep(10)  # let the burst's answers drain before the slot
                elapsed, count, _, busy = slot_run([bot], fake, slot, channels, args.timeout, load=False)
                one_rate = rate(elapsed, count, args.timeout)
                row(f"{channels} channels due at one slot, one replica: slot to last digest",
                    slot_figure(elapsed, count, channels, args.timeout), "under 60 s",
                    elapsed is not None and elapsed < 60)
                row(f"resident memory, {channels} channels, after the slot", f"{bot.rss_mb():.0f} MB",
                    "none set", None)

            finally:
                bot.stop()

            # The same slot again, under a sustained command load.
            slot = next_slot(40)
            reschedule(url, slot)
            bot = Bot(env, free_port())
            try:
                bot.wait_ready()
                elapsed, count, lat, busy_loaded = slot_run([bot], fake, slot, channels, args.timeout, load=True)
                row("sustained 50 /brief per s while digests compose: ack p50 / p99",
                    f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))} ({len(lat)} commands, "
                    f"{sum(1 for v in lat if not math.isfinite(v))} unanswered)", "p99 below 100 ms",
                    pct(lat, 99) < 0.1)
                row(f"{channels} channels due at one slot under that load", slot_figure(elapsed, count, channels,
                                                                                        args.timeout),
                    "none set", None)
            finally:
                bot.stop()

            # Two replicas on the same database.
            slot = next_slot(45)
            reschedule(url, slot)
            bots = [Bot(env, free_port()), Bot(env, free_port())]
            try:
                for b in bots:
                    b.wait_ready()
                elapsed, count, _, busy_two = slot_run(bots, fake, slot, channels, args.timeout, load=False)
                measured = slot_figure(elapsed, count, channels, args.timeout)
                speed_up = rate(elapsed, count, args.timeout) / max(one_rate, 1e-9)
                measured += f", speed-up {speed_up:.2f}x"
                row(f"{channels} channels due at one slot, two replicas", measured,
                    "approaching 2x (1.5x or more counted as met)", speed_up >= 1.5)
            finally:
                for b in bots:
                    b.stop()

            # Feeds, polled in this process as the leader's scheduler polls them.
            first, second = poll_feeds(url, env)
            row(f"{n_feeds} feeds, first poll (full GET)", f"{first:.1f} s", "none set", None)
            row(f"{n_feeds} feeds polled with conditional GET (304)", f"{second:.1f} s "
                f"({feeds.not_modified} answered 304)", "under 30 s", second < 30)

    print()
    print("| Figure | Measured | Target | |")
    print("|---|---|---|---|")
    for figure, measured, target, verdict in rows:
        print(f"| {figure} | {measured} | {target} | {verdict} |")
    print()
    print("Bottleneck (what was busy from each slot to its last digest):")
    print(f"- one replica: {busy}")
    print(f"- one replica under 50 /brief per s: {busy_loaded}")
    print(f"- two replicas: {busy_two}")
    return 0


def poll_feeds(url: str, env: dict[str, str]) -> tuple[float, float]:
    from bot.runtime import Runtime
    from bot.service import BriefingService
    from bot.settings import Settings
    from bot.store import Store

    settings = Settings.from_env({**env, "BRIEFBOT_DATABASE_URL": url})
    store = Store.open(url)
    try:
        runtime = Runtime(BriefingService(settings, store), [], start_scheduler=False)
        ids = [feed.id for feed in store.channels.feeds()]

        async def once() -> float:
            started = time.perf_counter()
            results = await asyncio.gather(*(runtime.poll_feed(i, force=True) for i in ids))
            errors = [r.error for r in results if r.error]
            if errors:
                print(f"  ({len(errors)} feeds failed, e.g. {errors[0]})")
            return time.perf_counter() - started

        with store.session() as session, session.begin():  # forget the validators: a full GET first
            from sqlalchemy import update

            from bot.store.models import FeedRow
            session.execute(update(FeedRow).values(etag=None, last_modified=None))
        first = asyncio.run(once())
        second = asyncio.run(once())
        asyncio.run(runtime.stop())
        return first, second
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
