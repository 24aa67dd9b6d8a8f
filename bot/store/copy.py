"""Copying a whole store into another, empty database: a SQLite file into PostgreSQL, to scale out.

Every table is copied with its primary keys: the store's own tables (both databases are
migrated to the newest schema first) and the tables kept in the same database by the
scheduler (APScheduler's jobs) and by Slack (installations, OAuth states) when the source
has them. The target must be empty. The copy is one transaction on the target: the row
counts are compared before it commits, so a failed or short copy leaves no rows behind.
PostgreSQL's sequences are then moved past the copied ids, so new rows get fresh ones.

Stop the bot before copying: the source is read in one transaction, which on SQLite holds
the write lock until the copy is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, Integer, MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

from ..errors import BriefbotError
from .database import create_database_engine, current_revision, upgrade
from .models import Base

MIGRATIONS_TABLE = "alembic_version"
BATCH = 1000


@dataclass(frozen=True)
class TableCount:
    name: str
    source: int
    copied: int


@dataclass(frozen=True)
class CopyReport:
    tables: list[TableCount]
    revision: str | None
    cleaned: int = 0  # text values that held NUL characters, which PostgreSQL cannot store

    @property
    def rows(self) -> int:
        return sum(t.copied for t in self.tables)


def shown(url: str) -> str:
    """A database URL fit to print: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - printing must not fail on a URL that does not parse
        return url


def copy_store(source_url: str, target_url: str) -> CopyReport:
    """Copy every row of the store at ``source_url`` into the empty database at ``target_url``."""
    if _same_database(source_url, target_url):
        raise BriefbotError("The source and the target are the same database.")
    _require_sqlite_file(source_url)
    source = _open(source_url, "source")
    try:
        target = _open(target_url, "target", migrate=False)
        try:
            _refuse_unless_empty(target, target_url)
            _migrate(target, target_url)
            report = _copy(source, target)
            return CopyReport(report.tables, current_revision(target), report.cleaned)
        finally:
            target.dispose()
    finally:
        source.dispose()


def _open(url: str, role: str, *, migrate: bool = True) -> Engine:
    try:
        engine = create_database_engine(url)
    except NoSuchModuleError:
        raise BriefbotError(f"The {role} is not a database URL SQLAlchemy knows: {shown(url)}") from None
    if migrate:
        _migrate(engine, url)
    return engine


def _migrate(engine: Engine, url: str) -> None:
    try:
        upgrade(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise BriefbotError(f"Cannot open {shown(url)}: {_first_line(exc)}") from None


def _same_database(a: str, b: str) -> bool:
    try:
        return make_url(a) == make_url(b)
    except Exception:  # noqa: BLE001 - a URL that does not parse fails clearly when opened
        return False


def _require_sqlite_file(url: str) -> None:
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        raise BriefbotError(f"The source is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).expanduser()
        if not path.is_file():
            raise BriefbotError(f"There is no store to copy at {path} (set BRIEFBOT_DATABASE_URL or --from).")


def _refuse_unless_empty(engine: Engine, url: str) -> None:
    """db copy fills an empty database only: it never merges into rows already there."""
    try:
        with engine.connect() as conn:
            for name in inspect(conn).get_table_names():
                if name == MIGRATIONS_TABLE:
                    continue
                table = Table(name, MetaData())
                rows = conn.scalar(select(func.count()).select_from(table))
                if rows:
                    raise BriefbotError(
                        f"The target database is not empty ({name} has {rows} row{'s' * (rows != 1)}): "
                        f"db copy only fills an empty database.")
    except DBAPIError as exc:
        raise BriefbotError(f"Cannot open {shown(url)}: {_first_line(exc)}") from None


def _copy(source: Engine, target: Engine) -> CopyReport:
    options = {"isolation_level": "REPEATABLE READ"} if source.dialect.name == "postgresql" else {}
    with source.connect().execution_options(**options) as src, src.begin(), target.begin() as dst:
        pairs = _tables(src, dst)
        counts: list[TableCount] = []
        cleaned = 0
        for source_table, target_table in pairs:
            try:
                expected = src.scalar(select(func.count()).select_from(source_table)) or 0
                cleaned += _copy_rows(src, dst, source_table, target_table)
                copied = dst.scalar(select(func.count()).select_from(target_table)) or 0
            except SQLAlchemyError as exc:
                raise BriefbotError(f"Copying {source_table.name} failed, so nothing was copied: "
                                    f"{_first_line(exc)}") from None
            if copied != expected:
                raise BriefbotError(f"{source_table.name} has {expected} rows in the source but {copied} were "
                                    f"copied, so nothing was copied.")
            counts.append(TableCount(source_table.name, expected, copied))
        if dst.dialect.name == "postgresql":
            _move_sequences(dst, [t for _, t in pairs])
    return CopyReport(counts, None, cleaned)


def _tables(src: Connection, dst: Connection) -> list[tuple[Table, Table]]:
    """(source table, target table) in an order that inserts referenced rows first."""
    present = set(inspect(src).get_table_names())
    pairs = [(table, table) for table in Base.metadata.sorted_tables if table.name in present]
    others = sorted(present - set(Base.metadata.tables) - {MIGRATIONS_TABLE})
    if not others:
        return pairs
    reflected = MetaData()
    reflected.reflect(src, only=others)
    existing = set(inspect(dst).get_table_names())
    targets = MetaData()
    for table in reflected.sorted_tables:
        if table.name in existing:
            target = Table(table.name, targets, autoload_with=dst)
            missing = set(table.columns.keys()) - set(target.columns.keys())
            if missing:
                raise BriefbotError(f"The target's {table.name} table lacks the column(s) {', '.join(sorted(missing))}.")
        else:
            # The table as its owner (APScheduler, slack-sdk) defined it, in portable types.
            target = table.to_metadata(targets)
            for column in target.columns:
                try:
                    column.type = column.type.as_generic()
                except NotImplementedError:
                    pass
            target.create(dst)
        pairs.append((table, target))
    return pairs


def _copy_rows(src: Connection, dst: Connection, source_table: Table, target_table: Table) -> int:
    """Insert every row of ``source_table`` into ``target_table``; how many text values lost a NUL."""
    strip_nul = dst.dialect.name == "postgresql"
    cleaned = 0
    order = list(source_table.primary_key.columns) or list(source_table.columns)
    result = src.execute(select(source_table).order_by(*order).execution_options(yield_per=BATCH))
    for batch in result.partitions():
        rows = []
        for row in batch:
            values = dict(row._mapping)
            if strip_nul:
                for key, value in values.items():
                    if isinstance(value, str) and "\x00" in value:
                        values[key] = value.replace("\x00", "")
                        cleaned += 1
            rows.append(values)
        dst.execute(target_table.insert(), rows)
    return cleaned


def _move_sequences(dst: Connection, tables: list[Table]) -> None:
    """Set each id sequence past the largest copied id (or back to 1 for an empty table)."""
    quote = dst.dialect.identifier_preparer
    for table in tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer):
            continue
        name, column = quote.format_table(table), quote.quote(key[0].name)
        sequence = dst.scalar(text("SELECT pg_get_serial_sequence(:table, :column)"),
                              {"table": name, "column": key[0].name})
        if sequence:
            dst.execute(text(f"SELECT setval(:sequence, COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)"),
                        {"sequence": sequence})


def _first_line(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip()
    return detail.splitlines()[0] if detail else exc.__class__.__name__
