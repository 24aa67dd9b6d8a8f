"""ROUGE benchmark of the extractive summarizer against Lead-3 and sumy's methods.

Every method gets the same sentence split (the project's :func:`sentence_spans`): sumy's
methods are fed a document built from our sentences, so the comparison measures the
sentence choice, not the splitter. Scores are rouge-score 0.1.2 F1 x 100 with stemming;
summaries and references are ``\\n``-separated sentences, so ROUGE-Lsum is the
summary-level LCS that papers report. Times are per article, in this process, for the
selection only (the shared sentence split is timed once, separately); sumy's time includes
building its document (word tokenization, stemming), as it would in use.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from summarizer.extractive import ExtractiveSummarizer
from summarizer.sentences import Sentence, sentence_spans

METRICS = ("rouge1", "rouge2", "rougeLsum")
METRIC_LABELS = {"rouge1": "R-1", "rouge2": "R-2", "rougeLsum": "R-Lsum"}


@dataclass
class Row:
    id: str
    article: str
    reference: str
    title: str = ""


def load_rows(path: str | Path, limit: int | None = None) -> list[Row]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            rows.append(Row(str(d.get("id", len(rows))), d["article"], d["reference"], d.get("title") or ""))
            if limit is not None and len(rows) >= limit:
                break
    return rows


# A method takes (row, spans, k) and returns the chosen sentence indices.
Method = Callable[[Row, list[Sentence], int], list[int]]


def lead_method(row: Row, spans: list[Sentence], k: int) -> list[int]:
    return list(range(min(k, len(spans))))


def ours_method(summarizer: ExtractiveSummarizer | None = None) -> Method:
    summarizer = summarizer or ExtractiveSummarizer()

    def run(row: Row, spans: list[Sentence], k: int) -> list[int]:
        return [s.index for s in summarizer.select(row.article, row.title, sentences=k, spans=spans)]

    return run


class _SumyWords:
    """sumy's English word tokenizer without its Punkt sentence pass (no NLTK data needed).

    sumy's own ``Tokenizer.to_words`` calls ``nltk.word_tokenize``, which first splits
    sentences with Punkt data from the NLTK downloader; our input is already one sentence,
    so the Treebank word tokenizer is applied directly with sumy's word filter.
    """

    language = "english"

    def __init__(self) -> None:
        from nltk.tokenize import NLTKWordTokenizer
        from sumy.nlp.tokenizers import Tokenizer

        self._tokenize = NLTKWordTokenizer().tokenize
        self._is_word = Tokenizer._is_word

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(w for w in self._tokenize(sentence) if self._is_word(w))

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:  # pragma: no cover - unused
        raise NotImplementedError("the benchmark feeds sumy pre-split sentences")


def sumy_method(kind: str) -> Method:
    from sumy.models.dom import ObjectDocumentModel, Paragraph
    from sumy.models.dom import Sentence as SumySentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.lsa import LsaSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    cls = {"lexrank": LexRankSummarizer, "textrank": TextRankSummarizer, "lsa": LsaSummarizer}[kind]
    summarizer = cls(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    tokenizer = _SumyWords()

    def run(row: Row, spans: list[Sentence], k: int) -> list[int]:
        paragraphs: list[list] = []
        last = None
        index_of: dict[str, int] = {}
        for s in spans:
            if s.paragraph != last:
                paragraphs.append([])
                last = s.paragraph
            paragraphs[-1].append(SumySentence(s.text, tokenizer))
            index_of.setdefault(s.text.strip(), s.index)
        document = ObjectDocumentModel([Paragraph(p) for p in paragraphs])
        picked = summarizer(document, k)
        return sorted(index_of[str(p)] for p in picked)

    return run


def default_methods() -> dict[str, Method]:
    return {
        "Lead-3": lead_method,
        "ours (extractive)": ours_method(),
        "sumy LexRank": sumy_method("lexrank"),
        "sumy TextRank": sumy_method("textrank"),
        "sumy LSA": sumy_method("lsa"),
    }


@dataclass
class MethodResult:
    scores: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})
    times_ms: list[float] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        values = self.scores[metric]
        return 100.0 * sum(values) / len(values) if values else 0.0


def make_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)


def evaluate(rows: Iterable[Row], methods: dict[str, Method], k: int = 3,
             ) -> tuple[dict[str, MethodResult], list[float]]:
    """Run every method on every row; returns per-method results and split times (ms)."""
    scorer = make_scorer()
    results = {name: MethodResult() for name in methods}
    split_ms: list[float] = []
    for row in rows:
        t0 = time.perf_counter()
        spans = sentence_spans(row.article)
        split_ms.append((time.perf_counter() - t0) * 1000)
        for name, method in methods.items():
            t0 = time.perf_counter()
            picked = method(row, spans, k)
            results[name].times_ms.append((time.perf_counter() - t0) * 1000)
            summary = "\n".join(spans[i].text for i in picked)
            score = scorer.score(row.reference, summary)
            for metric in METRICS:
                results[name].scores[metric].append(score[metric].fmeasure)
    return results, split_ms


def format_table(title: str, n: int, results: dict[str, MethodResult], split_ms: list[float],
                 baseline: str = "Lead-3", timing_ref: str = "sumy LexRank") -> str:
    base = results.get(baseline)
    ref = results.get(timing_ref)
    ref_median = statistics.median(ref.times_ms) if ref and ref.times_ms else None
    head = f"{'method':<20}" + "".join(f"{METRIC_LABELS[m]:>8}{'Δ':>7}" for m in METRICS)
    head += f"{'med ms':>9}{'mean ms':>9}{'×LexR':>7}"
    lines = [f"## {title}  (n={n}, split: median {statistics.median(split_ms):.2f} ms, "
             f"mean {statistics.mean(split_ms):.2f} ms per article, shared by all methods)", head,
             "-" * len(head)]
    for name, res in results.items():
        line = f"{name:<20}"
        for m in METRICS:
            value = res.mean(m)
            delta = value - base.mean(m) if base else 0.0
            line += f"{value:>8.2f}{delta:>+7.2f}"
        med = statistics.median(res.times_ms)
        ratio = f"{med / ref_median:>7.3f}" if ref_median else f"{'-':>7}"
        line += f"{med:>9.2f}{statistics.mean(res.times_ms):>9.2f}{ratio}"
        lines.append(line)
    return "\n".join(lines)
