"""Digest schedules in a channel's local time: triggers, next runs and slot keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

KINDS = {"daily": "*", "weekdays": "mon-fri"}


def trigger(kind: str, time: str, timezone: str) -> CronTrigger:
    """The APScheduler trigger of a schedule; the hour is local, so DST never moves it."""
    hour, minute = (int(part) for part in time.split(":"))
    return CronTrigger(day_of_week=KINDS[kind], hour=hour, minute=minute, timezone=ZoneInfo(timezone))


def next_run(kind: str, time: str, timezone: str, now: datetime) -> datetime:
    return trigger(kind, time, timezone).get_next_fire_time(None, now)


def last_slot(kind: str, time: str, timezone: str, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (within the last eight days)."""
    zone = ZoneInfo(timezone)
    hour, minute = (int(part) for part in time.split(":"))
    local = now.astimezone(zone)
    for back in range(8):
        day = (local - timedelta(days=back)).date()
        if kind == "weekdays" and day.weekday() >= 5:
            continue
        slot = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if slot <= now:
            return slot
    return None


def slot_key(slot: datetime) -> str:
    """The ledger key of a slot: its local date and time, unique per channel."""
    return slot.strftime("%Y-%m-%dT%H:%M%z")


def describe(kind: str, time: str, timezone: str, now: datetime) -> str:
    when = next_run(kind, time, timezone, now)
    days = "every day" if kind == "daily" else "Monday to Friday"
    return (f"{days} at {time} ({timezone}); next: "
            f"{when.astimezone(ZoneInfo(timezone)).strftime('%a %d %b %Y %H:%M %Z')}")
