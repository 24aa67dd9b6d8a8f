"""The language model, when one is configured: briefings and answers written by it, checked."""

from __future__ import annotations

import time
from dataclasses import replace

from summarizer import Briefing, Budget, Document, Summarizer, compose, default_summarizer

from .errors import BriefbotError
from .settings import Settings


def summarizers(settings: Settings):
    """The briefing summarizer and the question answerer the settings ask for.

    With no model configured: the offline extractive summarizer and no answerer (answers
    are then the best supporting sentences). With one: the model, which falls back to the
    extractive summary whenever it is slow, failing or not grounded in its sources.
    """
    config = settings.llm_config()
    if config is None:
        return default_summarizer(), None
    from summarizer.llm import LLMAnswerer, LLMSummarizer, ModelClient

    try:
        client = ModelClient(config)
    except ImportError as exc:
        raise BriefbotError(str(exc)) from None
    return LLMSummarizer(config, default_summarizer(), client=client), LLMAnswerer(config, client=client)


def deadline_for(settings: Settings) -> float:
    """The monotonic time by which a model must have answered this request."""
    return time.monotonic() + max(1.0, settings.llm_deadline - 2.0)


def brief(documents: list[Document], summarizer: Summarizer, *, title: str, budget: Budget,
          max_stories: int | None, note: str = "", deadline: float | None = None, now=None) -> Briefing:
    """Compose a briefing; with a model, all its stories share one request deadline."""
    for_request = getattr(summarizer, "for_request", None)
    if for_request is None:
        return compose(documents, summarizer, title=title, budget=budget, max_stories=max_stories,
                       note=note, now=now)
    run = for_request(deadline)
    run.prefetch(documents[:max_stories] if max_stories else documents, budget)
    briefing = compose(documents, run, title=title, budget=budget, max_stories=max_stories, note=note, now=now)
    return replace(briefing, method=run.method, note=" ".join(filter(None, [note, run.note])))
