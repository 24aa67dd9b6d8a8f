"""Grounding checks for model output: what a model may say is what its cited sentences say.

Pure functions, no model client: building the delimited data block a model reads, parsing
the cited sentences it writes back (JSON or a strict line format), checking each sentence
against the text it cites, and estimating tokens before anything is sent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .text import STOP_WORDS, content_terms, stem, words

# Share of a sentence's content words that must appear in the text it cites.
MIN_RECALL = 0.6


class Support(NamedTuple):
    """Whether a sentence is supported by the text it cites, and if not, why."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class Cited(NamedTuple):
    """One sentence a model wrote and the numbers it cited for it."""

    text: str
    cites: tuple[int, ...]


# -- checking -------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "dozen": "12",
}
_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'\u2019]*", re.UNICODE)
_CLAUSE_START = re.compile(r"(?:[.!?:;]\s+|[\"\u201c\u2018(\[]\s*)$")
_NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without",
                        "cannot"})
# Capitalised words that open sentences without being names.
_OPENING_WORDS = STOP_WORDS | frozenset(
    """meanwhile however officials according despite amid although though earlier later still
    yet today yesterday overall instead additionally furthermore moreover finally first second
    third last many several critics analysts experts leaders talks both while since as in on
    at for if when after before separately elsewhere nonetheless nevertheless thus hence
    together following under over across among""".split()
)
_MENTION = re.compile(r"@\w|<[!@#]", re.UNICODE)
_URL = re.compile(r"https?://\S+|\bwww\.\S+", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}?"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions)\b"
    r"|\bsystem\s+prompt\b|\bdeveloper\s+message\b|\byou\s+are\s+now\b"
    r"|\b(?:new|updated|real)\s+instructions\b|\bas\s+an\s+ai\b"
    r"|\bmention\s+(?:everyone|everybody|all\s+users|@)|@(?:everyone|here|channel)\b",
    re.IGNORECASE,
)


