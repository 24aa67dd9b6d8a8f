"""Slack: ``/brief``, direct-message questions and thread follow-ups, through slack-bolt.

An edge converter around the core: Slack payloads in, core requests; core replies out,
Block Kit. Imported only when Slack is configured (it needs the ``slack`` extra).
"""

from .app import SlackPlatform

__all__ = ["SlackPlatform"]
