"""``python -m bench FILE.jsonl [FILE2.jsonl ...] [--sentences 3] [--limit N]``."""

from __future__ import annotations

import argparse
import sys

from .rouge import default_methods, evaluate, format_table, load_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("files", nargs="+", help="JSON-lines files of {id, article, reference[, title]}")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per summary (default 3)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N rows of each file")
    parser.add_argument("--only", action="append", default=None,
                        help="run only this method (repeatable; Lead-3 and LexRank are always kept)")
    args = parser.parse_args(argv)
    for path in args.files:
        methods = default_methods()
        if args.only:
            keep = set(args.only) | {"Lead-3", "sumy LexRank"}
            methods = {k: v for k, v in methods.items() if k in keep}
        rows = load_rows(path, args.limit)
        results, split_ms = evaluate(rows, methods, args.sentences)
        print(format_table(f"{path}, {args.sentences} sentences", len(rows), results, split_ms))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
