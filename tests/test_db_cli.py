"""``briefbot db upgrade`` and ``briefbot db copy`` into PostgreSQL, run as the real command; and the
store under what PostgreSQL brings that a single SQLite file does not: concurrent writers in
several processes, and connections that drop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, inspect, select, text
from sqlalchemy.exc import OperationalError

from bot.articles import Article
from bot.store import Store
from bot.store.database import head_revision, transient
from bot.store.models import Base
from postgres import fresh_database

BRIEFBOT = Path(sys.executable).parent / "briefbot"
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)
FEED = "https://news.example/feed.xml"


def article(n: int, **kw) -> Article:
    fields = dict(title=f"Story {n}", text=f"Body of story number {n}. It has two sentences.",
                  url=f"https://news.example/{n}", source="Example News", published=T0 - timedelta(hours=n))
    fields.update(kw)
    return Article(**fields)


def briefbot(*args: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    env.update(BRIEFBOT_DATA_DIR=str(tmp_path / "data"), BRIEFBOT_DATABASE_URL=database_url)
    return subprocess.run([str(BRIEFBOT), "db", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def postgres_url():
    with fresh_database() as url:
        yield url


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
            return {n: conn.scalar(text(f'select count(*) from "{n}"')) for n in names}
    finally:
        engine.dispose()


def max_ids(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n not in ("alembic_version", "apscheduler_jobs",
                                                                            "slack_oauth_states")]
            return {n: conn.scalar(text(f'select coalesce(max(id), 0) from "{n}"')) for n in names}
    finally:
        engine.dispose()


def populate(url: str) -> None:
    """A store with a row in every table: articles, feeds, channels, the ledger, jobs, installations."""
    store = Store.open(url)
    try:
        store.add_articles([article(1), article(2, text="Ein Text mit Umlauten: \u00e4\u00f6\u00fc.")],
                           feed_url=FEED, now=T0)
        store.add_articles([article(3)], now=T0)
        slack = store.channels.channel("slack", "T0:C0GENERAL")
        store.channels.channel("discord", "123456789012345678")
        store.channels.subscribe(slack.id, FEED, "Example News", ("bridge", "library"))
        store.channels.set_schedule(slack.id, "weekdays", "08:30", "Europe/Paris", T0)
        store.channels.feed_failed(1, T0, "HTTP 500", pause_after=5)
        posted = store.channels.claim(slack.id, "2026-11-25T08:30+0100", T0)
        store.channels.delivered(posted, T0, "1700000000.000100", since=T0,
                                 memories=[{"headline": "Story 1", "sentences": ["Body."]}])
        failed = store.channels.claim(slack.id, "2026-11-26T08:30+0100", T0 + timedelta(days=1))
        store.channels.delivery_failed(failed, "SlackApiError: channel_not_found")
        store.remember_post("slack", "T0:C0GENERAL", "1700000000.000100", [1, 2])

        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=store.engine)},
                                        timezone=timezone.utc)
        scheduler.start(paused=True)
        scheduler.add_job("bot.runtime:feed_job", "interval", minutes=15, args=[1], id="feed:1")
        scheduler.shutdown(wait=False)

        installations = slack_installations(store.engine)
        if installations is not None:
            installations.save(installation("T0"))
    finally:
        store.close()


def slack_installations(engine):
    try:
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    except ImportError:  # pragma: no cover - the Slack extra is part of the test extra
        return None
    store = SQLAlchemyInstallationStore(client_id="1.2", engine=engine)
    store.create_tables()
    return store


def installation(team: str):
    from slack_sdk.oauth.installation_store import Installation

    return Installation(app_id="A0TEST", team_id=team, user_id="U0ADMIN", bot_token=f"xoxb-{team}",
                        bot_id="B0BOT", bot_user_id="U0BOT", bot_scopes=["commands", "chat:write"])


# -- briefbot db upgrade / db copy ------------------------------------------------------------------


def test_db_upgrade_migrates_an_empty_postgresql_database_and_prints_its_revision(postgres_url, tmp_path):
    first = briefbot("upgrade", database_url=postgres_url, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    head = head_revision()
    assert f"revision {head} (head), upgraded from an empty database" in first.stdout
    assert set(Base.metadata.tables) <= set(counts(postgres_url))
    again = briefbot("upgrade", database_url=postgres_url, tmp_path=tmp_path)
    assert again.returncode == 0 and f"revision {head} (head), already up to date" in again.stdout


def test_db_copy_moves_every_row_into_postgresql_once_and_new_rows_get_fresh_ids(postgres_url, tmp_path):
    sqlite_url = f"sqlite:///{tmp_path / 'data' / 'briefbot.db'}"
    populate(sqlite_url)
    source = counts(sqlite_url)
    assert {"apscheduler_jobs", "slack_installations", "slack_bots"} <= set(source)
    assert all(source[name] > 0 for name in ("articles", "feeds", "channels", "subscriptions", "deliveries",
                                             "served_stories", "posted_briefings", "apscheduler_jobs"))

    done = briefbot("copy", "--to", postgres_url, database_url=sqlite_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert counts(postgres_url) == source
    for name, rows in source.items():  # the printed table: each table with its rows in source and copied
        assert re.search(rf"^\s*{name}\s+{rows}\s+{rows}\s*$", done.stdout, re.MULTILINE), (name, done.stdout)
    assert "every row count matches" in done.stdout and "password" not in done.stdout

    refused = briefbot("copy", "--to", postgres_url, database_url=sqlite_url, tmp_path=tmp_path)
    assert refused.returncode == 1 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "not empty" in refused.stderr
    assert counts(postgres_url) == source

    # The copy reads back as the original, and every id sequence continues after the copied ids.
    copied_ids = max_ids(postgres_url)
    before, after = Store.open(sqlite_url), Store.open(postgres_url)
    try:
        assert [(s.id, s.article, s.created_at) for s in after.recent()] == \
               [(s.id, s.article, s.created_at) for s in before.recent()]
        assert after.channels.scheduled() == before.channels.scheduled()
        channel = after.channels.scheduled()[0]
        assert after.channels.deliveries(channel.id) == before.channels.deliveries(channel.id)
        assert after.channels.served(channel.id, T0) == before.channels.served(channel.id, T0)
        assert after.channels.subscriptions(channel.id) == before.channels.subscriptions(channel.id)
        assert [a.id for a in after.posted_articles("slack", "T0:C0GENERAL", "1700000000.000100")] == [1, 2]

        added = after.add_articles([article(4)], feed_url="https://other.example/feed.xml", now=T0)
        assert added.added == [copied_ids["articles"] + 1]
        new_channel = after.channels.channel("slack", "T0:C0NEW")
        assert new_channel.id == copied_ids["channels"] + 1
        assert after.channels.subscribe(new_channel.id, FEED, "", ())
        assert after.channels.claim(channel.id, "2026-11-27T08:30+0100", T0) == copied_ids["deliveries"] + 1
        assert after.channels.claim(channel.id, "2026-11-25T08:30+0100", T0) is None  # the copied ledger holds
        after.remember_post("slack", "T0:C0NEW", "1700000000.000200", added.added)

        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        job = SQLAlchemyJobStore(engine=after.engine).lookup_job("feed:1")
        assert job is not None and job.func_ref == "bot.runtime:feed_job" and job.args == (1,)
        installations = slack_installations(after.engine)
        assert installations.find_bot(enterprise_id=None, team_id="T0").bot_token == "xoxb-T0"
        installations.save(installation("T1"))
        assert installations.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-T1"
    finally:
        before.close()
        after.close()
    new_ids = max_ids(postgres_url)
    for name, last in copied_ids.items():
        if name not in ("conversation_turns", "served_stories"):
            assert new_ids[name] > last, name


def test_db_copy_refuses_to_copy_a_database_into_itself_or_a_missing_store(postgres_url, tmp_path):
    missing = briefbot("copy", "--to", postgres_url, database_url=f"sqlite:///{tmp_path / 'none.db'}",
                       tmp_path=tmp_path)
    assert missing.returncode == 1 and "no store to copy" in missing.stderr
    itself = briefbot("copy", "--to", postgres_url, database_url=postgres_url, tmp_path=tmp_path)
    assert itself.returncode == 1 and "the same database" in itself.stderr


# -- many writers, as several bot processes sharing one database ----------------------------------------


def together(n: int, action) -> list:
    """Run ``action(i)`` in ``n`` threads released at the same moment; their results (or errors)."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - reported as the result, so the test names it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_writers_of_the_same_rows_never_fail_and_never_duplicate(database_url):
    store = Store.open(database_url)
    try:
        channels = [store.channels.channel("fake", f"C{i}").id for i in range(6)]
        assert len(set(together(6, lambda i: store.channels.channel("fake", "C-new").id))) == 1
        assert together(6, lambda i: store.channels.subscribe(channels[i], FEED, "Feed", ())) == [True] * 6
        same = together(6, lambda i: store.channels.subscribe(channels[0], "https://b.example/feed", "", ()))
        assert sorted(same) == [False] * 5 + [True]
        claims = together(6, lambda i: store.channels.claim(channels[0], "2026-11-25T08:00+0000", T0))
        assert len([c for c in claims if c is not None]) == 1 and claims.count(None) == 5
        ingests = together(6, lambda i: store.add_articles([article(1)], feed_url="https://c.example/feed", now=T0))
        assert sorted(len(r.added) for r in ingests) == [0] * 5 + [1]
        assert {tuple(r.ids) for r in ingests} == {(1,)} and store.count() == 1
        assert together(6, lambda i: store.remember_post("fake", "C0", "m1", [1])) == [None] * 6
        feed = store.channels.feeds()[0].id
        failures = together(6, lambda i: store.channels.feed_failed(feed, T0, "HTTP 500", pause_after=4))
        assert sorted(f[0] for f in failures) == [1, 2, 3, 4, 5, 6]
        assert [f[1] for f in failures].count(True) == 1  # paused once: one notice
        with store.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Base.metadata.tables["feeds"])) == 3
    finally:
        store.close()


