"""Benchmark the selector's long-tail tilt on the default taxonomy's disclosure support (issue 13).

Generates personas with the package's FakeLLM (selection is what is measured; the values do not matter)
at the default sparsity and at sparsity 0, and prints, per quintile of level-2 branches ranked by how
often people disclose them (mean support of the branch's leaves), how often a branch of that quintile
is selected per persona, and the ratio of the least-disclosed to the most-disclosed quintile.

Target: at the default setting the least-disclosed quintile is selected at least 1.5x as often per
branch as the most-disclosed one; at sparsity 0 the two are selected alike (ratio about 1).

Usage::

    python benchmarks/bench_tilt.py              # 1,000 personas per setting, k=60 (a few minutes)
    python benchmarks/bench_tilt.py --n 200      # quicker
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from deeppersona import PersonaEngine
from deeppersona.selector import StratifiedSelector
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder


def branch_quintiles(tree: AttributeTree) -> tuple[list[list[str]], dict[str, float]]:
    """Level-2 branches (candidates only) in five groups, least disclosed first, and their mean support."""
    selector = StratifiedSelector()
    per_branch: dict[str, list[float]] = {}
    for leaf in selector.candidates(tree):
        branch = " > ".join(leaf.path[:2])
        per_branch.setdefault(branch, []).append(float(leaf.support or 0.0))
    mean = {b: float(np.mean(v)) for b, v in per_branch.items()}
    ranked = sorted(mean, key=lambda b: (mean[b], b))
    return [list(part) for part in np.array_split(np.array(ranked, dtype=object), 5)], mean


def selections(tree: AttributeTree, sparsity: float, n: int, k: int, seed: int) -> tuple[Counter[str], float]:
    """Selections per level-2 branch over ``n`` FakeLLM personas, and the seconds taken."""
    engine = (
        PersonaEngine.from_taxonomy(tree, model=FakeLLM(seed=seed), embedder=HashEmbedder())
        .with_selector(StratifiedSelector(sparsity=sparsity))
        .with_options(progress=False, consistency=False, narrative=False)
        .with_seed(seed)
    )
    started = time.perf_counter()
    population = engine.generate(k=k, n=n)
    counts: Counter[str] = Counter()
    for persona in population:
        for path in persona.selected:
            counts[" > ".join(path.split(" > ")[:2])] += 1
    return counts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="personas per setting (default 1000)")
    parser.add_argument("--k", type=int, default=60, help="attributes per persona (default 60)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    tree = AttributeTree.default()
    if tree.stats().supported == 0:
        raise SystemExit("the default tree carries no support; run scripts/derive_support.py and the build")
    quintiles, mean = branch_quintiles(tree)
    print(
        f"## bench_tilt: {args.n} FakeLLM personas per setting, k={args.k}, {sum(map(len, quintiles))} branches\n"
    )
    print(
        "| quintile (by mean leaf support) | branches | mean support | per branch per persona, sparsity 0.5 | sparsity 0 |"
    )
    print("|---|---|---|---|---|")
    rates: dict[float, list[float]] = {}
    seconds: dict[float, float] = {}
    for sparsity in (0.5, 0.0):
        counts, seconds[sparsity] = selections(tree, sparsity, args.n, args.k, args.seed)
        rates[sparsity] = [sum(counts[b] for b in q) / len(q) / args.n for q in quintiles]
    for i, q in enumerate(quintiles):
        support = np.mean([mean[b] for b in q])
        label = {0: " (least disclosed)", 4: " (most disclosed)"}.get(i, "")
        print(f"| {i + 1}{label} | {len(q)} | "
              f"{support:.2f} | {rates[0.5][i]:.3f} | {rates[0.0][i]:.3f} |")  # fmt: skip
    print()
    for sparsity in (0.5, 0.0):
        ratio = rates[sparsity][0] / max(rates[sparsity][4], 1e-12)
        target = ">= 1.5" if sparsity else "about 1"
        ok = ratio >= 1.5 if sparsity else 0.9 <= ratio <= 1.1
        print(f"sparsity {sparsity}: least/most disclosed quintile = {ratio:.2f} (target {target}: "
              f"{'met' if ok else 'NOT met'}); {seconds[sparsity]:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
