"""The /brief grammar shared by every platform."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.commands import BriefTopic, BriefUrl, Help, Invalid, Latest, parse_brief


def test_no_argument_is_the_latest_briefing():
    assert parse_brief("") == Latest()
    assert parse_brief("   ") == Latest()
    assert parse_brief("/brief") == Latest()


def test_a_url_is_a_briefing_of_that_article():
    assert parse_brief("https://example.com/news/1") == BriefUrl("https://example.com/news/1")
    # Slack wraps links as <url|label>; the grammar accepts them.
    assert parse_brief("<https://example.com/a?b=1|example.com/a>") == BriefUrl("https://example.com/a?b=1")
    assert parse_brief("example.com/news/story") == BriefUrl("https://example.com/news/story")


def test_words_are_a_topic():
    assert parse_brief("Starmer Macron") == BriefTopic("Starmer Macron")


def test_help():
    for text in ("help", "HELP", "--help", "-h", "?"):
        assert parse_brief(text) == Help()


def test_bad_input_is_explained():
    assert isinstance(parse_brief("https://a.example/x https://b.example/y"), Invalid)
    assert isinstance(parse_brief("!!! ???"), Invalid)
    long = parse_brief("word " * 3000)
    assert isinstance(long, Invalid) and "at most" in long.reason


@given(st.text(max_size=3000))
def test_the_parser_never_raises(text):
    result = parse_brief(text)
    assert isinstance(result, (Latest, BriefUrl, BriefTopic, Help, Invalid))


def test_subcommands_parse_their_arguments():
    from bot.commands import ListFeeds, ScheduleOff, SetSchedule, ShowSchedule, Subscribe, Unsubscribe

    assert parse_brief("subscribe https://a.example/feed.xml Climate climate every:2h") == Subscribe(
        "https://a.example/feed.xml", ("climate",), 120)
    assert parse_brief("unsubscribe <https://a.example/feed.xml>") == Unsubscribe("https://a.example/feed.xml")
    assert parse_brief("feeds") == ListFeeds()
    assert parse_brief("schedule") == ShowSchedule()
    assert parse_brief("schedule off") == ScheduleOff()
    assert parse_brief("schedule weekdays 7:05 america/new_york") == SetSchedule("weekdays", "07:05", "America/New_York")
    for bad, reason in (("subscribe", "feed's URL"), ("subscribe not-a-url", "not a feed URL"),
                        ("subscribe https://a.example/f every:1m", "every 5 minutes"),
                        ("schedule daily 24:00", "not a time of day"),
                        ("schedule daily 08:00 Mars/Olympus", "not a time zone"),
                        ("schedule hourly 08:00", "Say when")):
        result = parse_brief(bad)
        assert isinstance(result, Invalid) and reason in result.reason, bad
