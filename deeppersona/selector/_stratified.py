"""The default selector: near/middle/far strata drawn 5:3:2 by a stochastic breadth-first walk."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embeddings import Embedder, VectorIndex
from ..embeddings._cache import embedder_fingerprint
from ..errors import ConfigError
from ..taxonomy import AttributeNode, AttributeTree, canonical_key
from ._base import (
    AttributeSelector,
    SelectedAttribute,
    SelectionContext,
    canonical_roots,
    excluded_by,
    node_text,
    resolve_paths,
)

__all__ = ["StratifiedSelector", "UniformSelector", "stratum_quotas"]

logger = logging.getLogger(__name__)

STRATUM_NAMES = ("near", "middle", "far")
_BOOST = 1e6


def stratum_quotas(k: int, ratios: Sequence[float], capacities: Sequence[int]) -> list[int]:
    """Split ``k`` across strata in proportion to ``ratios`` (largest remainder), within ``capacities``.

    When a stratum cannot supply its share, the rest goes to the other strata, nearest first.

    Example:
        >>> stratum_quotas(220, (5, 3, 2), (1000, 1000, 1000))
        [110, 66, 44]
        >>> stratum_quotas(10, (5, 3, 2), (2, 100, 100))
        [2, 6, 2]
    """
    r = np.asarray(ratios, dtype=float)
    raw = k * r / r.sum()
    q = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - q), kind="stable")[: k - int(q.sum())]:
        q[i] += 1
    caps = np.asarray(capacities, dtype=int)
    overflow = int(np.maximum(q - caps, 0).sum())
    q = np.minimum(q, caps)
    for i in np.argsort(-r, kind="stable"):
        if overflow <= 0:
            break
        room = int(caps[i] - q[i])
        take = min(room, overflow)
        q[i] += take
        overflow -= take
    return [int(x) for x in q]


def _free_quotas(quotas: Sequence[int], required_strata: Sequence[int]) -> list[int]:
    """The number of attributes still to draw per stratum once the required ones are placed.

    Each required attribute uses a slot of its own stratum; when that stratum has none left, it takes
    the slot from the stratum with the most left. The result is never negative and sums to
    ``sum(quotas) - len(required_strata)``, so required plus drawn attributes make exactly ``k``.

    Args:
        quotas: Per-stratum totals from :func:`stratum_quotas` (required attributes included).
        required_strata: The stratum of each (distinct) required attribute.

    Returns:
        The per-stratum numbers to draw.

    Raises:
        ConfigError: More required attributes than slots.

    Example:
        >>> _free_quotas([2, 1, 1], [0, 0, 0])
        [0, 0, 1]
    """
    free = [int(q) for q in quotas]
    if len(required_strata) > sum(free):
        raise ConfigError(
            f"{len(required_strata)} required attributes do not fit in k={sum(free)} attributes"
        )
    for s in required_strata:
        if free[s] <= 0:
            s = max(range(len(free)), key=free.__getitem__)  # the first stratum with the most left
        free[s] -= 1
    return free


@dataclass
class _Index:
    """Static, per-tree arrays over the candidates (built once, read-only afterwards)."""

    nodes: list[AttributeNode]
    keys: list[str]
    root_id: np.ndarray
    root_names: list[str]
    branch_id: np.ndarray
    branch_logw: np.ndarray
    leaf_logw: np.ndarray
    position: dict[str, int]
    embeddings: dict[str, VectorIndex] = field(default_factory=dict)
    valid: dict[frozenset[str], np.ndarray] = field(default_factory=dict)

    @functools.cached_property
    def conditional(self) -> list[int]:
        """Positions of the candidates with applicability conditions (computed once per tree)."""
        return [i for i, node in enumerate(self.nodes) if node.applies_when]

    def applicable_mask(self, context: SelectionContext) -> np.ndarray | None:
        """The candidates whose applicability conditions the context does not rule out (``None``: all)."""
        conditional = self.conditional
        if not conditional or (context.life_stage is None and not context.circumstances):
            return None
        mask = np.ones(len(self.nodes), dtype=bool)
        for i in conditional:
            mask[i] = context.applicable(self.nodes[i])
        return mask

    def context_mask(self, context: SelectionContext) -> np.ndarray:
        """The candidates neither excluded nor ruled out by their applicability conditions."""
        valid = self.valid_mask(frozenset(context.exclude))
        applicable = self.applicable_mask(context)
        return valid if applicable is None else valid & applicable

    def valid_mask(self, exclude: frozenset[str]) -> np.ndarray:
        """The candidates not excluded by ``exclude`` (cached per exclusion set; read-only array)."""
        mask = self.valid.get(exclude)
        if mask is None:
            mask = np.array([not excluded_by(key, exclude) for key in self.keys], dtype=bool)
            mask.setflags(write=False)
            if len(self.valid) < 64:  # a run has one exclusion set; bound the cache anyway
                self.valid[exclude] = mask
        return mask


class StratifiedSelector(AttributeSelector):
    """The paper's selector (§3.2), made stochastic, reproducible and population-aware.

    For one persona:

    1. every candidate attribute (path + description) is embedded once per taxonomy and embedder
       (cached); the persona's core profile is embedded and compared by cosine similarity;
    2. the candidates are split into the near, middle and far thirds of that similarity ranking, and
       ``k`` is split across them by ``ratios`` (5:3:2 by default, exact to within one);
    3. inside each stratum a stochastic breadth-first walk picks the attributes: level-2 branches are
       visited in a random order weighted by a sparsity prior that favours small, long-tail branches
       (and balances root categories), taking one unexplored leaf per branch per round, so a persona
       spreads over many branches before it goes deep into any;
    4. a coverage schedule derived from ``(run seed, persona index)`` moves a few branches to the front
       of each persona's walk, so that every level-2 branch is visited at least once every
       ``coverage_period`` personas — without any state shared between personas.

    Args:
        ratios: Relative shares of the near, middle and far strata.
        sparsity: Exponent of the long-tail prior. When the taxonomy carries disclosure ``support`` (how
            often people talk about an attribute, see :attr:`AttributeNode.support`), a branch whose
            leaves have mean support ``s`` gets weight ``s**-sparsity`` and a leaf of support ``t`` gets
            ``t**-sparsity`` within its branch, so rarely disclosed attributes come up more often;
            without support a branch with ``m`` candidates gets ``m**-sparsity``. 0 treats all alike.
        root_balance: Exponent equalising root categories: a branch's weight is divided by
            ``(branches in its root) ** root_balance`` (0 lets big roots dominate).
        root_weights: Root-category name → multiplier of its branches' weights (0 removes the root).
        root_quotas: Root-category name → minimum number of attributes per persona.
        include_roots: Only draw from these root categories.
        exclude_roots: Never draw from these root categories.
        exclude: Paths of nodes (and their descendants) never to draw.
        require: Paths of leaves every persona gets (counted in ``k``, labelled ``"required"``). Paths
            that name the same node in any spelling count once; more distinct paths than ``k`` raise
            :class:`~deeppersona.errors.ConfigError` (from :meth:`check` and :meth:`select`). A
            required attribute the persona's anchors exclude is skipped, and its slot is drawn.
        breadth_first: Use the breadth-first walk; ``False`` draws each stratum by weighted sampling.
        coverage_period: Every branch is scheduled once per this many personas (0 disables the schedule).

    Example:
        >>> selector = StratifiedSelector(ratios=(6, 3, 1), exclude_roots=["Media Consumption and Engagement"])
    """

    _cache_attrs = (*AttributeSelector._cache_attrs, "_indexes")

    def __init__(
        self,
        ratios: Sequence[float] = (5, 3, 2),
        *,
        sparsity: float = 0.5,
        root_balance: float = 1.0,
        root_weights: Mapping[str, float] | None = None,
        root_quotas: Mapping[str, int] | None = None,
        include_roots: Sequence[str] | None = None,
        exclude_roots: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        require: Sequence[str] | None = None,
        breadth_first: bool = True,
        coverage_period: int = 40,
    ) -> None:
        super().__init__()
        ratios = tuple(float(r) for r in ratios)
        if len(ratios) != 3 or any(r < 0 or not math.isfinite(r) for r in ratios) or sum(ratios) <= 0:
            raise ConfigError(
                f"ratios must be three non-negative numbers (near, middle, far), got {ratios!r}"
            )
        if sparsity < 0 or root_balance < 0:
            raise ConfigError("sparsity and root_balance must be >= 0")
        if coverage_period < 0:
            raise ConfigError(f"coverage_period must be >= 0, got {coverage_period}")
        for name, weight in (root_weights or {}).items():
            if weight < 0:
                raise ConfigError(f"root weight of {name!r} must be >= 0, got {weight}")
        for name, quota in (root_quotas or {}).items():
            if not isinstance(quota, int) or quota < 0:
                raise ConfigError(f"root quota of {name!r} must be a non-negative integer, got {quota!r}")
        self.ratios = ratios
        self.sparsity = float(sparsity)
        self.root_balance = float(root_balance)
        self.root_weights = dict(root_weights or {})
        self.root_quotas = dict(root_quotas or {})
        self.include_roots = list(include_roots) if include_roots is not None else None
        self.exclude_roots = list(exclude_roots or [])
        self.exclude = list(exclude or [])
        self.require = list(require or [])
        self.breadth_first = bool(breadth_first)
        self.coverage_period = int(coverage_period)
        self._indexes: dict[str, _Index] = {}  # per taxonomy fingerprint; not pickled (see _cache_attrs)

    def params(self) -> dict[str, Any]:
        """The constructor parameters."""
        out: dict[str, Any] = {"ratios": self.ratios}
        for name in ("root_weights", "root_quotas", "include_roots", "exclude_roots", "exclude", "require"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    def check(
        self, tree: AttributeTree, k: int, exclude: Iterable[str] = (), *, fingerprint: str | None = None
    ) -> None:
        """Raise :class:`~deeppersona.errors.ConfigError` unless ``k`` attributes can be selected.

        Besides the base checks, the required attributes must be known candidate leaves, and there
        must be no more distinct ones than ``k`` (they are counted in ``k``).

        Raises:
            ConfigError: ``k`` is invalid or too large, a required path is unknown or not a
                candidate, or ``require`` names more distinct attributes than ``k``.
        """
        super().check(tree, k, exclude, fingerprint=fingerprint)
        required = self._required_nodes(tree, int(k))
        if required:
            keys = {n.key for n in self.cached_candidates(tree, fingerprint)}
            for node in required:
                if node.key not in keys:
                    raise ConfigError(
                        f"required attribute {node.path_str!r} is not a candidate leaf of this selector"
                    )

    # -- candidates --------------------------------------------------------------------------------------

    def candidates(self, tree: AttributeTree) -> list[AttributeNode]:
        """The base candidates, restricted by the root and path options."""
        include = canonical_roots(self.include_roots)
        exclude_roots = canonical_roots(self.exclude_roots) or frozenset()
        weights = {canonical_key(k): v for k, v in self.root_weights.items()}
        excluded = frozenset(n.key for n in resolve_paths(tree, self.exclude, "exclude"))
        out = []
        for node in super().candidates(tree):
            root = canonical_key(node.category)
            if include is not None and root not in include:
                continue
            if root in exclude_roots or weights.get(root, 1.0) <= 0:
                continue
            if excluded and excluded_by(node.key, excluded):
                continue
            out.append(node)
        return out

    def prepare(
        self, tree: AttributeTree, embedder: Embedder | None = None, *, fingerprint: str | None = None
    ) -> None:
        """Build the candidate index and embed the candidates (cached per taxonomy and embedder)."""
        self._index(SelectionContext(tree, embedder=embedder, fingerprint=fingerprint))

    def _index(self, context: SelectionContext) -> _Index:
        fp = context.fingerprint or context.tree.fingerprint()
        with self._lock:
            index = self._indexes.get(fp)
        if index is None:
            index = self._build_index(context.tree, fp)
            with self._lock:
                index = self._indexes.setdefault(fp, index)
        if context.embedder is not None:
            key = embedder_fingerprint(context.embedder)  # by content: two embedders of one name differ
            if key not in index.embeddings:
                emb = _encode_cached(context.embedder, [node_text(n) for n in index.nodes], fp)
                with self._lock:
                    index.embeddings.setdefault(key, VectorIndex(emb))
        return index

    def _build_index(self, tree: AttributeTree, fingerprint: str) -> _Index:
        nodes = self.cached_candidates(tree, fingerprint)
        root_names: list[str] = []
        root_pos: dict[str, int] = {}
        branch_pos: dict[str, int] = {}
        root_id = np.empty(len(nodes), dtype=np.int64)
        branch_id = np.empty(len(nodes), dtype=np.int64)
        leaf_w = np.empty(len(nodes), dtype=float)
        branch_root: list[int] = []
        for i, node in enumerate(nodes):
            path = node.node_path
            r = root_pos.setdefault(path[0].key, len(root_names))
            if r == len(root_names):
                root_names.append(path[0].name)
            b_key = path[1].key if len(path) > 1 else path[0].key
            b = branch_pos.setdefault(b_key, len(branch_root))
            if b == len(branch_root):
                branch_root.append(r)
            root_id[i], branch_id[i] = r, b
            leaf_w[i] = float(self.node_weight(node))
        n_branches = len(branch_root)
        b_root = np.asarray(branch_root, dtype=np.int64)
        sizes = np.bincount(branch_id, minlength=n_branches).astype(float)
        per_root = np.bincount(b_root, minlength=len(root_names)).astype(float)
        mean_leaf_w = np.bincount(branch_id, weights=leaf_w, minlength=n_branches) / np.maximum(sizes, 1)
        support = _supports(nodes)
        if support is None:
            branch_tilt = np.log(np.maximum(sizes, 1))
            leaf_tilt = np.zeros(len(nodes))
        else:  # mean disclosure support of the branch's leaves, and each leaf's own
            mean_support = np.bincount(branch_id, weights=support, minlength=n_branches) / np.maximum(
                sizes, 1
            )
            branch_tilt = np.log(mean_support)
            leaf_tilt = np.log(support)
        weights = {canonical_key(k): v for k, v in self.root_weights.items()}
        root_w = np.array([weights.get(canonical_key(r), 1.0) for r in root_names], dtype=float)
        with np.errstate(divide="ignore"):
            branch_logw = (
                np.log(root_w[b_root] if len(b_root) else np.zeros(0))
                - self.root_balance * np.log(np.maximum(per_root[b_root], 1))
                - self.sparsity * branch_tilt
                + np.log(np.maximum(mean_leaf_w, 1e-12))
            )
            leaf_logw = np.log(np.maximum(leaf_w, 1e-12)) - self.sparsity * leaf_tilt
        return _Index(
            nodes=nodes,
            keys=[n.key for n in nodes],
            root_id=root_id,
            root_names=root_names,
            branch_id=branch_id,
            branch_logw=branch_logw,
            leaf_logw=leaf_logw,
            position={n.key: i for i, n in enumerate(nodes)},
        )

    # -- selection ---------------------------------------------------------------------------------------

    def select(self, context: SelectionContext, k: int, rng: np.random.Generator) -> list[SelectedAttribute]:
        """Choose exactly ``k`` distinct attributes for one persona (see the class docstring).

        Raises:
            ConfigError: ``k`` is not a positive integer, exceeds the available candidates, or is
                smaller than the number of distinct required attributes; a required path is unknown
                or not a candidate. These are raised before any embedding work.
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        k = int(k)
        required = self._required_nodes(context.tree, k)
        index = self._index(context)
        n = len(index.nodes)
        valid = index.context_mask(context)
        available = int(valid.sum())
        if k > available:
            raise ConfigError(
                f"k={k} attributes asked for, but only {available} candidates are available; lower k"
            )
        sim = self._similarity(index, context)
        # strata: thirds of the similarity ranking of the valid candidates
        order = np.flatnonzero(valid)
        order = order[np.argsort(-sim[order], kind="stable")]
        stratum = np.full(n, -1, dtype=np.int64)
        for s, part in enumerate(np.array_split(order, 3)):
            stratum[part] = s
        capacities = [int((stratum == s).sum()) for s in range(3)]
        chosen_required = self._required(required, index, valid)
        quotas = _free_quotas(
            stratum_quotas(k, self.ratios, capacities), [int(stratum[p]) for p in chosen_required]
        )
        taken = np.zeros(n, dtype=bool)
        taken[chosen_required] = True
        branch_key = self._branch_keys(index, context, rng)
        leaf_key = index.leaf_logw + rng.gumbel(size=n)
        ordered: list[np.ndarray] = []
        picks: list[np.ndarray] = []
        for s in range(3):
            members = np.flatnonzero((stratum == s) & ~taken)
            seq = self._walk(index, members, branch_key, leaf_key)
            ordered.append(seq)
            picks.append(seq[: quotas[s]])
        if self.root_quotas:
            picks = self._apply_root_quotas(index, ordered, picks)
        labels: dict[int, str] = {int(p): "required" for p in chosen_required}
        for s, pick in enumerate(picks):
            for p in pick:
                labels[int(p)] = STRATUM_NAMES[s]
        positions = sorted(labels)
        if len(positions) != k:  # the quota arithmetic guarantees k; never return a wrong count silently
            raise RuntimeError(f"{type(self).__name__} selected {len(positions)} attributes instead of k={k}")
        return [SelectedAttribute(index.nodes[p], labels[p], float(sim[p])) for p in positions]

    def _similarity(self, index: _Index, context: SelectionContext) -> np.ndarray:
        if context.embedder is None:
            raise ConfigError(
                f"{type(self).__name__} needs an embedder to compare attributes with the profile"
            )
        vectors = index.embeddings[embedder_fingerprint(context.embedder)]
        query = context.profile_vector()
        # exact cosine similarity to every candidate (all of them are ranked below, so no top-k search)
        return vectors.scores(query)[0].astype(float)

    def _required_nodes(self, tree: AttributeTree, k: int) -> list[AttributeNode]:
        """The distinct required nodes of ``tree`` (first spelling kept), checked against ``k``.

        Two paths that the tree resolves to the same node (``"Health > Sleep"``, ``"health/sleep"``...)
        count once.

        Raises:
            ConfigError: A path is unknown, or there are more distinct required attributes than ``k``.
        """
        seen: set[str] = set()
        nodes: list[AttributeNode] = []
        for node in resolve_paths(tree, self.require, "require"):
            if node.key not in seen:
                seen.add(node.key)
                nodes.append(node)
        if len(nodes) > k:
            raise ConfigError(
                f"require names {len(nodes)} distinct attributes but k={k}: required attributes are "
                f"counted in k, so k must be at least {len(nodes)} (raise k or require fewer attributes)"
            )
        return nodes

    def _required(self, required: Sequence[AttributeNode], index: _Index, valid: np.ndarray) -> list[int]:
        """Candidate positions of the required nodes that the context does not exclude."""
        out = []
        for node in required:
            pos = index.position.get(node.key)
            if pos is None:
                raise ConfigError(
                    f"required attribute {node.path_str!r} is not a candidate leaf of this selector"
                )
            if valid[pos]:
                out.append(pos)
        return out

    def _branch_keys(self, index: _Index, context: SelectionContext, rng: np.random.Generator) -> np.ndarray:
        nb = len(index.branch_logw)
        key = index.branch_logw + rng.gumbel(size=nb)
        if self.coverage_period and nb:
            per = math.ceil(nb / self.coverage_period)
            perm = np.random.default_rng([int(context.run_seed) & 0xFFFFFFFFFFFF, 0x5EED]).permutation(nb)
            slot = perm[(context.index * per + np.arange(per)) % nb]
            key[slot] += _BOOST
        return key

    def _walk(
        self, index: _Index, members: np.ndarray, branch_key: np.ndarray, leaf_key: np.ndarray
    ) -> np.ndarray:
        """Order ``members`` as the stochastic walk visits them."""
        if members.size == 0:
            return members
        b = index.branch_id[members]
        lk = leaf_key[members]
        if not self.breadth_first:
            return members[np.argsort(-(lk + branch_key[b]), kind="stable")]
        # round r of the walk takes the r-th leaf (by its random key) of every branch, branches ordered by key
        by_branch = np.lexsort((-lk, b))
        sorted_b = b[by_branch]
        starts = np.flatnonzero(np.r_[True, sorted_b[1:] != sorted_b[:-1]])
        group_start = np.repeat(starts, np.diff(np.r_[starts, len(by_branch)]))
        rank = np.empty(len(members), dtype=np.int64)
        rank[by_branch] = np.arange(len(by_branch)) - group_start
        return members[np.lexsort((-branch_key[b], rank))]

    def _apply_root_quotas(
        self, index: _Index, ordered: list[np.ndarray], initial: list[np.ndarray]
    ) -> list[np.ndarray]:
        """Swap attributes so every root with a quota reaches it, keeping each stratum's size."""
        mins = {canonical_key(k): v for k, v in self.root_quotas.items()}
        root_min = np.array([mins.get(canonical_key(r), 0) for r in index.root_names], dtype=np.int64)
        picks: list[list[int]] = [[int(x) for x in p] for p in initial]
        counts = np.bincount(index.root_id[np.concatenate([np.asarray(p, dtype=np.int64) for p in picks])],
                             minlength=len(index.root_names))  # fmt: skip
        for r in np.flatnonzero(counts < root_min):
            for s in (0, 1, 2):
                chosen = set(picks[s])
                spare = [int(p) for p in ordered[s] if int(p) not in chosen and index.root_id[p] == r]
                while counts[r] < root_min[r] and spare:
                    # drop the last-visited pick of a root that has more than its minimum
                    victim = next(
                        (i for i in range(len(picks[s]) - 1, -1, -1)
                         if counts[index.root_id[picks[s][i]]] > root_min[index.root_id[picks[s][i]]]
                         and index.root_id[picks[s][i]] != r),
                        None,
                    )  # fmt: skip
                    if victim is None:
                        break
                    counts[index.root_id[picks[s][victim]]] -= 1
                    picks[s][victim] = spare.pop(0)
                    counts[r] += 1
            if counts[r] < root_min[r]:
                logger.warning(
                    "root quota of %r not met (%d of %d): too few candidates",
                    index.root_names[r],
                    counts[r],
                    root_min[r],
                )
        return [np.asarray(p, dtype=np.int64) for p in picks]


