"""The running bot: its platforms, the scheduler, and the digest and feed jobs it fires.

Scheduling uses APScheduler 3 with its SQLAlchemy job store in the project's database
(stable job ids, textual job references), so schedules survive a restart. The delivery
ledger, not the scheduler, decides whether a slot is posted: every digest claims
``(channel, slot)`` with a unique row before posting, so a restart, a late misfire and
the start-up catch-up can all try a slot and only one posts it.

The one window left: if the process dies after claiming a slot and before the post
reaches the platform, that slot is not posted (it is marked claimed and never retried,
because retrying could post twice when the crash came after the post). The next
scheduled slot is unaffected and covers the articles the lost one would have.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .digests import compose_channel_digest
from .feeds import FeedPoller, paused_notice
from .platform import Platform
from .replies import Reply
from .schedules import last_slot, slot_key, trigger
from .service import BriefingService

log = logging.getLogger(__name__)

_CURRENT: Runtime | None = None


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
    """Owns the scheduler while the bot runs; platforms deliver what it composes."""

    def __init__(self, service: BriefingService, platforms: list[Platform], *, start_scheduler: bool = True) -> None:
        self.service = service
        self.settings = service.settings
        self.store = service.store
        self.platforms = {p.name: p for p in platforms}
        self.poller = FeedPoller(self.store, service.policy, service.clock,
                                 interval=timedelta(minutes=self.settings.feed_interval_minutes),
                                 pause_after=self.settings.feed_pause_after, transport=service.transport)
        self.start_scheduler = start_scheduler
        self.scheduler = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        global _CURRENT
        _CURRENT = self
        self._loop = asyncio.get_running_loop()
        self.service.listeners.append(self._changed)
        if self.start_scheduler:
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            self.scheduler = AsyncIOScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine)},
                job_defaults={"coalesce": True, "max_instances": 1,
                              "misfire_grace_time": self.settings.misfire_grace},
                timezone=timezone.utc,
            )
            self.scheduler.start()
            for channel in self.store.channels.scheduled():
                self._schedule_digest(channel.id)
            for feed in self.store.channels.feeds():
                self._schedule_feed(feed.id)
        await self.catch_up()

    async def stop(self) -> None:
        global _CURRENT
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._changed in self.service.listeners:
            self.service.listeners.remove(self._changed)
        if _CURRENT is self:
            _CURRENT = None

    async def catch_up(self) -> list[Delivery]:
        """Post each slot missed while the bot was down, if still within the misfire grace."""
        return [await self.deliver_digest(channel.id) for channel in self.store.channels.scheduled()
                if channel.platform in self.platforms]

    # -- jobs -------------------------------------------------------------------------

    async def deliver_digest(self, channel_id: int, *, now: datetime | None = None) -> Delivery:
        """Post the digest of the slot due now, unless it was posted (or claimed) already."""
        now = now or self.service.clock()
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
            return Delivery(channel_id, key, False, "already delivered")
        try:
            digest = await asyncio.to_thread(compose_channel_digest, self.service, channel, now)
            ref = None
            if digest.reply is not None:
                ref = await platform.deliver(channel.external_id, digest.reply)
        except Exception as exc:
            log.exception("digest for channel %s slot %s failed", channel.external_id, key)
            self.store.channels.delivery_failed(delivery_id, f"{exc.__class__.__name__}: {exc}")
            return Delivery(channel_id, key, False, "failed")
        self.store.channels.delivered(delivery_id, now, ref, since=now, memories=digest.memories)
        if ref and digest.reply is not None:
            ctx = self.service.context_for(channel.platform, channel.external_id)
            await asyncio.to_thread(self.service.record_post, ctx, ref, digest.reply)
        return Delivery(channel_id, key, digest.reply is not None, message_ref=ref)

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
        if self.scheduler is None or self._loop is None:
            return
        action = self._schedule_digest if what == "schedule" else self._schedule_feed
        self._loop.call_soon_threadsafe(action, ident)

    def _schedule_digest(self, channel_id: int) -> None:
        job_id = f"digest:{channel_id}"
        channel = self.store.channels.get(channel_id)
        if channel is None or not channel.schedule_kind:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            return
        zone = channel.timezone or self.settings.timezone
        self.scheduler.add_job("bot.runtime:digest_job", trigger(channel.schedule_kind, channel.schedule_time, zone),
                               args=[channel_id], id=job_id, name=f"digest {channel.platform}:{channel.external_id}",
                               replace_existing=True)

    def _schedule_feed(self, feed_id: int) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        feed = self.store.channels.feed(feed_id)
        if feed is None:
            return
        minutes = feed.poll_minutes or self.settings.feed_interval_minutes
        job_id = f"feed:{feed_id}"
        existing = self.scheduler.get_job(job_id)
        if existing is not None and getattr(existing.trigger, "interval", None) == timedelta(minutes=minutes):
            return
        self.scheduler.add_job("bot.runtime:feed_job", IntervalTrigger(minutes=minutes, timezone=timezone.utc),
                               args=[feed_id], id=job_id, name=f"poll {feed.url[:80]}", replace_existing=True,
                               next_run_time=datetime.now(timezone.utc) + timedelta(minutes=minutes))
