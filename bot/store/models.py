"""The database schema. Alembic migrations in ``bot/migrations`` create and evolve it."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    poll_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str | None] = mapped_column(String(2048), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300), default="")
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_channels_platform_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The digest schedule: "daily" or "weekdays" at "HH:MM" in ``timezone``; None when off.
    schedule_kind: Mapped[str | None] = mapped_column(String(16))
    schedule_time: Mapped[str | None] = mapped_column(String(5))
    schedule_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel_id", "feed_id", name="uq_subscriptions_channel_id_feed_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    keywords: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryRow(Base):
    """One post of a digest slot to a channel; the unique key makes a slot post at most once.

    ``status`` is ``due`` (queued for any replica to post), ``claimed`` (a replica is posting
    it since ``claimed_at``), ``posted``, ``failed``, or ``missed`` (queued, and nobody posted it
    within the misfire grace). ``platform`` repeats the channel's, so
    that a replica finds the queued rows of its platforms in this table alone: the queue is
    read many times a second while a large slot drains, and a join planned from statistics
    that predate the slot can turn each read into seconds.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("channel_id", "slot", name="uq_deliveries_channel_id_slot"),
                      Index("ix_deliveries_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    platform: Mapped[str | None] = mapped_column(String(32))
    slot: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_ref: Mapped[str | None] = mapped_column(String(255))


class PostedBriefingRow(Base):
    """A briefing the bot posted, so replies in its thread are follow-ups about its stories."""

    __tablename__ = "posted_briefings"
    __table_args__ = (UniqueConstraint("platform", "channel", "message_ref",
                                       name="uq_posted_briefings_platform_channel_message_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    message_ref: Mapped[str] = mapped_column(String(255))
    article_ids: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ServedStoryRow(Base):
    """A story a channel's digest carried: what it was about and which sentences it showed."""

    __tablename__ = "served_stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    memory: Mapped[str] = mapped_column(Text)  # JSON, from summarizer.stories
    served_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ConversationTurnRow(Base):
    """One turn of a question-and-answer conversation in a thread or direct message."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    thread: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16))  # "user" or "assistant"
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
