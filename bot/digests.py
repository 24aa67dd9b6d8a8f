"""A channel's digest: what arrived from its feeds since its last digest, as stories."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .articles import briefing_articles, to_document
from .replies import Reply
from .store import Store, StoredArticle
from .store.channels import Channel, Claim

if TYPE_CHECKING:
    from .service import BriefingService

log = logging.getLogger(__name__)

MEMORY_DAYS = 7
FIRST_WINDOW = timedelta(hours=24)
# At most this many new articles go into one digest (the newest).
ARTICLES = 500


@dataclass(frozen=True)
class ChannelDigest:
    reply: Reply | None
    memories: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class DigestInputs:
    """What a channel's digest is made of: the candidate articles and what the channel was served."""

    articles: list[StoredArticle]
    served: list[dict]


def load_digest_inputs(store: Store, channels: list[Channel], now: datetime) -> dict[int, DigestInputs]:
    """The inputs of several channels' digests in four queries, however many channels.

    Channels of one slot mostly follow the same feeds: the articles are read once for all of
    them (and, through the summarizer's caches, summarized once).
    """
    if not channels:
        return {}
    ids = [c.id for c in channels]
    followed = store.channels.followed_by(ids)
    served = store.channels.served_by(ids, now - timedelta(days=MEMORY_DAYS))
    since = {c.id: c.last_digest_at or now - FIRST_WINDOW for c in channels}
    every_feed = any(not followed[i] for i in ids)
    feeds = None if every_feed else sorted(set().union(*(followed[i] for i in ids)))
    pool = store.arrived(min(since.values()), feed_ids=feeds, limit=ARTICLES * len(ids))
    out = {}
    for i in ids:
        keywords = followed[i]
        mine = [a for a in pool if a.created_at >= since[i]
                and (not keywords or (a.feed_id in keywords and _matches(a, keywords[a.feed_id])))]
        out[i] = DigestInputs(mine[:ARTICLES], served[i])
    return out


def compose_channel_digest(service: BriefingService, channel: Channel, now: datetime,
                           inputs: DigestInputs | None = None) -> ChannelDigest:
    """The digest due for ``channel`` at ``now`` and what to remember of it."""
    from summarizer.stories import compose_digest

    if inputs is None:
        inputs = load_digest_inputs(service.store, [channel], now)[channel.id]
    plan = compose_digest([to_document(a.article, a.id) for a in inputs.articles], service.summarizer,
                          budget=service.budget, max_stories=service.settings.max_stories,
                          served=inputs.served, now=now, title=f"Your digest, {_local_day(channel, service, now)}")
    if not plan.briefing.stories:
        if service.settings.quiet_empty_digest:
            return ChannelDigest(None)
        return ChannelDigest(Reply(text="Nothing new from your sources since the last digest.", public=True))
    return ChannelDigest(Reply(briefing=plan.briefing, public=True), plan.memories)


@dataclass(frozen=True)
class Composed:
    """A claimed slot's digest, or (``digest`` None) why it has none; then the ledger says failed."""

    claim: Claim
    channel: Channel | None
    digest: ChannelDigest | None


def compose_claimed(service: BriefingService, claims: list[Claim], now: datetime,
                    platforms: Collection[str]) -> list[Composed]:
    """The digests of claimed slots, their inputs read together (see :func:`load_digest_inputs`).

    A slot whose channel is gone, unscheduled or on a platform not in ``platforms``, or whose
    digest fails, is marked failed in the ledger. When the database cannot be read this raises,
    and the claims stay claimed: they are taken over after their lease, like those of a process
    that died.
    """
    store = service.store
    channels = store.channels.get_many(c.channel_id for c in claims)
    live = [ch for ch in channels.values() if ch.schedule_kind and ch.platform in platforms]
    inputs = load_digest_inputs(store, live, now)
    out = []
    for claim in claims:
        channel = channels.get(claim.channel_id)
        try:
            if channel is None or channel.id not in inputs:
                raise LookupError("the channel's schedule was turned off")
            out.append(Composed(claim, channel, compose_channel_digest(service, channel, now, inputs[channel.id])))
        except Exception as exc:
            if not isinstance(exc, LookupError):
                log.exception("digest for channel %s slot %s failed", claim.channel_id, claim.slot)
            store.channels.delivery_failed(claim.delivery_id, f"{exc.__class__.__name__}: {exc}")
            out.append(Composed(claim, channel, None))
    return out


def record_posted(store: Store, delivery_id: int, now: datetime, ref: str | None, digest: ChannelDigest) -> None:
    """The ledger, the channel's window, its served stories and the posted briefing, in one go."""
    briefing = digest.reply.briefing if digest.reply is not None else None
    store.channels.delivered(delivery_id, now, ref, since=now, memories=digest.memories,
                             articles=briefing_articles(briefing) if briefing else ())


def _matches(stored, keywords: tuple[str, ...]) -> bool:
    """An article passes its feed's keyword filter (any keyword, as a whole word)."""
    if not keywords:
        return True
    haystack = f"{stored.article.title}\n{stored.article.text}".lower()
    return any(re.search(r"\b" + re.escape(k) + r"\b", haystack) for k in keywords)


def _local_day(channel: Channel, service: BriefingService, now: datetime) -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(channel.timezone or service.settings.timezone)
    return now.astimezone(zone).strftime("%A %d %B")
