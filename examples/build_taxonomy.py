"""Build an attribute taxonomy from the bundled sample of QA pairs (paper §3.1, Algorithms 1-3).

Run::

    python examples/build_taxonomy.py                 # default: the embedded local model, 12 pairs
    python examples/build_taxonomy.py --local --limit 30
    python examples/build_taxonomy.py --model gpt-4.1-mini --limit 303
    DEEPPERSONA_EXAMPLES_FAST=1 python examples/build_taxonomy.py   # offline fakes, all pairs, seconds

It prints the stage report (counts in and out of every stage, what was dropped and why), the tree,
and writes ``tree.json`` plus ``tree_records.jsonl`` (each pair's personalizability label, reason
and extracted paths) in the current directory.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from deeppersona.builder import TaxonomyBuilder, sample_qa_path
from deeppersona.testing import fake_builder_llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="use the embedded local model (the default)")
    parser.add_argument("--model", default=None, help="a LiteLLM model string instead of the local model")
    parser.add_argument("--limit", type=int, default=None, help="number of QA pairs (default: 12, fast: all)")
    parser.add_argument("--out", default="tree.json", help="where to save the tree")
    parser.add_argument("--checkpoint-dir", default=None, help="resume an interrupted run from here")
    args = parser.parse_args()

    fast = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"
    if fast:
        from deeppersona.testing import HashEmbedder

        # Offline fakes: a FakeLLM with plausible builder replies, a hash embedder (its own threshold).
        builder = TaxonomyBuilder(llm=fake_builder_llm(), embedder=HashEmbedder(256), merge_threshold=0.5)
        limit = args.limit
    else:
        builder = TaxonomyBuilder(
            llm=args.model,  # None -> the embedded local model
            checkpoint_dir=args.checkpoint_dir,
            progress=True,
        )
        limit = args.limit if args.limit is not None else 12

    started = time.perf_counter()
    result = builder.build(sample_qa_path(), limit=limit)
    elapsed = time.perf_counter() - started

    print(result.to_markdown())
    print()
    print(result.tree.render(max_children=4))
    labels: dict[str, int] = {}
    for record in result.records:
        labels[record.label or "failed"] = labels.get(record.label or "failed", 0) + 1
    print(f"\nlabels: {labels}")
    print(f"model: {builder.llm_.model}; finished in {elapsed:.1f}s")

    out = result.tree.save(args.out)
    records = Path(out).with_name(Path(out).stem + "_records.jsonl")
    with records.open("w", encoding="utf-8") as fh:
        for record in result.records:
            fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    print(f"saved {len(result.tree)} nodes to {out} and per-pair records to {records}")


if __name__ == "__main__":
    main()
