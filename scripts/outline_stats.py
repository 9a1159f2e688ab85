#!/usr/bin/env python
"""Check outline files and print what a taxonomy author needs: counts, typing, descriptions, conditions.

Usage::

    python scripts/outline_stats.py deeppersona/data/taxonomy/outline/09_lifestyle_and_daily_routine.txt
    python scripts/outline_stats.py deeppersona/data/taxonomy/outline/*.txt

For each file: nodes, leaves, the share of leaves with an explicit value type (by kind) and with a
description, the leaves with applicability conditions (by condition), and leaf names that repeat within
the file (same words after canonicalisation, or one name's words contained in another's under a
different branch). It reads only; ``scripts/build_taxonomy.py`` builds the tree. Exit status 1 when a
file does not parse.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deeppersona.errors import TaxonomyError  # noqa: E402
from deeppersona.taxonomy import AttributeNode  # noqa: E402
from deeppersona.taxonomy._outline import parse_outline  # noqa: E402


def _walk(node: AttributeNode) -> list[AttributeNode]:
    out = [node]
    for child in node.children:
        out += _walk(child)
    return out


def _words(name: str) -> frozenset[str]:
    stop = {"and", "of", "the", "a", "to", "for", "in", "on", "with", "or", "as"}
    words = set()
    for w in name.lower().replace("-", " ").replace("'s", "").split():
        w = w.strip(",.()")
        if w and w not in stop:
            words.add(w[:-1] if w.endswith("s") and len(w) > 4 else w)
    return frozenset(words)


def report(path: Path) -> bool:
    try:
        roots = parse_outline(path.read_text(encoding="utf-8"), source=str(path))
    except TaxonomyError as exc:
        print(f"{path}: {exc}")
        return False
    nodes = [n for r in roots for n in _walk(r)]
    leaves = [n for n in nodes if not n.children]
    typed = [n for n in leaves if n.value_type is not None]
    kinds = Counter(n.value_type.kind for n in typed if n.value_type is not None)
    described = sum(1 for n in leaves if n.description)
    conditional = [n for n in leaves if n.applies_when]
    conditions = Counter(c for n in conditional for c in n.applies_when)
    n = max(len(leaves), 1)
    print(f"{path.name}: {len(nodes)} nodes, {len(leaves)} leaves")
    print(f"  typed {len(typed)} ({len(typed) / n:.0%}): {dict(kinds)}")
    print(f"  described {described} ({described / n:.0%})")
    print(f"  conditional {len(conditional)} ({len(conditional) / n:.0%}): {dict(conditions)}")
    seen: dict[frozenset[str], AttributeNode] = {}
    for leaf in leaves:
        key = _words(leaf.name)
        if key in seen:
            print(f"  same words: {seen[key].path_str!r} / {leaf.path_str!r}")
        seen.setdefault(key, leaf)
    return True


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 1
    ok = all([report(Path(a)) for a in argv])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
