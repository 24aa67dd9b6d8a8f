"""The ``briefbot`` command as a user runs it: real processes, a real SQLite file, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SEED_ARTICLE

BRIEFBOT = Path(sys.executable).parent / "briefbot"


@pytest.fixture
def env(tmp_path):
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_", "DISCORD_", "OPENAI_"))}
    keep.update(BRIEFBOT_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    return keep


def briefbot(env, *args, stdin: str | bytes = "", cwd=REPO):
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([str(BRIEFBOT), *args], input=data, capture_output=True, env=env, cwd=cwd,
                          timeout=120)


def out(result) -> str:
    return result.stdout.decode("utf-8")


def test_echo_brief_into_run_prints_the_seed_briefing_with_its_source_link(env, tmp_path):
    result = briefbot(env, "run", stdin="/brief\n", cwd=tmp_path)  # seeds found beside the package
    assert result.returncode == 0, result.stderr
    text = out(result)
    assert "Starmer" in text and "Macron" in text
    assert "file://" in text and SEED_ARTICLE.name in text
    assert "Traceback" not in result.stderr.decode()


def test_run_answers_topics_questions_and_help_until_eof(env):
    result = briefbot(env, "run", stdin="/brief Starmer\nWhat truce did they propose?\n/brief help\n/nope\n")
    assert result.returncode == 0, result.stderr
    text = out(result)
    assert "Briefing: Starmer" in text
    assert "30-day partial truce" in text
    assert "Usage:" in text
    assert "Unknown command /nope" in text


def test_summarize_json_has_the_documented_fields(env):
    result = briefbot(env, "summarize", str(SEED_ARTICLE), "--format", "json", "--sentences", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(out(result))
    assert data["method"] == "extractive"
    assert len(data["summary"]) == 2 and all(isinstance(s, str) for s in data["summary"])
    assert data["title"] and data["sources"][0]["url"].startswith("file://")


def test_summarize_reads_stdin_and_markdown(env):
    result = briefbot(env, "summarize", "-", "--format", "markdown", stdin=SEED_ARTICLE.read_text())
    assert result.returncode == 0, result.stderr
    assert out(result).startswith("# ") and "\n- " in out(result)


def test_summarize_jsonl_batch(env):
    lines = [json.dumps({"id": i, "article": SEED_ARTICLE.read_text()}) for i in range(3)] + ["{oops"]
    result = briefbot(env, "summarize", "--jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out(result).splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 4]
    assert len(rows[0]["summary"].split("\n")) == 3 and "error" in rows[3]


@pytest.mark.parametrize("name,content,message", [
    ("empty.txt", b"", "empty"),
    ("binary.txt", b"\x00\x01\x02PNG\x00" * 100, "binary"),
    ("latin1.txt", "Caf\u00e9 cr\u00e8me na\u00efve story. Second sentence here.".encode("latin-1"), "UTF-8"),
])
def test_bad_files_fail_clearly_and_leave_the_store_as_it_was(env, tmp_path, name, content, message):
    assert briefbot(env, "ingest", str(SEED_ARTICLE)).returncode == 0
    bad = tmp_path / name
    bad.write_bytes(content)
    result = briefbot(env, "ingest", str(bad))
    assert result.returncode == 1
    err = result.stderr.decode()
    assert message.lower() in err.lower() and "Traceback" not in err
    digest = briefbot(env, "digest", "--since", "7d", "--format", "json")
    assert len(json.loads(out(digest))["stories"]) == 1


def test_summarize_a_missing_file_or_a_private_url(env):
    missing = briefbot(env, "summarize", "no/such/file.txt")
    assert missing.returncode == 1 and "No such file" in missing.stderr.decode()
    private = briefbot(env, "summarize", "http://127.0.0.1:9/article")
    assert private.returncode == 1 and "127.0.0.1" in private.stderr.decode()


def test_ingest_digest_and_ask(env):
    assert briefbot(env, "ingest", str(SEED_ARTICLE), str(REPO / "seeds" / "sample-feed.rss")).returncode == 0
    again = briefbot(env, "ingest", str(SEED_ARTICLE))
    assert "0 new, 1 already stored" in again.stderr.decode()
    digest = out(briefbot(env, "digest", "--since", "24h", "--max-stories", "2"))
    assert digest.count("Source:") == 2 and "More stories (2)" in digest
    answer = briefbot(env, "ask", "Who leads the G7 trade complaint from India?")
    assert answer.returncode == 0 and "India" in out(answer)
    uncovered = briefbot(env, "ask", "How many goals did Messi score?")
    assert uncovered.returncode == 1 and "do not cover" in out(uncovered)


def test_bad_options_get_usage_errors(env):
    result = briefbot(env, "digest", "--since", "banana")
    assert result.returncode == 2 and "time span" in result.stderr.decode()


def test_a_bad_setting_is_named_in_one_line(env):
    for name, value in (("BRIEFBOT_DIGEST_PROCESSES", "two"), ("BRIEFBOT_MAX_STORIES", "0")):
        result = briefbot({**env, name: value}, "run", stdin="")
        error = result.stderr.decode()
        assert result.returncode == 1 and name in error and "Traceback" not in error, error


def test_every_command_has_help(env):
    for command in ([], ["summarize"], ["ingest"], ["digest"], ["ask"], ["run"]):
        result = briefbot(env, *command, "--help")
        assert result.returncode == 0 and "Usage" in out(result)


def test_a_missing_extra_names_the_exact_install_command():
    from bot.extras import MissingExtra, require

    with pytest.raises(MissingExtra) as caught:
        require("briefbot_no_such_sdk", "slack", "Slack")
    assert str(caught.value) == "Slack needs the 'slack' extra: pip install 'briefbot[slack]'"
