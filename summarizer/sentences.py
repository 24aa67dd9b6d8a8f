"""Sentence splitting for news text.

Rule based and dependency free. Line breaks that end a paragraph, a list item or
a heading are hard boundaries; inside a paragraph a boundary is a ``.``, ``!``,
``?`` or ellipsis followed by closing quotes or brackets, white space and the
start of a new sentence, unless the word before it is a known abbreviation, an
initial, or an acronym that is not followed by a typical sentence opener.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """A sentence and where it stands in the text it was cut from."""

    text: str
    start: int
    end: int
    index: int
    paragraph: int


# Abbreviations that are almost never the last word of a sentence.
_TITLES = {
    "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "ft", "rev", "fr",
    "gen", "lt", "col", "maj", "capt", "cpt", "sgt", "cpl", "pvt", "adm", "cmdr", "cdr",
    "sen", "rep", "gov", "pres", "supt", "det", "insp", "hon", "messrs", "mme", "mlle",
    "no", "nos", "vs", "v", "cf", "approx", "est", "fig", "figs", "vol", "vols", "pp",
    "ch", "sec", "art", "dept", "univ", "assn", "bros", "ave", "blvd", "rd", "hwy",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "al", "ca", "op", "ed", "eds", "gr", "kg", "km", "oz", "lb", "lbs",
    "ala", "ariz", "ark", "calif", "colo", "conn", "del", "fla", "ga", "ill", "ind",
    "kan", "kans", "ky", "la", "md", "mass", "mich", "minn", "miss", "mo", "mont",
    "neb", "nev", "okla", "ore", "pa", "penn", "tenn", "tex", "va", "vt", "wash",
    "wis", "wyo",
}
# Abbreviations that often do end a sentence: split only before a typical opener.
_SOMETIMES_FINAL = {"inc", "ltd", "co", "corp", "plc", "llc", "etc", "am", "pm", "bc", "ad"}

# Words that commonly open a sentence; after an acronym such as "U.S." they mark a boundary.
_OPENERS = {
    "a", "an", "the", "he", "she", "it", "they", "we", "i", "you", "his", "her", "its",
    "their", "our", "this", "that", "these", "those", "there", "but", "and", "so", "yet",
    "in", "on", "at", "for", "if", "when", "while", "after", "before", "as", "since",
    "however", "meanwhile", "still", "then", "now", "officials", "police", "some", "many",
    "most", "one", "two", "no", "not", "what", "who", "why", "how", "where", "last",
    "earlier", "later", "also", "both", "each", "other", "such", "according", "under",
}

_ELLIPSIS = "\u2026"
_CLOSERS = "\"'\u201d\u2019)]\u00bb"
_OPENERS_PUNCT = "\"'\u201c\u2018([\u00ab"

# A candidate boundary: terminal punctuation, optional closers, white space.
_BOUNDARY = re.compile(
    r"(?P<punct>[.!?]+|" + _ELLIPSIS + r")(?P<close>[" + re.escape(_CLOSERS) + r"]*)(?P<space>\s+)"
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.'\u2019-]*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022\u25aa\u2013]\s+|\d{1,3}[.)]\s+|[a-z][.)]\s+)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_ENDS_SENTENCE = re.compile(r"[.!?:;" + _ELLIPSIS + r"][" + re.escape(_CLOSERS) + r"]*\s*$")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentence strings."""
    return [s.text for s in sentence_spans(text)]


