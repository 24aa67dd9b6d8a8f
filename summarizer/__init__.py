"""The shared summarizer core: sentence splitting, extractive summaries and briefings.

Free of any chat platform or model client; adapters and the bot build on it.
"""

from .briefing import (
    Briefing,
    Budget,
    Bullet,
    Document,
    ExtractiveBullets,
    SourceLink,
    Story,
    Summarizer,
    compose,
)
from .extractive import ExtractiveSummarizer
from .sentences import Sentence, sentence_spans, split_sentences

# The summarizers a user can pick by name; model-backed ones register where they are built.
SUMMARIZERS = {
    "extractive": lambda: ExtractiveBullets(ExtractiveSummarizer()),
}


def default_summarizer() -> Summarizer:
    """The offline extractive summarizer: no model, no network."""
    return SUMMARIZERS["extractive"]()


__all__ = [
    "Briefing", "Budget", "Bullet", "Document", "ExtractiveBullets", "ExtractiveSummarizer",
    "SUMMARIZERS", "Sentence", "SourceLink", "Story", "Summarizer", "compose",
    "default_summarizer", "sentence_spans", "split_sentences",
]
