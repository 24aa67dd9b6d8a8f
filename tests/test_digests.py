"""Subscriptions, schedules, the delivery ledger and feed polling, with an injected clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from adapters.fake import FakePlatform
from bot.runtime import Runtime
from bot.service import BriefingService
from bot.settings import Settings
from conftest import SEEDS
from feed_server import FeedItem, FeedServer
from loopback import serve

UTC = timezone.utc
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

STORY_A = FeedItem(
    "Harbour bridge to close for repairs",
    "The city's harbour bridge will close for six weeks of repairs from Monday, officials said. "
    "Engineers found corrosion in two of the bridge's steel cables during an inspection in October. "
    "Buses will be diverted through the tunnel while the work goes on.",
    "http://news.example/bridge")
STORY_B = FeedItem(
    "Library opens a seed bank for gardeners",
    "The central library has opened a seed bank where gardeners can borrow seeds and return some after harvest. "
    "More than 200 varieties are on the shelves, most of them donated by local growers. "
    "Librarians said the scheme was inspired by similar projects in Canada.",
    "http://news.example/seeds")


@pytest.fixture
def feed():
    server = FeedServer(items=[STORY_A, STORY_B])
    with serve(server.app()) as base:
        server.url = f"{base}/feed.xml"
        server.base = base
        yield server


@pytest.fixture
def settings(tmp_path, database_url):
    return Settings.from_env({"BRIEFBOT_DATA_DIR": str(tmp_path / "data"), "BRIEFBOT_SEEDS": str(SEEDS),
                              "BRIEFBOT_ALLOW_PRIVATE_URLS": "127.0.0.1", "BRIEFBOT_DATABASE_URL": database_url})


@pytest.fixture
def admin(service):
    return FakePlatform(service, is_admin=True)


def runtime_for(service, *platforms) -> Runtime:
    return Runtime(service, list(platforms), start_scheduler=False)


def test_subscribe_lists_and_unsubscribe(admin, feed):
    post = admin.say(f"/brief subscribe {feed.url} bridge")
    assert "Subscribed this channel to Loopback News" in post.text and "bridge" in post.text
    listing = admin.say("/brief feeds").text
    assert feed.url in listing and "keywords: bridge" in listing and "2 items" in listing
    assert "no longer follows" in admin.say(f"/brief unsubscribe {feed.url}").text
    assert "follows no feeds" in admin.say("/brief feeds").text


def test_changing_settings_needs_the_admin_right_reading_does_not(service, feed):
    member = FakePlatform(service, is_admin=False)
    for command in (f"/brief subscribe {feed.url}", f"/brief unsubscribe {feed.url}",
                    "/brief schedule daily 08:00", "/brief schedule off"):
        post = member.say(command)
        assert post.reply.error and "Only people who manage" in post.text
    assert "follows no feeds" in member.say("/brief feeds").text
    assert "No digest is scheduled" in member.say("/brief schedule").text
    assert service.store.channels.scheduled() == []


def test_a_web_page_or_a_dead_url_is_not_subscribed(admin, feed, service):
    page = admin.say(f"/brief subscribe {feed.base}/page.html")
    assert page.reply.error and "not an RSS or Atom feed" in page.text
    feed.fail = True
    dead = admin.say(f"/brief subscribe {feed.url}")
    assert dead.reply.error and "500" in dead.text
    assert service.store.channels.feeds() == [] and service.store.count() == 0


def test_schedule_shows_the_next_run_in_local_time(admin, clock):
    clock.now = T0
    post = admin.say("/brief schedule daily 08:30 Europe/Paris")
    assert "every day at 08:30 (Europe/Paris)" in post.text and "Wed 25 Nov 2026 08:30 CET" in post.text
    assert "every day at 08:30" in admin.say("/brief schedule").text
    assert "off" in admin.say("/brief schedule off").text
    assert "No digest is scheduled" in admin.say("/brief schedule").text


def test_a_slot_is_posted_once_and_the_next_day_brings_only_what_is_new(admin, feed, service, clock):
    clock.now = T0
    admin.say(f"/brief subscribe {feed.url}")
    admin.say("/brief schedule daily 08:00 UTC")
    runtime = runtime_for(service, admin)
    channel = service.store.channels.channel("fake", admin.context.channel)

    clock.now = T0 + timedelta(hours=1, minutes=1)
    first = asyncio.run(runtime.deliver_digest(channel.id))
    assert first.posted and first.slot == "2026-11-25T08:00+0000"
    digest = admin.last.reply.briefing
    assert {s.headline for s in digest.stories} == {STORY_A.title, STORY_B.title}

    again = asyncio.run(runtime.deliver_digest(channel.id))
    assert not again.posted and again.reason == "already delivered"
    assert len([p for p in admin.posted if p.reply.briefing]) == 1

    # Next day: the feed has one new story; yesterday's stories are not served again.
    clock.now = T0 + timedelta(days=1, hours=1)
    feed.set_items([STORY_A, STORY_B, FeedItem(
        "Council votes to plant 5,000 trees",
        "The council voted on Tuesday to plant 5,000 trees along the ring road over the next two years. "
        "The plan will cost 1.2 million pounds, paid for by a national green fund.",
        "http://news.example/trees")])
    asyncio.run(runtime.poll_feed(service.store.channels.feeds()[0].id, force=True))
    second = asyncio.run(runtime.deliver_digest(channel.id))
    assert second.posted
    headlines = [s.headline for s in admin.last.reply.briefing.stories]
    assert headlines == ["Council votes to plant 5,000 trees"]
    assert service.store.channels.deliveries(channel.id) == [
        ("2026-11-25T08:00+0000", "posted"), ("2026-11-26T08:00+0000", "posted")]


def test_one_schedule_queues_every_channel_on_it_and_two_replicas_share_the_posting(feed, service, clock):
    from bot.store import Store

    clock.now = T0
    store = service.store
    channels = []
    for i in range(12):
        channel = store.channels.channel("fake", f"C-team-{i:02d}")
        store.channels.subscribe(channel.id, feed.url, "Local news", ())
        store.channels.set_schedule(channel.id, "daily", "08:00", "UTC", T0)
        channels.append(channel)
    other_team = store.channels.channel("fake", "C-other")
    store.channels.set_schedule(other_team.id, "daily", "09:00", "UTC", T0)
    first = runtime_for(service, FakePlatform(service))
    asyncio.run(first.poll_feed(store.channels.feeds()[0].id, force=True))

    clock.now = T0 + timedelta(hours=1, seconds=2)  # 08:00:02, the job fired
    assert asyncio.run(first.slot_due("daily", "08:00", "UTC")) == 12
    assert asyncio.run(first.slot_due("daily", "08:00", "UTC")) == 0  # a late misfire queues nothing twice
    assert all(store.channels.deliveries(c.id) == [("2026-11-25T08:00+0000", "due")] for c in channels)
    assert store.channels.deliveries(other_team.id) == []

    # A second replica on the same database: both take from the queue at the same time.
    second_store = Store.open(service.settings.database_url)
    try:
        second_service = BriefingService(service.settings, second_store, clock=clock)
        second = runtime_for(second_service, FakePlatform(second_service))

        async def both():
            done = []
            while True:
                batches = await asyncio.gather(first.work_queue(limit=4), second.work_queue(limit=4))
                if not any(batches):
                    return done
                done += [d for batch in batches for d in batch]

        done = asyncio.run(both())
    finally:
        second_store.close()
    posted = [p.channel for runtime in (first, second) for p in runtime.platforms["fake"].posted]
    assert sorted(posted) == sorted(c.external_id for c in channels)  # each channel once
    assert all(d.posted for d in done) and len(done) == 12
    assert first.platforms["fake"].posted and second.platforms["fake"].posted  # the work was shared
    assert all(store.channels.deliveries(c.id) == [("2026-11-25T08:00+0000", "posted")] for c in channels)
    digest = first.platforms["fake"].posted[0].reply.briefing
    assert {s.headline for s in digest.stories} == {STORY_A.title, STORY_B.title}


def test_a_queued_slot_is_not_posted_past_the_grace(service, clock):
    clock.now = T0
    channel = service.store.channels.channel("fake", "C-late")
    service.store.channels.set_schedule(channel.id, "daily", "08:00", "UTC", T0)
    runtime = runtime_for(service, FakePlatform(service))
    clock.now = T0 + timedelta(hours=1, minutes=1)
    assert asyncio.run(runtime.slot_due("daily", "08:00", "UTC")) == 1
    clock.now = T0 + timedelta(hours=3)  # nobody worked the queue for two hours
    assert asyncio.run(runtime.work_queue()) == []
    assert runtime.platforms["fake"].posted == []
    assert service.store.channels.deliveries(channel.id) == [("2026-11-25T08:00+0000", "missed")]


def test_a_slot_missed_beyond_the_grace_is_skipped_and_one_before_the_schedule_never_fires(admin, service, clock):
    clock.now = T0 + timedelta(hours=2)  # 09:00: the 08:00 slot is before the schedule existed
    admin.say("/brief schedule daily 08:00 UTC")
    runtime = runtime_for(service, admin)
    channel = service.store.channels.channel("fake", admin.context.channel)
    assert asyncio.run(runtime.deliver_digest(channel.id)).reason == "no slot since the schedule was set"
    clock.now = T0 + timedelta(days=1, hours=3)  # 10:00 next day: 08:00 was two hours ago
    assert asyncio.run(runtime.deliver_digest(channel.id)).reason == "missed by more than the grace time"
    assert admin.posted[-1].reply.briefing is None


def test_nothing_new_is_one_line_not_an_empty_digest(admin, feed, service, clock):
    clock.now = T0
    admin.say(f"/brief subscribe {feed.url} volcano")
    admin.say("/brief schedule daily 08:00 UTC")
    clock.now = T0 + timedelta(hours=1, minutes=5)
    runtime = runtime_for(service, admin)
    channel = service.store.channels.channel("fake", admin.context.channel)
    assert asyncio.run(runtime.deliver_digest(channel.id)).posted
    assert admin.last.text == "Nothing new from your sources since the last digest."
    assert admin.last.reply.briefing is None


def test_conditional_get_and_a_failing_feed_is_paused_with_one_notice(admin, feed, service, clock):
    clock.now = T0
    admin.say(f"/brief subscribe {feed.url}")
    runtime = runtime_for(service, admin)
    feed_id = service.store.channels.feeds()[0].id

    clock.now += timedelta(minutes=16)
    result = asyncio.run(runtime.poll_feed(feed_id))
    assert result.not_modified and feed.requests[-1]["if_none_match"] == '"v0"'

    feed.fail = True
    notices = []
    for _ in range(7):
        clock.now += timedelta(days=1)  # past any backoff
        result = asyncio.run(runtime.poll_feed(feed_id))
        notices += [p for p in admin.posted if "is paused" in p.text and p not in notices]
    status = service.store.channels.feed(feed_id)
    assert status.paused and status.failures == 5
    assert len(notices) == 1 and "/brief subscribe" in notices[0].text
    assert "paused after 5 failures" in admin.say("/brief feeds").text
    feed.fail = False
    assert "polled again" in admin.say(f"/brief subscribe {feed.url}").text
    assert not service.store.channels.feed(feed_id).paused


def test_backoff_doubles_the_wait_after_each_failure(admin, feed, service, clock):
    clock.now = T0
    admin.say(f"/brief subscribe {feed.url}")
    runtime = runtime_for(service, admin)
    feed_id = service.store.channels.feeds()[0].id
    feed.fail = True
    clock.now += timedelta(minutes=15)
    assert asyncio.run(runtime.poll_feed(feed_id)).error  # 1 failure: next try after 30 min
    clock.now += timedelta(minutes=20)
    assert asyncio.run(runtime.poll_feed(feed_id)).skipped
    clock.now += timedelta(minutes=11)
    assert asyncio.run(runtime.poll_feed(feed_id)).error


def test_schedules_live_in_the_apscheduler_job_store_and_survive_a_restart(settings, clock, feed):
    from bot.store import Store

    async def session(commands):
        store = Store.open(settings.database_url)
        service = BriefingService(settings, store, clock=clock)
        chat = FakePlatform(service, is_admin=True)
        runtime = Runtime(service, [chat])
        await runtime.start()
        for command in commands:
            await asyncio.to_thread(chat.say, command)
        await asyncio.sleep(0.05)  # let the scheduler take the new jobs
        jobs = {job.id: job for job in runtime.scheduler.get_jobs()}
        await runtime.stop()
        store.close()
        return jobs

    clock.now = datetime.now(UTC)
    jobs = asyncio.run(session([f"/brief subscribe {feed.url}", "/brief schedule weekdays 06:45 Asia/Tokyo"]))
    assert {"digest:weekdays 06:45 Asia/Tokyo", "feed:1"} <= set(jobs)
    after = asyncio.run(session([]))
    digest = after["digest:weekdays 06:45 Asia/Tokyo"]
    assert digest.func_ref == "bot.runtime:digest_job" and digest.coalesce
    assert digest.next_run_time.astimezone(timezone.utc).strftime("%H:%M") == "21:45"  # 06:45 JST
    assert digest.next_run_time.astimezone(ZoneInfo("Asia/Tokyo")).weekday() < 5


def test_brief_in_a_channel_that_follows_feeds_briefs_from_those_feeds(admin, feed, service):
    from conftest import SEED_ARTICLE

    assert service.ingest(str(SEED_ARTICLE)).error is None
    assert "Starmer" in admin.say("/brief").text  # following nothing: every stored article
    admin.say(f"/brief subscribe {feed.url}")
    headlines = {s.headline for s in admin.say("/brief").reply.briefing.stories}
    assert headlines == {STORY_A.title, STORY_B.title}
