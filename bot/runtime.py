"""The running bot: its platforms, the scheduler, and the digest and feed jobs it fires.

Scheduling uses APScheduler 3 with its SQLAlchemy job store in the project's database
(stable job ids, textual job references), so schedules survive a restart. There is one job
per distinct schedule ("daily 08:00 Europe/Paris"), however many channels share it: when it
fires, every channel on that schedule gets its slot queued in the delivery ledger at once.

The delivery ledger, not the scheduler, decides whether a slot is posted. A slot is a unique
``(channel, slot)`` row: queued as ``due``, then *claimed* by the process that posts it, then
``posted``. A restart, a late misfire and the start-up catch-up can all queue a slot and only
one row exists. Every process works the queue (on PostgreSQL, every replica: rows are taken
``FOR UPDATE SKIP LOCKED``), so several replicas share a large slot's digests between them.

A claim is a lease: if the process dies after claiming a slot and before the post reaches
the platform, the claim stays ``claimed``, and once it is older than the lease any process
working the queue takes it over and posts the slot, within the misfire grace. A crash in the
instant between the platform accepting the post and the ledger recording it can therefore
post a slot twice; losing slots to crashes while composing was the worse failure.

Heavy work runs off the event loop: the ledger, and recording posted digests, in a small pool
of threads of its own, and composing digests in a worker process (:mod:`bot.digest_workers`;
threads on SQLite), so digests hold up neither the threads nor the interpreter that answer
commands.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .digest_workers import DigestWorkers, processes_for
from .digests import Composed
from .feeds import FeedPoller, paused_notice
from .leadership import (
    CLAIM_LEASE,
    DEFAULT_RETRY,
    Leadership,
    is_shared,
    notify_leader,
)
from .platform import Platform
from .replies import Reply
from .schedules import last_slot, slot_key, trigger
from .service import BriefingService
from .store.channels import Channel, Claim

log = logging.getLogger(__name__)

_CURRENT: Runtime | None = None

# Queued digests a process takes at a time.
DIGEST_BATCH = 16
# Batches in flight at once: one is composed while another is posted and recorded.
QUEUE_LANES = 2
# Digests being handed to platforms at once: a steady stream rather than bursts, so the event
# loop answers commands in between.
POSTS_IN_FLIGHT = 4
# How often a process looks at the queue when not told: often on a shared database (another
# replica may queue a slot), rarely on SQLite, where the only other work is a claim abandoned by
# a crash, retried after its lease.
QUEUE_POLL_SHARED = 1.0
QUEUE_POLL_LOCAL = 30.0


async def digest_job(kind: str, time: str, zone: str) -> None:
    """APScheduler job (stored by reference): queue the slot just due of every channel on a schedule."""
    if _CURRENT is not None:
        await _CURRENT.slot_due(kind, time, zone)


def digest_job_id(kind: str, time: str, zone: str) -> str:
    """The scheduler job of one schedule, shared by every channel on it."""
    return f"digest:{kind} {time} {zone}"


async def feed_job(feed_id: int) -> None:
    """APScheduler job (stored by reference): poll one feed."""
    if _CURRENT is not None:
        await _CURRENT.poll_feed(feed_id)


@dataclass(frozen=True)
class Delivery:
    channel_id: int
    slot: str | None
    posted: bool
    reason: str = ""
    message_ref: str | None = None


class Runtime:
    """Owns the scheduler while the bot runs (while it leads, on PostgreSQL); platforms deliver."""

    def __init__(self, service: BriefingService, platforms: list[Platform], *, start_scheduler: bool = True,
                 leader_retry: float = DEFAULT_RETRY, claim_lease: timedelta = CLAIM_LEASE) -> None:
        self.service = service
        self.settings = service.settings
        self.store = service.store
        self.platforms = {p.name: p for p in platforms}
        self.poller = FeedPoller(self.store, service.policy, service.clock,
                                 interval=timedelta(minutes=self.settings.feed_interval_minutes),
                                 pause_after=self.settings.feed_pause_after, transport=service.transport)
        self.start_scheduler = start_scheduler
        self.leader_retry = leader_retry
        self.claim_lease = claim_lease
        self.scheduler = None
        self.leadership: Leadership | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.workers = DigestWorkers(service, processes_for(self.settings, is_shared(self.store.engine)))
        self._wake: asyncio.Event | None = None  # set when this process queued digests
        self._posting: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._background: set[asyncio.Task] = set()

    @property
    def leading(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self.scheduler is not None

    def job_id(self, channel: Channel) -> str:
        """The scheduler job that queues ``channel``'s digests."""
        return digest_job_id(channel.schedule_kind, channel.schedule_time, self._zone(channel))

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        global _CURRENT
        _CURRENT = self
        self._loop = asyncio.get_running_loop()
        self.service.listeners.append(self._changed)
        self._wake = asyncio.Event()
        for _ in range(QUEUE_LANES):
            self._spawn(self._work_queue_forever())
        if self.start_scheduler and is_shared(self.store.engine):
            self.leadership = Leadership(self.store.engine, on_elected=self._elected, on_deposed=self._deposed,
                                         on_notice=self._apply_change, retry=self.leader_retry)
            await self.leadership.start()  # leads at once when no other replica does
            if not self.leading:
                log.info("scheduler: another replica leads; this one stands by")
            return
        if self.start_scheduler:
            self._start_scheduler()
            await self._schedule_and_resume()
        await self.catch_up()

    async def stop(self) -> None:
        global _CURRENT
        if self.leadership is not None:
            await self.leadership.stop()  # stops the scheduler through _deposed
            self.leadership = None
        self._stop_scheduler()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._changed in self.service.listeners:
            self.service.listeners.remove(self._changed)
        if _CURRENT is self:
            _CURRENT = None
        self.workers.close()

    async def _elected(self) -> None:
        """This replica took the scheduler lock: run the scheduler, then queue what is due.

        The scheduler starts paused, so that re-adding the schedules neither wakes it once per
        job nor holds up the platforms; it resumes once every job is in place.
        """
        self._start_scheduler()
        self._spawn(self._lead())

    async def _deposed(self) -> None:
        self._stop_scheduler()

    async def _lead(self) -> None:
        await self._schedule_and_resume()
        await self.catch_up()

    def _start_scheduler(self) -> None:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.settings.misfire_grace},
            timezone=timezone.utc,
            event_loop=self._loop,
        )
        scheduler.start(paused=True)
        self.scheduler = scheduler

    async def _schedule_and_resume(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        try:
            await self.workers.run(self._schedule_all, scheduler)
        finally:
            if scheduler is self.scheduler:
                scheduler.resume()

    def _stop_scheduler(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            try:
                scheduler.shutdown(wait=False)
            except Exception:  # noqa: BLE001 - e.g. never started
                log.debug("scheduler shutdown", exc_info=True)

    def _spawn(self, work) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the digest queue -------------------------------------------------------------

    async def slot_due(self, kind: str, time: str, zone: str) -> int:
        """A schedule's slot came due: queue the digest of every channel on it; how many were queued."""
        channels = [c for c in await self.workers.run(self.store.channels.scheduled)
                    if (c.schedule_kind, c.schedule_time, self._zone(c)) == (kind, time, zone)]
        return await self.enqueue(channels)

    async def catch_up(self) -> int:
        """Queue each slot missed while nobody ran the scheduler, if still within the misfire grace."""
        return await self.enqueue(await self.workers.run(self.store.channels.scheduled))

    async def enqueue(self, channels: list[Channel], now: datetime | None = None) -> int:
        """Queue the slot due now of each channel (those past the grace are skipped) for any replica."""
        now = now or self.service.clock()
        due = [(c, key) for c in channels for key in [self._due_slot(c, now)] if not isinstance(key, Delivery)]
        queued = await self.workers.run(self.store.channels.enqueue, due, now)
        if queued:
            log.info("queued %d digests", queued)
            if self._wake is not None:
                self._wake.set()
        return queued

    async def work_queue(self, limit: int = DIGEST_BATCH) -> list[Delivery]:
        """Take up to ``limit`` queued digests (and claims abandoned past their lease) and post them."""
        now = self.service.clock()
        claims = await self.workers.run(functools.partial(
            self.store.channels.take_due, now, platforms=tuple(self.platforms), lease=self.claim_lease,
            grace=timedelta(seconds=self.settings.misfire_grace), limit=limit))
        return await self._post(claims, now)

    async def _work_queue_forever(self) -> None:
        """Every process works the queue: at once when it queued a slot itself, else every poll."""
        poll = QUEUE_POLL_SHARED if is_shared(self.store.engine) else QUEUE_POLL_LOCAL
        while True:
            self._wake.clear()
            try:
                done = await self.work_queue()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away for a moment: try again at the next poll
                log.warning("could not work the digest queue", exc_info=True)
                done = []
            if done:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), poll)
            except asyncio.TimeoutError:
                pass

    async def deliver_digest(self, channel_id: int, *, now: datetime | None = None) -> Delivery:
        """Post a channel's digest of the slot due now, unless it was posted (or claimed) already."""
        now = now or self.service.clock()
        claim = await self.workers.run(self._claim_now, channel_id, now)
        if isinstance(claim, Delivery):
            return claim
        return (await self._post([claim], now))[0]

    def _zone(self, channel: Channel) -> str:
        return channel.timezone or self.settings.timezone

    def _due_slot(self, channel: Channel, now: datetime) -> str | Delivery:
        """The ledger key of the slot due at ``now``, or why there is none."""
        if not channel.schedule_kind:
            return Delivery(channel.id, None, False, "no schedule")
        slot = last_slot(channel.schedule_kind, channel.schedule_time, self._zone(channel), now)
        if slot is None or (channel.schedule_set_at and slot < channel.schedule_set_at):
            return Delivery(channel.id, None, False, "no slot since the schedule was set")
        if now - slot > timedelta(seconds=self.settings.misfire_grace):
            return Delivery(channel.id, slot_key(slot), False, "missed by more than the grace time")
        return slot_key(slot)

    def _claim_now(self, channel_id: int, now: datetime) -> Claim | Delivery:
        """In a worker thread: claim the slot due at ``now`` for this process, or say why not."""
        channel = self.store.channels.get(channel_id)
        if channel is None:
            return Delivery(channel_id, None, False, "no schedule")
        if channel.platform not in self.platforms:
            return Delivery(channel_id, None, False, f"{channel.platform} is not running here")
        key = self._due_slot(channel, now)
        if isinstance(key, Delivery):
            return key
        delivery_id = self.store.channels.claim(channel_id, key, now)
        if delivery_id is None:
            delivery_id = self.store.channels.take_over_stale_claim(channel_id, key, now, self.claim_lease)
            if delivery_id is None:
                return Delivery(channel_id, key, False, "already delivered")
            log.warning("took over the unposted claim on slot %s of channel %s", key, channel.external_id)
        return Claim(delivery_id, channel_id, key)

    async def _post(self, claims: list[Claim], now: datetime) -> list[Delivery]:
        """Compose the digests of claimed slots together, then post and record each as it goes."""
        if not claims:
            return []
        composed = await self.workers.compose(claims, now, tuple(self.platforms))
        return list(await asyncio.gather(*(self._send(c, now) for c in composed)))

    def _posting_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._posting is None or self._posting[0] is not loop:
            self._posting = (loop, asyncio.Semaphore(POSTS_IN_FLIGHT))
        return self._posting[1]

    async def _send(self, composed: Composed, now: datetime) -> Delivery:
        claim, channel, digest = composed.claim, composed.channel, composed.digest
        if digest is None:
            return Delivery(claim.channel_id, claim.slot, False, "failed")
        ref = None
        try:
            if digest.reply is not None:
                async with self._posting_slots():
                    ref = await self.platforms[channel.platform].deliver(channel.external_id, digest.reply)
        except Exception as exc:
            log.exception("digest for channel %s slot %s failed", channel.external_id, claim.slot)
            await self.workers.run(self.store.channels.delivery_failed, claim.delivery_id,
                            f"{exc.__class__.__name__}: {exc}")
            return Delivery(claim.channel_id, claim.slot, False, "failed")
        await self.workers.record(claim.delivery_id, now, ref, digest)
        return Delivery(claim.channel_id, claim.slot, digest.reply is not None, message_ref=ref)

    async def poll_feed(self, feed_id: int, *, force: bool = False):
        result = await asyncio.to_thread(self.poller.poll, feed_id, force=force)
        if result.paused_now:
            feed = self.store.channels.feed(feed_id)
            notice = Reply(text=paused_notice(feed, self.settings.feed_pause_after), public=True)
            for channel in self.store.channels.subscribers(feed_id):
                platform = self.platforms.get(channel.platform)
                if platform is not None:
                    try:
                        await platform.deliver(channel.external_id, notice)
                    except Exception:
                        log.exception("could not tell %s that a feed was paused", channel.external_id)
        return result

    # -- scheduling ---------------------------------------------------------------------

    def _changed(self, what: str, ident: int) -> None:
        """Called from the service (in a worker thread) when a schedule or feed changes."""
        if self._loop is None:
            return
        if self.scheduler is not None:
            self._loop.call_soon_threadsafe(self._apply_change, what, ident)
        elif self.leadership is not None:  # a standby: the leader schedules it
            try:
                notify_leader(self.store.engine, what, ident)
            except Exception:  # the next leader re-adds every schedule when it takes over
                log.warning("could not tell the scheduler about a changed %s", what, exc_info=True)

    def _apply_change(self, what: str, ident: int) -> None:
        """On the loop: (re)schedule one digest or feed, in a worker thread."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        action = self._schedule_digest if what == "schedule" else self._schedule_feed
        self._loop.run_in_executor(self.workers.threads, action, ident, scheduler)

    def _schedule_all(self, scheduler) -> None:
        """A job per schedule in use and per feed, adding only the jobs missing."""
        jobs = {job.id: job for job in scheduler.get_jobs()}
        self._sync_digest_jobs(scheduler, jobs)
        for feed in self.store.channels.feeds():
            self._schedule_feed(feed.id, scheduler, feed=feed, existing=jobs.get(f"feed:{feed.id}"))

    def _schedule_digest(self, channel_id: int, scheduler=None) -> None:
        """A channel's schedule changed: its schedule gets a job if it has none, unused ones go."""
        scheduler = scheduler or self.scheduler
        if scheduler is not None:
            self._sync_digest_jobs(scheduler, {job.id: job for job in scheduler.get_jobs()})

    def _sync_digest_jobs(self, scheduler, jobs: dict) -> None:
        """One digest job per schedule some channel is on: missing ones added, unused ones removed."""
        wanted: dict[str, Channel] = {}
        for channel in self.store.channels.scheduled():
            wanted.setdefault(self.job_id(channel), channel)
        for job_id, channel in wanted.items():
            if job_id not in jobs:
                self._add_digest_job(scheduler, channel)
        for job_id in jobs.keys() - wanted.keys():
            if job_id.startswith("digest:"):  # nobody is on that schedule any more
                scheduler.remove_job(job_id)

    def _add_digest_job(self, scheduler, channel: Channel) -> None:
        kind, time, zone = channel.schedule_kind, channel.schedule_time, self._zone(channel)
        scheduler.add_job("bot.runtime:digest_job", trigger(kind, time, zone), args=[kind, time, zone],
                          id=digest_job_id(kind, time, zone), name=f"digests {kind} {time} {zone}",
                          replace_existing=True)

    def _schedule_feed(self, feed_id: int, scheduler=None, *, feed=None, existing=None) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        scheduler = scheduler or self.scheduler
        if scheduler is None:
            return
        feed = feed or self.store.channels.feed(feed_id)
        if feed is None:
            return
        minutes = feed.poll_minutes or self.settings.feed_interval_minutes
        job_id = f"feed:{feed_id}"
        existing = existing or scheduler.get_job(job_id)
        if existing is not None and getattr(existing.trigger, "interval", None) == timedelta(minutes=minutes):
            return
        scheduler.add_job("bot.runtime:feed_job", IntervalTrigger(minutes=minutes, timezone=timezone.utc),
                          args=[feed_id], id=job_id, name=f"poll {feed.url[:80]}", replace_existing=True,
                          next_run_time=datetime.now(timezone.utc) + timedelta(minutes=minutes))
