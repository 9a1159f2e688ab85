"""What the typed default taxonomy knows about each attribute, and how the selector uses it.

Shows, offline and in a few seconds:

- a leaf's value type, range, description and applicability conditions;
- the survey items of the Evaluator that the tree covers (``survey_coverage``);
- the most and least disclosed branches (the disclosure support derived from real persona sentences);
- the selector skipping attributes that a profile rules out: a retired person without a partner gets
  no partner or workplace attributes, an employed parent may;
- the long-tail tilt: rarely disclosed branches are picked more often than often disclosed ones.

    python examples/applicability_and_support.py
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from deeppersona.evaluation import survey_coverage
from deeppersona.selector import SelectionContext, StratifiedSelector
from deeppersona.taxonomy import CONDITIONS, AttributeTree
from deeppersona.testing import HashEmbedder


def main() -> None:
    tree = AttributeTree.default()
    stats = tree.stats()
    print(
        f"{stats.leaves} leaves: typed {stats.typed_share:.0%} {stats.typed_leaves}, described {stats.described_share:.0%}"
    )
    print(
        f"{stats.conditional_leaves} leaves apply only to some people: {dict(list(stats.conditions.items())[:6])} ..."
    )

    leaf = next(n for n in tree.leaves() if "partnered" in n.applies_when)
    print(f"\n{leaf.path_str}\n  type {leaf.value_type.to_hint() if leaf.value_type else None}; "
          f"applies when: {[CONDITIONS[c] for c in leaf.applies_when]}\n  {leaf.description}")  # fmt: skip
    sleep = next(n for n in tree.leaves() if n.value_type is not None and n.value_type.kind == "number")
    print(f"{sleep.path_str}: {sleep.value_type.to_hint()}  ({sleep.description})")  # type: ignore[union-attr]

    for survey in ("wvs7", "ipip50"):
        covered = survey_coverage(tree, survey)
        print(f"\n{survey}: {sum(bool(p) for p in covered.values())} of {len(covered)} items covered, e.g.",
              next(iter(covered.items())))  # fmt: skip

    branches: dict[str, list[float]] = {}
    for node in tree.leaves():
        branches.setdefault(" > ".join(node.path[:2]), []).append(node.support or 0.0)
    ranked = sorted(branches, key=lambda b: np.mean(branches[b]))
    print("\nleast disclosed branches:", ranked[:3])
    print("most disclosed branches: ", ranked[-3:])
    print("support source:", tree.metadata["support"]["source"])

    selector, embedder = StratifiedSelector(), HashEmbedder()
    candidates = selector.candidates(tree)
    for life_stage, circumstances in (("retired", {"partnered": False, "parent": False}),
                                      ("employed", {"partnered": True, "parent": True})):  # fmt: skip
        context = SelectionContext(
            tree, "a person", embedder, life_stage=life_stage, circumstances=circumstances
        )
        open_to = sum(context.applicable(n) for n in candidates)
        picked = selector.select(context, 60, np.random.default_rng(1))
        ruled_out = [s.node.path_str for s in picked if not context.applicable(s.node)]
        print(f"\n{life_stage}, {circumstances}: {open_to} of {len(candidates)} attributes may apply; "
              f"60 picked, {len(ruled_out)} of them ruled out")  # fmt: skip

    counts: Counter[str] = Counter()
    for sparsity in (0.5, 0.0):
        counts.clear()
        tilted = StratifiedSelector(sparsity=sparsity)
        for i in range(40):
            context = SelectionContext(tree, f"person {i}", embedder, index=i)
            counts.update(
                " > ".join(s.node.path[:2]) for s in tilted.select(context, 60, np.random.default_rng(i))
            )
        low = sum(counts[b] for b in ranked[: len(ranked) // 5])
        high = sum(counts[b] for b in ranked[-(len(ranked) // 5) :])
        print(f"sparsity {sparsity}: picks in the least / most disclosed fifth of branches = {low} / {high}")


if __name__ == "__main__":
    main()
