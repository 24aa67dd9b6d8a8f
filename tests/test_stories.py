"""Stories of the daily digest: clustering, near-duplicates, ranking, memory and updates.

Fixtures in tests/data/stories/ are real CNN and BBC articles (see each file's note);
outlet names and times are assigned for the tests.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer import default_summarizer
from summarizer.briefing import Briefing, Budget, Document, Story
from summarizer.sentences import split_sentences
from summarizer.stories import (
    DigestPlan,
    StoryCluster,
    StoryFingerprint,
    cluster,
    compose_digest,
    match,
    near_duplicate,
    new_sentences,
    plan_digest,
    rank,
    sentence_key,
    sentence_keys,
)

DATA = Path(__file__).resolve().parent / "data" / "stories"


def load(name: str) -> dict[str, Document]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {
        a["name"]: Document(title=a["title"], text=a["text"], url=a["url"], source=a["source"],
                            published=datetime.fromisoformat(a["published"]), key=a["key"])
        for a in data["articles"]
    }


def stories_of(name: str) -> dict[str, str]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {a["key"]: a["story"] for a in data["articles"]}


def by_key(clusters: list[StoryCluster]) -> dict[str, StoryCluster]:
    return {d.key: c for c in clusters for d in c.all_documents}


def roundtrip(records) -> list[StoryFingerprint]:
    """What the bot does: store the records as JSON and read them back."""
    return [StoryFingerprint.from_dict(json.loads(json.dumps(r.to_dict()))) for r in records]


@pytest.fixture(scope="module")
def one_day() -> dict[str, Document]:
    return load("one_day.json")


@pytest.fixture(scope="module")
def copies() -> dict[str, Document]:
    return load("copies.json")


@pytest.fixture(scope="module")
def bardo() -> dict[str, Document]:
    return load("bardo.json")


@pytest.fixture(scope="module")
def summarizer():
    return default_summarizer()


# --- Clustering ---------------------------------------------------------------------------


def test_same_story_from_different_sources_clusters_and_other_stories_do_not(one_day):
    truth = stories_of("one_day.json")
    clusters = cluster(list(one_day.values()))
    got = {frozenset(d.key for d in c.all_documents) for c in clusters}
    want: dict[str, set[str]] = {}
    for key, story in truth.items():
        want.setdefault(story, set()).add(key)
    assert got == {frozenset(v) for v in want.values()}
    lippert = by_key(clusters)["lippert-a"]
    assert lippert.sources == 3


def test_stories_that_only_share_a_country_do_not_merge(one_day):
    # Four Yemen stories on one day: the US withdrawal, a freed Saudi diplomat, rescued
    # Saudi pilots, and rebels taking an airport. All say Yemen (and most Saudi).
    yemen = [one_day[k] for k in ("withdrawal-b", "diplomat-a", "pilots-b", "airport-c")]
    assert all("Yemen" in d.text for d in yemen)
    assert len(cluster(yemen)) == 4


def test_syndicated_copy_with_other_headline_and_boilerplate_counts_once(copies):
    original, copy = copies["federer"], copies["federer-copy"]
    assert original.title != copy.title and original.source != copy.source
    assert near_duplicate(original, copy)
    clusters = cluster([original, copy, copies["henman"]])
    story = by_key(clusters)["federer"]
    assert len(story.documents) == 1 and story.sources == 1
    assert {d.key for d in story.all_documents} == {"federer", "federer-copy"}
    # The newest copy represents the pair; the other is remembered as its copy.
    assert story.representative.key == "federer-copy"
    assert [d.key for d in story.copies[0]] == ["federer"]
    assert by_key(clusters)["henman"] is not story


def test_updated_versions_are_near_duplicates_of_the_first(copies, bardo):
    # A real rewrite: the later version puts a new paragraph on top of the earlier text.
    v1, v2 = bardo["bodies-home"], bardo["third-attacker"]
    assert len(split_sentences(v2.text)) > len(split_sentences(v1.text))
    assert near_duplicate(v1, v2) and near_duplicate(v2, v1)
    [story] = cluster([v1, v2])
    assert story.representative.key == "third-attacker"  # the newer version
    assert story.sources == 1
    # A lightly edited version (one word changed, a paragraph split) is one article too.
    [story] = cluster([copies["robinson-v1"], copies["robinson-v2"]])
    assert len(story.documents) == 1 and story.representative.key == "robinson-v2"


def test_different_articles_on_one_story_are_not_near_duplicates(copies, one_day):
    assert not near_duplicate(copies["yukos-ruling"], copies["yukos-comment"])
    assert not near_duplicate(copies["federer"], copies["henman"])
    assert not near_duplicate(one_day["lippert-a"], one_day["lippert-b"])


def test_near_duplicate_of_short_texts():
    a = Document("A", "Markets closed higher.")
    b = Document("B", "Markets closed higher.")
    c = Document("C", "Markets closed lower.")
    assert near_duplicate(a, b) and not near_duplicate(a, c)
    assert not near_duplicate(Document("x", ""), Document("y", ""))


# --- Ranking ------------------------------------------------------------------------------


def test_three_source_story_ranks_above_one_source_stories(one_day):
    ranked = rank(cluster(list(one_day.values())))
    assert [c.sources for c in ranked] == sorted((c.sources for c in ranked), reverse=True)
    assert ranked[0].representative.key.startswith("lippert")
    assert ranked[1].representative.key.startswith("withdrawal")


def test_recency_breaks_ties_and_the_order_is_deterministic(one_day):
    singles = [c for c in cluster(list(one_day.values())) if c.sources == 1]
    ranked = rank(singles)
    stamps = [c.published for c in ranked]
    assert stamps == sorted(stamps, reverse=True)
    assert rank(list(reversed(singles))) == ranked
    # Same source count and time: the headline decides, whatever the input order.
    t = datetime(2015, 3, 5, tzinfo=timezone.utc)
    a = cluster([Document("Alpha", "One thing happened today in the city.", published=t, key="a")])
    b = cluster([Document("Beta", "Another thing entirely took place.", published=t, key="b")])
    assert rank(b + a) == rank(a + b) == a + b


def test_future_timestamps_count_as_now(one_day):
    now = datetime(2015, 3, 5, 12, tzinfo=timezone.utc)
    future = Document("", one_day["pilots-b"].text, source="x", published=now + timedelta(days=30), key="f")
    present = Document("", one_day["airport-c"].text, source="y", published=now, key="p")
    clusters = cluster([future, present])
    ranked = rank(clusters, now)
    # Equal once clamped: the tie-break (headline) decides, not the bogus date.
    assert ranked == sorted(clusters, key=lambda c: c.headline.lower())
    assert rank(clusters)[0].keys == ("f",)  # without a clock the date is taken as given


# --- Memory and updates -------------------------------------------------------------------


def test_fingerprint_is_small_and_json_roundtrips(bardo, summarizer):
    plan = plan_digest([bardo["first-report"]], summarizer, title="Digest",
                       now=datetime(2015, 3, 18, 18, tzinfo=timezone.utc))
    [record] = plan.remember
    data = record.to_dict()
    text = json.dumps(data)
    assert len(text) < 6000
    again = StoryFingerprint.from_dict(json.loads(text))
    assert again == record
    assert plan.briefing.stories[0].key == record.story
    assert "first-report" in record.articles


def test_story_served_yesterday_is_left_out_when_nothing_changed(bardo, summarizer):
    day1 = datetime(2015, 3, 21, 18, tzinfo=timezone.utc)
    first = plan_digest([bardo["bodies-home"]], summarizer, title="Day 1", now=day1)
    assert len(first.briefing.stories) == 1
    memory = roundtrip(first.remember)
    # The same article again, and a copy of it under another key and outlet.
    copy = Document("Italian victims flown home", "Updated 11:02 GMT\n\n" + bardo["bodies-home"].text,
                    url="https://outlet-z.example/1", source="outlet-z", key="z-1",
                    published=day1 + timedelta(hours=3))
    for today in ([bardo["bodies-home"]], [copy]):
        plan = plan_digest(today, summarizer, title="Day 2", served=memory, now=day1 + timedelta(days=1))
        assert plan.briefing.stories == () and plan.briefing.more == ()
        assert len(plan.repeats) == 1 and plan.remember == ()


def test_later_article_with_developments_comes_back_as_an_update(bardo, summarizer):
    day1 = datetime(2015, 3, 21, 18, tzinfo=timezone.utc)
    old = bardo["bodies-home"]
    first = plan_digest([old], summarizer, title="Day 1", now=day1)
    memory = roundtrip(first.remember)
    plan = plan_digest([bardo["third-attacker"]], summarizer, title="Day 2", served=memory,
                       now=day1 + timedelta(days=1))
    [story] = plan.briefing.stories
    assert story.update and story.headline.startswith("Update: ")
    assert story.key == first.briefing.stories[0].key
    old_sentences = set(split_sentences(old.text))
    assert story.bullets
    for bullet in story.bullets:
        assert bullet.text not in old_sentences
        assert bullet.text in split_sentences(bardo["third-attacker"].text)
    assert any("third" in b.text for b in story.bullets)
    # Bullets cite the sentences of the article they came from.
    text = bardo["third-attacker"].text
    for bullet in story.bullets:
        source = story.sources[bullet.source]
        assert source.key == "third-attacker"
        assert [split_sentences(text)[i] for i in bullet.sentences] == [bullet.text]
    # The record carries the story id on and what has now been seen.
    [record] = plan.remember
    assert record.story == first.remember[0].story
    assert set(first.remember[0].sentences) <= set(record.sentences)
    # Served the update, the same article is a repeat the day after.
    again = plan_digest([bardo["third-attacker"]], summarizer, title="Day 3",
                        served=memory + roundtrip(plan.remember), now=day1 + timedelta(days=2))
    assert again.briefing.stories == () and len(again.repeats) == 1


def test_new_sentences_are_only_what_was_not_seen(bardo):
    old, new = bardo["bodies-home"], bardo["third-attacker"]
    seen = sentence_keys(cluster([old])[0])
    fresh = [n.sentence.text for n in new_sentences(cluster([new])[0], seen)]
    assert fresh and all("Essebsi" in s or "terrorists" in s for s in fresh)
    assert not set(fresh) & set(split_sentences(old.text))


def test_a_changed_number_is_new_and_the_rest_is_not(bardo, summarizer):
    day1 = datetime(2015, 3, 18, 18, tzinfo=timezone.utc)
    first = plan_digest([bardo["first-report"]], summarizer, title="Day 1", now=day1)
    later = bardo["first-report-later"]
    assert later.key == bardo["first-report"].key  # the same article, updated in place
    [c] = cluster([later])
    fresh = [n.sentence.text for n in new_sentences(c, first.remember[0].sentences)]
    assert fresh == [s for s in split_sentences(later.text) if "killed 23 people" in s]
    plan = plan_digest([later], summarizer, title="Day 2", served=roundtrip(first.remember),
                       now=day1 + timedelta(days=1))
    [story] = plan.briefing.stories
    assert story.update
    assert [b.text for b in story.bullets] == fresh


def test_a_restated_sentence_is_not_new(bardo, copies):
    # The same facts in other words: another outlet's version, and a BBC report's reworded lead.
    first = bardo["first-report"].text
    said = "Polish, Italian, German and Spanish tourists were among those killed, Essid said"
    restated = ("Prime Minister Habib Essid said Polish, Italian, German and Spanish tourists are "
                "among those killed")
    assert said in first and restated in bardo["tourism"].text
    seen = [sentence_key(s) for s in split_sentences(first)]
    fresh = [n.sentence.text for n in new_sentences(cluster([bardo["tourism"]])[0], seen)]
    assert not [s for s in fresh if restated in s]
    v1 = split_sentences(copies["robinson-v1"].text)
    v2 = cluster([copies["robinson-v2"]])[0]
    fresh = [n.sentence.text for n in new_sentences(v2, [sentence_key(s) for s in v1])]
    assert v2.representative.text.split("\n")[0] not in v1  # "insisted" became "said"
    assert fresh == []


def test_match_ignores_other_stories_and_old_memory(bardo, one_day, summarizer):
    day1 = datetime(2015, 3, 21, 18, tzinfo=timezone.utc)
    first = plan_digest([bardo["bodies-home"]], summarizer, title="Day 1", now=day1)
    assert match(cluster([one_day["lippert-a"]])[0], first.remember) is None
    assert match(cluster([bardo["third-attacker"]])[0], first.remember) == first.remember[0]
    # Past the week the story may be served again in full.
    plan = plan_digest([bardo["bodies-home"]], summarizer, title="Day 9", served=first.remember,
                       now=day1 + timedelta(days=8))
    assert len(plan.briefing.stories) == 1 and not plan.briefing.stories[0].update


# --- The digest ---------------------------------------------------------------------------


def test_digest_lists_every_source_and_overflow_goes_to_more(one_day, summarizer):
    now = datetime(2015, 3, 5, 12, tzinfo=timezone.utc)
    plan = plan_digest(list(one_day.values()), summarizer, title="Thursday", max_stories=2, now=now,
                       budget=Budget(sentences=2))
    assert isinstance(plan, DigestPlan) and isinstance(plan.briefing, Briefing)
    top, second = plan.briefing.stories
    assert {s.key for s in top.sources} == {"lippert-a", "lippert-b", "lippert-c"}
    assert {s.name for s in top.sources} == {"outlet-a", "outlet-b", "outlet-c"}
    assert {s.key for s in second.sources} == {"withdrawal-b", "withdrawal-c"}
    assert all(1 <= len(s.bullets) <= 2 for s in plan.briefing.stories)
    # Nothing dropped: every article is linked from a story or from the "more" line.
    linked = {link.key for story in plan.briefing.stories + plan.briefing.more for link in story.sources}
    assert linked == {d.key for d in one_day.values()}
    assert len(plan.briefing.more) == 3 and all(not s.bullets for s in plan.briefing.more)
    assert len(plan.remember) == 2
    assert [r.story for r in plan.remember] == [s.key for s in plan.briefing.stories]


def test_default_max_stories_is_eight(summarizer):
    names = ["Lisbon", "Oslo", "Quito", "Hanoi", "Dakar", "Lima", "Riga", "Accra", "Sofia", "Minsk", "Doha"]
    things = ["bridge", "election", "festival", "strike", "flood", "museum", "budget", "match", "court",
              "harbour", "airline"]
    docs = [Document(f"{n} {t} news", f"The {t} in {n} made headlines on {i} March.", key=str(i), source=f"s{i}")
            for i, (n, t) in enumerate(zip(names, things))]
    plan = plan_digest(docs, summarizer, title="t", now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert len(plan.briefing.stories) == 8 and len(plan.briefing.more) == 3


def test_compose_digest_keeps_the_given_order(one_day, summarizer):
    clusters = cluster(list(one_day.values()))
    plan = compose_digest(clusters, summarizer, title="t", max_stories=None,
                          now=datetime(2015, 3, 5, tzinfo=timezone.utc))
    assert [s.sources[0].key for s in plan.briefing.stories] == [c.representative.key for c in clusters]


def test_story_defaults_stay_backward_compatible():
    story = Story("h", (), ())
    assert story.update is False and story.key is None


# --- Properties ---------------------------------------------------------------------------

_WORDS = st.sampled_from(["Yemen", "the", "U.S.", "said", "killed", "19", "23", "Mr.", "Apple", "shares",
                          "rose", ".", "!", "\n\n", "(CNN)", "Tunis", "\u2014", "'s", "1,000", "e.g."])
_news = st.lists(_WORDS, max_size=60).map(" ".join)
_docs = st.lists(st.builds(Document, title=st.one_of(st.text(max_size=20), _news),
                           text=st.one_of(st.text(max_size=200), _news),
                           source=st.sampled_from(["", "a", "b"]),
                           published=st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))),
                           key=st.one_of(st.none(), st.text(max_size=5))),
                 max_size=12)


@settings(max_examples=150, deadline=None)
@given(_docs)
def test_cluster_partitions_its_input_and_never_raises(docs):
    clusters = cluster(docs)
    seen = [id(d) for c in clusters for d in c.all_documents]
    assert sorted(seen) == sorted(id(d) for d in docs)
    assert all(c.documents and len(c.copies) == len(c.documents) for c in clusters)
    assert all(c.sources >= 1 for c in clusters)
    rank(clusters, datetime(2026, 1, 1, tzinfo=timezone.utc))
    for c in clusters:
        new_sentences(c, sentence_keys(c)[:3])
        match(c, [StoryFingerprint("s", terms=dict(c.terms), sentences=tuple(sentence_keys(c)))])


def test_compose_digest_takes_documents_and_stored_dicts(bardo, summarizer):
    # The bot's path: candidate documents in, JSON dicts out, the same dicts back next day.
    day1 = datetime(2015, 3, 21, 18, tzinfo=timezone.utc)
    first = compose_digest([bardo["bodies-home"]], summarizer, title="Day 1", now=day1)
    stored = [json.loads(json.dumps(m)) for m in first.memories]
    assert stored and all(isinstance(m, dict) for m in stored)
    plan = compose_digest([bardo["third-attacker"]], summarizer, title="Day 2", now=day1 + timedelta(days=1),
                          served=stored + [{"not": "a record"}])
    [story] = plan.briefing.stories
    assert story.update and plan.memories[0]["story"] == stored[0]["story"]