def sentence_spans(text: str) -> list[Sentence]:
    """Split ``text`` into :class:`Sentence` objects that keep their offsets."""
    if not text:
        return []
    out: list[Sentence] = []
    for paragraph_no, (block_start, block_end) in enumerate(_blocks(text)):
        for start, end in _split_block(text, block_start, block_end):
            piece = text[start:end].strip()
            if not piece or not any(ch.isalnum() for ch in piece):
                continue
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            s = start + lead
            out.append(Sentence(" ".join(piece.split()), s, s + len(piece), len(out), paragraph_no))
    return out


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of text between hard boundaries (paragraphs, list items, headings)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    paragraphs: list[tuple[int, int]] = []
    for m in _BLANK_LINE.finditer(text):
        paragraphs.append((pos, m.start()))
        pos = m.end()
    paragraphs.append((pos, len(text)))
    for p_start, p_end in paragraphs:
        lines: list[tuple[int, int]] = []
        line_start = p_start
        while line_start <= p_end:
            nl = text.find("\n", line_start, p_end)
            line_end = p_end if nl == -1 else nl
            lines.append((line_start, line_end))
            if nl == -1:
                break
            line_start = nl + 1
        block_start = None
        for i, (ls, le) in enumerate(lines):
            line = text[ls:le]
            if block_start is None:
                block_start = ls
            nxt = text[lines[i + 1][0]:lines[i + 1][1]] if i + 1 < len(lines) else None
            if nxt is None or _hard_break(line, nxt):
                spans.append((block_start, le))
                block_start = None
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _hard_break(line: str, nxt: str) -> bool:
    """Whether the newline between ``line`` and ``nxt`` ends a sentence."""
    stripped = line.strip()
    if not stripped or not nxt.strip():
        return True
    if _LIST_ITEM.match(nxt) or _LIST_ITEM.match(line):
        return True
    if _ENDS_SENTENCE.search(stripped):
        return True
    following = nxt.lstrip()
    # A short line without final punctuation followed by a capital is a heading or byline.
    if len(stripped) < 80 and (following[:1].isupper() or following[:1] in _OPENERS_PUNCT):
        return True
    return False


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    block = text[start:end]
    cuts: list[int] = []
    for m in _BOUNDARY.finditer(block):
        after = block[m.end():m.end() + 200]
        if not after:
            continue
        if _is_boundary(block, m, after):
            cuts.append(m.start("space"))
    spans = []
    prev = 0
    for cut in cuts:
        spans.append((start + prev, start + cut))
        prev = cut
    spans.append((start + prev, end))
    return spans


def _is_boundary(block: str, m: re.Match[str], after: str) -> bool:
    punct = m.group("punct")
    closers = m.group("close")
    first = after[0]
    next_word = re.match(r"[\"'\u201c\u2018(\[]*([\w'\u2019-]+)", after)
    word_after = next_word.group(1) if next_word else ""
    starts_new = first.isupper() or first.isdigit() or first in _OPENERS_PUNCT
    if not starts_new:
        # "he said... and then" or "e.g. this": a lower-case continuation is no boundary.
        return False
    if punct != "." or closers:
        return True
    if _is_list_number(block, m.start()):
        # "1. First item" at the start of a line: the number of a list item.
        return False
    before = _WORD_BEFORE.search(block[max(0, m.start() - 100): m.start()])
    if not before:
        return True
    word = before.group(1)
    bare = word.rstrip(".").lower()
    if "." in word.strip("."):
        # An acronym such as "U.S." or "e.g.": a boundary only before a sentence opener.
        return word_after.lower() in _OPENERS or _is_quote_or_digit(first)
    if len(bare) == 1 and word[0].isupper():
        # An initial as in "J. K. Rowling"; "Plan B." ending a sentence is rarer.
        return word_after.lower() in _OPENERS and word_after[:1].isupper() and len(word_after) > 1 and not _looks_like_name_part(block, m)
    if bare in _TITLES:
        return False
    if bare in _SOMETIMES_FINAL:
        return word_after.lower() in _OPENERS
    return True


def _is_list_number(block: str, pos: int) -> bool:
    """True when ``block[:pos]`` ends with a line that holds only a 1-3 digit number."""
    if not pos or not block[pos - 1].isdigit():
        return False
    start = max(0, pos - 8)
    pattern = _LIST_NUMBER_AT_START if start == 0 else _LIST_NUMBER_AFTER_NEWLINE
    return bool(pattern.search(block[start:pos]))


_LIST_NUMBER_AT_START = re.compile(r"(?:^|\n)[ \t]*\d{1,3}$")
_LIST_NUMBER_AFTER_NEWLINE = re.compile(r"\n[ \t]*\d{1,3}$")


def _is_quote_or_digit(ch: str) -> bool:
    return ch in _OPENERS_PUNCT


def _looks_like_name_part(block: str, m: re.Match[str]) -> bool:
    """True when the initial follows another initial or a capitalised first name."""
    head = block[max(0, m.start() - 100): m.start()].rstrip()
    return bool(re.search(r"(?:\b[A-Z]\.\s*|\b[A-Z][a-z]+\s+)[A-Z]$", head))
