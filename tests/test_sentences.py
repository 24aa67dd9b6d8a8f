"""The sentence splitter: properties on arbitrary text and the cases news text is full of."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.sentences import Sentence, sentence_spans, split_sentences

_ALPHABET = st.sampled_from(list("abcXYZ019 .,!?;:'\"()-\n\t\u201c\u201d\u2019\u2026") + ["Mr.", "U.S.", "J.", "2.5", "\n\n", "- ", "1. "])
news_like = st.lists(_ALPHABET, max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), news_like))
def test_never_raises_and_offsets_point_into_the_original(text):
    spans = sentence_spans(text)
    assert [s.index for s in spans] == list(range(len(spans)))
    prev_end = 0
    prev_paragraph = -1
    for s in spans:
        assert isinstance(s, Sentence)
        assert 0 <= s.start < s.end <= len(text)
        assert s.start >= prev_end
        # Sentence.text is the original slice with white space normalised.
        assert s.text == " ".join(text[s.start:s.end].split())
        assert s.text and s.text == s.text.strip()
        assert any(ch.isalnum() for ch in s.text)
        assert s.paragraph >= prev_paragraph
        prev_end, prev_paragraph = s.end, s.paragraph
    assert split_sentences(text) == [s.text for s in spans]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_no_word_is_lost(text):
    kept = "".join("".join(s.text.split()) for s in sentence_spans(text))
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    for w in words:
        assert w in kept


@pytest.mark.parametrize("text, expected", [
    # abbreviations and titles
    ("Dr. Smith went home. He was tired.", ["Dr. Smith went home.", "He was tired."]),
    ("Mr. and Mrs. Jones arrived at 10 a.m. They left at noon.",
     ["Mr. and Mrs. Jones arrived at 10 a.m.", "They left at noon."]),
    ("It happened at 5 p.m. on Friday. Police arrived later.",
     ["It happened at 5 p.m. on Friday.", "Police arrived later."]),
    ("Shares of Apple Inc. rose 3% in New York. The Nasdaq fell.",
     ["Shares of Apple Inc. rose 3% in New York.", "The Nasdaq fell."]),
    ("U.S. officials said the talks had failed. The ministry disagreed.",
     ["U.S. officials said the talks had failed.", "The ministry disagreed."]),
    ("Talks with the U.S. The ministry disagreed.", ["Talks with the U.S.", "The ministry disagreed."]),
    # initials
    ("J. K. Rowling wrote a new book. It sold well.", ["J. K. Rowling wrote a new book.", "It sold well."]),
    ("The author, George R. R. Martin, spoke. Fans cheered.",
     ["The author, George R. R. Martin, spoke.", "Fans cheered."]),
    # decimals, money, percentages
    ("The rate rose 2.5 percent on Monday. Markets fell 1.2% after that.",
     ["The rate rose 2.5 percent on Monday.", "Markets fell 1.2% after that."]),
    ("Profits reached $1.13bn. Sales rose to $11.1bn.", ["Profits reached $1.13bn.", "Sales rose to $11.1bn."]),
    # quotes and other terminal punctuation
    ('"I am done with this," she said. "Goodbye." Then she left.',
     ['"I am done with this," she said.', '"Goodbye."', "Then she left."]),
    ('He asked: "Why now?" Nobody answered.', ['He asked: "Why now?"', "Nobody answered."]),
    ("\u201cWe will win.\u201d The crowd cheered.", ["\u201cWe will win.\u201d", "The crowd cheered."]),
    ("Wait... what happened next? Nobody knows!", ["Wait... what happened next?", "Nobody knows!"]),
    # bylines, datelines, photo credits on their own lines
    ("By Jane Doe, Staff Writer\nThe council voted on Tuesday to approve the budget. It passed.",
     ["By Jane Doe, Staff Writer", "The council voted on Tuesday to approve the budget.", "It passed."]),
    ("Photo: Getty Images\nThe match ended in a draw.", ["Photo: Getty Images", "The match ended in a draw."]),
    # lists
    ("Key points:\n- Taxes rise by 2%\n- Spending is cut\n1. First item here\n2. Second item here",
     ["Key points:", "- Taxes rise by 2%", "- Spending is cut", "1. First item here", "2. Second item here"]),
    ("The plan:\n\u2022 build homes\n\u2022 cut taxes", ["The plan:", "\u2022 build homes", "\u2022 cut taxes"]),
    # a wrapped paragraph is one sentence, a blank line is a paragraph break
    ("The council voted on Tuesday to approve a budget that\nwill pay for road repairs.\n\nIt passed.",
     ["The council voted on Tuesday to approve a budget that will pay for road repairs.", "It passed."]),
])
def test_examples(text, expected):
    assert split_sentences(text) == expected


def test_paragraph_numbers_and_offsets():
    text = "First one. Second one.\n\nThird one."
    spans = sentence_spans(text)
    assert [(s.text, s.paragraph) for s in spans] == [("First one.", 0), ("Second one.", 0), ("Third one.", 1)]
    assert text[spans[2].start:spans[2].end] == "Third one."


def test_empty_and_blank():
    assert sentence_spans("") == []
    assert sentence_spans("  \n\n\t ") == []
    assert sentence_spans("...") == []