def check_support(sentence: str, cited: Sequence[str], *, min_recall: float = MIN_RECALL) -> Support:
    """Check one model sentence against the source sentences it cites.

    Supported means: it cites something; every number in it appears in the cited text
    ("5,000" and "5000", "30-day" and "thirty-day" meet); every capitalised name does too;
    a negation it makes is made there; and at least ``min_recall`` of its content words
    (stemmed, stop words left out) are found there. It must also not mention anyone, link
    anywhere the source does not, or read like an instruction.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        return Support(False, "empty sentence")
    cited = [c for c in cited if isinstance(c, str) and c.strip()]
    if not cited:
        return Support(False, "cites nothing")
    source = " ".join(cited)
    if _MENTION.search(sentence):
        return Support(False, "mentions a user or group")
    for url in _URL.findall(sentence):
        if url.rstrip(".,;:!?)") not in source:
            return Support(False, "links to something the source does not")
    if looks_like_instruction(sentence):
        return Support(False, "reads like an instruction")
    source_numbers = numbers(source, words_too=True)
    missing = sorted(numbers(sentence) - source_numbers)
    if missing:
        return Support(False, f"number not in the cited text: {missing[0]}")
    vocabulary = _vocabulary(source)
    for name in names(sentence):
        if not _known(name, vocabulary):
            return Support(False, f"name not in the cited text: {name}")
    sentence_words = set(words(sentence))
    if _negated(sentence_words) and not _negated(set(words(source))):
        return Support(False, "negation not in the cited text")
    terms = set(content_terms(sentence))
    if not terms:
        return Support(False, "says nothing")
    source_terms = set(content_terms(source))
    recall = len(terms & source_terms) / len(terms)
    if recall < min_recall:
        return Support(False, f"only {recall:.0%} of its content words are in the cited text")
    return Support(True)


def supported(sentence: str, cited: Sequence[str], *, min_recall: float = MIN_RECALL) -> bool:
    """Whether ``sentence`` is supported by ``cited`` (see :func:`check_support` for why not)."""
    return check_support(sentence, cited, min_recall=min_recall).ok


def looks_like_instruction(text: str) -> bool:
    """Text addressed to a model or a chat rather than news: "ignore your instructions", "@everyone"."""
    return bool(_INSTRUCTION.search(text or ""))


def numbers(text: str, *, words_too: bool = False) -> set[str]:
    """Numbers in ``text``, normalised: "5,000" -> "5000", "30-day" -> "30", "2.50" -> "2.5".

    With ``words_too``, number words count as well ("thirty-day" -> "30"), for the side that
    is searched rather than the side that is checked.
    """
    found = set()
    for raw in _NUMBER.findall(text or ""):
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            raw = raw.replace(",", "")
        for part in raw.split(","):  # a list such as "3,4" rather than a thousands separator
            found.add(_canonical_number(part))
    if words_too:
        for w in re.findall(r"[a-z]+", (text or "").lower()):
            if w in _NUMBER_WORDS:
                found.add(_NUMBER_WORDS[w])
    found.discard("")
    return found


def _canonical_number(raw: str) -> str:
    if "." in raw:
        head, _, tail = raw.partition(".")
        tail = tail.rstrip("0")
        raw = head.lstrip("0") or "0"
        return f"{raw}.{tail}" if tail else raw
    return raw.lstrip("0") or "0"


def names(sentence: str) -> list[str]:
    """Capitalised words that are probably names, the opening word of a clause excepted.

    An opening word counts only when it is not a common word ("Meanwhile", "The"); acronyms
    written with dots ("U.S.") are read without them.
    """
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), sentence or "")
    found = []
    first = len(text) - len(text.lstrip())
    for m in _NAME_TOKEN.finditer(text):
        for part in m.group(0).split("-"):
            token = part.rstrip("'\u2019")
            if not token or not token[0].isupper():
                continue
            bare = re.sub(r"['\u2019]s$", "", token)
            before = text[max(0, m.start() - 8): m.start()]
            opening = m.start() <= first or bool(_CLAUSE_START.search(before))
            if opening and bare.lower() in _OPENING_WORDS:
                continue
            if len(bare) < 2:
                continue
            found.append(bare)
    return found


def _vocabulary(source: str) -> tuple[set[str], set[str]]:
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), source)
    ws = {re.sub(r"'s$", "", w) for w in words(text)}
    return ws, {stem(w) for w in ws}


def _known(name: str, vocabulary: tuple[set[str], set[str]]) -> bool:
    ws, stems = vocabulary
    low = name.lower().replace("\u2019", "'")
    if low in ws or stem(low) in stems:
        return True
    if len(low) >= 5:  # "European" and "Europe", "Ukrainian" and "Ukraine"
        prefix = low[: max(4, len(low) - 3)]
        return any(w.startswith(prefix) for w in ws)
    return False


def _negated(ws: set[str]) -> bool:
    return bool(ws & _NEGATIONS) or any(w.endswith("n't") for w in ws)


# -- building the data block ----------------------------------------------------------------

_TAG_LIKE = re.compile(r"[<>]")
_SPACE = re.compile(r"\s+")


def neutralise(text: str) -> str:
    """``text`` on one line, with nothing in it that could open or close a data block."""
    text = _SPACE.sub(" ", text or "").strip()
    text = _TAG_LIKE.sub(lambda m: "\u2039" if m.group(0) == "<" else "\u203a", text)
    return text.replace("```", "'''")


def numbered_block(sentences: Sequence[str], *, numbers: Sequence[int] | None = None,
                   label: str = "article", title: str | None = None) -> str:
    """A delimited data block with one ``[n] sentence`` line per sentence.

    Every sentence is put on one line and its angle brackets are replaced by look-alikes,
    so no text inside can close the block or forge a numbered line. ``numbers`` are the
    labels to show (1, 2, ... by default).
    """
    labels = list(numbers) if numbers is not None else list(range(1, len(sentences) + 1))
    if len(labels) != len(sentences):
        raise ValueError("one number per sentence")
    lines = [f"<{label}>"]
    if neutralise(title or ""):
        lines.append(f"Title: {neutralise(title or '')}")
    lines.extend(f"[{n}] {neutralise(s)}" for n, s in zip(labels, sentences))
    lines.append(f"</{label}>")
    return "\n".join(lines)


def text_block(text: str, label: str) -> str:
    """Free text (a question, a conversation) as a delimited data block of its own."""
    return f"<{label}>\n{neutralise(text)}\n</{label}>"


# -- parsing model output -------------------------------------------------------------------

_CITATION = re.compile(r"\[\s*(?:[A-Za-z#]{0,8}\s*\d+\s*(?:[,;]|and)?\s*)+\]")
_CITED_NUMBER = re.compile(r"\d+")
_LIST_MARK = re.compile(r"^\s*(?:[-*\u2022]\s+|\d{1,2}[.)]\s+)")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def parse_cited_output(text: str) -> list[Cited]:
    """Sentences in the strict line format: ``Sentence text. [3, 5]``, one per line.

    Citations may stand anywhere in the line and be written ``[3]``, ``[3, 5]``, ``[S3]``
    or ``[3][5]``; list marks are dropped. A line without citations is kept with none,
    so the check rejects it rather than the parser hiding it.
    """
    out: list[Cited] = []
    for line in (text or "").splitlines():
        line = _LIST_MARK.sub("", line).strip()
        if not line or line.startswith("```"):
            continue
        cites: list[int] = []
        for m in _CITATION.finditer(line):
            cites.extend(int(n) for n in _CITED_NUMBER.findall(m.group(0)) if len(n) <= 6)
        sentence = _CITATION.sub(" ", line)
        sentence = _SPACE.sub(" ", sentence).strip()
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", sentence)
        if not any(ch.isalnum() for ch in sentence):
            continue
        out.append(Cited(sentence, tuple(dict.fromkeys(cites))))
    return out


def parse_cited_json(text: str) -> list[Cited] | None:
    """Sentences from a JSON reply ``{"sentences": [{"text": ..., "cites": [...]}]}``, or None.

    Lenient about the envelope (a code fence, prose around the object, ``bullets`` or
    ``citations`` as key names), strict about the content: no valid JSON, no result.
    """
    data = _json_object(text)
    if data is None:
        return None
    items = None
    if isinstance(data, dict):
        for key in ("sentences", "bullets", "answer", "items", "summary"):
            if isinstance(data.get(key), list):
                items = data[key]
                break
    elif isinstance(data, list):
        items = data
    if items is None:
        return None
    out: list[Cited] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        sentence = item.get("text", item.get("sentence"))
        raw = item.get("cites", item.get("citations", item.get("sources", [])))
        if not isinstance(sentence, str) or not sentence.strip():
            continue
        if isinstance(raw, (int, str)):
            raw = [raw]
        cites = []
        for c in raw if isinstance(raw, list) else []:
            if isinstance(c, bool):
                continue
            if isinstance(c, int):
                cites.append(c)
            elif isinstance(c, str):
                cites.extend(int(n) for n in _CITED_NUMBER.findall(c) if len(n) <= 6)
        out.append(Cited(_SPACE.sub(" ", sentence).strip(), tuple(dict.fromkeys(cites))))
    return out


def parse_model_output(text: str) -> list[Cited]:
    """JSON when the reply is JSON, the strict line format otherwise."""
    parsed = parse_cited_json(text)
    if parsed is not None:
        return parsed
    if (text or "").lstrip().startswith(("{", "[")):
        return []  # JSON that does not parse is malformed, not a line of prose
    return parse_cited_output(text)


def json_flag(text: str, key: str) -> bool | None:
    """A boolean field of a JSON reply, or None when there is none."""
    data = _json_object(text)
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, bool) else None


def _json_object(text: str):
    raw = _FENCE.sub("", (text or "").strip())
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        pass
    start, end = raw.find("{"), raw.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(raw[start:end + 1])
        except (ValueError, RecursionError):
            return None
    return None


# -- token budget ---------------------------------------------------------------------------

def estimate_tokens(text: str) -> int:
    """A cautious token estimate without a tokenizer download.

    About four characters a token for ASCII text, about one and a half for other scripts,
    and never fewer than 1.3 tokens a word.
    """
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    other = len(text) - ascii_chars
    by_chars = ascii_chars / 4 + other / 1.5
    return math.ceil(max(by_chars, len(text.split()) * 1.3))


def estimate_message_tokens(messages: Iterable[dict]) -> int:
    """Tokens of a chat request's messages, with the few each message adds around its text."""
    return sum(4 + estimate_tokens(str(m.get("content", ""))) for m in messages) + 3


def chunk_numbered(items: Sequence[tuple[int, str]], max_tokens: int) -> list[list[tuple[int, str]]]:
    """Consecutive groups of numbered sentences whose block lines fit ``max_tokens`` each.

    A sentence too long for a chunk on its own is cut to fit rather than dropped.
    """
    max_tokens = max(16, int(max_tokens))
    chunks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    used = 0
    for number, sentence in items:
        cost = estimate_tokens(f"[{number}] {neutralise(sentence)}") + 1
        if cost > max_tokens:
            sentence = _cut_to_tokens(sentence, max_tokens - 8)
            cost = estimate_tokens(f"[{number}] {neutralise(sentence)}") + 1
        if current and used + cost > max_tokens:
            chunks.append(current)
            current, used = [], 0
        current.append((number, sentence))
        used += cost
    if current:
        chunks.append(current)
    return chunks


def _cut_to_tokens(text: str, tokens: int) -> str:
    cut = neutralise(text)
    while cut and estimate_tokens(cut) > tokens:
        cut = cut[: max(1, int(len(cut) * 0.8))]
    return cut
