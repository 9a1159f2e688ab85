"""AttributeSelector / StratifiedSelector: strata, exactness, exclusions, coverage, subclassing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeppersona.errors import ConfigError
from deeppersona.selector import (
    AttributeSelector,
    SelectedAttribute,
    SelectionContext,
    StratifiedSelector,
    UniformSelector,
    stratum_quotas,
)
from deeppersona.taxonomy import ROOT_CATEGORIES, AttributeNode, AttributeTree
from deeppersona.testing import HashEmbedder


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


@pytest.fixture(scope="module")
def embedder() -> HashEmbedder:
    return HashEmbedder()


def _ctx(tree: AttributeTree, embedder: HashEmbedder, index: int = 0, **kw: object) -> SelectionContext:
    profile = f"Person {index}: a {20 + index % 50}-year-old who enjoys hobby {index % 13} and works as job {index % 7}"
    return SelectionContext(tree, profile, embedder, run_seed=kw.pop("run_seed", 11), index=index, **kw)  # type: ignore[arg-type]


def test_exactly_k_distinct_leaves_with_5_3_2_strata(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sel = StratifiedSelector()
    for i in range(5):
        picks = sel.select(_ctx(tree, embedder, i), 220, np.random.default_rng(i))
        assert len(picks) == 220
        assert len({p.node.key for p in picks}) == 220
        counts = Counter(p.stratum for p in picks)
        assert (
            abs(counts["near"] - 110) <= 1
            and abs(counts["middle"] - 66) <= 1
            and abs(counts["far"] - 44) <= 1
        )
        for p in picks:
            assert not p.node.children, "only leaves are selected"
            assert p.node.depth >= 2
            assert not any(n.core for n in p.node.node_path), "core attributes are never selected"


def test_strata_follow_similarity(tree: AttributeTree, embedder: HashEmbedder) -> None:
    picks = StratifiedSelector().select(_ctx(tree, embedder), 220, np.random.default_rng(0))
    by = {s: [p.similarity for p in picks if p.stratum == s] for s in ("near", "middle", "far")}
    assert min(by["near"]) >= max(by["middle"]) - 1e-9
    assert min(by["middle"]) >= max(by["far"]) - 1e-9


def test_deterministic_and_stochastic(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sel = StratifiedSelector()
    a = sel.select(_ctx(tree, embedder), 100, np.random.default_rng(5))
    b = StratifiedSelector().select(_ctx(tree, embedder), 100, np.random.default_rng(5))
    c = sel.select(_ctx(tree, embedder), 100, np.random.default_rng(6))
    assert [p.node.key for p in a] == [p.node.key for p in b]
    assert [p.node.key for p in a] != [p.node.key for p in c]
    near_a = {p.node.key for p in a if p.stratum == "near"}
    near_c = {p.node.key for p in c if p.stratum == "near"}
    assert near_a != near_c, "the near stratum is drawn stochastically, not the top of the ranking"


def test_population_covers_all_roots_and_level2(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sel = StratifiedSelector()
    roots: set[str] = set()
    level2: set[tuple[str, ...]] = set()
    for i in range(200):
        for p in sel.select(_ctx(tree, embedder, i), 220, np.random.default_rng([11, i])):
            roots.add(p.path[0])
            level2.add(p.path[:2])
    assert roots == set(ROOT_CATEGORIES)
    candidates = {n.path[:2] for n in sel.candidates(tree)}
    all_level2 = {tuple(n.path) for n in tree.nodes() if n.depth == 2 and not n.core}
    assert len(level2 & all_level2) / len(all_level2) >= 0.9
    assert candidates <= level2 | {c for c in candidates if len(c) < 2}


def test_exclusions_anchors_and_options(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sleep = tree.get("Physical and Health Characteristics > Sleep Health")
    ctx = _ctx(tree, embedder, exclude=frozenset({sleep.key}))
    sel = StratifiedSelector(exclude_roots=["Media Consumption and Engagement"])
    picks = sel.select(ctx, 150, np.random.default_rng(1))
    assert not any(p.node.key.startswith(sleep.key) for p in picks)
    assert not any(p.path[0] == "Media Consumption and Engagement" for p in picks)
    only = StratifiedSelector(include_roots=["Education and Learning"])
    assert {p.path[0] for p in only.select(_ctx(tree, embedder), 20, np.random.default_rng(1))} == {
        "Education and Learning"
    }


def test_required_and_root_quotas(tree: AttributeTree, embedder: HashEmbedder) -> None:
    required = "Physical and Health Characteristics > Sleep Health > Sleep Quality"
    sel = StratifiedSelector(require=[required], root_quotas={"Physical and Health Characteristics": 60})
    picks = sel.select(_ctx(tree, embedder), 200, np.random.default_rng(3))
    assert len(picks) == 200 and len({p.node.key for p in picks}) == 200
    assert any(p.path_str == required and p.stratum == "required" for p in picks)
    assert sum(p.path[0] == "Physical and Health Characteristics" for p in picks) >= 60


def test_k_too_large_and_bad_options(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sel = StratifiedSelector(include_roots=["Education and Learning"])
    n = sel.available(tree)
    with pytest.raises(ConfigError, match="candidate"):
        sel.check(tree, n + 1)
    with pytest.raises(ConfigError):
        sel.check(tree, 0)
    with pytest.raises(ConfigError):
        StratifiedSelector(ratios=(1, 2))
    with pytest.raises(ConfigError):
        StratifiedSelector(root_weights={"Education and Learning": -1})
    with pytest.raises(ConfigError, match="no attribute"):
        StratifiedSelector(require=["Nope > Nothing"]).select(
            _ctx(tree, embedder), 5, np.random.default_rng(0)
        )


def test_subclass_node_weight_biases_selection(tree: AttributeTree, embedder: HashEmbedder) -> None:
    health = "Physical and Health Characteristics"

    class HealthFocused(StratifiedSelector):
        def node_weight(self, node: AttributeNode) -> float:
            return 20.0 if node.category == health else 1.0

    base = StratifiedSelector().select(_ctx(tree, embedder), 100, np.random.default_rng(2))
    biased = HealthFocused().select(_ctx(tree, embedder), 100, np.random.default_rng(2))
    assert sum(p.path[0] == health for p in biased) > sum(p.path[0] == health for p in base)


def test_custom_base_subclass(tree: AttributeTree, embedder: HashEmbedder) -> None:
    class FirstK(AttributeSelector):
        def select(
            self, context: SelectionContext, k: int, rng: np.random.Generator
        ) -> list[SelectedAttribute]:
            return [SelectedAttribute(n, "near") for n in self.cached_candidates(context.tree)[:k]]

    picks = FirstK().select(_ctx(tree, embedder), 3, np.random.default_rng(0))
    assert len(picks) == 3 and repr(FirstK()) == "FirstK()"


def test_uniform_selector(tree: AttributeTree, embedder: HashEmbedder) -> None:
    picks = UniformSelector().select(_ctx(tree, embedder), 50, np.random.default_rng(0))
    assert len({p.node.key for p in picks}) == 50


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(1, 500),
    ratios=st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(1, 9)),
    caps=st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)),
)
def test_stratum_quotas_properties(k: int, ratios: tuple[int, int, int], caps: tuple[int, int, int]) -> None:
    q = stratum_quotas(k, ratios, caps)
    assert all(0 <= qi <= ci for qi, ci in zip(q, caps, strict=False))
    assert sum(q) == min(k, sum(caps))
    if min(caps) >= k:  # every stratum has room: within one of the exact share
        total = sum(ratios)
        assert all(abs(qi - k * r / total) < 1 for qi, r in zip(q, ratios, strict=False))
