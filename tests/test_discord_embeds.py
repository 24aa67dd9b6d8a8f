"""Briefings as Discord embeds: limits, splitting and escaping, without a network or a loop."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings as hsettings, strategies as st

pytest.importorskip("discord")

from adapters.discord.embeds import (  # noqa: E402
    CONTENT_LIMIT, DESCRIPTION_LIMIT, EMBEDS_PER_MESSAGE, MESSAGE_EMBED_LIMIT, TITLE_LIMIT, OutgoingMessage,
    briefing_messages, inline, link, pack, reply_messages, split_text, text_messages, units, web_url)
from bot.replies import Answer, Reply, Source  # noqa: E402
from summarizer import Briefing, Bullet, SourceLink, Story  # noqa: E402

WHEN = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


def story(n: int, *, bullet: str = "The council approved the budget for the new sea wall.", bullets: int = 3,
          url: str | None = None) -> Story:
    link_ = SourceLink(f"Story {n}", url or f"https://news.example/{n}", "Harbour Gazette")
    return Story(f"Story {n}", tuple(Bullet(f"{bullet} ({n}.{i})") for i in range(bullets)), (link_,))


def briefing(*stories: Story, title: str = "Latest briefing", **kwargs) -> Briefing:
    return Briefing(title=title, stories=stories, created_at=WHEN, **kwargs)


def check_limits(message: OutgoingMessage) -> None:
    assert units(message.content) <= CONTENT_LIMIT
    assert len(message.embeds) <= EMBEDS_PER_MESSAGE
    total = 0
    for embed in message.embeds:
        data = embed.to_dict()
        assert units(data.get("title", "")) <= TITLE_LIMIT
        assert 0 < units(data.get("description", "x")) <= DESCRIPTION_LIMIT
        total += units(data.get("title", "")) + units(data.get("description", ""))
        total += units(data.get("footer", {}).get("text", ""))
        assert len(embed) <= DESCRIPTION_LIMIT + TITLE_LIMIT + 300  # discord.py's own count agrees
    assert total <= MESSAGE_EMBED_LIMIT
    assert message.content or message.embeds


def all_text(messages: list[OutgoingMessage]) -> str:
    parts = []
    for m in messages:
        parts.append(m.content)
        for e in m.embeds:
            parts += [e.title or "", e.description or "", e.footer.text or ""]
    return "\n".join(parts)


def test_a_short_briefing_is_one_embed_with_title_stories_sources_and_footer():
    [message] = briefing_messages(briefing(story(1), story(2), note="Nothing new in the last day."))
    [embed] = message.embeds
    assert embed.title == "Latest briefing"
    assert embed.description.startswith("*Nothing new in the last day.*")
    assert "**Story 1**\n\u2022 The council approved" in embed.description
    assert "Source: [Story 1](https://news.example/1) (Harbour Gazette)" in embed.description
    assert embed.footer.text == "2 sources: Harbour Gazette \u00b7 extractive"
    assert embed.timestamp == WHEN
    check_limits(message)


def test_more_stories_are_listed_by_headline_and_link():
    more = (Story("Ferry strike called off", (), (SourceLink("Ferry strike called off", "https://news.example/f"),)),)
    [message] = briefing_messages(briefing(story(1), more=more))
    assert "**More stories (1)**\n\u2022 [Ferry strike called off](https://news.example/f)" in message.embeds[0].description


def test_a_long_briefing_is_split_across_embeds_and_messages_within_every_limit():
    long_bullet = "The harbour authority said the dredging would continue through the winter months. " * 12
    stories = [story(n, bullet=long_bullet) for n in range(12)]
    messages = briefing_messages(briefing(*stories, more=tuple(story(100 + n) for n in range(30))))
    assert len(messages) >= 3
    for message in messages:
        check_limits(message)
    text = all_text(messages)
    for n in range(12):
        assert f"**Story {n}**" in text
    assert "More stories (30)" in text
    assert messages[0].embeds[0].title == "Latest briefing"
    assert messages[1].embeds[0].title == "Latest briefing (continued)"
    footers = [e.footer.text for m in messages for e in m.embeds if e.footer.text]
    assert len(footers) == 1 and messages[-1].embeds[-1].footer.text == footers[0]


def test_a_single_story_longer_than_a_description_is_split_not_rejected():
    giant = " ".join(f"word{i}" for i in range(3000))  # about 26,000 characters in one bullet
    messages = briefing_messages(briefing(story(1, bullet=giant, bullets=1)))
    for message in messages:
        check_limits(message)
    words = re.findall(r"word\d+", all_text(messages))
    assert words == [f"word{i}" for i in range(3000)]


def test_a_long_title_is_clipped_to_256():
    [message] = briefing_messages(briefing(story(1), title="Briefing: " + "harbour " * 100))
    assert units(message.embeds[0].title) <= TITLE_LIMIT and message.embeds[0].title.endswith("\u2026")


def test_astral_characters_count_twice_as_discord_may():
    assert units("\U0001F30A") == 2 and units("wave") == 4
    chunks = split_text("\U0001F30A" * 3000, CONTENT_LIMIT)
    assert all(units(c) <= CONTENT_LIMIT for c in chunks) and "".join(chunks) == "\U0001F30A" * 3000


def test_untrusted_text_cannot_mention_or_format():
    evil = Story("@everyone **read** <@&410000000000000400>",
                 (Bullet("Ping <@410000000000000302> and @here, then `code` and ||spoiler||."),),
                 (SourceLink("Title](https://evil.example) [x", "https://news.example/a"),))
    text = all_text(briefing_messages(briefing(evil)))
    for raw in ("@everyone", "@here", "<@410000000000000302>", "<@&410000000000000400>"):
        assert raw not in text
    assert "\\*\\*read\\*\\*" in text and "\\`code\\`" in text and "\\|\\|spoiler" in text
    assert "[Title\\](https://evil.example) \\[x](https://news.example/a)" in text


def test_only_web_urls_become_links_and_parentheses_cannot_end_them():
    assert link("Seed", "file:///srv/seeds/a.txt") == "Seed"
    assert link("Bad", "javascript:alert(1)") == "Bad"
    assert web_url("https://en.example/wiki/Tide_(physics) x") == "https://en.example/wiki/Tide_%28physics%29%20x"
    assert web_url("https://news.example/" + "a" * 2000) is None
    assert inline("two\nlines\n# heading") == "two lines # heading"


def test_plain_replies_are_content_split_at_2000():
    messages = text_messages("line of help text\n" * 300)
    assert len(messages) >= 3 and all(not m.embeds for m in messages)
    for message in messages:
        check_limits(message)
    assert all_text(messages).count("line of help text") == 300
    assert text_messages("@everyone look")[0].content == "@\u200beveryone look"


def test_replies_render_by_kind():
    answer = Answer("What truce?", ("A 30-day partial truce.",), (Source("Talks", "https://news.example/t", "Wire"),),
                    covered=True)
    [message] = reply_messages(Reply(answer=answer, text=answer.text))
    assert message.embeds[0].title == "What truce?"
    assert message.embeds[0].description == "\u2022 A 30-day partial truce.\n\nSource: [Talks](https://news.example/t) (Wire)"
    uncovered = Answer("Weather?", (), (), covered=False)
    [message] = reply_messages(Reply(answer=uncovered, text="The stories in this briefing do not cover that."))
    assert message.content == "The stories in this briefing do not cover that." and not message.embeds
    [message] = reply_messages(Reply(briefing=briefing(), public=True))
    assert message.embeds[0].description == "No stories to show."
    assert message.kwargs() == {"embeds": list(message.embeds)}


@hsettings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\U0001F30A"), max_size=3000), st.integers(20, 400))
def test_split_text_keeps_every_character_within_the_limit(text, limit):
    chunks = split_text(text, limit)
    assert all(0 < units(c) <= limit for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("xyz \n"), min_size=1, max_size=9000), min_size=1, max_size=12),
       st.text(max_size=400))
def test_pack_fits_any_blocks_into_valid_messages(blocks, title):
    messages = pack(blocks, title=title or "t", footer="f" * 500, timestamp=WHEN)
    for message in messages:
        check_limits(message)
    described = "".join("".join((e.description or "").split()) for m in messages for e in m.embeds)
    assert described == "".join("".join(b.split()) for b in blocks)
