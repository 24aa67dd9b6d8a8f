"""The running bot: its platforms, the scheduler, and the digest and feed jobs it fires.

Scheduling uses APScheduler 3 with its SQLAlchemy job store in the project's database
(stable job ids, textual job references), so schedules survive a restart. The delivery
ledger, not the scheduler, decides whether a slot is posted: every digest claims
``(channel, slot)`` with a unique row before posting, so a restart, a late misfire and
the start-up catch-up can all try a slot and only one posts it.

On PostgreSQL several replicas may run on one database; only the one holding the scheduler
lock runs APScheduler (see :mod:`bot.leadership` for the design and why). On SQLite the one
process always runs it.

A claim is a lease: if the process dies after claiming a slot and before the post reaches
the platform, the claim stays ``claimed``, and once it is older than the lease the leader
(or the catch-up after a restart, within the misfire grace) takes it over and posts the
slot. A crash in the instant between the platform accepting the post and the ledger
recording it can therefore post a slot twice; losing slots to crashes while composing
was the worse failure.

Heavy work runs off the event loop: the ledger, composing a digest and recording it run in
a small pool of their own, so digests never hold up the threads that answer commands, and
a replica composing thousands of digests still acknowledges commands at once.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .digests import compose_channel_digest
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

log = logging.getLogger(__name__)

_CURRENT: Runtime | None = None

# Threads composing digests (and writing the ledger). Composing is CPU-bound Python, so more
# threads than this buy nothing but contention for the interpreter lock with the event loop.
DIGEST_WORKERS = 2


async def digest_job(channel_id: int) -> None:
    """APScheduler job (stored by reference): post a channel's digest for the slot just due."""
    if _CURRENT is not None:
        await _CURRENT.deliver_digest(channel_id)


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
        self._work = ThreadPoolExecutor(max_workers=DIGEST_WORKERS, thread_name_prefix="briefbot-digest")
        self._background: set[asyncio.Task] = set()

    @property
    def leading(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self.scheduler is not None

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        global _CURRENT
        _CURRENT = self
        self._loop = asyncio.get_running_loop()
        self.service.listeners.append(self._changed)
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
        self._work.shutdown(wait=False, cancel_futures=True)

    async def _elected(self) -> None:
        """This replica took the scheduler lock: run the scheduler, then post what is due.

        The scheduler starts paused, so that re-adding thousands of schedules neither wakes it
        once per job nor holds up the platforms; it resumes once every job is in place.
        """
        self._start_scheduler()
        self._spawn(self._lead())

    async def _deposed(self) -> None:
        self._stop_scheduler()

    async def _lead(self) -> None:
        """While leading: every job in place, the catch-up, then every lease/2 the abandoned claims."""
        scheduler = self.scheduler
        await self._schedule_and_resume()
        await self.catch_up()
        while self.scheduler is scheduler is not None:
            await asyncio.sleep(max(1.0, self.claim_lease.total_seconds() / 2))
            if self.scheduler is scheduler:
                await self.retry_stale_claims()

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
            await self._loop.run_in_executor(self._work, self._schedule_all, scheduler)
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

    async def catch_up(self) -> list[Delivery]:
        """Post each slot missed while the bot was down, if still within the misfire grace."""
        channels = await self._loop_or_running().run_in_executor(self._work, self.store.channels.scheduled)
        return [await self.deliver_digest(channel.id) for channel in channels
                if channel.platform in self.platforms]

    async def retry_stale_claims(self) -> list[Delivery]:
        """Post the slots whose claim was left unposted past its lease (its holder died)."""
        now = self.service.clock()
        grace = timedelta(seconds=self.settings.misfire_grace)
        loop = self._loop_or_running()
        channel_ids = await loop.run_in_executor(self._work, self.store.channels.stale_claims, now, grace,
                                                 self.claim_lease)
        return [await self.deliver_digest(channel_id) for channel_id in channel_ids]

    def _loop_or_running(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

    # -- jobs -------------------------------------------------------------------------

    async def deliver_digest(self, channel_id: int, *, now: datetime | None = None) -> Delivery:
        """Post the digest of the slot due now, unless it was posted (or claimed) already."""
        now = now or self.service.clock()
        loop = self._loop_or_running()
        prepared = await loop.run_in_executor(self._work, self._claim_and_compose, channel_id, now)
        if isinstance(prepared, Delivery):
            return prepared
        channel, platform, key, delivery_id, digest = prepared
        ref = None
        try:
            if digest.reply is not None:
                ref = await platform.deliver(channel.external_id, digest.reply)
        except Exception as exc:
            log.exception("digest for channel %s slot %s failed", channel.external_id, key)
            await loop.run_in_executor(self._work, self.store.channels.delivery_failed, delivery_id,
                                       f"{exc.__class__.__name__}: {exc}")
            return Delivery(channel_id, key, False, "failed")
        await loop.run_in_executor(self._work, self._record, channel, delivery_id, now, ref, digest)
        return Delivery(channel_id, key, digest.reply is not None, message_ref=ref)

    def _claim_and_compose(self, channel_id: int, now: datetime):
        """In a worker thread: claim the slot due at ``now`` and compose its digest, or say why not."""
        channel = self.store.channels.get(channel_id)
        if channel is None or not channel.schedule_kind:
            return Delivery(channel_id, None, False, "no schedule")
        platform = self.platforms.get(channel.platform)
        if platform is None:
            return Delivery(channel_id, None, False, f"{channel.platform} is not running here")
        zone = channel.timezone or self.settings.timezone
        slot = last_slot(channel.schedule_kind, channel.schedule_time, zone, now)
        if slot is None or (channel.schedule_set_at and slot < channel.schedule_set_at):
            return Delivery(channel_id, None, False, "no slot since the schedule was set")
        if now - slot > timedelta(seconds=self.settings.misfire_grace):
            return Delivery(channel_id, slot_key(slot), False, "missed by more than the grace time")
        key = slot_key(slot)
        delivery_id = self.store.channels.claim(channel_id, key, now)
        if delivery_id is None:
            delivery_id = self.store.channels.take_over_stale_claim(channel_id, key, now, self.claim_lease)
            if delivery_id is None:
                return Delivery(channel_id, key, False, "already delivered")
            log.warning("took over the unposted claim on slot %s of channel %s", key, channel.external_id)
        try:
            digest = compose_channel_digest(self.service, channel, now)
        except Exception as exc:
            log.exception("digest for channel %s slot %s failed", channel.external_id, key)
            self.store.channels.delivery_failed(delivery_id, f"{exc.__class__.__name__}: {exc}")
            return Delivery(channel_id, key, False, "failed")
        return channel, platform, key, delivery_id, digest

    def _record(self, channel, delivery_id: int, now: datetime, ref: str | None, digest) -> None:
        self.store.channels.delivered(delivery_id, now, ref, since=now, memories=digest.memories)
        if ref and digest.reply is not None:
            ctx = self.service.context_for(channel.platform, channel.external_id)
            self.service.record_post(ctx, ref, digest.reply)

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
        self._loop.run_in_executor(self._work, action, ident, scheduler)

    def _schedule_all(self, scheduler) -> None:
        """Every schedule and feed as a job, adding or replacing only the jobs that differ."""
        jobs = {job.id: job for job in scheduler.get_jobs()}
        wanted = set()
        for channel in self.store.channels.scheduled():
            wanted.add(f"digest:{channel.id}")
            self._schedule_digest(channel.id, scheduler, channel=channel, existing=jobs.get(f"digest:{channel.id}"))
        for feed in self.store.channels.feeds():
            self._schedule_feed(feed.id, scheduler, feed=feed, existing=jobs.get(f"feed:{feed.id}"))
        for job_id in jobs.keys() - wanted:
            if job_id.startswith("digest:"):  # its schedule was turned off while nobody led
                scheduler.remove_job(job_id)

    def _schedule_digest(self, channel_id: int, scheduler=None, *, channel=None, existing=None) -> None:
        scheduler = scheduler or self.scheduler
        if scheduler is None:
            return
        job_id = f"digest:{channel_id}"
        channel = channel or self.store.channels.get(channel_id)
        if channel is None or not channel.schedule_kind:
            if scheduler.get_job(job_id):
                scheduler.remove_job(job_id)
            return
        zone = channel.timezone or self.settings.timezone
        wanted = trigger(channel.schedule_kind, channel.schedule_time, zone)
        if existing is not None and repr(existing.trigger) == repr(wanted):
            return
        scheduler.add_job("bot.runtime:digest_job", wanted,
                          args=[channel_id], id=job_id, name=f"digest {channel.platform}:{channel.external_id}",
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
