"""Feed polling: conditional GET, backoff on failure, and pausing a feed that keeps failing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import BriefbotError
from .fetch import FEED_ACCEPT, FetchPolicy, fetch
from .sources import articles_from_document
from .store import Store
from .store.channels import Feed

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class FeedFetch:
    """A feed as fetched: its entries (none when not modified) and its cache validators."""

    articles: list
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None

    @property
    def title(self) -> str | None:
        return self.articles[0].source if self.articles else None


def fetch_feed(url: str, policy: FetchPolicy, *, etag: str | None = None, last_modified: str | None = None,
               transport=None) -> FeedFetch:
    """GET a feed (conditionally, given validators); a page that is not a feed is an error."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    document = fetch(url, policy, accept=FEED_ACCEPT, headers=headers, transport=transport)
    if document.status == 304:
        return FeedFetch([], not_modified=True)
    articles = articles_from_document(document)
    if not articles or not articles[0].feed_url:
        raise BriefbotError(f"{url} is a web page, not an RSS or Atom feed; "
                            "look for the site's feed link and use that.")
    return FeedFetch(articles, etag=document.headers.get("etag"),
                     last_modified=document.headers.get("last-modified"))


@dataclass(frozen=True)
class PollResult:
    feed_id: int
    new: int = 0
    not_modified: bool = False
    skipped: bool = False
    error: str | None = None
    paused_now: bool = False


class FeedPoller:
    """Polls one feed at a time; the scheduler calls :meth:`poll` for every subscribed feed."""

    def __init__(self, store: Store, policy: FetchPolicy, clock: Callable[[], datetime], *,
                 interval: timedelta = timedelta(minutes=15), pause_after: int = 5, transport=None) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.interval = interval
        self.pause_after = pause_after
        self.transport = transport

    def due(self, feed: Feed, now: datetime) -> bool:
        """Not paused, and its interval (doubled for each failure in a row) has passed."""
        if feed.paused:
            return False
        if feed.last_fetched_at is None:
            return True
        interval = timedelta(minutes=feed.poll_minutes) if feed.poll_minutes else self.interval
        wait = min(interval * (2 ** min(feed.failures, 10)), max(MAX_BACKOFF, interval))
        return now >= feed.last_fetched_at + wait - timedelta(seconds=5)

    def poll(self, feed_id: int, *, force: bool = False) -> PollResult:
        feed = self.store.channels.feed(feed_id)
        now = self.clock()
        if feed is None or (not force and not self.due(feed, now)):
            return PollResult(feed_id, skipped=True)
        try:
            fetched = fetch_feed(feed.url, self.policy, etag=feed.etag, last_modified=feed.last_modified,
                                 transport=self.transport)
            if fetched.not_modified:
                self.store.channels.feed_polled(feed.id, now)
                return PollResult(feed.id, not_modified=True)
            result = self.store.add_articles(fetched.articles, feed_url=feed.url, now=now)
        except BriefbotError as exc:
            failures, paused_now = self.store.channels.feed_failed(feed.id, now, str(exc),
                                                                   pause_after=self.pause_after)
            log.warning("feed %s failed (%d in a row): %s", feed.url, failures, exc)
            return PollResult(feed.id, error=str(exc), paused_now=paused_now)
        self.store.channels.feed_polled(feed.id, now, title=fetched.title, etag=fetched.etag,
                                        last_modified=fetched.last_modified)
        return PollResult(feed.id, new=len(result.added))


def paused_notice(feed: Feed, pause_after: int) -> str:
    return (f"The feed {feed.title or feed.url} <{feed.url}> failed {pause_after} times in a row "
            f"({feed.last_error}) and is paused, so it will not appear in digests. "
            f"When it works again, /brief subscribe {feed.url} resumes it.")
