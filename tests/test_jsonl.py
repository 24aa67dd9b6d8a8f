"""The batch contract of ``briefbot summarize --jsonl``."""

from __future__ import annotations

import io
import json

from bot.jsonl import summarize_lines
from conftest import SEED_ARTICLE


def run(lines, sentences=3):
    out = io.StringIO()
    summarize_lines(lines, out, sentences=sentences)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_line_out_per_line_in_with_article_sentences_in_order():
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    results = run([json.dumps({"id": "a", "article": article}), json.dumps({"id": 7, "article": article})], 2)
    assert [r["id"] for r in results] == ["a", 7]
    sentences = results[0]["summary"].split("\n")
    assert len(sentences) == 2
    flat = " ".join(article.split())
    positions = [flat.index(s) for s in sentences]
    assert positions == sorted(positions)


def test_bad_lines_get_an_error_and_the_run_goes_on():
    lines = ['{"id": 1, "article": "One sentence here. Another one there."}', "not json",
             '{"id": 3}', "[1, 2]", "", '{"id": 5, "article": ""}']
    results = run(lines)
    assert len(results) == 5
    assert results[0]["id"] == 1 and "summary" in results[0]
    assert results[1] == {"id": 2, "line": 2, "error": results[1]["error"]} and "not valid JSON" in results[1]["error"]
    assert results[2]["id"] == 3 and "article" in results[2]["error"]
    assert results[3]["id"] == 4 and "error" in results[3]
    assert results[4] == {"id": 5, "summary": ""}
