"""The model path as users meet it: configured by environment, checked, and never in the way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.fake import FakePlatform
from bot.service import BriefingService
from bot.settings import Settings
from conftest import REPO, SEED_ARTICLE, SEEDS
from loopback import serve
from openai_fake import API_KEY, OpenAIFake, Behaviour, failing, structured_or_lines

BRIEFBOT = Path(sys.executable).parent / "briefbot"
SEED_TEXT = " ".join(SEED_ARTICLE.read_text(encoding="utf-8").split())


@pytest.fixture
def fake():
    fake = OpenAIFake()
    with serve(fake.application()) as base:
        fake.base_url = f"{base}/v1"
        yield fake


def model_env(fake, **extra) -> dict[str, str]:
    return {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": fake.base_url, "BRIEFBOT_LLM_MODEL": "test-model",
            "BRIEFBOT_LLM_DEADLINE": "4", **extra}


def test_summarize_json_says_llm_when_the_model_answers_and_extractive_with_a_note_when_not(fake, tmp_path):
    def summary(request):
        article = request["messages"][-1]["content"]
        number = {phrase: int(next(line.split("]")[0].lstrip("[") for line in article.splitlines()
                                   if phrase in line)) for phrase in ("forefront", "30-day")}
        return structured_or_lines(
            ("Starmer and Macron are at the forefront of a diplomatic push to bolster Europe's security.",
             [number["forefront"]]),
            ("Macron and Starmer have proposed a 30-day partial truce.", [number["30-day"]]))(request)

    fake.then(Behaviour(content=summary))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "OPENAI_"))}
    env.update(model_env(fake), BRIEFBOT_DATA_DIR=str(tmp_path))
    run = subprocess.run([str(BRIEFBOT), "summarize", str(SEED_ARTICLE), "--format", "json"],
                         capture_output=True, env=env, cwd=REPO, timeout=60)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["method"] == "llm", data
    assert "30-day partial truce" in " ".join(data["summary"])

    fake.then(failing(500), failing(500), failing(500))
    started = time.monotonic()
    run = subprocess.run([str(BRIEFBOT), "summarize", str(SEED_ARTICLE), "--format", "json"],
                         capture_output=True, env=env, cwd=REPO, timeout=60)
    data = json.loads(run.stdout)
    assert data["method"] == "extractive" and data["note"]
    assert all(s in SEED_TEXT for s in data["summary"])
    assert time.monotonic() - started < 15
    assert API_KEY not in run.stdout.decode() + run.stderr.decode()


def test_a_question_gets_a_model_answer_citing_the_stored_sentences(fake, tmp_path):
    settings = Settings.from_env({"BRIEFBOT_DATA_DIR": str(tmp_path), "BRIEFBOT_SEEDS": str(SEEDS),
                                  **model_env(fake)})
    from bot.store import Store

    store = Store.open(settings.database_url)
    service = BriefingService(settings, store)
    assert service.ingest(str(SEED_ARTICLE)).error is None
    chat = FakePlatform(service)

    def answer(request):
        passages = request["messages"][-1]["content"]
        ident = next(line.split("]")[0].lstrip("[") for line in passages.splitlines()
                     if "30-day partial truce" in line)
        text = "Macron and Starmer have proposed a 30-day partial truce."
        return (json.dumps({"covered": True, "sentences": [{"text": text, "cites": [ident]}]})
                if "response_format" in request else f"{text} [{ident}]")

    fake.then(Behaviour(content=answer))
    post = chat.say("What truce did Macron and Starmer propose?")
    store.close()
    assert post.reply.answer.method == "llm", fake.requests
    assert post.text.startswith("\u2022 Macron and Starmer have proposed a 30-day partial truce.")
    assert "Sources:" in post.text


def test_a_follow_up_question_builds_on_the_one_before(chat, service):
    assert service.ingest(str(SEED_ARTICLE)).error is None
    first = chat.say("What truce did Macron and Starmer propose?", thread="t1")
    assert first.reply.answer.covered
    second = chat.say("and for how long?", thread="t1")
    assert second.reply.answer.covered
    assert "30-day" in second.text
    assert chat.say("and for how long?", thread="t-other").reply.answer.covered is False
