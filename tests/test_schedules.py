"""Digest schedules keep the channel's local hour, across DST changes and weekends."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.schedules import describe, last_slot, next_run, slot_key

UTC = timezone.utc


def test_the_local_hour_holds_across_the_spring_dst_change():
    before = next_run("daily", "08:00", "Europe/London", datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    after = next_run("daily", "08:00", "Europe/London", datetime(2026, 3, 29, 9, 0, tzinfo=UTC))
    assert before.astimezone(UTC).hour == 8  # GMT: 08:00 local is 08:00 UTC
    assert after.astimezone(UTC).hour == 7   # BST: 08:00 local is 07:00 UTC
    assert before.hour == after.hour == 8


def test_weekdays_skip_the_weekend():
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert next_run("weekdays", "07:30", "UTC", friday_evening).date().isoformat() == "2026-11-30"
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert last_slot("weekdays", "07:30", "UTC", sunday).date().isoformat() == "2026-11-27"


def test_the_last_slot_and_its_key_are_in_local_time():
    now = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)  # 09:05 in New York
    slot = last_slot("daily", "09:00", "America/New_York", now)
    assert slot_key(slot) == "2026-11-25T09:00-0500"
    earlier = last_slot("daily", "09:30", "America/New_York", now)
    assert slot_key(earlier) == "2026-11-24T09:30-0500"


def test_describe_names_the_next_run_in_the_channel_zone():
    text = describe("daily", "08:00", "Asia/Tokyo", datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
    assert "every day at 08:00 (Asia/Tokyo)" in text and "Thu 26 Nov 2026 08:00 JST" in text
