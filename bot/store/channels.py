"""Channels, their feed subscriptions and digest schedules, the delivery ledger, feed state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from .database import get_or_create, insert_many_or_ignore, insert_or_ignore, joined_ids, retrying, storable

from .models import (
    ArticleRow,
    ChannelRow,
    DeliveryRow,
    FeedRow,
    PostedBriefingRow,
    ServedStoryRow,
    SubscriptionRow,
    utcnow,
)


@dataclass(frozen=True)
class Channel:
    id: int
    platform: str
    external_id: str
    timezone: str | None
    schedule_kind: str | None
    schedule_time: str | None
    schedule_set_at: datetime | None
    last_digest_at: datetime | None


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    title: str
    etag: str | None
    last_modified: str | None
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    failures: int
    last_error: str | None
    paused: bool
    poll_minutes: int | None
    articles: int = 0


@dataclass(frozen=True, order=True)
class Claim:
    """A digest slot this process holds the ledger row of, and must post (or mark failed)."""

    delivery_id: int
    channel_id: int
    slot: str


@dataclass(frozen=True)
class Subscription:
    feed: Feed
    keywords: tuple[str, ...]


def _channel(row: ChannelRow) -> Channel:
    return Channel(row.id, row.platform, row.external_id, row.timezone, row.schedule_kind,
                   row.schedule_time, row.schedule_set_at, row.last_digest_at)


def _feed(row: FeedRow, articles: int = 0) -> Feed:
    return Feed(row.id, row.url, row.title, row.etag, row.last_modified, row.last_fetched_at,
                row.last_success_at, row.failures, row.last_error, row.paused, row.poll_minutes, articles)


class ChannelStore:
    """The per-channel state of the digest, on the store's engine."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions

    # -- channels and schedules -------------------------------------------------

    @retrying
    def channel(self, platform: str, external_id: str, *, create: bool = True) -> Channel | None:
        with self._sessions() as session, session.begin():
            row = self._channel_row(session, platform, external_id, create)
            return _channel(row) if row else None

    def get(self, channel_id: int) -> Channel | None:
        return self.get_many([channel_id]).get(channel_id)

    @retrying
    def get_many(self, channel_ids: Iterable[int]) -> dict[int, Channel]:
        """The channels of ``channel_ids`` that exist, by id."""
        with self._sessions() as session:
            rows = session.scalars(select(ChannelRow).where(ChannelRow.id.in_(list(channel_ids)))).all()
            return {row.id: _channel(row) for row in rows}

    @retrying
    def set_schedule(self, channel_id: int, kind: str | None, time: str | None, timezone: str | None,
                     now: datetime) -> Channel:
        with self._sessions() as session, session.begin():
            row = session.get(ChannelRow, channel_id)
            row.schedule_kind, row.schedule_time = kind, time
            row.schedule_set_at = now if kind else None
            if timezone:
                row.timezone = timezone
            return _channel(row)

    @retrying
    def scheduled(self) -> list[Channel]:
        with self._sessions() as session:
            rows = session.scalars(select(ChannelRow).where(ChannelRow.schedule_kind.is_not(None))).all()
            return [_channel(r) for r in rows]

    # -- subscriptions ------------------------------------------------------------

    @retrying
    def subscribe(self, channel_id: int, feed_url: str, title: str, keywords: tuple[str, ...],
                  poll_minutes: int | None = None) -> bool:
        """Follow a feed; False if it was followed already (its keywords are then updated)."""
        with self._sessions() as session, session.begin():
            feed = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
            if feed is None:
                feed = get_or_create(session, FeedRow, (FeedRow.url == feed_url,), url=feed_url,
                                     title=storable(title)[:500], failures=0, paused=False, created_at=utcnow())
            elif title and not feed.title:
                feed.title = title[:500]
            if poll_minutes:
                feed.poll_minutes = poll_minutes
            existing = session.scalar(select(SubscriptionRow).where(
                SubscriptionRow.channel_id == channel_id, SubscriptionRow.feed_id == feed.id))
            if existing is None and insert_or_ignore(session, SubscriptionRow, channel_id=channel_id,
                                                     feed_id=feed.id, keywords=" ".join(keywords),
                                                     created_at=utcnow()) is not None:
                return True
            # Followed already (or since a moment ago, by another writer).
            existing = existing or session.scalar(select(SubscriptionRow).where(
                SubscriptionRow.channel_id == channel_id, SubscriptionRow.feed_id == feed.id))
            existing.keywords = " ".join(keywords)
            return False

    @retrying
    def unsubscribe(self, channel_id: int, feed_url: str) -> bool:
        with self._sessions() as session, session.begin():
            feed_id = session.scalar(select(FeedRow.id).where(FeedRow.url == feed_url))
            if feed_id is None:
                return False
            result = session.execute(delete(SubscriptionRow).where(
                SubscriptionRow.channel_id == channel_id, SubscriptionRow.feed_id == feed_id))
            return bool(result.rowcount)

    @retrying
    def subscriptions(self, channel_id: int) -> list[Subscription]:
        from sqlalchemy import func

        with self._sessions() as session:
            counts = dict(session.execute(
                select(ArticleRow.feed_id, func.count()).group_by(ArticleRow.feed_id)).all())
            rows = session.execute(
                select(SubscriptionRow, FeedRow).join(FeedRow, FeedRow.id == SubscriptionRow.feed_id)
                .where(SubscriptionRow.channel_id == channel_id).order_by(FeedRow.url)).all()
            return [Subscription(_feed(feed, counts.get(feed.id, 0)), tuple(sub.keywords.split()))
                    for sub, feed in rows]

    def followed(self, channel_id: int) -> dict[int, tuple[str, ...]]:
        """The feeds a channel follows (paused ones too), each with its keyword filter."""
        return self.followed_by([channel_id])[channel_id]

    @retrying
    def followed_by(self, channel_ids: Iterable[int]) -> dict[int, dict[int, tuple[str, ...]]]:
        """:meth:`followed` of several channels in one query (an empty dict for one that follows none)."""
        ids = list(channel_ids)
        out: dict[int, dict[int, tuple[str, ...]]] = {i: {} for i in ids}
        with self._sessions() as session:
            rows = session.execute(select(SubscriptionRow.channel_id, SubscriptionRow.feed_id, SubscriptionRow.keywords)
                                   .where(SubscriptionRow.channel_id.in_(ids))).all()
        for channel_id, feed_id, keywords in rows:
            out[channel_id][feed_id] = tuple(keywords.split())
        return out

    @retrying
    def subscribers(self, feed_id: int) -> list[Channel]:
        with self._sessions() as session:
            rows = session.scalars(select(ChannelRow).join(
                SubscriptionRow, SubscriptionRow.channel_id == ChannelRow.id)
                .where(SubscriptionRow.feed_id == feed_id)).all()
            return [_channel(r) for r in rows]

    # -- feeds ------------------------------------------------------------------------

    @retrying
    def feeds(self, *, subscribed_only: bool = True) -> list[Feed]:
        with self._sessions() as session:
            query = select(FeedRow).order_by(FeedRow.id)
            if subscribed_only:
                query = query.where(FeedRow.id.in_(select(SubscriptionRow.feed_id)))
            return [_feed(r) for r in session.scalars(query).all()]

    @retrying
    def feed(self, feed_id: int) -> Feed | None:
        with self._sessions() as session:
            row = session.get(FeedRow, feed_id)
            return _feed(row) if row else None

    @retrying
    def feed_polled(self, feed_id: int, now: datetime, *, title: str | None = None, etag: str | None = None,
                    last_modified: str | None = None) -> None:
        with self._sessions() as session, session.begin():
            row = session.get(FeedRow, feed_id, with_for_update=True)
            row.last_fetched_at = row.last_success_at = now
            row.failures, row.last_error, row.paused = 0, None, False
            if title:
                row.title = storable(title)[:500]
            if etag is not None:
                row.etag = etag[:500]
            if last_modified is not None:
                row.last_modified = last_modified[:100]

    @retrying
    def feed_failed(self, feed_id: int, now: datetime, error: str, *, pause_after: int) -> tuple[int, bool]:
        """Count a failed poll; returns (failures in a row, whether the feed was paused just now)."""
        with self._sessions() as session, session.begin():
            # Locked, so two pollers (two processes) count two failures and pause it once.
            row = session.get(FeedRow, feed_id, with_for_update=True)
            row.last_fetched_at = now
            row.failures += 1
            row.last_error = storable(error)[:1000]
            paused_now = not row.paused and row.failures >= pause_after
            if paused_now:
                row.paused = True
            return row.failures, paused_now

    # -- the delivery ledger ------------------------------------------------------------

    @retrying
    def claim(self, channel_id: int, slot: str, now: datetime) -> int | None:
        """Claim a digest slot for a channel; None when it was claimed before (by anyone)."""
        with self._sessions() as session, session.begin():
            platform = session.scalar(select(ChannelRow.platform).where(ChannelRow.id == channel_id))
            return insert_or_ignore(session, DeliveryRow, channel_id=channel_id, slot=slot, status="claimed",
                                    claimed_at=now, platform=platform)

    @retrying
    def take_over_stale_claim(self, channel_id: int, slot: str, now: datetime, lease: timedelta) -> int | None:
        """The id of a claim on ``(channel, slot)`` left unposted for longer than ``lease``, now ours.

        The update is conditional, so of several replicas trying at once only one gets the row;
        its ``claimed_at`` becomes ``now``, which renews the lease for the new holder.
        """
        with self._sessions() as session, session.begin():
            return session.scalar(
                update(DeliveryRow)
                .where(DeliveryRow.channel_id == channel_id, DeliveryRow.slot == slot,
                       DeliveryRow.status == "claimed", DeliveryRow.claimed_at < now - lease)
                .values(claimed_at=now).returning(DeliveryRow.id))

    @retrying
    def enqueue(self, due: list[tuple[Channel, str]], now: datetime) -> int:
        """Queue ``(channel, slot)`` digests as ``due``, skipping slots already in the ledger.

        Returns how many were queued. One statement per thousand: a slot shared by thousands of
        channels is queued at once, for every replica to take from.
        """
        rows = list({(c.id, slot): {"channel_id": c.id, "slot": slot, "platform": c.platform, "status": "due",
                                    "claimed_at": now} for c, slot in due}.values())
        queued = 0
        with self._sessions() as session, session.begin():
            for start in range(0, len(rows), 1000):
                queued += insert_many_or_ignore(session, DeliveryRow, rows[start:start + 1000])
        return queued

    @retrying
    def take_due(self, now: datetime, *, platforms: Iterable[str], lease: timedelta, grace: timedelta,
                 limit: int) -> list[Claim]:
        """Claim up to ``limit`` queued digests of ``platforms`` (and claims abandoned past ``lease``).

        On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so replicas taking at the
        same moment each get different rows and never wait for one another; on SQLite the
        one writer at a time does the same. Each pick reads the ``(status, id)`` index in order
        and stops at ``limit`` rows, however long the queue. When there is nothing to take,
        queued rows older than ``grace`` (of any platform) are marked ``missed``.
        """
        platforms = list(platforms)
        if not platforms or limit <= 0:
            return []
        queued = (DeliveryRow.status == "due", DeliveryRow.claimed_at >= now - grace)
        abandoned = (DeliveryRow.status == "claimed", DeliveryRow.claimed_at < now - lease,
                     DeliveryRow.claimed_at >= now - grace - lease)
        with self._sessions() as session, session.begin():
            ids: list[int] = []
            for where in (queued, abandoned):
                if len(ids) < limit:
                    ids += session.scalars(
                        select(DeliveryRow.id).where(DeliveryRow.platform.in_(platforms), *where)
                        .order_by(DeliveryRow.status, DeliveryRow.id).limit(limit - len(ids))
                        .with_for_update(skip_locked=True)).all()
            if not ids:
                # Nothing to take: past the grace nobody will post a queued slot, whatever its
                # platform, so say so (SKIP LOCKED: two replicas doing this never wait on each other).
                missed = (select(DeliveryRow.id).where(DeliveryRow.status == "due",
                                                       DeliveryRow.claimed_at < now - grace)
                          .with_for_update(skip_locked=True).scalar_subquery())
                session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(missed)).values(status="missed"))
                return []
            rows = session.execute(
                update(DeliveryRow).where(DeliveryRow.id.in_(ids))
                .values(status="claimed", claimed_at=now)
                .returning(DeliveryRow.id, DeliveryRow.channel_id, DeliveryRow.slot)).all()
        return sorted(Claim(r.id, r.channel_id, r.slot) for r in rows)

    @retrying
    def delivered(self, delivery_id: int, now: datetime, message_ref: str | None, *, since: datetime | None,
                  memories: list[dict], articles: Iterable[int] = ()) -> None:
        """Mark a claimed slot posted, remember the stories it carried, move the channel's window,
        and remember which ``articles`` the posted message holds (for questions in its thread).

        Plain statements in one transaction: a large slot records thousands of these.
        """
        with self._sessions() as session, session.begin():
            channel_id = session.scalar(
                update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                .values(status="posted", posted_at=now, message_ref=(message_ref or "")[:255] or None)
                .returning(DeliveryRow.channel_id))
            if channel_id is None:
                return
            platform, external_id = session.execute(
                update(ChannelRow).where(ChannelRow.id == channel_id).values(last_digest_at=since or now)
                .returning(ChannelRow.platform, ChannelRow.external_id)).one()
            if memories:
                session.execute(insert(ServedStoryRow), [
                    {"channel_id": channel_id, "delivery_id": delivery_id, "served_at": now,
                     "memory": json.dumps(memory, ensure_ascii=False)} for memory in memories])
            ids = joined_ids(articles)
            if message_ref and ids:
                insert_or_ignore(session, PostedBriefingRow, platform=platform, channel=external_id,
                                 message_ref=message_ref, article_ids=ids, created_at=now)

    @retrying
    def delivery_failed(self, delivery_id: int, error: str) -> None:
        with self._sessions() as session, session.begin():
            row = session.get(DeliveryRow, delivery_id)
            row.status = "failed"
            row.message_ref = storable(error)[:255]

    @retrying
    def deliveries(self, channel_id: int) -> list[tuple[str, str]]:
        """(slot, status) of every delivery of a channel, oldest first."""
        with self._sessions() as session:
            return [(r.slot, r.status) for r in session.scalars(
                select(DeliveryRow).where(DeliveryRow.channel_id == channel_id).order_by(DeliveryRow.id)).all()]

    def served(self, channel_id: int, since: datetime) -> list[dict]:
        """What the channel's digests carried since ``since``, oldest first."""
        return self.served_by([channel_id], since)[channel_id]

    @retrying
    def served_by(self, channel_ids: Iterable[int], since: datetime) -> dict[int, list[dict]]:
        """:meth:`served` of several channels in one query."""
        ids = list(channel_ids)
        out: dict[int, list[dict]] = {i: [] for i in ids}
        with self._sessions() as session:
            rows = session.execute(select(ServedStoryRow.channel_id, ServedStoryRow.memory).where(
                ServedStoryRow.channel_id.in_(ids), ServedStoryRow.served_at >= since)
                .order_by(ServedStoryRow.id)).all()
        for channel_id, memory in rows:
            out[channel_id].append(json.loads(memory))
        return out

    @staticmethod
    def _channel_row(session: Session, platform: str, external_id: str, create: bool) -> ChannelRow | None:
        external_id = external_id[:255]  # as stored, so that a long one is found again
        where = (ChannelRow.platform == platform, ChannelRow.external_id == external_id)
        if not create:
            return session.scalar(select(ChannelRow).where(*where))
        return get_or_create(session, ChannelRow, where, platform=platform, external_id=external_id, name="",
                             created_at=utcnow())

