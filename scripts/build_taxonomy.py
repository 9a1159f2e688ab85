#!/usr/bin/env python
"""Build the default taxonomy JSON from its outline files.

Reads ``deeppersona/data/taxonomy/outline/*.txt`` (one root category a file, in the indented outline
format described in ``docs/taxonomy.md``), checks every rule of the default taxonomy and writes
``deeppersona/data/taxonomy/default.json`` (sorted keys, stable output, with ``format_version``).

Outline format (full description in ``docs/taxonomy.md``): one node a line, four spaces of
indentation a level (root category = level 1, at most 3 levels); after the name, optionally
``:: one-line description``, ``[core]`` and a value-type hint ``{text}``, ``{list}``,
``{number: unit}`` or ``{categorical: A | B}``; ``#`` starts a comment line; blank lines are ignored::

    Demographic Information :: Basic facts about who the person is
        Age :: The person's age and life stage [core]
            Life Stage {categorical: Child | Teenager | Adult | Older Adult}
            Household Size {number: people}

Usage::

    python scripts/build_taxonomy.py            # build, check, write, print statistics
    python scripts/build_taxonomy.py --check    # fail if default.json is missing or out of date
    python scripts/build_taxonomy.py --lenient  # write despite style problems (structure must be valid)

Exit status: 0 on success, 1 on any problem (each printed with its file:line or node path).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deeppersona.errors import TaxonomyError  # noqa: E402
from deeppersona.taxonomy import (  # noqa: E402
    CORE_ATTRIBUTES,
    ROOT_CATEGORIES,
    AttributeNode,
    AttributeTree,
    TaxonomyProblem,
    canonical_key,
)
from deeppersona.taxonomy._outline import parse_outline  # noqa: E402

OUTLINE_DIR = ROOT / "deeppersona" / "data" / "taxonomy" / "outline"
OUTPUT = ROOT / "deeppersona" / "data" / "taxonomy" / "default.json"
REVIEWED = ROOT / "deeppersona" / "data" / "taxonomy" / "reviewed_duplicates.tsv"
SUPPORT = ROOT / "deeppersona" / "data" / "taxonomy" / "support.tsv"
SUPPORT_SOURCE = {
    "source": "Synthetic-Persona-Chat persona sentences (validation and test splits)",
    "credit": "Jandaghi et al. (2023), Faithful Persona-based Conversational Dataset Generation with Large "
    "Language Models, Google Research; CC BY 4.0",
    "method": "scripts/derive_support.py: each sentence mapped to its most similar leaf (all-MiniLM-L6-v2, "
    "cosine >= threshold), counted by the persona lists holding it, plus additive smoothing; a branch's or "
    "root's support is the sum over its leaves",
    "file": "deeppersona/data/taxonomy/support.tsv",
}
MIN_NODES = 4000
MIN_ROOT_NODES = 150
MAX_ROOT_SHARE = 0.15
METADATA = {
    "name": "deeppersona default taxonomy",
    "provenance": (
        "Written by the deeppersona authors for this library; not copied from a published taxonomy. "
        "The twelve root categories follow the DEEPPERSONA paper (Appendix A.5)."
    ),
    "generated_by": "scripts/build_taxonomy.py from deeppersona/data/taxonomy/outline/*.txt",
}


def read_outlines(outline_dir: Path) -> tuple[list[AttributeNode], list[str]]:
    """Parse every outline file; return the root nodes in ROOT_CATEGORIES order and the errors."""
    errors: list[str] = []
    by_key: dict[str, tuple[AttributeNode, str]] = {}
    files = sorted(outline_dir.glob("*.txt"))
    if not files:
        errors.append(f"{outline_dir}: no outline files (*.txt)")
    for file in files:
        source = str(file.relative_to(ROOT)) if file.is_relative_to(ROOT) else str(file)
        try:
            roots = parse_outline(file.read_text(encoding="utf-8"), source=source)
        except TaxonomyError as exc:
            errors.append(str(exc))
            continue
        if len(roots) != 1:
            errors.append(f"{source}: holds {len(roots)} root categories; write exactly one a file")
        for root in roots:
            key = root.canonical_name
            if key in by_key:
                errors.append(f"{source}: root {root.name!r} is also defined in {by_key[key][1]}")
                continue
            by_key[key] = (root, source)
    allowed = {canonical_key(r): r for r in ROOT_CATEGORIES}
    for key, (root, source) in by_key.items():
        if key not in allowed:
            errors.append(f"{source}: unknown root category {root.name!r}; use one of {list(ROOT_CATEGORIES)}")
        elif root.name != allowed[key]:
            errors.append(f"{source}: write the root category exactly as {allowed[key]!r}, not {root.name!r}")
    missing = [r for r in ROOT_CATEGORIES if canonical_key(r) not in by_key]
    if missing and files:
        errors.append(f"{outline_dir}: no outline file for root categories {missing}")
    ordered = [by_key[canonical_key(r)][0] for r in ROOT_CATEGORIES if canonical_key(r) in by_key]
    return ordered, errors


def policy_problems(tree: AttributeTree) -> list[TaxonomyProblem]:
    """The default taxonomy's own rules: size, balance and core attributes."""
    problems: list[TaxonomyProblem] = []
    stats = tree.stats()
    if stats.nodes < MIN_NODES:
        problems.append(TaxonomyProblem("", f"{stats.nodes} nodes; the default needs at least {MIN_NODES}", "size"))
    for name, count in stats.per_root.items():
        if count < MIN_ROOT_NODES:
            problems.append(
                TaxonomyProblem(name, f"{count} nodes; every root needs at least {MIN_ROOT_NODES}", "balance")
            )
        if stats.nodes and count / stats.nodes > MAX_ROOT_SHARE:
            problems.append(
                TaxonomyProblem(
                    name,
                    f"{count} nodes = {100 * count / stats.nodes:.1f}% of all; the maximum is "
                    f"{100 * MAX_ROOT_SHARE:.0f}%",
                    "balance",
                )
            )
    for path in CORE_ATTRIBUTES:
        node = tree.find(path)
        if node is None or node.path_str != path:
            problems.append(TaxonomyProblem(path, "core attribute missing (exact spelling required)", "core"))
        elif not node.core:
            problems.append(TaxonomyProblem(path, "core attribute not marked [core]", "core"))
    for node in tree.core_nodes():
        if node.path_str not in CORE_ATTRIBUTES:
            problems.append(
                TaxonomyProblem(node.path_str, "marked [core] but not one of the core attributes", "core")
            )
    return problems


