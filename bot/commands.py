"""The ``/brief`` grammar, parsed once here and shared by every platform.

``/brief``               the latest briefing for the channel
``/brief <url>``         a briefing of that article
``/brief <topic words>`` a briefing on that topic from stored articles
``/brief help``          usage

Subcommands are looked up in :data:`SUBCOMMANDS`; a new one is a parser function
registered there and a handler for the command type it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_COMMAND_CHARS = 2000

USAGE = """\
Usage:
  /brief                  the latest briefing for this channel
  /brief <url>            a briefing of one article
  /brief <topic words>    a briefing on a topic from the stored news
  /brief help             this help
Ask a question in a direct message (or mention the bot) to get an answer with its sources."""


@dataclass(frozen=True)
class Latest:
    pass


@dataclass(frozen=True)
class BriefUrl:
    url: str


@dataclass(frozen=True)
class BriefTopic:
    topic: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Invalid:
    """Input the grammar does not accept; ``reason`` is shown above the usage."""

    reason: str


Command = Latest | BriefUrl | BriefTopic | Help | Invalid

_URL = re.compile(r"^(?:<)?(?P<url>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>|]+)(?:\|[^>]*)?(?:>)?$")
_LOOKS_LIKE_HOST = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)+/\S*$")


def _help(args: list[str]) -> Command:
    return Help()


# name -> parser of the words after it. Later subcommands register here.
SUBCOMMANDS: dict[str, Callable[[list[str]], Command]] = {
    "help": _help,
    "--help": _help,
    "-h": _help,
    "?": _help,
}


def parse_brief(text: str) -> Command:
    """Parse the text after ``/brief``. Never raises."""
    if not isinstance(text, str):
        return Invalid("The command text could not be read.")
    text = text.strip()
    if text.startswith("/brief"):
        text = text[len("/brief"):].strip()
    if not text:
        return Latest()
    if len(text) > MAX_COMMAND_CHARS:
        return Invalid(f"That is {len(text):,} characters; /brief takes at most {MAX_COMMAND_CHARS:,}.")
    words = text.split()
    head = words[0].lower()
    if head in SUBCOMMANDS:
        return SUBCOMMANDS[head](words[1:])
    url = _URL.match(words[0])
    if url:
        if len(words) > 1:
            return Invalid("Give one URL at a time, with nothing after it.")
        return BriefUrl(url.group("url"))
    if _LOOKS_LIKE_HOST.match(words[0]) and len(words) == 1:
        return BriefUrl("https://" + words[0])
    topic = " ".join(words)
    if not any(ch.isalnum() for ch in topic):
        return Invalid("A topic needs at least one word.")
    return BriefTopic(topic)
