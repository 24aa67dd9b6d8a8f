"""The ``briefbot`` command line: the entry point that reads settings and owns the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from datetime import timedelta
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from summarizer import Budget, Document

from .articles import to_document
from .cli_db import db_app
from .errors import BriefbotError
from .language_model import brief, deadline_for, summarizers
from .render import answer_text, briefing_json, briefing_markdown, briefing_text
from .settings import Settings
from .sources import load_source

app = typer.Typer(
    help="News briefings that cite their sources, in the terminal, Slack and Discord.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
err = Console(stderr=True)
log = logging.getLogger("briefbot")


class Format(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def main() -> None:
    """Console-script entry point: errors become one line on stderr, never a traceback."""
    debug = os.environ.get("BRIEFBOT_DEBUG", "") not in ("", "0")
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except BriefbotError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        log.debug("unexpected error", exc_info=True)
        _fail(f"unexpected {exc.__class__.__name__}: {exc} (set BRIEFBOT_DEBUG=1 for details)")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise SystemExit(code)


def _settings() -> Settings:
    return Settings.from_env()


def _service(settings: Settings):
    from .service import BriefingService
    from .store import Store

    return BriefingService(settings, Store.open(settings.database_url))


@app.command()
def summarize(
    source: Annotated[Optional[str], typer.Argument(help="A file, folder, URL, or - for stdin.")] = None,
    sentences: Annotated[int, typer.Option("--sentences", "-n", min=1, max=20, help="Sentences per summary.")] = 3,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    jsonl: Annotated[bool, typer.Option("--jsonl", help='Batch: JSON lines {"id", "article"} on stdin.')] = False,
) -> None:
    """Summarize one article (or a batch of JSON lines) without touching the store."""
    if jsonl:
        from .jsonl import summarize_lines

        if source not in (None, "-"):
            _fail("--jsonl reads JSON lines from stdin; give no SOURCE.", 2)
        stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
        done, failed = summarize_lines(stdin, sys.stdout, sentences=sentences)
        if failed:
            err.print(f"{failed} line(s) could not be summarized; see their \"error\" fields.")
        return
    settings = _settings()
    if source in (None, "-"):
        documents = [_stdin_document()]
    else:
        documents = [to_document(a) for a in load_source(source, settings.fetch_policy())]
    summarizer, _ = summarizers(settings)
    briefing = brief(documents, summarizer, title=documents[0].title or "Summary",
                     budget=Budget(sentences=sentences), max_stories=None, deadline=deadline_for(settings))
    if not briefing.stories:
        _fail("There is no text to summarize.")
    _print_briefing(briefing, fmt)


def _stdin_document() -> Document:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BriefbotError("Standard input is not UTF-8 text.") from None
    if "\x00" in text:
        raise BriefbotError("Standard input looks binary, not text.")
    if not text.strip():
        raise BriefbotError("Standard input is empty: there is no text to summarize.")
    return Document(title="", text=text, source="stdin")


def _print_briefing(briefing, fmt: Format) -> None:
    if fmt is Format.json:
        typer.echo(json.dumps(briefing_json(briefing), ensure_ascii=False, indent=2))
    elif fmt is Format.markdown:
        typer.echo(briefing_markdown(briefing))
    else:
        typer.echo(briefing_text(briefing))


@app.command()
def ingest(sources: Annotated[list[str], typer.Argument(help="Files, folders, URLs and feeds.")]) -> None:
    """Store articles from files, folders, URLs and feeds (duplicates are skipped)."""
    service = _service(_settings())
    failures = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True, disable=len(sources) < 2) as progress:
        task = progress.add_task("Ingesting", total=len(sources))
        for source in sources:
            report = service.ingest(source)
            progress.advance(task)
            if report.error:
                failures += 1
                err.print(f"[red]✗[/] {source}: {report.error}", highlight=False, soft_wrap=True)
            else:
                r = report.result
                err.print(f"[green]✓[/] {source}: {len(r.added)} new, {r.duplicates} already stored",
                          highlight=False, soft_wrap=True)
    if failures:
        raise SystemExit(1)


# Seconds a thread may hold the interpreter before the event loop gets it back (see run).
LOOP_SWITCH_INTERVAL = 0.001

_SPAN = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_span(value: str) -> timedelta:
    """``90m``, ``24h``, ``7d``, ``2w`` as a timedelta."""
    m = _SPAN.match(value)
    if not m or int(m.group(1)) == 0:
        raise typer.BadParameter(f"{value!r} is not a time span like 90m, 24h, 7d or 2w.")
    return timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})


@app.command()
def digest(
    since: Annotated[str, typer.Option(help="How far back: 90m, 24h, 7d, 2w.")] = "24h",
    max_stories: Annotated[int, typer.Option("--max-stories", min=1, max=50, help="Stories shown.")] = 8,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Compose and print a briefing from the stored articles."""
    span = parse_span(since)
    service = _service(_settings())
    _print_briefing(service.digest(span, max_stories), fmt)


@app.command()
def ask(question: Annotated[str, typer.Argument(help="A question about the stored news.")]) -> None:
    """Answer from the stored articles, with the sentences that support it and their sources."""
    if not question.strip():
        _fail("Ask a question, for example: briefbot ask \"What did Macron propose?\"", 2)
    service = _service(_settings())
    answer = service.answer(question)
    typer.echo(answer_text(answer))
    if not answer.covered:
        raise SystemExit(1)


@app.command()
def run(
    stay: Annotated[bool, typer.Option("--stay", help="Console: keep running after end of input, "
                                       "so scheduled digests still post.")] = False,
) -> None:
    """Start the bot on every configured platform (the console when none is configured)."""
    from adapters import configured_platforms

    settings = _settings()
    platforms = configured_platforms(settings, stay=stay)
    service = _service(settings)
    if [p.name for p in platforms] == ["console"] and settings.seeds_dir is not None:
        report = service.ingest(str(settings.seeds_dir))
        if report.error:
            err.print(f"Seeds not loaded: {report.error}", highlight=False)
    # The event loop shares the interpreter with the threads that talk to the database: a
    # shorter switch interval (5 ms by default) lets it take the interpreter back sooner, so a
    # command is acknowledged without waiting out a thread's turn.
    sys.setswitchinterval(LOOP_SWITCH_INTERVAL)
    try:
        asyncio.run(_run_platforms(service, platforms))
    except KeyboardInterrupt:
        pass
    finally:
        service.store.close()


async def _run_platforms(service, platforms) -> None:
    """Run every platform and the scheduler on this one loop until done, Ctrl-C or SIGTERM."""
    import signal

    from .platform import BriefBot
    from .runtime import Runtime

    runtime = Runtime(service, platforms, leader_retry=service.settings.leader_retry,
                      claim_lease=timedelta(seconds=service.settings.claim_lease))
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
        pass
    bot = BriefBot(service)
    await runtime.start()
    try:
        await asyncio.gather(*(platform.run(bot) for platform in platforms))
    except asyncio.CancelledError:
        pass
    finally:
        await runtime.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
