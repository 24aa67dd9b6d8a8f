"""Fit the extractive summarizer's sentence scorer and write its shipped weights.

Usage (from the repository root)::

    python -m bench.train cnn_val1000.jsonl bbc_dev.jsonl --weight bbc_dev=0.1 \\
        --drop para_first para_rel [--out summarizer/data/extractive_weights_v2.json] \\
        [--folds 5] [--no-doc] [--no-write]

What it does:

1. Splits every article with the project's splitter and computes the hand features of
   :func:`summarizer.extractive.sentence_features` (the exact run-time code), plus the
   features of ``DOC_FEATURES`` multiplied by the article's :func:`doc_length` (leave
   these out with ``--no-doc``).
2. Labels sentences with an oracle: for references that are extractive (most reference
   sentences occur verbatim in the article, as in BBC News Summary) a sentence is positive
   when it is in the reference; for abstractive references (CNN highlights) the positives
   are the greedy ROUGE-1+2 oracle, up to 3 sentences.
3. Fits an L2-regularised logistic regression (numpy, full-batch Newton steps), weighting
   each file equally, on standardised features, and picks the MMR redundancy weight.
4. Reports K-fold cross-validated ROUGE-1/2 F1 (fast re-implementation of rouge-score's
   tokenisation, stemming on) of the summarizer against Lead-3 on every file, each fold
   scored by a model that never saw it; then fits on everything and writes the weights
   (coefficients folded back to raw feature units) as a small JSON file.

numpy is used here only; the run-time scorer is pure Python.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from summarizer.extractive import DOC_FEATURES, FEATURES, doc_length, pick, sentence_features
from summarizer.sentences import sentence_spans

from .rouge import load_rows

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "summarizer" / "data" / "extractive_weights_v2.json"
_DOC_IDX = [FEATURES.index(f) for f in DOC_FEATURES]


@dataclass
class Doc:
    source: str
    feats: np.ndarray            # (n, F)
    vectors: list                # unit TF-IDF vectors, for MMR
    lengths: list[int]
    debris: np.ndarray           # (n,) bool
    sent_toks: list[list[str]]   # rouge tokens per sentence
    ref_uni: Counter
    ref_bi: Counter
    labels: np.ndarray           # (n,) 0/1
    g: float = 0.0               # doc_length of the article


def design(doc: Doc, with_doc: bool = True) -> np.ndarray:
    """The model's inputs: FEATURES, then DOC_FEATURES x doc_length, then doc_length itself."""
    if not with_doc:
        return doc.feats
    n = len(doc.labels)
    return np.hstack([doc.feats, doc.feats[:, _DOC_IDX] * doc.g, np.full((n, 1), doc.g)])


_tok = None


def rouge_tokens(text: str) -> list[str]:
    global _tok
    if _tok is None:
        from rouge_score import tokenizers

        _tok = tokenizers.DefaultTokenizer(use_stemmer=True)
    return _tok.tokenize(text)


def _bigrams(toks: list[str]) -> Counter:
    return Counter(zip(toks, toks[1:]))


def _f1(ref: Counter, cand: Counter) -> float:
    if not ref or not cand:
        return 0.0
    overlap = sum(min(c, ref[g]) for g, c in cand.items() if g in ref)
    if not overlap:
        return 0.0
    p = overlap / sum(cand.values())
    r = overlap / sum(ref.values())
    return 2 * p * r / (p + r)


def summary_scores(doc: Doc, picked: list[int]) -> tuple[float, float]:
    toks = [t for i in sorted(picked) for t in doc.sent_toks[i]]
    return _f1(doc.ref_uni, Counter(toks)), _f1(doc.ref_bi, _bigrams(toks))


def _norm(text: str) -> str:
    return " ".join(text.split())


def build_docs(path: str, limit: int | None = None) -> list[Doc]:
    rows = load_rows(path, limit)
    name = Path(path).stem
    docs = []
    for row in rows:
        spans = sentence_spans(row.article)
        if not spans:
            continue
        feats, vectors = sentence_features(spans, row.title)
        ref_sents = [_norm(s) for s in row.reference.split("\n") if s.strip()]
        ref_toks = rouge_tokens(row.reference)
        sent_toks = [rouge_tokens(s.text) for s in spans]
        doc = Doc(name, np.array(feats, dtype=float), vectors, [len(s.text) for s in spans],
                  np.array([f[FEATURES.index("debris")] > 0 for f in feats]), sent_toks,
                  Counter(ref_toks), _bigrams(ref_toks), np.zeros(len(spans)), doc_length(len(spans)))
        ref_set = set(ref_sents)
        verbatim = [i for i, s in enumerate(spans) if s.text in ref_set]
        if len(verbatim) >= 0.6 * len(ref_sents):
            doc.labels[verbatim] = 1.0
        else:
            for i in greedy_oracle(doc, 3):
                doc.labels[i] = 1.0
        docs.append(doc)
    return docs


