"""AttributeSelector / StratifiedSelector: strata, exactness, exclusions, coverage, subclassing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

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
)
from deeppersona.selector._stratified import stratum_quotas
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
            assert not p.node.core, "core attributes themselves are never selected (the core chain fills them)"


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
    fp = tree.fingerprint()  # known once, as the engine passes it (hashing the tree is most of a select)
    for i in range(200):
        for p in sel.select(_ctx(tree, embedder, i, fingerprint=fp), 220, np.random.default_rng([11, i])):
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


@settings(max_examples=200, deadline=None, database=None)
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


# -- issue 16, defect 1: `require` keeps "exactly k distinct attributes" ------------------------------


class _NoEncodeEmbedder(HashEmbedder):
    """Fails the test if anything is embedded (the required-vs-k check must come before any work)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("encode called before the require/k check")


def _required_paths(tree: AttributeTree, n: int) -> list[str]:
    return [node.path_str for node in StratifiedSelector().candidates(tree)[::97][:n]]


def test_more_required_than_k_is_a_config_error(tree: AttributeTree, embedder: HashEmbedder) -> None:
    # issue 16: require=[3 paths] with k=2 returned 1,282 attributes (a negative stratum quota)
    sel = StratifiedSelector(require=_required_paths(tree, 3))
    with pytest.raises(ConfigError, match=r"3 distinct attributes but k=2"):
        sel.check(tree, 2)
    with pytest.raises(ConfigError, match=r"k must be at least 3"):
        sel.select(_ctx(tree, _NoEncodeEmbedder()), 2, np.random.default_rng(0))
    with pytest.raises(ConfigError):
        UniformSelector(require=_required_paths(tree, 3)).select(
            _ctx(tree, _NoEncodeEmbedder()), 2, np.random.default_rng(0)
        )
    picks = sel.select(_ctx(tree, embedder), 3, np.random.default_rng(0))  # k == len(require): just those
    assert sorted(p.path_str for p in picks) == sorted(_required_paths(tree, 3))
    assert {p.stratum for p in picks} == {"required"}


def test_duplicated_required_paths_count_once(tree: AttributeTree, embedder: HashEmbedder) -> None:
    # issue 16: a duplicated required path gave k-1 attributes
    path = "Physical and Health Characteristics > Sleep Health > Sleep Quality"
    spellings = [
        path,
        path,
        path.lower(),
        "physical_and_health_characteristics > SleepHealth > sleep-quality",
    ]
    sel = StratifiedSelector(require=spellings)
    sel.check(tree, 1)  # one distinct node: k=1 is enough
    for k in (1, 2, 10, 150):
        picks = sel.select(_ctx(tree, embedder), k, np.random.default_rng(k))
        assert len(picks) == k and len({p.node.key for p in picks}) == k
        assert [p.path_str for p in picks if p.stratum == "required"] == [path]
    uniform = UniformSelector(require=spellings).select(_ctx(tree, embedder), 10, np.random.default_rng(0))
    assert len({p.node.key for p in uniform}) == 10
    assert [p.path_str for p in uniform if p.stratum == "required"] == [path]


def test_required_leaf_that_is_not_a_candidate_fails_in_check(tree: AttributeTree) -> None:
    sel = StratifiedSelector(require=["Physical and Health Characteristics > Sleep Health"])  # a branch
    with pytest.raises(ConfigError, match="not a candidate leaf"):
        sel.check(tree, 10)


def test_free_quotas_never_negative() -> None:
    from deeppersona.selector._stratified import _free_quotas

    assert _free_quotas([2, 1, 1], [0, 0, 0]) == [0, 0, 1]
    assert _free_quotas([1, 1, 0], [2, 2]) == [0, 0, 0]
    with pytest.raises(ConfigError):
        _free_quotas([1, 0, 0], [0, 1])


_SMALL = AttributeTree.from_dict(
    {f"Root {r}": {f"Branch {r}{b}": [f"Leaf {r}{b}{i}" for i in range(4)] for b in range(3)} for r in "ABC"}
)
_SMALL_LEAVES = [n.path_str for n in StratifiedSelector().candidates(_SMALL)]
_SPELLINGS = (  # spellings that the tree resolves to the same node
    lambda p: p,
    str.lower,
    str.upper,
    lambda p: " > ".join(name.replace(" ", "_") for name in p.split(" > ")),
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    data=st.data(),
    cls=st.sampled_from([StratifiedSelector, UniformSelector]),
    ratios=st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)).filter(lambda r: sum(r) > 0),
    breadth_first=st.booleans(),
    required=st.lists(
        st.tuples(st.integers(0, len(_SMALL_LEAVES) - 1), st.integers(0, len(_SPELLINGS) - 1)), max_size=10
    ),
    excluded_branch=st.one_of(st.none(), st.sampled_from(["Root A > Branch A0", "Root C > Branch C2"])),
)
def test_required_selection_is_exactly_k_distinct(
    data: st.DataObject,
    cls: type[StratifiedSelector],
    ratios: tuple[int, int, int],
    breadth_first: bool,
    required: list[tuple[int, int]],
    excluded_branch: str | None,
) -> None:
    embedder = HashEmbedder(dim=16)
    exclude = frozenset() if excluded_branch is None else frozenset({_SMALL.get(excluded_branch).key})
    available = len(_SMALL_LEAVES) - (4 if exclude else 0)
    k = data.draw(st.integers(1, available), label="k")
    require = [_SPELLINGS[s](_SMALL_LEAVES[i]) for i, s in required]
    unique = {_SMALL_LEAVES[i] for i, _ in required}
    sel = cls(ratios=ratios, require=require, breadth_first=breadth_first, coverage_period=3)
    ctx = SelectionContext(_SMALL, "a person who likes leaf a01", embedder, exclude=exclude, index=k)
    if len(unique) > k:
        with pytest.raises(ConfigError, match="distinct attributes"):
            sel.check(_SMALL, k, exclude)
        with pytest.raises(ConfigError, match="distinct attributes"):
            sel.select(ctx, k, np.random.default_rng(k))
        return
    sel.check(_SMALL, k, exclude)
    picks = sel.select(ctx, k, np.random.default_rng(k))
    assert len(picks) == k
    assert len({p.node.key for p in picks}) == k
    assert not any(excluded_branch and p.path_str.startswith(excluded_branch) for p in picks)
    wanted = {p for p in unique if not (excluded_branch and p.startswith(excluded_branch))}
    assert {p.path_str for p in picks if p.stratum == "required"} == wanted