def test_text_postgresql_cannot_hold_is_stored_the_same_way_everywhere(database_url):
    store = Store.open(database_url)
    try:
        long_url = "https://news.example/" + "x" * 3000
        result = store.add_articles([article(1, url=long_url), article(2, text="A NUL \x00 in the text.")], now=T0)
        assert len(result.added) == 2
        stored = store.articles(result.added)
        assert stored[0].article.url is None and stored[1].article.text == "A NUL  in the text."
    finally:
        store.close()


def test_processes_opening_a_new_postgresql_database_at_once_migrate_it_once(postgres_url):
    code = f"from bot.store import Store; Store.open({postgres_url!r}).close()"
    processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
        process.stderr.close()
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.scalar(text("select version_num from alembic_version")) == head_revision()
    engine.dispose()


# -- a connection that drops ----------------------------------------------------------------------------


def test_an_operation_cut_off_by_a_lost_connection_is_retried(postgres_url):
    store = Store.open(postgres_url)
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    cut = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def drop_connection(conn, cursor, statement, parameters, context, executemany):
        # The server ends this connection twice, as a restart would, just as the store writes.
        if len(cut) < 2 and statement.startswith(("INSERT INTO articles", "INSERT INTO deliveries")):
            cut.append(conn.connection.dbapi_connection.info.backend_pid)
            with admin.connect() as other:
                other.execute(text("select pg_terminate_backend(:pid)"), {"pid": cut[-1]})

    try:
        stories = (article(n) for n in range(3))  # a generator: the retry must not find it used up
        assert len(store.add_articles(stories, now=T0).added) == 3 and len(cut) == 2
        assert store.count() == 3
        cut.clear()
        channel = store.channels.channel("fake", "C0").id
        assert store.channels.claim(channel, "slot", T0) is not None and len(cut) == 2
        assert store.channels.deliveries(channel) == [("slot", "claimed")]
    finally:
        admin.dispose()
        store.close()


def test_only_postgresql_connection_failures_count_as_transient(tmp_path):
    from postgres import need_postgres

    need_postgres()  # for the driver
    refused = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 3})
    with pytest.raises(OperationalError) as failure:
        refused.connect()
    assert transient(failure.value)
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with sqlite.connect() as conn, pytest.raises(OperationalError) as sqlite_failure:
        conn.execute(text("select * from missing_table"))
    assert not transient(sqlite_failure.value)
