"""Time the story layer on development data.

``python -m bench.stories FILE.jsonl [FILE2.jsonl ...] [--limit N] [--days D]``

Reads JSON lines ``{"id", "article"[, "title"]}``, takes the first ``--limit`` articles of
all files together, and times :func:`summarizer.stories.cluster` on them. Then it splits
them into ``--days`` consecutive "days" and runs the whole digest (cluster, rank, match
against the previous days' memory, summarize the top 8, remember) day after day, as the
bot would for one channel, reporting the time per day and the size of the memory kept.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from summarizer import default_summarizer
from summarizer.briefing import Document
from summarizer.stories import StoryFingerprint, cluster, plan_digest


def load(paths: list[str], limit: int | None) -> list[Document]:
    docs: list[Document] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if limit is not None and len(docs) >= limit:
                    return docs
                row = json.loads(line)
                docs.append(Document(title=row.get("title", ""), text=row["article"],
                                     source=row.get("category") or path.rsplit("/", 1)[-1],
                                     key=str(row.get("id", len(docs)))))
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stories", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--limit", type=int, default=1000, help="articles in all (default 1000)")
    parser.add_argument("--days", type=int, default=5, help="days to split them into (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="clustering runs to time (default 3)")
    args = parser.parse_args(argv)
    docs = load(args.files, args.limit)
    print("$ python -m bench.stories " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))

    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        clusters = cluster(docs)
        runs.append(time.perf_counter() - start)
    multi = [c for c in clusters if len(c.all_documents) > 1]
    copies = sum(len(g) for c in clusters for g in c.copies)
    print(f"cluster(): {len(docs)} articles -> {len(clusters)} stories "
          f"({len(multi)} with 2+ articles, {copies} near-duplicates collapsed); "
          f"median {statistics.median(runs):.2f} s over {len(runs)} runs "
          f"({1000 * statistics.median(runs) / max(1, len(docs)):.2f} ms per article)")

    summarizer = default_summarizer()
    per_day = max(1, len(docs) // max(1, args.days))
    start_day = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)
    memory: list[StoryFingerprint] = []
    for day in range(args.days):
        batch = docs[day * per_day:(day + 1) * per_day]
        if not batch:
            break
        now = start_day + timedelta(days=day)
        batch = [Document(d.title, d.text, d.url, d.source, now - timedelta(hours=i % 20), d.key)
                 for i, d in enumerate(batch)]
        start = time.perf_counter()
        plan = plan_digest(batch, summarizer, title=f"Day {day + 1}", served=memory, now=now)
        took = time.perf_counter() - start
        stored = [json.dumps(r.to_dict()) for r in plan.remember]
        memory += [StoryFingerprint.from_dict(json.loads(s)) for s in stored]
        updates = sum(s.update for s in plan.briefing.stories)
        size = statistics.mean(len(s) for s in stored) if stored else 0
        print(f"day {day + 1}: {len(batch)} articles, {len(memory)} records in memory -> "
              f"{len(plan.briefing.stories)} stories ({updates} updates), {len(plan.briefing.more)} more, "
              f"{len(plan.repeats)} repeats left out; {took:.2f} s; records {size / 1024:.1f} KiB each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
