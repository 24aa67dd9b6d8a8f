"""Errors whose message is written for the person who typed the command."""


class BriefbotError(Exception):
    """A failure to report to the user as one plain sentence, never as a traceback."""


class SourceError(BriefbotError):
    """A file, URL or feed could not be turned into articles."""


class FetchRefused(SourceError):
    """The URL guard refused a request (scheme, private address, size, content type)."""
