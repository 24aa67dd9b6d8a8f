"""Shared fixtures: a real database per test (a SQLite file, and a PostgreSQL database when a
server is reachable: see ``postgres.py``), a fixed clock and a fake chat platform."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from adapters.fake import FakePlatform
from bot.service import BriefingService
from bot.settings import Settings
from bot.store import Store
from postgres import fresh_database

# Property tests assert behaviour, not speed: no per-example deadline on busy machines.
hypothesis_settings.register_profile("briefbot", deadline=None)
hypothesis_settings.load_profile("briefbot")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_ARTICLE = SEEDS / "000_592635f540e083f6.txt"
DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path):
    """Each test that stores anything runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'briefbot.db'}"
        return
    with fresh_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    env = {"BRIEFBOT_DATA_DIR": str(tmp_path / "data"), "BRIEFBOT_SEEDS": str(SEEDS),
           "BRIEFBOT_DATABASE_URL": database_url}
    return Settings.from_env(env)


@pytest.fixture
def store(settings: Settings):
    store = Store.open(settings.database_url)
    yield store
    store.close()


@pytest.fixture
def clock():
    class Clock:
        now = NOW

        def __call__(self) -> datetime:
            return self.now

    return Clock()


@pytest.fixture
def service(settings: Settings, store: Store, clock) -> BriefingService:
    return BriefingService(settings, store, clock=clock)


@pytest.fixture
def chat(service: BriefingService) -> FakePlatform:
    return FakePlatform(service)
