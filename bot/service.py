"""The briefing service: what every platform asks of the bot, answered without platform types."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from summarizer import Briefing, Budget, Summarizer

from .articles import Article, briefing_articles, to_document
from .channel_settings import ChannelSettings
from .commands import USAGE, BriefTopic, BriefUrl, Command, Help, Invalid, Latest, parse_brief
from .errors import BriefbotError
from .fetch import FetchPolicy
from .language_model import brief, deadline_for, summarizers
from .replies import Answer, Context, Reply, Source
from .retrieval import SentenceIndex, rank_articles
from .settings import Settings
from .sources import load_source, load_url
from .store import IngestResult, Store, StoredArticle

log = logging.getLogger(__name__)

# How many stored articles questions and topics are searched over (newest first).
SEARCH_DEPTH = 2000
# How long one latest briefing answers /brief in a channel while no article arrives.
LATEST_REUSE = timedelta(seconds=60)


@dataclass(frozen=True)
class IngestReport:
    source: str
    result: IngestResult | None = None
    error: str | None = None


class BriefingService:
    """Sources in, briefings and answers out. Synchronous: adapters call it off their loop."""

    def __init__(self, settings: Settings, store: Store, *, summarizer: Summarizer | None = None,
                 clock: Callable[[], datetime] | None = None, transport=None) -> None:
        self.settings = settings
        self.store = store
        if summarizer is None:
            summarizer, self.answerer = summarizers(settings)
        else:
            self.answerer = None
        self.summarizer = summarizer
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.policy: FetchPolicy = settings.fetch_policy()
        self.transport = transport
        self.budget = Budget(sentences=settings.summary_sentences)
        self._latest: dict[tuple, Briefing] = {}  # recent /brief answers, see latest()
        self._commands: dict[type, Callable[[Context, Command], Reply]] = {
            Latest: lambda ctx, cmd: self._public(self.latest(ctx=ctx)),
            BriefUrl: lambda ctx, cmd: self._public(self.brief_url(cmd.url)),
            BriefTopic: lambda ctx, cmd: self._public(self.brief_topic(cmd.topic)),
            Help: lambda ctx, cmd: Reply(text=USAGE),
            Invalid: lambda ctx, cmd: Reply(text=f"{cmd.reason}\n\n{USAGE}", error=True),
        }
        # Told ("schedule", channel_id) or ("feed", feed_id) when one changes; the scheduler listens.
        self.listeners: list[Callable[[str, int], None]] = []
        ChannelSettings(self).register()

    # -- commands -----------------------------------------------------------------

    def handle_command(self, ctx: Context, text: str) -> Reply:
        """Answer ``/brief <text>``. Never raises: failures become a message for the user."""
        command = parse_brief(text)
        return self._guard(lambda: self._commands[type(command)](ctx, command), "that command")

    def handle_question(self, ctx: Context, question: str) -> Reply:
        """Answer a question from the stored articles. Never raises.

        In the thread of a briefing the bot posted, the question is a follow-up about
        that briefing's stories and is answered from them alone.
        """
        return self._guard(lambda: self._answer_reply(ctx, question), "your question")

    def record_post(self, ctx: Context, message_ref: str, reply: Reply) -> None:
        """Remember that ``message_ref`` in ``ctx.channel`` holds ``reply``'s briefing."""
        if reply.briefing is None:
            return
        ids = briefing_articles(reply.briefing)
        if ids:
            self.store.remember_post(ctx.platform, ctx.channel, message_ref, ids)

    def register(self, command_type: type, handler: Callable[[Context, Command], Reply]) -> None:
        """Add the handler of a subcommand's command type (see ``bot.commands.SUBCOMMANDS``)."""
        self._commands[command_type] = handler

    def context_for(self, platform: str, channel: str) -> Context:
        """The context of the bot itself posting in a channel (digests, notices)."""
        return Context(platform=platform, channel=channel, user="", is_admin=False)

    def notify(self, what: str, ident: int) -> None:
        for listener in self.listeners:
            listener(what, ident)

    # -- briefings ------------------------------------------------------------------

    def latest(self, max_stories: int | None = None, ctx: Context | None = None) -> Briefing:
        """The stories of the digest window, or the newest stories when the window is empty.

        In a channel that follows feeds, the stories come from those feeds only.
        """
        max_stories = max_stories or self.settings.max_stories
        feeds = self._channel_feeds(ctx)
        now = self.clock()
        # A burst of /brief in a channel gets one briefing: it is reused while no article is
        # added (anywhere: the newest id tells) and for at most LATEST_REUSE.
        key = (tuple(feeds) if feeds is not None else None, max_stories, self.store.newest_id())
        reused = self._latest.get(key)
        if reused is not None and now - reused.created_at < LATEST_REUSE:
            return reused
        briefing = self._latest_briefing(feeds, max_stories, now)
        if len(self._latest) >= 256:
            self._latest.clear()
        self._latest[key] = briefing
        return briefing

    def _latest_briefing(self, feeds: list[int] | None, max_stories: int, now: datetime) -> Briefing:
        since = now - timedelta(hours=self.settings.digest_window_hours)
        recent = self.store.recent(since=since, limit=max_stories * 4, feed_ids=feeds)
        note = ""
        if not recent:
            recent = self.store.recent(limit=max_stories, feed_ids=feeds)
            if recent:
                note = "Nothing new in the last day; these are the most recent stories."
        if not recent:
            if feeds is not None:
                raise BriefbotError("The feeds this channel follows have no stories yet; /brief feeds shows them.")
            raise BriefbotError("There are no stored articles yet: ingest a file, a URL or a feed first.")
        return self._compose(recent, "Latest briefing", max_stories, note)

    def _channel_feeds(self, ctx: Context | None) -> list[int] | None:
        """The feeds a channel follows, or None when it follows none (then: every stored article)."""
        if ctx is None:
            return None
        channel = self.store.channels.channel(ctx.platform, ctx.channel, create=False)
        if channel is None:
            return None
        return list(self.store.channels.followed(channel.id)) or None

    def digest(self, since: timedelta, max_stories: int | None = None) -> Briefing:
        """A briefing of the articles stored or published within ``since``."""
        max_stories = max_stories or self.settings.max_stories
        recent = self.store.recent(since=self.clock() - since, limit=max(max_stories * 4, 50))
        if not recent:
            raise BriefbotError(f"No articles in the last {_human(since)}.")
        return self._compose(recent, f"Briefing: the last {_human(since)}", max_stories)

    def brief_url(self, url: str) -> Briefing:
        """Fetch, store and summarize one article (or the newest items of a feed)."""
        articles = load_url(url, self.policy, transport=self.transport)
        feed_url = articles[0].feed_url if articles and articles[0].feed_url else None
        stored = self.store.add_articles(articles, feed_url=feed_url, now=self.clock())
        title = articles[0].source if feed_url and articles[0].source else "Briefing"
        docs = [to_document(a, key) for a, key in zip(articles, stored.ids)]
        return brief(docs, self.summarizer, title=title, budget=self.budget, max_stories=self.settings.max_stories,
                     deadline=deadline_for(self.settings), now=self.clock())

    def brief_topic(self, topic: str) -> Briefing:
        matches = rank_articles(self.store.recent(limit=SEARCH_DEPTH), topic)
        if not matches:
            raise BriefbotError(f"Nothing in the stored news matches \u201c{_clip(topic, 80)}\u201d.")
        return self._compose(matches, f"Briefing: {_clip(topic, 80)}", self.settings.max_stories, "",
                             newest_first=False)

    # -- questions ------------------------------------------------------------------

    def answer(self, question: str, *, within: Iterable[StoredArticle] | None = None, k: int = 3,
               history: list[tuple[str, str]] | None = None) -> Answer:
        """An answer from the stored articles, with its sources, or a plain "not covered".

        Offline, the answer is the sentences that best support it. With a model, it is a
        short answer that cites those sentences, checked against them; the supporting
        sentences are the answer whenever the model fails, is slow or strays from them.
        """
        history = history or []
        articles = list(within) if within is not None else self.store.recent(limit=SEARCH_DEPTH)
        index = SentenceIndex(articles)
        passages = index.search(question, k=k)
        last_question = next((text for role, text in reversed(history) if role == "user"), "")
        if not passages and last_question:
            # "And what did France say?" follows on from the question before it.
            passages = index.search(f"{question} {last_question}", k=k)
        if not passages:
            return Answer(question, (), (), covered=False)
        if self.answerer is not None:
            ids = {f"{p.article.id}:{p.sentence}": p for p in passages}
            written, _note = self.answerer.answer_with_note(question, [(i, p.text) for i, p in ids.items()],
                                                            history, deadline_for(self.settings))
            if written is not None:
                cited = [ids[i] for i in written.cited if i in ids] or passages
                return Answer(question, (written.text,), _sources(cited), covered=True, method="llm")
        return Answer(question, tuple(p.text for p in passages), _sources(passages), covered=True)

    # -- ingest ---------------------------------------------------------------------

    def ingest(self, source: str) -> IngestReport:
        """Load one file, folder, URL or feed into the store; a bad source changes nothing."""
        try:
            articles = load_source(source, self.policy, transport=self.transport)
            feed_url = articles[0].feed_url if articles and articles[0].feed_url else None
            result = self.store.add_articles(articles, feed_url=feed_url, now=self.clock())
            return IngestReport(source, result=result)
        except BriefbotError as exc:
            return IngestReport(source, error=str(exc))

    def add(self, articles: list[Article]) -> IngestResult:
        return self.store.add_articles(articles, now=self.clock())

    # -- helpers ----------------------------------------------------------------------

    def _compose(self, stored: list[StoredArticle], title: str, max_stories: int, note: str = "",
                 *, newest_first: bool = True) -> Briefing:
        ordered = sorted(stored, key=lambda s: s.when, reverse=True) if newest_first else stored
        return brief([to_document(s.article, s.id) for s in ordered], self.summarizer, title=title,
                     budget=self.budget, max_stories=max_stories, note=note, deadline=deadline_for(self.settings),
                     now=self.clock())

    def _answer_reply(self, ctx: Context, question: str) -> Reply:
        if not question.strip():
            return Reply(text="Ask a question about the news, for example: what did Macron propose?")
        question = question[:2000]
        within = None
        if ctx.thread:
            within = self.store.posted_articles(ctx.platform, ctx.channel, ctx.thread)
        memory = self.store.conversations
        thread, now = ctx.thread or "", self.clock()
        answer = self.answer(question, within=within,
                             history=memory.recent(ctx.platform, ctx.channel, thread, now))
        memory.add(ctx.platform, ctx.channel, thread, "user", question, now)
        if answer.covered:
            memory.add(ctx.platform, ctx.channel, thread, "assistant", answer.text, now)
        if within is not None and not answer.covered:
            return Reply(text="The stories in this briefing do not cover that.")
        return Reply(answer=answer, text=answer.text)

    @staticmethod
    def _public(briefing: Briefing) -> Reply:
        return Reply(briefing=briefing, public=True)

    @staticmethod
    def _guard(work: Callable[[], Reply], what: str) -> Reply:
        try:
            return work()
        except BriefbotError as exc:
            return Reply(text=str(exc), error=True)
        except Exception:
            log.exception("failed to answer %s", what)
            return Reply(text=f"Sorry, something went wrong with {what}. The error has been logged.",
                         error=True)


def _sources(passages) -> tuple[Source, ...]:
    sources: list[Source] = []
    for p in passages:
        source = Source(p.article.article.title, p.article.article.url, p.article.article.source)
        if source not in sources:
            sources.append(source)
    return tuple(sources)


def _human(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} hours" if hours != 1 else "hour"
    return f"{int(span.total_seconds() // 60)} minutes"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"
