"""A channel's digest: what arrived from its feeds since its last digest, as stories."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .articles import to_document
from .replies import Reply
from .store.channels import Channel

if TYPE_CHECKING:
    from .service import BriefingService

MEMORY_DAYS = 7
FIRST_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ChannelDigest:
    reply: Reply | None
    memories: list[dict] = field(default_factory=list)


def compose_channel_digest(service: BriefingService, channel: Channel, now: datetime) -> ChannelDigest:
    """The digest due for ``channel`` at ``now`` and what to remember of it."""
    from summarizer.stories import compose_digest

    store = service.store
    since = channel.last_digest_at or now - FIRST_WINDOW
    keywords = store.channels.followed(channel.id)
    candidates = store.arrived(since, feed_ids=list(keywords) or None)
    kept = [a for a in candidates if _matches(a, keywords.get(a.feed_id, ()))]
    served = store.channels.served(channel.id, now - timedelta(days=MEMORY_DAYS))
    plan = compose_digest([to_document(a.article, a.id) for a in kept], service.summarizer,
                          budget=service.budget, max_stories=service.settings.max_stories,
                          served=served, now=now, title=f"Your digest, {_local_day(channel, service, now)}")
    if not plan.briefing.stories:
        if service.settings.quiet_empty_digest:
            return ChannelDigest(None)
        return ChannelDigest(Reply(text="Nothing new from your sources since the last digest.", public=True))
    return ChannelDigest(Reply(briefing=plan.briefing, public=True), plan.memories)


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
