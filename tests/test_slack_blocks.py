"""Block Kit rendering, splitting and escaping: pure functions, no loop, no server."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

pytest.importorskip("slack_bolt")

from hypothesis import given, settings, strategies as st  # noqa: E402

from bot.replies import Answer, Reply, Source  # noqa: E402
from slack_fake import block_kit_problems  # noqa: E402
from summarizer import Briefing, Bullet, SourceLink, Story  # noqa: E402

from adapters.slack.blocks import (  # noqa: E402
    BLOCKS_PER_MESSAGE,
    HEADER_CHARS,
    SECTION_CHARS,
    _split,
    briefing_messages,
    reply_messages,
    text_messages,
)
from adapters.slack.mrkdwn import escape, incoming_text, link, safe_url  # noqa: E402

WHEN = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
HOSTILE = "<!channel> <!here> <!everyone> <@U0BOSS> <#C0ALL> <https://evil.example|bank> & @here @channel"
# The only <...> tokens a message may hold: links we built and the date of the context line.
OUR_TOKEN = re.compile(r"<(?:https?://[^\s|<>]+\|[^<>|]*|!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>]*)>")


def story(n: int, bullets: int = 2, text: str = "A bullet about the harbour.", url: str | None = None) -> Story:
    return Story(headline=f"Story {n}", bullets=tuple(Bullet(f"{text} ({n}.{b})") for b in range(bullets)),
                 sources=(SourceLink(f"Story {n}", url or f"https://news.example/{n}", "Example News"),))


def briefing(*stories: Story, title: str = "Latest briefing", **kwargs) -> Briefing:
    return Briefing(title=title, stories=stories, created_at=WHEN, **kwargs)


def texts(messages: list[dict]) -> list[str]:
    out = []
    for message in messages:
        out.append(message["text"])
        for block in message["blocks"]:
            if "text" in block:
                out.append(block["text"]["text"])
            out += [e["text"] for e in block.get("elements", ())]
    return out


def assert_inert(messages: list[dict]) -> None:
    """No mention, broadcast or link but the ones we built, anywhere in the messages."""
    for text in texts(messages):
        leftover = OUR_TOKEN.sub("", text)
        assert "<" not in leftover and ">" not in leftover, text
        assert not re.search(r"[@!](channel|here|everyone)\b", text), text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


# -- escaping ---------------------------------------------------------------------------------


def test_escape_neutralises_mentions_broadcasts_and_links():
    out = escape(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "&lt;!\u2060channel&gt;" in out and "&lt;@U0BOSS&gt;" in out and "&lt;#C0ALL&gt;" in out
    assert "&amp; @\u2060here @\u2060channel" in out


@given(st.text())
def test_escape_leaves_no_markup_whatever_the_text(text):
    out = escape(text)
    assert "<" not in out and ">" not in out
    assert not re.search(r"&(?!amp;|lt;|gt;)", out)


def test_links_are_ours_with_escaped_labels_and_only_for_http_urls():
    assert link("https://a.example/x?y=1&z=2", "Tom & Jerry <3 | more") == (
        "<https://a.example/x?y=1&amp;z=2|Tom &amp; Jerry &lt;3 \u00a6 more>")
    assert link("https://a.example/a|b>c", "x") == "<https://a.example/a%7Cb%3Ec|x>"
    for url in ("javascript:alert(1)", "file:///etc/passwd", "https://", "https://a.example/ x", None, ""):
        assert link(url, "<!here> label") == "&lt;!\u2060here&gt; label"
    assert safe_url("http://a.example/" + "x" * 3000) is None


def test_incoming_text_drops_the_bot_mention_and_decodes_slack_formatting():
    text = ("<@U0BOT> what did <@U0ALICE|alice> say in <#C0GEN|general> about "
            "<https://a.example/?a=1&amp;b=2|a.example> &lt;really&gt;?")
    assert incoming_text(text, bot_user_id="U0BOT") == (
        "what did @alice say in #general about https://a.example/?a=1&b=2 <really>?")
    assert incoming_text("https://example.com/a?b=1&amp;c=2") == "https://example.com/a?b=1&c=2"
    assert incoming_text("<!here> hi") == "@here hi"


# -- briefings --------------------------------------------------------------------------------


def test_a_briefing_is_a_header_a_section_per_story_and_a_context_line():
    [message] = briefing_messages(briefing(story(1), story(2), note="Nothing new today."))
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "context", "section", "section", "context"]
    first = message["blocks"][2]["text"]["text"]
    assert first.startswith("*Story 1*\n\u2022 A bullet") and "Source: <https://news.example/1|Example News>" in first
    footer = message["blocks"][-1]["elements"][0]["text"]
    assert footer.startswith("2 sources \u00b7 <!date^") and "25 Nov 2026 08:00 UTC" in footer
    assert message["text"].startswith("Latest briefing: 2 stories")
    assert block_kit_problems(message) == []


def test_article_text_cannot_ping_or_link_anywhere_in_a_briefing():
    hostile = Story(headline=HOSTILE, bullets=(Bullet(HOSTILE),),
                    sources=(SourceLink(HOSTILE, "https://news.example/x", HOSTILE),))
    messages = briefing_messages(briefing(hostile, title=HOSTILE, note=HOSTILE,
                                          more=(Story(HOSTILE, (), (SourceLink(HOSTILE, "https://b.example"),)),)))
    assert_inert(messages)
    assert all(block_kit_problems(m) == [] for m in messages)


def test_limits_long_titles_sections_and_many_stories_split_never_dropped():
    huge_bullet = "word " * 2000  # 10,000 characters in one bullet
    stories = [story(n) for n in range(120)] + [story(999, bullets=1, text=huge_bullet)]
    messages = briefing_messages(briefing(*stories, title="T" * 400))
    assert len(messages) > 1
    for message in messages:
        assert block_kit_problems(message) == []
        assert len(message["blocks"]) <= BLOCKS_PER_MESSAGE
    assert len(messages[0]["blocks"][0]["text"]["text"]) <= HEADER_CHARS
    everything = "\n".join(texts(messages))
    assert all(f"*Story {n}*" in everything for n in range(120))
    assert everything.count("word") >= 2000  # the long bullet is split across sections, not cut
    assert [m["text"].rsplit(" ", 1)[-1] for m in messages] == [f"({i}/{len(messages)})"
                                                                for i in range(1, len(messages) + 1)]


def test_a_story_with_an_unsafe_url_shows_its_source_without_a_link():
    [message] = briefing_messages(briefing(story(1, url="file:///seeds/a.txt")))
    assert "Source: Example News" in message["blocks"][1]["text"]["text"]


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=300), headlines=st.lists(st.text(max_size=400), min_size=0, max_size=70),
       bullet=st.text(max_size=4000), url=st.one_of(st.none(), st.text(max_size=80),
                                                      st.just("https://x.example/a?b=<c>|d&e")))
def test_any_briefing_renders_to_valid_inert_messages(title, headlines, bullet, url):
    stories = tuple(Story(h, (Bullet(bullet),), (SourceLink(h, url, h),)) for h in headlines)
    messages = briefing_messages(briefing(*stories, title=title))
    for message in messages:
        assert block_kit_problems(message) == []
    assert_inert(messages)


@given(st.text(alphabet="ab &<>\n", max_size=500), st.integers(min_value=10, max_value=60))
def test_splitting_keeps_every_word_and_never_cuts_an_entity(raw, limit):
    escaped = escape(raw)
    pieces = _split(escaped, limit)
    assert all(len(p) <= limit for p in pieces)
    for piece in pieces:
        assert not re.search(r"&(?!amp;|lt;|gt;)", piece)
    assert "".join("".join(pieces).split()) == "".join(escaped.split()) or not escaped.strip()


# -- answers and plain replies ---------------------------------------------------------------


def test_an_answer_lists_its_sentences_and_linked_sources():
    answer = Answer("What truce?", ("A 30-day partial truce was proposed.", "It starts <!here> Monday."),
                    (Source("Talks", "https://news.example/t", "Example News"),), covered=True)
    [message] = reply_messages(Reply(answer=answer, text=answer.text))
    body = message["blocks"][0]["text"]["text"]
    assert body.startswith("\u2022 A 30-day partial truce was proposed.\n\u2022 It starts &lt;!\u2060here&gt; Monday.")
    assert body.endswith("Source: Talks (<https://news.example/t|Example News>)")
    assert block_kit_problems(message) == []


def test_plain_replies_are_escaped_and_long_ones_split():
    [usage] = text_messages("Usage:\n  /brief <url>   a briefing")
    assert "/brief &lt;url&gt;" in usage["blocks"][0]["text"]["text"]
    messages = reply_messages(Reply(text="line of help text\n" * 500, error=True))
    assert all(block_kit_problems(m) == [] for m in messages)
    assert all(len(b["text"]["text"]) <= SECTION_CHARS for m in messages for b in m["blocks"])
    uncovered = Answer("Weather?", (), (), covered=False)
    [message] = reply_messages(Reply(answer=uncovered, text="The stories in this briefing do not cover that."))
    assert message["text"] == "The stories in this briefing do not cover that."
