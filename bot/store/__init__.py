"""The article store: SQLAlchemy 2 on SQLite by default, any URL SQLAlchemy knows otherwise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..articles import Article
from ..errors import BriefbotError
from .channels import ChannelStore
from .conversations import ConversationStore
from .database import create_database_engine, get_or_create, insert_or_ignore, joined_ids, retrying, storable, upgrade
from .models import ArticleRow, FeedRow, PostedBriefingRow, utcnow

URL_LENGTH = 2048  # the longest URL a row holds (the fetcher refuses longer ones too)


@dataclass(frozen=True)
class StoredArticle:
    """An article as kept in the store, with its row id and when it arrived."""

    id: int
    article: Article
    created_at: datetime
    feed_id: int | None = None

    @property
    def when(self) -> datetime:
        """When the article was published, or else when it was stored."""
        return self.article.published or self.created_at


@dataclass
class IngestResult:
    added: list[int] = field(default_factory=list)
    duplicates: int = 0
    ids: list[int] = field(default_factory=list)  # the row of every input article, in order


class Store:
    """Articles and feeds, de-duplicated by canonical URL and by content hash."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.channels = ChannelStore(self._sessions)
        self.conversations = ConversationStore(self._sessions)

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``url`` and migrate it to the newest schema."""
        engine = create_database_engine(url)
        try:
            upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise BriefbotError(f"Cannot open the database: {exc.orig}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return self._sessions()

    def add_articles(self, articles: Iterable[Article], *, feed_url: str | None = None,
                     now: datetime | None = None) -> IngestResult:
        """Store new articles in one transaction; known ones (same URL or same text) are skipped.

        Either every new article is stored or, on a database error, none is.
        """
        # A list, so that a retry after a lost connection stores the same articles again.
        return self._add_articles(list(articles), feed_url, now or utcnow())

    @retrying
    def _add_articles(self, articles: list[Article], feed_url: str | None, arrived: datetime) -> IngestResult:
        result = IngestResult()
        with self.session() as session, session.begin():
            feed_id = self._feed_id(session, feed_url) if feed_url else None
            for article in articles:
                digest = article.content_hash
                # A URL too long for its column is not kept (the content hash still de-duplicates).
                url = storable(article.url) if article.url and len(article.url) <= URL_LENGTH else None
                known = self._known(session, url, digest)
                if known is not None:
                    result.duplicates += 1
                    result.ids.append(known)
                    continue
                new_id = insert_or_ignore(
                    session, ArticleRow, url=url, content_hash=digest, title=storable(article.title)[:500],
                    text=storable(article.text), source=storable(article.source)[:300], feed_id=feed_id,
                    published_at=article.published, created_at=arrived)
                if new_id is None:
                    # Another writer stored the same article a moment ago.
                    result.duplicates += 1
                    known = self._known(session, url, digest)
                    if known is not None:
                        result.ids.append(known)
                    continue
                result.added.append(new_id)
                result.ids.append(new_id)
        return result

    def recent(self, since: datetime | None = None, limit: int = 50, *,
               feed_ids: Iterable[int] | None = None) -> list[StoredArticle]:
        """The newest articles first, by publication time or else arrival (of some feeds, if given)."""
        when = func.coalesce(ArticleRow.published_at, ArticleRow.created_at)
        query = select(ArticleRow).order_by(when.desc(), ArticleRow.id.desc()).limit(limit)
        if since is not None:
            query = query.where(when >= since)
        if feed_ids is not None:
            query = query.where(ArticleRow.feed_id.in_(list(feed_ids)))
        return self._load(query)

    def arrived(self, since: datetime, *, feed_ids: Iterable[int] | None = None,
                limit: int = 500) -> list[StoredArticle]:
        """Articles stored since ``since`` (from the given feeds only, when given), newest first."""
        query = (select(ArticleRow).where(ArticleRow.created_at >= since)
                 .order_by(ArticleRow.created_at.desc(), ArticleRow.id.desc()).limit(limit))
        if feed_ids is not None:
            query = query.where(ArticleRow.feed_id.in_(list(feed_ids)))
        return self._load(query)

    def articles(self, ids: Iterable[int]) -> list[StoredArticle]:
        wanted = list(ids)
        if not wanted:
            return []
        by_id = {a.id: a for a in self._load(select(ArticleRow).where(ArticleRow.id.in_(wanted)))}
        return [by_id[i] for i in wanted if i in by_id]

    @retrying
    @retrying
    def newest_id(self) -> int:
        """The id of the article stored last (0 when there is none): it changes whenever one is added."""
        with self.session() as session:
            return session.scalar(select(func.max(ArticleRow.id))) or 0

    def count(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(ArticleRow)) or 0

    def _load(self, query) -> list[StoredArticle]:
        try:
            rows = self._rows(query)
        except SQLAlchemyError as exc:
            raise BriefbotError(f"The database could not be read: {exc.__class__.__name__}") from None
        return [_stored(row) for row in rows]

    @retrying
    def _rows(self, query) -> list[ArticleRow]:
        with self.session() as session:
            return list(session.scalars(query).all())

    def remember_post(self, platform: str, channel: str, message_ref: str, article_ids: Iterable[int]) -> None:
        """Record which stored articles a posted briefing holds (once per message)."""
        self._remember_post(platform, channel, message_ref, joined_ids(article_ids))

    @retrying
    def _remember_post(self, platform: str, channel: str, message_ref: str, ids: str) -> None:
        with self.session() as session, session.begin():
            insert_or_ignore(session, PostedBriefingRow, platform=platform, channel=channel,
                             message_ref=message_ref, article_ids=ids, created_at=utcnow())

    def posted_articles(self, platform: str, channel: str, message_ref: str) -> list[StoredArticle] | None:
        """The articles of the briefing posted as ``message_ref``, or None if it is not one."""
        ids = self._posted_ids(platform, channel, message_ref)
        if ids is None:
            return None
        return self.articles(int(i) for i in ids.split(",") if i)

    @retrying
    def _posted_ids(self, platform: str, channel: str, message_ref: str) -> str | None:
        with self.session() as session:
            return session.scalar(select(PostedBriefingRow.article_ids).where(
                PostedBriefingRow.platform == platform, PostedBriefingRow.channel == channel,
                PostedBriefingRow.message_ref == message_ref))

    @staticmethod
    def _known(session: Session, url: str | None, digest: str) -> int | None:
        condition = ArticleRow.content_hash == digest
        if url:
            condition = condition | (ArticleRow.url == url)
        return session.scalar(select(ArticleRow.id).where(condition).limit(1))

    @staticmethod
    def _feed_id(session: Session, url: str) -> int:
        return get_or_create(session, FeedRow, (FeedRow.url == url,), url=url, title="", failures=0,
                             paused=False, created_at=utcnow()).id



def _stored(row: ArticleRow) -> StoredArticle:
    article = Article(title=row.title, text=row.text, url=row.url, source=row.source,
                      published=row.published_at)
    return StoredArticle(id=row.id, article=article, created_at=row.created_at, feed_id=row.feed_id)


__all__ = ["IngestResult", "Store", "StoredArticle"]
