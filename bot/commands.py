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
from functools import lru_cache
from zoneinfo import available_timezones

MAX_COMMAND_CHARS = 2000

USAGE = """\
Usage:
  /brief                  the latest briefing for this channel
  /brief <url>            a briefing of one article
  /brief <topic words>    a briefing on a topic from the stored news
  /brief subscribe <feed-url> [keywords...] [every:30m]   follow a feed here (only items with a
                          keyword, if given; polled every 15 minutes unless every: says otherwise)
  /brief unsubscribe <feed-url>               stop following it
  /brief feeds            the feeds this channel follows and how they are doing
  /brief schedule daily HH:MM [Area/City]     post a digest here every day (weekdays: Mon-Fri)
  /brief schedule off     stop the digest;  /brief schedule  shows it
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


@dataclass(frozen=True)
class Subscribe:
    url: str
    keywords: tuple[str, ...] = ()
    every_minutes: int | None = None  # this feed's polling interval, when not the default


@dataclass(frozen=True)
class Unsubscribe:
    url: str


@dataclass(frozen=True)
class ListFeeds:
    pass


@dataclass(frozen=True)
class ShowSchedule:
    pass


@dataclass(frozen=True)
class SetSchedule:
    kind: str  # "daily" or "weekdays"
    time: str  # "HH:MM", 24-hour
    timezone: str | None = None  # an IANA name; None means the default


@dataclass(frozen=True)
class ScheduleOff:
    pass


Command = (Latest | BriefUrl | BriefTopic | Help | Invalid | Subscribe | Unsubscribe | ListFeeds
           | ShowSchedule | SetSchedule | ScheduleOff)

# Commands that change a channel's settings: the platform's admin right is needed.
ADMIN_COMMANDS = (Subscribe, Unsubscribe, SetSchedule, ScheduleOff)

_URL = re.compile(r"^(?:<)?(?P<url>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>|]+)(?:\|[^>]*)?(?:>)?$")
_LOOKS_LIKE_HOST = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)+/\S*$")


def _help(args: list[str]) -> Command:
    return Help()


def _feed_url(word: str) -> str | None:
    match = _URL.match(word)
    if match:
        return match.group("url")
    if _LOOKS_LIKE_HOST.match(word):
        return "https://" + word
    return None


_EVERY = re.compile(r"^every[:=](\d{1,4})(m|h)$", re.IGNORECASE)


def _subscribe(args: list[str]) -> Command:
    if not args:
        return Invalid("Give the feed's URL: /brief subscribe <feed-url> [keywords...]")
    url = _feed_url(args[0])
    if url is None:
        return Invalid(f"{_clip(args[0])} is not a feed URL: /brief subscribe <feed-url> [keywords...]")
    every = None
    words = []
    for word in args[1:]:
        interval = _EVERY.match(word)
        if interval:
            every = int(interval.group(1)) * (60 if interval.group(2).lower() == "h" else 1)
            if not 5 <= every <= 24 * 60:
                return Invalid("A feed is polled every 5 minutes at most and every 24 hours at least.")
        elif any(c.isalnum() for c in word):
            words.append(word.lower())
    keywords = tuple(dict.fromkeys(words))
    if len(keywords) > 20:
        return Invalid("Give at most 20 keywords.")
    return Subscribe(url, keywords, every)


def _unsubscribe(args: list[str]) -> Command:
    url = _feed_url(args[0]) if len(args) == 1 else None
    if url is None:
        return Invalid("Give the feed's URL: /brief unsubscribe <feed-url>")
    return Unsubscribe(url)


def _feeds(args: list[str]) -> Command:
    return ListFeeds() if not args else Invalid("/brief feeds takes no arguments.")


_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


def _schedule(args: list[str]) -> Command:
    if not args:
        return ShowSchedule()
    kind = args[0].lower()
    if kind in ("off", "stop", "none") and len(args) == 1:
        return ScheduleOff()
    if kind not in ("daily", "weekdays") or len(args) not in (2, 3):
        return Invalid("Say when: /brief schedule daily HH:MM [Area/City], "
                       "/brief schedule weekdays HH:MM [Area/City], or /brief schedule off")
    time = _TIME.match(args[1])
    if not time:
        return Invalid(f"{_clip(args[1])} is not a time of day; use 24-hour HH:MM, such as 08:30.")
    zone = None
    if len(args) == 3:
        zone = canonical_timezone(args[2])
        if zone is None:
            return Invalid(f"{_clip(args[2])} is not a time zone; use an IANA name such as "
                           "Europe/London or America/New_York.")
    return SetSchedule(kind, f"{int(time.group(1)):02d}:{time.group(2)}", zone)


def canonical_timezone(name: str) -> str | None:
    """The IANA zone called ``name`` (any letter case), or None if there is none."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", name):
        return None
    return _zones().get(name.lower())


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    zones = {zone.lower(): zone for zone in available_timezones()}
    zones.setdefault("utc", "UTC")
    return zones


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


# name -> parser of the words after it. A new subcommand is a parser here and a handler
# for its command type in the service.
SUBCOMMANDS: dict[str, Callable[[list[str]], Command]] = {
    "help": _help,
    "--help": _help,
    "-h": _help,
    "?": _help,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "feeds": _feeds,
    "schedule": _schedule,
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