def apply_support(tree: AttributeTree, path: Path) -> list[TaxonomyProblem]:
    """Store the support of ``path`` (see ``scripts/derive_support.py``) on the tree's nodes.

    Each leaf gets its smoothed support; a branch or root gets the sum over its leaves. A leaf missing
    from the file is a problem (the file is out of date); without the file nothing is stored.
    """
    if not path.exists():
        return []
    table: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            leaf, _count, support = line.split("\t")
            table[leaf] = float(support)
    problems: list[TaxonomyProblem] = []

    def fill(node: AttributeNode) -> float:
        if not node.children:
            value = table.get(node.path_str)
            if value is None:
                problems.append(
                    TaxonomyProblem(node.path_str, "no support in support.tsv; run scripts/derive_support.py", "support")
                )
                value = 0.0
        else:
            value = sum(fill(child) for child in node.children)
        node.support = value
        return value

    for root in tree.roots:
        fill(root)
    return problems


def read_reviewed(path: Path) -> tuple[list[list[str]], list[str]]:
    """Read the reviewed near-duplicate pairs: ``path A<TAB>path B<TAB>reason`` a line, ``#`` comments."""
    if not path.exists():
        return [], []
    pairs: list[list[str]] = []
    errors: list[str] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 3 or not all(parts):
            errors.append(f"{path.name}:{lineno}: write 'path A<TAB>path B<TAB>reason'")
            continue
        pairs.append(parts)
    return pairs, errors


def main(argv: list[str] | None = None) -> int:
    """Run the build; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--outline-dir", type=Path, default=OUTLINE_DIR, help="folder of outline *.txt files")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the JSON file to write")
    parser.add_argument("--check", action="store_true", help="only check that the output is up to date")
    parser.add_argument(
        "--lenient", action="store_true", help="write even with style or policy problems (still printed)"
    )
    args = parser.parse_args(argv)

    roots, errors = read_outlines(args.outline_dir)
    if errors:
        print(f"build_taxonomy: {len(errors)} error(s) in the outline files:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    metadata = dict(METADATA)
    reviewed, review_errors = read_reviewed(REVIEWED)
    if review_errors:
        for error in review_errors:
            print(f"build_taxonomy: {error}", file=sys.stderr)
        return 1
    if reviewed:
        metadata["reviewed_duplicates"] = reviewed
    tree = AttributeTree(roots, fixed_roots=ROOT_CATEGORIES, metadata=metadata)
    support_problems = apply_support(tree, SUPPORT)
    if SUPPORT.exists():
        tree.metadata["support"] = SUPPORT_SOURCE
    structural = tree.validate()
    rules = [p for p in tree.validate(style=True) if p not in structural] + policy_problems(tree) + support_problems
    for title, problems in (("structural problem(s)", structural), ("rule violation(s)", rules)):
        if problems:
            print(f"build_taxonomy: {len(problems)} {title}:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
    if structural or (rules and not args.lenient):
        print("build_taxonomy: nothing written; fix the outline files and run again", file=sys.stderr)
        return 1

    text = tree.to_json(indent=1)
    # the written file must load back to the very same tree
    if AttributeTree.from_json(text, source=str(args.output)) != tree:  # pragma: no cover - a library bug
        print("build_taxonomy: the JSON does not round-trip; this is a bug in deeppersona", file=sys.stderr)
        return 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"build_taxonomy: {args.output} is out of date; run scripts/build_taxonomy.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date (fingerprint {tree.fingerprint()})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} (fingerprint {tree.fingerprint()})")
    print(tree.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
