"""Engine creation and migrations: the store is always at the newest schema once opened.

Also the few things that differ between SQLite and PostgreSQL for the store's writes:
an insert that may lose a race to another writer (``insert_or_ignore``), and retrying an
operation when the PostgreSQL connection drops for a moment (``retrying``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ..errors import BriefbotError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder, foreign keys and WAL."""
    try:
        parsed = make_url(url)
    except Exception:
        raise BriefbotError(f"BRIEFBOT_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy, not pysqlite, start transactions, so SAVEPOINTs and rollbacks work.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            # IMMEDIATE takes the write lock up front, so two writers queue (busy timeout)
            # instead of one failing at once with "database is locked" when it upgrades.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        # An unreachable server fails within seconds, not after the system's TCP timeout.
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        try:
            return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        except ModuleNotFoundError:
            raise BriefbotError(
                "PostgreSQL needs its driver: pip install 'briefbot[postgres]'") from None
    return create_engine(parsed, pool_pre_ping=True)


# The transaction-scoped advisory lock migrations take. The two-key form: its keys can never
# collide with a single-key advisory lock (such as the scheduler's leader lock, bot.leadership).
MIGRATION_LOCK = (0x62726966, 1)  # ("brif", migrations)
_MIGRATION_LOCK_KEYS = {"space": MIGRATION_LOCK[0], "key": MIGRATION_LOCK[1]}


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration, keeping every row."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes may open a new database at once: one migrates, the others wait
            # and then find it done. (On SQLite, BEGIN IMMEDIATE already makes them queue.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                               _MIGRATION_LOCK_KEYS)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def create_tables_once(engine: Engine, create: Callable[[], object]) -> None:
    """Run a library's own check-then-create of its tables (slack-sdk's stores), one process at a time.

    Several replicas started together on a new PostgreSQL database would each find a table
    missing and each create it, and all but one fail; under the lock the migrations use, the
    others wait and then find the tables there.
    """
    if engine.dialect.name != "postgresql":
        create()
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:space, :key)"),
                           _MIGRATION_LOCK_KEYS)
        try:
            create()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"),
                               _MIGRATION_LOCK_KEYS)
            connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None before the first one."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


# -- writes that may race another writer ---------------------------------------------------


def insert_or_ignore(session: Session, model, **values) -> int | None:
    """Insert a row; its id, or None when a unique key already holds such a row.

    On PostgreSQL this is ``INSERT ... ON CONFLICT DO NOTHING``: when another transaction
    inserts the same key at the same moment, this one waits for it and then does nothing,
    and the transaction stays usable. Elsewhere a SAVEPOINT catches the IntegrityError.
    """
    if session.get_bind().dialect.name == "postgresql":
        statement = (postgresql.insert(model).values(**values).on_conflict_do_nothing()
                     .returning(model.id))
        return session.scalar(statement)
    row = model(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row.id


def insert_many_or_ignore(session: Session, model, rows: list[dict]) -> int:
    """Insert rows in one statement, skipping those a unique key already holds; how many went in."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(model).values(rows).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(model).values(rows).on_conflict_do_nothing()
    else:
        return sum(insert_or_ignore(session, model, **row) is not None for row in rows)
    return len(session.execute(statement.returning(model.id)).all())


def joined_ids(ids: Iterable[int]) -> str:
    """Row ids as stored in a text column: comma-separated, each once, in order."""
    return ",".join(str(i) for i in dict.fromkeys(ids))


def get_or_create(session: Session, model, where: tuple, **values):
    """The row matching ``where`` (its unique key), inserted with ``values`` if there is none."""
    row = session.scalar(select(model).where(*where))
    if row is None:
        insert_or_ignore(session, model, **values)
        row = session.scalar(select(model).where(*where))
    return row


# -- a connection lost for a moment --------------------------------------------------------

RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)  # about eight seconds in all, then the error stands
# Connection exceptions, the server shutting down or starting, a deadlock or serialization failure.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01")
_NO_SQLSTATE = object()


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a PostgreSQL failure that the same operation can succeed after."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", _NO_SQLSTATE)
    if code is _NO_SQLSTATE:  # not a PostgreSQL driver's error: SQLite's are not retried
        return False
    if exc.connection_invalidated:
        return True
    if code is None:  # psycopg's own errors carry no SQLSTATE: a connection that failed or broke
        return isinstance(exc, OperationalError)
    return code.startswith(_TRANSIENT_SQLSTATES)


def retrying(method):
    """Run a store operation again (its whole transaction) when PostgreSQL drops the connection.

    Every retried operation is one transaction, so a failed attempt left nothing behind.
    Only a connection lost during COMMIT leaves it unknown whether the attempt was kept;
    a repeated insert of a unique key (an article, a channel, a ledger claim) then finds
    the first attempt's row, so a claimed slot is still never posted twice.
    SQLite errors are never retried: its writers already wait for each other.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        for delay in (*RETRY_DELAYS, None):
            try:
                return method(*args, **kwargs)
            except DBAPIError as exc:
                if delay is None or not transient(exc):
                    raise
                log.warning("database unavailable (%s); retrying %s in %.2gs",
                            str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else
                            exc.orig.__class__.__name__, method.__qualname__, delay)
                time.sleep(delay)

    return wrapper


def storable(value: str) -> str:
    """Text as the store keeps it: PostgreSQL text cannot hold NUL characters, so none is kept."""
    return value.replace("\x00", "") if "\x00" in value else value
