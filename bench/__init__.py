"""Benchmarks for the offline summarizer.

``python -m bench FILE.jsonl [FILE2.jsonl ...] [--sentences 3] [--limit N]`` scores the
project's extractive summarizer against Lead-3 and sumy's LexRank, TextRank and LSA on
JSON-lines files of ``{"id", "article", "reference"[, "title"]}`` (see ``bench.rouge``).
``python -m bench.train`` re-fits the shipped sentence-scorer weights (see ``bench.train``).

Needs the ``bench`` extra (rouge-score, sumy, numpy); nothing here downloads anything.
"""
