"""A short, bounded memory of each conversation (a thread or a direct message)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from .database import retrying, storable
from .models import ConversationTurnRow

MAX_TURNS = 6
MAX_CHARS = 1000
MEMORY = timedelta(hours=2)


class ConversationStore:
    def __init__(self, sessions) -> None:
        self._sessions = sessions

    @retrying
    def add(self, platform: str, channel: str, thread: str, role: str, text: str, now: datetime) -> None:
        """Remember one turn; older turns past the bound and the time limit are forgotten."""
        with self._sessions() as session, session.begin():
            session.add(ConversationTurnRow(platform=platform, channel=channel[:255], thread=thread[:255],
                                            role=role, text=storable(text)[:MAX_CHARS], created_at=now))
            session.flush()
            where = (ConversationTurnRow.platform == platform, ConversationTurnRow.channel == channel[:255],
                     ConversationTurnRow.thread == thread[:255])
            keep = select(ConversationTurnRow.id).where(*where).order_by(
                ConversationTurnRow.id.desc()).limit(MAX_TURNS)
            session.execute(delete(ConversationTurnRow).where(
                *where, ConversationTurnRow.id.not_in(list(session.scalars(keep)))))
            session.execute(delete(ConversationTurnRow).where(ConversationTurnRow.created_at < now - MEMORY))

    @retrying
    def recent(self, platform: str, channel: str, thread: str, now: datetime) -> list[tuple[str, str]]:
        """The remembered (role, text) turns, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(ConversationTurnRow).where(
                ConversationTurnRow.platform == platform, ConversationTurnRow.channel == channel[:255],
                ConversationTurnRow.thread == thread[:255], ConversationTurnRow.created_at >= now - MEMORY)
                .order_by(ConversationTurnRow.id.desc()).limit(MAX_TURNS)).all()
        return [(r.role, r.text) for r in reversed(rows)]
