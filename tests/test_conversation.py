"""The bot as a chat user meets it, on the fake platform: commands, questions, bad input."""

from __future__ import annotations

from conftest import SEED_ARTICLE, SEEDS


def ingest_seed(service):
    report = service.ingest(str(SEED_ARTICLE))
    assert report.error is None, report.error


def test_brief_on_an_empty_store_says_what_to_do(chat):
    post = chat.say("/brief")
    assert post.reply.error
    assert "no stored articles" in post.text.lower()


def test_brief_gives_the_latest_briefing_with_bullets_from_the_article(chat, service):
    ingest_seed(service)
    post = chat.say("/brief")
    briefing = post.reply.briefing
    assert post.reply.public and briefing is not None
    story = briefing.stories[0]
    assert 1 <= len(story.bullets) <= 3
    seed_text = " ".join(SEED_ARTICLE.read_text(encoding="utf-8").split())
    for bullet in story.bullets:
        assert bullet.text in seed_text  # every bullet traces to its source
    assert story.sources[0].url and story.sources[0].url.startswith("file://")
    assert "Starmer" in post.text and "Source:" in post.text


def test_a_burst_of_brief_shares_one_briefing_and_a_new_article_shows_at_once(settings, store, clock):
    from datetime import timedelta

    from adapters.fake import FakePlatform
    from bot.articles import Article
    from bot.service import BriefingService
    from summarizer import default_summarizer

    class Counting:
        name = "extractive"

        def __init__(self):
            self.inner, self.calls = default_summarizer(), 0

        def summarize(self, document, budget):
            self.calls += 1
            return self.inner.summarize(document, budget)

    summarizer = Counting()
    service = BriefingService(settings, store, summarizer=summarizer, clock=clock)
    ingest_seed(service)
    chat = FakePlatform(service)
    first = chat.say("/brief")
    calls = summarizer.calls
    assert calls > 0 and [chat.say("/brief").text for _ in range(5)] == [first.text] * 5
    assert summarizer.calls == calls  # composed once for the burst

    service.add([Article(title="Harbour bridge to close for repairs", url="https://news.example/bridge",
                         text="The harbour bridge will close for six weeks of repairs from Monday. "
                              "Engineers found corrosion in two of its steel cables in October.")])
    assert "Harbour bridge to close" in chat.say("/brief").text  # not the burst's briefing
    clock.now += timedelta(minutes=2)
    chat.say("/brief")
    assert summarizer.calls > calls  # and none is reused for long


def test_brief_topic_finds_matching_stories_and_says_when_nothing_matches(chat, service):
    ingest_seed(service)
    assert "Starmer" in chat.say("/brief Starmer").text
    nothing = chat.say("/brief cryptocurrency mining")
    assert nothing.reply.error and "Nothing in the stored news matches" in nothing.text


def test_help_is_private_and_lists_the_commands(chat):
    post = chat.say("/brief help")
    assert not post.reply.public
    assert "/brief <url>" in post.text and "/brief <topic words>" in post.text


def test_a_question_is_answered_with_supporting_sentences_and_sources(chat, service):
    ingest_seed(service)
    post = chat.say("What truce did Macron and Starmer propose?")
    assert post.reply.answer.covered
    assert "30-day partial truce" in post.text
    assert "Sources:" in post.text


def test_a_question_the_sources_do_not_cover_gets_a_plain_no(chat, service):
    ingest_seed(service)
    post = chat.say("What will the weather be in Tokyo tomorrow?")
    assert not post.reply.answer.covered
    assert "do not cover" in post.text


def test_unknown_or_oversized_input_gets_usage_not_a_traceback(chat):
    post = chat.say("/brief " + "x" * 5000)
    assert post.reply.error and "Usage:" in post.text
    assert "Traceback" not in post.text


def test_a_refused_url_is_explained_and_stores_nothing(chat, service):
    post = chat.say("/brief http://169.254.169.254/latest/meta-data/")
    assert post.reply.error
    assert "169.254.169.254" in post.text
    assert service.store.count() == 0


def test_the_seed_folder_ingests_once(service):
    first = service.ingest(str(SEEDS))
    second = service.ingest(str(SEEDS))
    assert first.error is None and len(first.result.added) >= 1
    assert second.result.added == [] and second.result.duplicates == len(first.result.added)


def test_a_reply_in_a_briefing_thread_is_answered_from_that_briefing(chat, service):
    from bot.articles import Article

    ingest_seed(service)
    briefing = chat.say("/brief Starmer")
    service.add([Article(title="Truce talks elsewhere", url="https://other.example/truce",
                         text="A 30-day partial truce was also proposed in another war entirely. "
                              "Officials in that war said the truce would start on Monday.")])
    follow_up = chat.say("What truce was proposed?", thread=briefing.ref)
    assert follow_up.reply.answer.covered
    assert all(s.url.startswith("file://") for s in follow_up.reply.answer.sources)
    off_topic = chat.say("Who won the football?", thread=briefing.ref)
    assert "stories in this briefing do not cover" in off_topic.text
