"""Slack's mrkdwn at the edge: untrusted text made inert on the way out, plain on the way in.

Everything from an article or a user passes through :func:`escape` before it is put in a
message, and every link the bot shows is built by :func:`link`, so nothing an article
says can ping a channel or a person, or render as a link it was not.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# Words that would notify a whole channel if a client ever parsed them as mentions.
_BROADCAST = re.compile(r"([@!])(channel|here|everyone)\b", re.IGNORECASE)
_WORD_JOINER = "\u2060"
# A link label may hold anything but the characters that end Slack's <url|label> syntax.
_LABEL_BAR = "\u00a6"
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")
MAX_URL_CHARS = 2000
_TOKEN = re.compile(r"<([^<>\n]*)>")


def escape(text: str) -> str:
    """``text`` as literal mrkdwn: ``&``, ``<`` and ``>`` as entities, broadcasts defused."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: m.group(1) + _WORD_JOINER + m.group(2), text)


def safe_url(url: str | None) -> str | None:
    """``url`` ready to sit inside ``<...|...>``, or None when it is not a plain http(s) URL."""
    if not url or len(url) > MAX_URL_CHARS or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # Percent-encode what would end the link early; & becomes an entity like everywhere else.
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]^_`{}~").replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """A link we built: ``<url|label>`` with the label escaped, or the bare label if the URL is unsafe."""
    label = " ".join(label.split())
    target = safe_url(url)
    if target is None:
        return escape(label)
    return f"<{target}|{escape(label or url or '').replace('|', _LABEL_BAR)}>"


def incoming_text(text: str, *, bot_user_id: str | None = None) -> str:
    """A Slack message or command text as plain words for the core.

    Mentions of the bot are dropped, links become their URL, other mentions and
    channels their names, and Slack's entities are decoded.
    """
    def plain(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if bot_user_id and target[1:] == bot_user_id:
                return ""
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        if target.lower().startswith(("http://", "https://")):
            return target
        return label or target

    text = _TOKEN.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