def greedy_oracle(doc: Doc, k: int) -> list[int]:
    chosen: list[int] = []
    best_total = 0.0
    while len(chosen) < k:
        best, best_value = None, best_total
        for i in range(len(doc.sent_toks)):
            if i in chosen:
                continue
            r1, r2 = summary_scores(doc, chosen + [i])
            if r1 + r2 > best_value:
                best, best_value = i, r1 + r2
        if best is None:
            break
        chosen.append(best)
        best_total = best_value
    return chosen


def fit_logreg(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0, iters: int = 30) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method; returns (coef, intercept)."""
    n, f = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    beta = np.zeros(f + 1)
    reg = np.full(f + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = Xb @ beta
        p = 1.0 / (1.0 + np.exp(-z))
        grad = Xb.T @ (w * (p - y)) + reg * beta
        hess = (Xb * (w * p * (1 - p))[:, None]).T @ Xb + np.diag(reg) + 1e-9 * np.eye(f + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-7:
            break
    return beta[:-1], float(beta[-1])


@dataclass
class Model:
    coef: np.ndarray      # in raw feature units
    intercept: float
    redundancy: float


def train(docs: list[Doc], l2: float, drop: frozenset[str] = frozenset(),
          source_weight: dict[str, float] | None = None, with_doc: bool = True,
          ) -> tuple[np.ndarray, float]:
    """Fit on ``docs``; every file gets the same total weight, times ``source_weight[file]``.

    Returns coefficients over :func:`design`'s columns, in raw units, and the intercept.
    """
    source_weight = source_weight or {}
    keep_list = [f not in drop and f != "debris" for f in FEATURES]
    if with_doc:
        keep_list += [f not in drop for f in DOC_FEATURES] + [True]
    keep = np.array(keep_list)
    X = np.vstack([design(d, with_doc) for d in docs])
    y = np.concatenate([d.labels for d in docs])
    per_source = Counter(d.source for d in docs)
    sent_per_source: Counter = Counter()
    for d in docs:
        sent_per_source[d.source] += len(d.labels)
    w = np.concatenate([np.full(len(d.labels), source_weight.get(d.source, 1.0) * len(y)
                                / (len(per_source) * sent_per_source[d.source])) for d in docs])
    debris = np.concatenate([d.debris for d in docs])
    X, y, w = X[~debris], y[~debris], w[~debris]
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    Z[:, ~keep] = 0.0
    coef, b = fit_logreg(Z, y, w, l2=l2)
    raw = coef / scale
    raw[~keep] = 0.0
    return raw, b - float((coef * mean / scale)[keep].sum())


def summarize(doc: Doc, model: Model, k: int) -> list[int]:
    scores = design(doc, len(model.coef) > len(FEATURES)) @ model.coef + model.intercept - 100.0 * doc.debris
    return pick(list(scores), doc.vectors, k, model.redundancy, doc.lengths)


def evaluate(docs: list[Doc], model: Model, k: int) -> dict[str, tuple[float, float, float, float]]:
    """Per source: (ours R-1, ours R-2, lead R-1, lead R-2), x100."""
    acc: dict[str, list[list[float]]] = {}
    for d in docs:
        ours = summary_scores(d, summarize(d, model, k))
        lead = summary_scores(d, list(range(min(k, len(d.lengths)))))
        acc.setdefault(d.source, []).append([*ours, *lead])
    return {s: tuple(100 * float(np.mean([v[j] for v in vals])) for j in range(4)) for s, vals in acc.items()}


def folds_of(docs: list[Doc], k: int, seed: int = 0) -> list[list[Doc]]:
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    return [[docs[i] for i in order[f::k]] for f in range(k)]


def cross_validate(docs: list[Doc], folds: int, l2: float, redundancy: float, k: int,
                   drop: frozenset[str] = frozenset(), source_weight: dict[str, float] | None = None,
                   with_doc: bool = True) -> dict[str, tuple]:
    parts = folds_of(docs, folds)
    results: list[dict] = []
    for f in range(folds):
        train_docs = [d for g in range(folds) if g != f for d in parts[g]]
        coef, b = train(train_docs, l2, drop, source_weight, with_doc)
        results.append(evaluate(parts[f], Model(coef, b, redundancy), k))
    return {s: tuple(float(np.mean([r[s][j] for r in results])) for j in range(4)) for s in results[0]}


def report(res: dict[str, tuple], label: str) -> None:
    for s, (o1, o2, l1, l2_) in sorted(res.items()):
        print(f"  {label:<28} {s:<14} ours {o1:6.2f} {o2:6.2f}  lead {l1:6.2f} {l2_:6.2f}  "
              f"Δ {o1 - l1:+5.2f} {o2 - l2_:+5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--l2", type=float, nargs="*", default=[1.0])
    parser.add_argument("--redundancy", type=float, nargs="*", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--drop", nargs="*", default=[], help="features to leave out (weight 0)")
    parser.add_argument("--weight", action="append", default=[], metavar="FILE_STEM=W",
                        help="relative weight of one file in the fit (default 1 each), e.g. bbc_dev=0.2")
    parser.add_argument("--no-doc", action="store_true",
                        help="no length interactions: one policy for every article length")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    source_weight = {k: float(v) for k, v in (x.split("=", 1) for x in args.weight)}
    t0 = time.perf_counter()
    docs = [d for path in args.files for d in build_docs(path, args.limit)]
    print(f"{len(docs)} articles, {sum(len(d.labels) for d in docs)} sentences, "
          f"features in {time.perf_counter() - t0:.1f} s")
    best = None
    for l2 in args.l2:
        for red in args.redundancy:
            res = cross_validate(docs, args.folds, l2, red, args.sentences, frozenset(args.drop), source_weight,
                                 not args.no_doc)
            report(res, f"cv l2={l2} red={red}")
            # Objective: the worst per-file gain over Lead-3 in R-1 + R-2.
            value = min((o1 - l1) + (o2 - l2_) for o1, o2, l1, l2_ in res.values())
            if best is None or value > best[0]:
                best = (value, l2, red, res)
    assert best is not None
    _, l2, red, res = best
    print(f"chosen: l2={l2} redundancy={red}")
    coef, b = train(docs, l2, frozenset(args.drop), source_weight, not args.no_doc)
    model = Model(coef, b, red)
    report(evaluate(docs, model, args.sentences), "fit on all (in-sample)")
    base = coef[:len(FEATURES)]
    # The last column (doc_length alone) shifts every sentence of an article by the same
    # amount, so it cannot change a choice and is not shipped.
    inter = coef[len(FEATURES):len(FEATURES) + len(DOC_FEATURES)] if not args.no_doc else np.zeros(len(DOC_FEATURES))
    doc_coef = dict(zip(DOC_FEATURES, inter))
    print(f"  {'feature':<14} {'coef':>8} {'x doc_len':>10}   (at 8 / 20 / 60 sentences)")
    for name, c in zip(FEATURES, base):
        d = doc_coef.get(name, 0.0)
        at = "  ".join(f"{c + d * doc_length(n):+8.3f}" for n in (8, 20, 60))
        print(f"  {name:<14} {c:+8.4f} {d:+10.4f}   {at}")
    if not args.no_write:
        data = {
            "version": 2,
            "model": "logistic regression over summarizer.extractive.FEATURES (raw units); "
                     "score = intercept + sum((coef + coef_doc * doc_length) * feature), "
                     "doc_length = clamp(log2(sentences / 20), -2, 2); debris is a hard penalty",
            "trained_on": [Path(p).name for p in args.files],
            "l2": l2,
            "source_weight": source_weight,
            "dropped_features": sorted(args.drop),
            "cross_validated": {s: {"ours_r1": round(v[0], 2), "ours_r2": round(v[1], 2),
                                    "lead3_r1": round(v[2], 2), "lead3_r2": round(v[3], 2)}
                                for s, v in res.items()},
            "coef": {name: round(float(c), 6) for name, c in zip(FEATURES, base)},
            "coef_doc": {name: round(float(c), 6) for name, c in doc_coef.items()},
            "intercept": round(b, 6),
            "selection": {"redundancy": red},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
