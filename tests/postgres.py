"""PostgreSQL for the tests: a fresh database per test on the server named by BRIEFBOT_TEST_DATABASE_URL.

Without a reachable server the PostgreSQL tests are skipped (with a reason that says how
to run them); with ``BRIEFBOT_REQUIRE_POSTGRES=1`` they fail instead, so CI cannot pass
without them by accident.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import pytest

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The server (and the database to administer it from) the tests may create databases on."""
    return os.environ.get("BRIEFBOT_TEST_DATABASE_URL") or DEFAULT_URL


def required() -> bool:
    return os.environ.get("BRIEFBOT_REQUIRE_POSTGRES", "") not in ("", "0")


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why PostgreSQL cannot be used for the tests, or None when it can."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(server_url())
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    except ModuleNotFoundError:
        return "the PostgreSQL driver is missing (pip install -e '.[postgres]')"
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means there is no usable server
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else ""
        return f"no PostgreSQL server at {url.render_as_string(hide_password=True)} ({first})"
    finally:
        engine.dispose()
    return None


def need_postgres() -> None:
    """Skip the calling test without a server, or fail it under BRIEFBOT_REQUIRE_POSTGRES=1."""
    reason = unavailable()
    if reason is None:
        return
    if required():
        pytest.fail(f"BRIEFBOT_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason}; start PostgreSQL and set BRIEFBOT_TEST_DATABASE_URL="
                f"postgresql+psycopg://USER@HOST:PORT/DB to run these tests")


def _admin():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(server_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards (with any connection left open)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    need_postgres()
    name = f"briefbot_test_{secrets.token_hex(6)}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url()).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def terminate_connections(url: str) -> int:
    """Cut every connection to ``url``'s database, as a server restart would; returns how many."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = _admin()
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = :name and pid <> pg_backend_pid()"),
                {"name": make_url(url).database}).all())
    finally:
        admin.dispose()
