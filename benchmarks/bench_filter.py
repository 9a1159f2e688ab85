"""Benchmark the TaxonomyBuilder's FILTER (rules + LLM Check Node / Check Path) on labelled paths.

The labelled paths come from the gold set (see ``bench_builder.py``): gold attribute paths, which the
filter should keep as they are, and the same paths with the disclosed value put in place of the leaf
("... > Food and Drink Tastes > Pizza"), which it should cut or rewrite. Prints, from one run: seconds,
gold paths kept as they were, value paths caught (cut or changed), and the filter's report notes.

Usage::

    python benchmarks/bench_filter.py                      # embedded default model, 30 + 30 paths
    python benchmarks/bench_filter.py --n 15 -v            # 15 + 15, and each decision
    python benchmarks/bench_filter.py --model gpt-4.1-mini # any LiteLLM model
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_builder import load_gold

from deeppersona.builder import TaxonomyBuilder


def labelled_paths(n: int, seed: int = 0) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """``n`` gold paths and ``n`` paths whose leaf is a disclosed value of at most four words."""
    valid: set[tuple[str, ...]] = set()
    invalid: set[tuple[str, ...]] = set()
    for gold in load_gold():
        for path, value in zip(gold.paths, gold.values, strict=True):
            valid.add(path)
            if len(value.split()) <= 4:
                invalid.add((*path[:-1], value[:1].upper() + value[1:]))
    rng = random.Random(seed)
    good, bad = sorted(valid), sorted(invalid)
    rng.shuffle(good)
    rng.shuffle(bad)
    return good[:n], bad[:n]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="LiteLLM model string (default: the embedded model)")
    parser.add_argument("--n", type=int, default=30, help="gold paths, and as many value paths")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each path's decision")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    good, bad = labelled_paths(args.n)
    builder = TaxonomyBuilder(llm=args.model, llm_checks=True, progress=False, snap=None)
    start = time.perf_counter()
    result = builder.filter([*good, *bad])
    seconds = time.perf_counter() - start

    def unchanged(path: tuple[str, ...]) -> bool:
        kept = result.decisions.get(path, (None, ""))[0]
        return kept is not None and tuple(kept) == path

    kept = sum(unchanged(p) for p in good)
    caught = sum(not unchanged(p) for p in bad)
    print(f"\n## bench_filter: {args.model or 'embedded default model'}, {len(good)} + {len(bad)} paths\n")
    print("| figure | value |\n|---|---|")
    print(f"| seconds | {seconds:.0f} |")
    print(f"| gold paths kept as they were | {kept} / {len(good)} |")
    print(f"| value paths caught (cut or changed) | {caught} / {len(bad)} |")
    print(f"| report notes | {json.dumps(result.report.notes)} |")
    if args.verbose:
        for label, paths in (("gold", good), ("value", bad)):
            for path in paths:
                decided, how = result.decisions.get(path, (None, "unknown"))
                shown = " > ".join(decided) if decided else "cut"
                print(f"{label:5s} {' > '.join(path)} -> {shown} ({how})")


if __name__ == "__main__":
    main()