class UniformSelector(StratifiedSelector):
    """A baseline: ``k`` candidates uniformly at random (no strata ratio, no walk, no schedule).

    Each choice is still labelled with its similarity stratum, so populations can be compared with
    the default selector's. Useful as an ablation of the paper's design.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def select(self, context: SelectionContext, k: int, rng: np.random.Generator) -> list[SelectedAttribute]:
        """Choose ``k`` candidates uniformly at random (the required ones first, labelled ``"required"``)."""
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        k = int(k)
        required = self._required_nodes(context.tree, k)
        index = self._index(context)
        valid = index.context_mask(context)
        pool = np.flatnonzero(valid)
        if k > pool.size:
            raise ConfigError(f"k={k} attributes asked for, but only {pool.size} candidates are available")
        sim = self._similarity(index, context) if context.embedder is not None else np.zeros(len(index.nodes))
        order = pool[np.argsort(-sim[pool], kind="stable")]
        stratum = np.empty(len(index.nodes), dtype=np.int64)
        for s, part in enumerate(np.array_split(order, 3)):
            stratum[part] = s
        fixed = np.asarray(self._required(required, index, valid), dtype=np.int64)
        rest = np.setdiff1d(pool, fixed)
        drawn = rng.choice(rest, size=k - fixed.size, replace=False)
        chosen = np.sort(np.concatenate([fixed, drawn]))
        labels = {int(p): "required" for p in fixed}
        return [
            SelectedAttribute(index.nodes[p], labels.get(int(p), STRATUM_NAMES[stratum[p]]), float(sim[p]))
            for p in chosen
        ]

    def _similarity(self, index: _Index, context: SelectionContext) -> np.ndarray:
        if context.embedder is None:
            return np.zeros(len(index.nodes))
        return super()._similarity(index, context)


def _supports(nodes: Sequence[AttributeNode]) -> np.ndarray | None:
    """The candidates' disclosure support (positive; a missing one takes the smallest present), or
    ``None`` when no candidate has one."""
    raw = [n.support for n in nodes]
    present = [s for s in raw if s is not None]
    if not present:
        return None
    floor = max(min(present), 1e-6)
    return np.array([max(s, floor) if s is not None else floor for s in raw], dtype=float)


def _encode_cached(embedder: Embedder, texts: list[str], fingerprint: str) -> np.ndarray:
    """Encode candidate texts through the persistent embedding cache (directly if the cache fails)."""
    from ..embeddings import EmbeddingCache

    try:
        return np.asarray(
            EmbeddingCache().get_or_compute(f"selector-{fingerprint}", texts, embedder), dtype=np.float32
        )
    except (OSError, ImportError) as exc:  # an unwritable cache must not stop generation
        logger.warning("embedding cache unavailable (%s); encoding %d candidates directly", exc, len(texts))
    return np.asarray(embedder.encode(texts), dtype=np.float32)
