"""Shape a cohort by subclassing the attribute selector: a health-focused study population.

Run: python examples/custom_selector.py   (selection only: no language model needed, a few seconds)
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from deeppersona.selector import SelectionContext, StratifiedSelector
from deeppersona.taxonomy import AttributeNode, AttributeTree

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"
HEALTH = "Physical and Health Characteristics"


class HealthFocusedSelector(StratifiedSelector):
    """Draws health attributes five times as often, never media habits, and always asks about sleep."""

    def __init__(self) -> None:
        super().__init__(
            ratios=(5, 3, 2),
            exclude_roots=["Media Consumption and Engagement"],
            require=[f"{HEALTH} > Sleep Health > Sleep Quality"],
            root_quotas={HEALTH: 40},
        )

    def node_weight(self, node: AttributeNode) -> float:
        return 5.0 if node.category == HEALTH else 1.0


if FAST:
    from deeppersona.testing import HashEmbedder

    embedder = HashEmbedder()
else:
    from deeppersona.embeddings import resolve_embedder

    embedder = resolve_embedder(None)  # the packaged MiniLM (embeddings cached after the first run)

tree = AttributeTree.default()
profile = "A 58-year-old bus driver in Manila with diabetes who plays chess in the park."
for selector in (StratifiedSelector(), HealthFocusedSelector()):
    picks = selector.select(SelectionContext(tree, profile, embedder, run_seed=1, index=0), 120, np.random.default_rng(0))
    roots = Counter(p.path[0] for p in picks)
    print(f"{type(selector).__name__}: strata {dict(Counter(p.stratum for p in picks))}")
    print(f"  health attributes: {roots[HEALTH]}, media attributes: {roots['Media Consumption and Engagement']}")
    print("  e.g.", [p.path_str.split(" > ")[-1] for p in picks if p.path[0] == HEALTH][:6])

# Use it in the engine with: PersonaEngine.from_taxonomy("default").with_selector(HealthFocusedSelector())
