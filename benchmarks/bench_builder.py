"""Benchmark the TaxonomyBuilder's classify + extract stages against the hand-annotated gold set.

The gold set (``deeppersona/data/gold/self_disclosure.jsonl``, see its PROVENANCE.md) holds 180
utterances of real conversations (Synthetic-Persona-Chat, CC BY 4.0), each marked personalizable or
not, with the attribute paths it discloses. Each utterance is given to the builder as a question
without an answer; the benchmark prints, from one run:

- personalizable-classification accuracy (label "Personalizable"/"Partially" against the gold flag);
- root accuracy: extracted paths (of gold-personalizable utterances) whose root is a gold root of the
  utterance; and root recall: gold facts whose root was extracted for their utterance;
- values as attributes and root lists: extracted items that named the value ("Age > 25-35",
  "Favorite Sport > Ultimate Frisbee") or a root below the root, before and after the filter (the
  targets are about what the filter keeps);
- leaf match: gold facts of which a kept path's leaf equals the gold leaf (exact, canonical), or is
  within cosine 0.8 of it (the builder's embedder);
- paths kept by the filter (rules, plus the LLM Check Node / Check Path unless ``--no-llm-checks``);
- utterances per minute: classify + extract, and with the filter.

Usage::

    python benchmarks/bench_builder.py                          # embedded default model, one call per pair
    python benchmarks/bench_builder.py --mode two-call          # the paper's classify, then extract
    python benchmarks/bench_builder.py --limit 40               # the first 40 gold utterances
    python benchmarks/bench_builder.py --model gpt-4.1-mini     # any LiteLLM model
    python benchmarks/bench_builder.py --model fake             # the offline FakeLLM (plumbing reference)
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from deeppersona.builder import QAPair, TaxonomyBuilder
from deeppersona.builder._disclosure import names_value
from deeppersona.taxonomy import ROOT_CATEGORIES, canonical_key
from deeppersona.testing import fake_builder_llm

TARGETS = (
    ("root_accuracy", ">=", 0.80),
    ("values_as_attributes_kept", "<=", 0),
    ("root_lists_kept", "<=", 0),
    ("leaf_match_embedding", ">=", 0.60),
    ("pairs_per_minute", ">=", 5.0),
)


@dataclass(frozen=True)
class Gold:
    """One annotated utterance."""

    id: str
    text: str
    personalizable: bool
    paths: tuple[tuple[str, ...], ...]
    values: tuple[str, ...]


def load_gold(limit: int | None = None) -> list[Gold]:
    """The gold utterances shipped with the package (the first ``limit`` of them)."""
    text = (resources.files("deeppersona.data") / "gold" / "self_disclosure.jsonl").read_text(
        encoding="utf-8"
    )
    out = []
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            facts = row["disclosures"]
            out.append(
                Gold(
                    row["id"],
                    row["text"],
                    bool(row["personalizable"]),
                    tuple(tuple(f["path"].split(" > ")) for f in facts),
                    tuple(f["value"] for f in facts),
                )
            )
    return out[:limit] if limit else out


def path_names_value(path: tuple[str, ...], values: list[str]) -> bool:
    """Whether a name below the root is a value: it holds a digit, or it is one of the values said."""
    return any(re.search(r"\d", n) or any(names_value(n, v) for v in values) for n in path[1:])


def lists_roots(path: tuple[str, ...]) -> bool:
    """Whether a name below the root is a root category."""
    roots = {canonical_key(r) for r in ROOT_CATEGORIES}
    return any(canonical_key(n) in roots for n in path[1:])


def share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="LiteLLM model string, 'fake', or the embedded default")
    parser.add_argument("--mode", choices=("one-call", "two-call"), default="one-call")
    parser.add_argument("--limit", type=int, default=None, help="only the first N gold utterances")
    parser.add_argument("--no-llm-checks", action="store_true", help="filter with the rules only")
    parser.add_argument(
        "--embedder", default=None, help="'hash' for the offline hash embedder (default MiniLM)"
    )
    parser.add_argument(
        "--suggestions", type=int, default=12, help="vocabulary paths shown per utterance (0: none)"
    )
    parser.add_argument(
        "--snap", type=float, default=None, help="snap threshold (default: the builder's; 0 or less: off)"
    )
    parser.add_argument(
        "--prompts", default=None, help="a folder of builder_*.jinja overrides (prompt experiments)"
    )
    parser.add_argument(
        "--records",
        action="store_true",
        help="embedded models: write the extraction reply record by record (field_by_field='records')",
    )
    parser.add_argument("--out", default=None, help="write one JSON line per utterance (what was extracted)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from deeppersona.testing import HashEmbedder

    fake = args.model == "fake"
    embedder: Any = HashEmbedder() if fake or args.embedder == "hash" else args.embedder
    llm: Any = args.model
    if fake:
        llm = fake_builder_llm()
    elif args.records:
        from deeppersona.llm import resolve_llm

        llm = resolve_llm(args.model, field_by_field="records")
    builder = TaxonomyBuilder(
        llm=llm,
        embedder=embedder,
        one_call=args.mode == "one-call",
        llm_checks=not args.no_llm_checks,
        progress=True,
        prompts=Path(args.prompts) if args.prompts else None,
        suggestions=args.suggestions,
        **({} if args.snap is None else {"snap": args.snap if args.snap > 0 else None}),
    )
    gold = load_gold(args.limit)
    pairs = [QAPair(g.text, "", id=g.id) for g in gold]

    t0 = time.perf_counter()
    if builder.one_call:
        records = builder.extract(pairs).records
    else:
        classified = builder.classify(pairs).records
        extracted = {r.key: r for r in builder.extract(classified).records}
        records = [extracted.get(r.key, r) for r in classified]
    t_extract = time.perf_counter() - t0
    all_paths = [p for r in records for p in r.paths]
    filtered = builder.filter(all_paths)
    t_total = time.perf_counter() - t0
    decisions = filtered.decisions

    by_id = {r.id: r for r in records}
    counts: Counter[str] = Counter()
    leaf_pairs: list[tuple[str, list[str]]] = []  # (gold leaf, kept leaves of its utterance)
    rows = []
    for g in gold:
        record = by_id[g.id]
        predicted = record.label in builder.labels
        counts["correct_label"] += predicted == g.personalizable
        counts["pred_personal"] += predicted
        counts["gold_personal"] += g.personalizable
        counts["both_personal"] += predicted and g.personalizable
        values = [*record.values, *g.values]
        kept = [decisions.get(p, (None, ""))[0] for p in record.paths]
        kept = [p for p in kept if p is not None]
        counts["extracted"] += len(record.paths)
        counts["kept"] += len(kept)
        counts["dropped_items"] += sum(record.dropped.values())
        counts["values_as_attributes_raw"] += record.dropped.get("value_as_name", 0)
        counts["root_lists_raw"] += record.dropped.get("root_in_path", 0)
        counts["values_as_attributes_raw"] += sum(path_names_value(p, values) for p in record.paths)
        counts["root_lists_raw"] += sum(lists_roots(p) for p in record.paths)
        counts["values_as_attributes_kept"] += sum(path_names_value(p, values) for p in kept)
        counts["root_lists_kept"] += sum(lists_roots(p) for p in kept)
        if g.personalizable:
            gold_roots = {p[0] for p in g.paths}
            counts["paths_of_personal"] += len(record.paths)
            counts["root_hits"] += sum(p[0] in gold_roots for p in record.paths)
            extracted_roots = {p[0] for p in record.paths}
            counts["gold_facts"] += len(g.paths)
            counts["root_recalled"] += sum(p[0] in extracted_roots for p in g.paths)
            kept_leaves = [p[-1] for p in kept]
            for path in g.paths:
                counts["leaf_exact"] += canonical_key(path[-1]) in {canonical_key(k) for k in kept_leaves}
                leaf_pairs.append((path[-1], kept_leaves))
        rows.append(
            {
                "id": g.id,
                "text": g.text,
                "gold_personalizable": g.personalizable,
                "label": record.label,
                "gold": [" > ".join(p) for p in g.paths],
                "extracted": [" > ".join(p) for p in record.paths],
                "values": list(record.values),
                "kept": [" > ".join(p) for p in kept],
                "dropped": dict(record.dropped),
                "error": record.error,
            }
        )

    # leaf match by embedding: the builder's own embedder, every distinct name embedded once
    names = sorted({leaf for leaf, _ in leaf_pairs} | {k for _, ks in leaf_pairs for k in ks})
    matched = 0
    if names:
        vectors = np.asarray(builder.embedder_.encode(names), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        index = {n: i for i, n in enumerate(names)}
        for leaf, kept_leaves in leaf_pairs:
            if kept_leaves:
                sims = vectors[[index[k] for k in kept_leaves]] @ vectors[index[leaf]]
                matched += bool(sims.max() >= 0.8)
    figures = {
        "utterances": len(gold),
        "classification_accuracy": share(counts["correct_label"], len(gold)),
        "classification_precision": share(counts["both_personal"], counts["pred_personal"]),
        "classification_recall": share(counts["both_personal"], counts["gold_personal"]),
        "root_accuracy": share(counts["root_hits"], counts["paths_of_personal"]),
        "root_recall": share(counts["root_recalled"], counts["gold_facts"]),
        "extracted_paths": counts["extracted"],
        "dropped_items": counts["dropped_items"],
        "values_as_attributes_raw": counts["values_as_attributes_raw"],
        "root_lists_raw": counts["root_lists_raw"],
        "paths_kept_by_filter": counts["kept"],
        "kept_share": share(counts["kept"], counts["extracted"]),
        "values_as_attributes_kept": counts["values_as_attributes_kept"],
        "root_lists_kept": counts["root_lists_kept"],
        "leaf_match_exact": share(counts["leaf_exact"], counts["gold_facts"]),
        "leaf_match_embedding": share(matched, counts["gold_facts"]),
        "seconds_classify_extract": round(t_extract, 1),
        "seconds_with_filter": round(t_total, 1),
        "pairs_per_minute": share(len(gold), t_extract / 60),
        "pairs_per_minute_with_filter": share(len(gold), t_total / 60),
    }
    name = "FakeLLM" if fake else args.model or "embedded default model"
    print(f"\n## bench_builder: {name}, {args.mode}, {len(gold)} gold utterances\n")
    print("| figure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    print("\n| target | figure | value | met |\n|---|---|---|---|")
    for key, op, limit in TARGETS:
        value = float(figures[key])
        met = value >= limit if op == ">=" else value <= limit
        print(f"| {op} {limit:g} | {key} | {value:.3f} | {'yes' if met else 'NO'} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
