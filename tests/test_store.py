"""The store on a real SQLite file and on PostgreSQL: migrations, de-duplication, atomic ingest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from alembic.script import ScriptDirectory

from bot.articles import Article
from bot.store import Store
from bot.store.database import alembic_config

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def article(n: int, **kw) -> Article:
    fields = dict(title=f"Story {n}", text=f"Body of story number {n}. It has two sentences.",
                  url=f"https://news.example/{n}", source="Example News")
    fields.update(kw)
    return Article(**fields)


def test_a_new_database_gets_every_table_and_the_migration_version(store: Store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"articles", "feeds", "channels", "subscriptions", "deliveries", "alembic_version"} <= tables
    head = ScriptDirectory.from_config(alembic_config(str(store.engine.url))).get_current_head()
    with store.engine.connect() as conn:
        assert conn.scalar(text("select version_num from alembic_version")) == head


def test_reopening_keeps_the_articles(settings):
    first = Store.open(settings.database_url)
    first.add_articles([article(1), article(2)], now=T0)
    first.close()
    again = Store.open(settings.database_url)
    assert again.count() == 2
    again.close()


def test_the_same_url_or_the_same_text_is_stored_once(store: Store):
    assert len(store.add_articles([article(1)], now=T0).added) == 1
    same_url = article(1, text="A different, updated body.")
    same_text = article(2, text=article(1).text.upper().replace(".", ".  "), url="https://mirror.example/1")
    result = store.add_articles([same_url, same_text, article(3)], now=T0)
    assert result.duplicates == 2 and len(result.added) == 1
    assert store.count() == 2


def test_duplicates_inside_one_batch_count_once(store: Store):
    result = store.add_articles([article(1), article(1)], now=T0)
    assert (len(result.added), result.duplicates) == (1, 1)


def test_recent_is_newest_first_by_publication_or_arrival(store: Store):
    store.add_articles([article(1, published=T0 - timedelta(days=3))], now=T0)
    store.add_articles([article(2)], now=T0 - timedelta(hours=1))
    store.add_articles([article(3, published=T0 - timedelta(minutes=5))], now=T0)
    titles = [s.article.title for s in store.recent()]
    assert titles == ["Story 3", "Story 2", "Story 1"]
    assert [s.article.title for s in store.recent(since=T0 - timedelta(days=1))] == ["Story 3", "Story 2"]
    assert store.recent()[0].article.published.tzinfo is not None


def test_a_failed_batch_leaves_the_store_as_it_was(store: Store):
    store.add_articles([article(1)], now=T0)

    def articles():
        yield article(2)
        raise RuntimeError("the source broke half way")

    with pytest.raises(RuntimeError):
        store.add_articles(articles(), now=T0)
    assert store.count() == 1


def test_a_feed_url_creates_its_feed_row_once(store: Store):
    store.add_articles([article(1)], feed_url="https://news.example/feed.xml", now=T0)
    store.add_articles([article(2)], feed_url="https://news.example/feed.xml", now=T0)
    with store.engine.connect() as conn:
        assert conn.scalar(text("select count(*) from feeds")) == 1
        assert conn.scalar(text("select count(distinct feed_id) from articles")) == 1


def test_an_unknown_database_url_is_a_clear_error():
    from bot.errors import BriefbotError

    with pytest.raises(BriefbotError, match="not a database URL"):
        Store.open("this is not a url")


def test_an_older_database_is_upgraded_in_place_and_keeps_its_rows(settings):
    from alembic import command

    from bot.store.database import create_database_engine

    engine = create_database_engine(settings.database_url)
    config = alembic_config(settings.database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("insert into articles (content_hash, title, text, source, created_at) "
                          "values ('abc', 'Old story', 'Kept across upgrades.', '', '2026-01-01 00:00:00')"))
    engine.dispose()
    store = Store.open(settings.database_url)
    assert [s.article.title for s in store.recent()] == ["Old story"]
    assert "posted_briefings" in inspect(store.engine).get_table_names()
    store.close()
