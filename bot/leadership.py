"""Several replicas on one PostgreSQL database: which one runs the scheduler, and leases on slots.

``briefbot run`` started N times on one PostgreSQL database must behave as one bot. APScheduler 3
cannot share its job store between running schedulers (each one would fire every job), so the
design is **one scheduler at a time, elected by a PostgreSQL advisory lock**, with the delivery
ledger kept as the arbiter of last resort:

- Every replica serves its platforms (commands, questions, Slack HTTP requests behind a load
  balancer) and works the digest queue. Only the *leader* runs APScheduler: it polls feeds, so
  each feed is polled by one replica at a time, and when a schedule's slot fires it queues that
  slot for every channel on the schedule in the delivery ledger (``due`` rows, one statement).
  Every replica then takes queued rows ``FOR UPDATE SKIP LOCKED`` in small batches and posts
  them, so a slot of thousands of channels is spread over the replicas (see :mod:`bot.runtime`).
- The leader is whoever holds ``pg_try_advisory_lock(LOCK_KEY)`` on a dedicated connection (a
  session-level lock, outside the connection pool). Standbys try again every ``retry`` seconds
  (5 s by default, far inside the one-hour misfire grace). On taking over, a replica starts the
  scheduler on the shared job store, re-adds every schedule and runs the catch-up; a slot that
  came due while nobody led fires late, as a misfire within the grace, and posts once.
- A leader that dies (SIGKILL, OOM, a lost host) closes its connection and PostgreSQL releases
  the lock at once: there is no lease to wait out. TCP keepalives and a TCP user timeout bound
  how long a half-open connection from a vanished host can hold it. A leader whose lock
  connection breaks (a PostgreSQL restart, a network cut) stops its scheduler at its next check
  and competes for the lock again; during that short overlap two schedulers may fire the same
  slot, and the ledger's unique ``(channel, slot)`` row lets only one queue (and post) it.
- A schedule changed on a standby (any replica answers commands) reaches the leader by
  ``NOTIFY``; the leader ``LISTEN``s on its lock connection. A notice sent while nobody leads is
  not lost: the next leader re-adds every schedule when it takes over.
- A claim on a slot is a lease: a replica that dies between taking a slot and posting it
  leaves a ``claimed`` row, which any replica working the queue takes over once it is older
  than ``CLAIM_LEASE`` (and the slot is still within the misfire grace). The price is a possible
  second post when a process dies in the milliseconds between the platform accepting a digest
  and the ledger recording it; the alternative, never retrying, loses the whole slot whenever a
  process dies while composing, which takes far longer.

The alternatives were weighed: every replica running its own scheduler with the ledger alone as
the arbiter needs every replica to know every schedule and makes every replica claim every slot;
a PostgreSQL task queue (procrastinate, for instance) would replace APScheduler, which stays the
scheduler of the single-process default. A scheduler on one replica that only *queues* slots,
and a ledger that every replica takes from, keeps APScheduler and still shares the work.

On SQLite (one process) there is no election: the process runs the scheduler and works the
queue alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

# The advisory lock every replica of one database competes for ("brif" in ASCII).
LOCK_KEY = 0x62726966
# The channel a standby tells the leader about a changed schedule or feed on.
NOTIFY_CHANNEL = "briefbot_jobs"
# How often a standby tries to take the lock, and the leader checks its lock connection.
DEFAULT_RETRY = 5.0
# How long a claimed, unposted slot stays locked to the replica that claimed it.
CLAIM_LEASE = timedelta(minutes=5)


def is_shared(engine: Engine) -> bool:
    """Whether several processes may run on this database (PostgreSQL), so one must lead."""
    return engine.url.get_backend_name() == "postgresql"


def conninfo(engine: Engine) -> str:
    """A libpq URL for the engine's database, for a connection of our own outside its pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def notify_leader(engine: Engine, what: str, ident: int) -> None:
    """Tell the leader (whichever replica it is) that a schedule or feed changed."""
    with engine.connect() as conn:
        conn.execute(text("select pg_notify(:channel, :payload)"),
                     {"channel": NOTIFY_CHANNEL, "payload": f"{what}:{ident}"})
        conn.commit()


def leader_application_name() -> str:
    """How the leader's lock connection shows in ``pg_stat_activity``: host and process id."""
    return f"briefbot scheduler {socket.gethostname()[:30]}:{os.getpid()}"


class Leadership:
    """Competes for the scheduler lock; calls ``on_elected`` and ``on_deposed`` as it wins and loses it.

    ``on_notice(what, ident)`` is called, while leading, for each change a standby announced.
    """

    def __init__(self, engine: Engine, *, on_elected: Callable[[], Awaitable[None]],
                 on_deposed: Callable[[], Awaitable[None]], on_notice: Callable[[str, int], None],
                 retry: float = DEFAULT_RETRY) -> None:
        self.url = conninfo(engine)
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.on_notice = on_notice
        self.retry = retry
        self.leading = False
        self._conn = None  # psycopg.AsyncConnection holding (or trying for) the lock
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Try for the lock once now (so a lone replica leads at once), then keep trying."""
        await self._step()
        self._task = asyncio.create_task(self._run(), name="briefbot-leadership")

    async def stop(self) -> None:
        """Give the lock up (by closing its connection), so a standby takes over at once."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._close()
        if self.leading:
            self.leading = False
            await self.on_deposed()

    async def _run(self) -> None:
        while True:
            if not self.leading:
                await asyncio.sleep(self.retry)
            await self._step()

    async def _step(self) -> None:
        """One round: connect if needed; a standby tries the lock, the leader waits for notices."""
        import psycopg

        try:
            if self._conn is None:
                self._conn = await asyncio.wait_for(self._connect(), self.retry * 2)
            if not self.leading:
                row = await (await self._conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,))).fetchone()
                if row[0]:
                    await self._conn.execute(f"listen {NOTIFY_CHANNEL}")
                    self.leading = True
                    log.info("scheduler: this replica leads (%s)", leader_application_name())
                    await self.on_elected()
                return
            async for notice in self._conn.notifies(timeout=self.retry):
                self._notice(notice.payload)
            await asyncio.wait_for(self._conn.execute("select 1"), self.retry * 2)  # still connected?
        except asyncio.CancelledError:
            raise
        except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
            log.warning("scheduler lock connection: %s: %s", exc.__class__.__name__,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            await self._close()
            if self.leading:
                self.leading = False
                log.warning("scheduler: this replica lost the lock and stopped its scheduler")
                await self.on_deposed()

    async def _connect(self):
        import psycopg

        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, application_name=leader_application_name(),
            connect_timeout=max(2, int(self.retry)), keepalives=1, keepalives_idle=5,
            keepalives_interval=2, keepalives_count=3, tcp_user_timeout=int(self.retry * 3000))

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # noqa: BLE001 - a broken connection is closed as well as it can be
                pass

    def _notice(self, payload: str) -> None:
        what, _, ident = payload.partition(":")
        if what in ("schedule", "feed") and ident.isdigit():
            try:
                self.on_notice(what, int(ident))
            except Exception:
                log.exception("could not apply the change %r", payload)
