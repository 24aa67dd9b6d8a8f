"""``briefbot db``: migrate the database, and copy a store into PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from .errors import BriefbotError
from .settings import Settings

db_app = typer.Typer(
    help="The database: apply migrations, copy a SQLite store into PostgreSQL.",
    no_args_is_help=True,
)

URL_HELP = "Database URL (default: BRIEFBOT_DATABASE_URL, else the SQLite file in the data folder)."


def _configured_url() -> str:
    return Settings.from_env().database_url


@db_app.command("upgrade")
def upgrade_command(
    url: Annotated[Optional[str], typer.Option("--url", help=URL_HELP)] = None,
) -> None:
    """Apply the migrations the database lacks (every command does this too) and print its revision."""
    from sqlalchemy.exc import DBAPIError

    from .store.copy import shown
    from .store.database import create_database_engine, current_revision, head_revision, upgrade

    url = url or _configured_url()
    engine = create_database_engine(url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.__class__.__name__
        raise BriefbotError(f"Cannot open the database {shown(url)}: {detail}") from None
    finally:
        engine.dispose()
    state = "head" if after == head_revision() else "not the newest"
    change = "already up to date" if before == after else f"upgraded from {before or 'an empty database'}"
    typer.echo(f"{shown(url)}: revision {after} ({state}), {change}.")


@db_app.command("copy")
def copy_command(
    to: Annotated[str, typer.Option("--to", help="The empty database to fill, for example "
                                    "postgresql+psycopg://briefbot@db.example/briefbot.")],
    source: Annotated[Optional[str], typer.Option("--from", help=URL_HELP)] = None,
) -> None:
    """Copy every row of the store (articles, channels, schedules, ledger, jobs, installs) into an empty database.

    The target is migrated first and the copy is one transaction; the row counts of every
    table are compared before it commits. Stop the bot while copying.
    """
    from .store.copy import copy_store, shown

    source = source or _configured_url()
    report = copy_store(source, to)
    table = Table("table", "rows in source", "rows copied", box=box.SIMPLE_HEAD, title=None)
    table.columns[1].justify = table.columns[2].justify = "right"
    for count in report.tables:
        table.add_row(count.name, str(count.source), str(count.copied))
    out = Console(highlight=False, soft_wrap=True)
    out.print(table)
    if report.cleaned:
        out.print(f"{report.cleaned} text value(s) lost NUL characters, which PostgreSQL cannot store.")
    rows = f"{report.rows} row{'s' * (report.rows != 1)}"
    out.print(f"Copied {rows} in {len(report.tables)} tables from {shown(source)} into {shown(to)} "
              f"(revision {report.revision}); every row count matches.")
