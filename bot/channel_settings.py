"""The subcommands that read and change a channel's feeds and digest schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .commands import ADMIN_COMMANDS, ListFeeds, ScheduleOff, SetSchedule, ShowSchedule, Subscribe, Unsubscribe
from .replies import Context, Reply
from .schedules import describe
from .feeds import fetch_feed

if TYPE_CHECKING:
    from .service import BriefingService

ADMIN_ONLY = ("Only people who manage this {place} can change its feeds and schedule; "
              "anyone can see them with /brief feeds and /brief schedule.")


class ChannelSettings:
    """Handlers for subscribe, unsubscribe, feeds and schedule, registered on the service."""

    def __init__(self, service: BriefingService) -> None:
        self.service = service
        self.store = service.store

    def register(self) -> None:
        for command_type, handler in ((Subscribe, self.subscribe), (Unsubscribe, self.unsubscribe),
                                      (ListFeeds, self.feeds), (ShowSchedule, self.show_schedule),
                                      (SetSchedule, self.set_schedule), (ScheduleOff, self.schedule_off)):
            self.service.register(command_type, self._checked(handler))

    def _checked(self, handler):
        def run(ctx: Context, command) -> Reply:
            if isinstance(command, ADMIN_COMMANDS) and not ctx.is_admin:
                return Reply(text=ADMIN_ONLY.format(place="channel" if ctx.platform != "discord" else "server"),
                             error=True)
            return handler(ctx, command)
        return run

    def _channel(self, ctx: Context):
        return self.store.channels.channel(ctx.platform, ctx.channel)

    def subscribe(self, ctx: Context, cmd: Subscribe) -> Reply:
        fetched = fetch_feed(cmd.url, self.service.policy, transport=self.service.transport)
        feed_url = fetched.articles[0].feed_url
        title = fetched.title or feed_url
        now = self.service.clock()
        channel = self._channel(ctx)
        new = self.store.channels.subscribe(channel.id, feed_url, title, cmd.keywords, cmd.every_minutes)
        stored = self.store.add_articles(fetched.articles, feed_url=feed_url, now=now)
        feed = next(s.feed for s in self.store.channels.subscriptions(channel.id) if s.feed.url == feed_url)
        self.store.channels.feed_polled(feed.id, now, title=title, etag=fetched.etag,
                                        last_modified=fetched.last_modified)
        self.service.notify("feed", feed.id)
        keywords = f" (only items mentioning {', '.join(cmd.keywords)})" if cmd.keywords else ""
        if cmd.every_minutes:
            keywords += f", polled every {cmd.every_minutes} minutes"
        verb = "Subscribed" if new else "Updated the subscription of"
        resumed = " It was paused after failing; it is polled again now." if feed.paused else ""
        return Reply(text=f"{verb} this channel to {title} <{feed_url}>{keywords}: "
                          f"{len(stored.added)} new items stored.{resumed}")

    def unsubscribe(self, ctx: Context, cmd: Unsubscribe) -> Reply:
        channel = self._channel(ctx)
        if self.store.channels.unsubscribe(channel.id, cmd.url):
            return Reply(text=f"This channel no longer follows <{cmd.url}>.")
        return Reply(text=f"This channel does not follow <{cmd.url}>; /brief feeds lists what it follows.",
                     error=True)

    def feeds(self, ctx: Context, cmd: ListFeeds) -> Reply:
        channel = self._channel(ctx)
        subs = self.store.channels.subscriptions(channel.id)
        if not subs:
            return Reply(text="This channel follows no feeds yet: /brief subscribe <feed-url> [keywords...]")
        now = self.service.clock()
        lines = ["Feeds this channel follows:"]
        for sub in subs:
            f = sub.feed
            state = (f"paused after {f.failures} failures in a row ({f.last_error}); "
                     f"/brief subscribe {f.url} resumes it" if f.paused else
                     f"last fetched {_ago(f.last_fetched_at, now)}, {f.articles} items"
                     + (f", {f.failures} failures in a row ({f.last_error})" if f.failures else ""))
            keywords = f" [keywords: {', '.join(sub.keywords)}]" if sub.keywords else ""
            if f.poll_minutes:
                keywords += f" [every {f.poll_minutes} min]"
            lines.append(f"\u2022 {f.title or f.url} <{f.url}>{keywords}: {state}")
        return Reply(text="\n".join(lines))

    def show_schedule(self, ctx: Context, cmd: ShowSchedule) -> Reply:
        channel = self._channel(ctx)
        if not channel.schedule_kind:
            return Reply(text="No digest is scheduled here: /brief schedule daily HH:MM [Area/City]")
        zone = channel.timezone or self.service.settings.timezone
        return Reply(text="Digest: " + describe(channel.schedule_kind, channel.schedule_time, zone,
                                                self.service.clock()))

    def set_schedule(self, ctx: Context, cmd: SetSchedule) -> Reply:
        channel = self._channel(ctx)
        zone = cmd.timezone or channel.timezone or self.service.settings.timezone
        channel = self.store.channels.set_schedule(channel.id, cmd.kind, cmd.time, zone, self.service.clock())
        self._changed(channel.id)
        return Reply(text="Digest scheduled: " + describe(cmd.kind, cmd.time, zone, self.service.clock()))

    def schedule_off(self, ctx: Context, cmd: ScheduleOff) -> Reply:
        channel = self._channel(ctx)
        self.store.channels.set_schedule(channel.id, None, None, None, self.service.clock())
        self._changed(channel.id)
        return Reply(text="The digest here is off; /brief schedule daily HH:MM turns it back on.")

    def _changed(self, channel_id: int) -> None:
        self.service.notify("schedule", channel_id)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    minutes = int((now - when) / timedelta(minutes=1))
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"
