"""Settings, read once from the environment at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BriefbotError
from .fetch import FetchPolicy

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "briefbot"


def _default_seeds_dir() -> Path | None:
    for candidate in (Path.cwd() / "seeds", _PACKAGE_ROOT / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with; built by :meth:`from_env` in the entry point."""

    data_dir: Path
    database_url: str
    seeds_dir: Path | None = None
    allow_private_urls: tuple[str, ...] = ()
    max_fetch_bytes: int = 5 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    summary_sentences: int = 3
    max_stories: int = 8
    digest_window_hours: float = 24.0
    timezone: str = "UTC"
    misfire_grace: int = 3600
    leader_retry: float = 5.0
    claim_lease: int = 300
    digest_processes: int | None = None  # None: one on PostgreSQL, none (threads) on SQLite
    feed_interval_minutes: int = 15
    feed_pause_after: int = 5
    quiet_empty_digest: bool = False
    host: str = "0.0.0.0"
    port: int = 3000
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_state_secret: str | None = field(default=None, repr=False)
    discord_bot_token: str | None = field(default=None, repr=False)
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_guild_ids: tuple[int, ...] = ()
    discord_shards: str | None = None
    discord_shard_count: int | None = None
    discord_shard_ids: tuple[int, ...] = ()
    discord_admin_role: str | None = None
    discord_message_content: bool = False
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    llm_model: str | None = None
    llm_deadline: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``BRIEFBOT_*`` and platform variables; a bad value is a one-line error."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("BRIEFBOT_DATA_DIR") or _default_data_dir(env)).expanduser()
        database_url = env.get("BRIEFBOT_DATABASE_URL") or f"sqlite:///{data_dir / 'briefbot.db'}"
        seeds = env.get("BRIEFBOT_SEEDS")
        try:
            allow = FetchPolicy.parse_allow_list(env.get("BRIEFBOT_ALLOW_PRIVATE_URLS", ""))
        except ValueError as exc:
            raise BriefbotError(f"BRIEFBOT_ALLOW_PRIVATE_URLS: {exc}") from None
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            seeds_dir=Path(seeds).expanduser() if seeds else _default_seeds_dir(),
            allow_private_urls=allow,
            max_fetch_bytes=_number(env, "BRIEFBOT_MAX_FETCH_BYTES", 5 * 1024 * 1024, int),
            connect_timeout=_number(env, "BRIEFBOT_CONNECT_TIMEOUT", 5.0, float),
            read_timeout=_number(env, "BRIEFBOT_READ_TIMEOUT", 15.0, float),
            summary_sentences=_number(env, "BRIEFBOT_SUMMARY_SENTENCES", 3, int),
            max_stories=_number(env, "BRIEFBOT_MAX_STORIES", 8, int),
            timezone=_timezone(env),
            misfire_grace=_number(env, "BRIEFBOT_MISFIRE_GRACE", 3600, int),
            leader_retry=_number(env, "BRIEFBOT_LEADER_RETRY", 5.0, float),
            claim_lease=_number(env, "BRIEFBOT_CLAIM_LEASE", 300, int),
            digest_processes=_count(env, "BRIEFBOT_DIGEST_PROCESSES"),
            feed_interval_minutes=_number(env, "BRIEFBOT_FEED_INTERVAL", 15, int),
            feed_pause_after=_number(env, "BRIEFBOT_FEED_PAUSE_AFTER", 5, int),
            quiet_empty_digest=env.get("BRIEFBOT_EMPTY_DIGEST", "say").strip().lower() == "skip",
            host=env.get("BRIEFBOT_HOST") or "0.0.0.0",
            port=_port(env),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or "https://slack.com/api/",
            slack_client_id=env.get("SLACK_CLIENT_ID") or None,
            slack_client_secret=env.get("SLACK_CLIENT_SECRET") or None,
            slack_state_secret=env.get("SLACK_STATE_SECRET") or None,
            discord_bot_token=env.get("DISCORD_BOT_TOKEN") or None,
            discord_api_url=env.get("DISCORD_API_URL") or "https://discord.com/api/v10",
            discord_gateway_url=env.get("DISCORD_GATEWAY_URL") or None,
            discord_guild_ids=_ids(env, "DISCORD_GUILD_IDS"),
            discord_shards=env.get("DISCORD_SHARDS") or None,
            discord_shard_count=_number(env, "DISCORD_SHARD_COUNT", None, int),
            discord_shard_ids=_shard_ids(env),
            discord_admin_role=env.get("DISCORD_ADMIN_ROLE") or None,
            discord_message_content=_flag(env, "DISCORD_MESSAGE_CONTENT"),
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            llm_model=env.get("BRIEFBOT_LLM_MODEL") or None,
            llm_deadline=_number(env, "BRIEFBOT_LLM_DEADLINE", 20.0, float),
        )

    def llm_config(self):
        """The model configuration, or None when no model is configured (extractive only)."""
        if not self.llm_model:
            if self.openai_base_url:
                raise BriefbotError("OPENAI_BASE_URL is set but BRIEFBOT_LLM_MODEL is not: "
                                    "name the model to use, or unset OPENAI_BASE_URL.")
            return None
        from summarizer.llm import LLMConfig

        # The model gets the deadline less the time to retrieve, fall back, render and post.
        budget = max(1.0, self.llm_deadline - 2.0)
        return LLMConfig(model=self.llm_model, base_url=self.openai_base_url, api_key=self.openai_api_key,
                         deadline=budget, timeout=min(8.0, budget / 2.5), max_retries=1)

    def fetch_policy(self) -> FetchPolicy:
        """The URL guard's policy built from these settings."""
        return FetchPolicy(
            allow_private=self.allow_private_urls,
            max_bytes=self.max_fetch_bytes,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BriefbotError(f"{name} must be 1 or 0 (true or false), not {env.get(name)!r}.")


def _timezone(env: Mapping[str, str]) -> str:
    from .commands import canonical_timezone

    raw = env.get("BRIEFBOT_TIMEZONE") or "UTC"
    zone = canonical_timezone(raw)
    if zone is None:
        raise BriefbotError(f"BRIEFBOT_TIMEZONE must be an IANA time zone such as Europe/London, not {raw!r}.")
    return zone


def _port(env: Mapping[str, str]) -> int:
    port = _number(env, "BRIEFBOT_PORT", 3000, int)
    if port > 65535:
        raise BriefbotError(f"BRIEFBOT_PORT must be a TCP port (1-65535), not {port}.")
    return port


def _shard_ids(env: Mapping[str, str]) -> tuple[int, ...]:
    """``DISCORD_SHARD_IDS``: ids and ranges such as ``0-3`` or ``0,2,4-5``, within the count."""
    raw = (env.get("DISCORD_SHARD_IDS") or "").replace(" ", "")
    if not raw:
        return ()
    count = _number(env, "DISCORD_SHARD_COUNT", None, int)
    if count is None:
        raise BriefbotError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT, the number of shards in all.")
    ids: list[int] = []
    try:
        for part in raw.split(","):
            first, _, last = part.partition("-")
            ids.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise BriefbotError(f"DISCORD_SHARD_IDS must be ids and ranges such as 0-3 or 0,2, not {raw!r}.") from None
    if not ids or min(ids) < 0 or max(ids) >= count:
        raise BriefbotError(f"DISCORD_SHARD_IDS {raw!r} must lie between 0 and {count - 1} (DISCORD_SHARD_COUNT).")
    return tuple(sorted(set(ids)))


def _ids(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    raw = env.get(name, "")
    try:
        return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise BriefbotError(f"{name} must be comma-separated numeric ids, not {raw!r}.") from None


def _count(env: Mapping[str, str], name: str) -> int | None:
    """A whole number, zero allowed; None when unset."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    if not raw.strip().isdigit():
        raise BriefbotError(f"{name} must be a whole number (0 or more), not {raw!r}.")
    return int(raw)


def _number(env: Mapping[str, str], name: str, default, kind):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BriefbotError(f"{name} must be a number, not {raw!r}.") from None
    if value <= 0:
        raise BriefbotError(f"{name} must be greater than zero, not {raw!r}.")
    return value
