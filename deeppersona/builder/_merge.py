"""MERGE (paper Algorithm 1): level by level, merge semantically similar siblings.

Design:

* Paths go into a trie keyed by :func:`~deeppersona.taxonomy.canonical_key`, so spelling variants
  (``"Sleep Habits"``, ``"sleep_habits"``, ``"SleepHabits"``) are one node before any embedding.
* Every distinct canonical name is embedded once (deduplicated across the whole input).
* For each level (2, then 3) and each parent, similar sibling pairs come from a faiss
  ``IndexFlatIP`` range search over the normalised vectors (plain numpy for small sibling sets,
  where building an index costs more than it saves). Clusters are the connected components of that
  graph (``scipy.sparse.csgraph``), so there is no O(n²) Python loop.
* Single linkage can chain ("Sleep Habits" ~ "Sleeping Habits" ~ "Eating Habits"), so each
  component is re-checked against its anchor (the most supported name): members less similar to it
  than ``threshold - chain_slack`` are split off and clustered again among themselves.
* The canonical name of a cluster is the canonical key with the most support (ties: the shorter, then
  alphabetical), written in its most frequent surface form and Title Case. Pinned names (the nodes
  of an existing tree, in :meth:`TaxonomyBuilder.extend`) always win and are never merged together.
* Children of merged nodes are pooled, so they are merged in turn at the next level.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..taxonomy import canonical_key, normalize_name
from ._records import AttributePath

__all__ = ["MergeOutcome", "display_name", "merge_tree"]

_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
)
_NUMPY_MAX = 384  # sibling sets up to this size use a dense numpy product instead of a faiss index

Confirmer = Callable[[int, AttributePath, list[list[str]]], Awaitable[list[list[str]]]]
"""``confirm(level, parent_path, clusters) -> new names``: for each candidate cluster (its members'
names), the new name of each member; members given the same new name are merged."""


def display_name(form: str) -> str:
    """Return the Title Case display form of a surface name.

    ``snake_case``, ``kebab-case``, ``CamelCase`` and all-lower-case names are rewritten word by word;
    names already written with spaces keep the case of each word's tail, so acronyms survive
    (``"LGBTQ identity"`` -> ``"LGBTQ Identity"``).

    Args:
        form: A surface form of an attribute name.

    Returns:
        The display name.
    """
    text = " ".join(form.split())
    if not text:
        return text
    if re.search(r"[_]|(?<=\w)-(?=\w)", text) or " " not in text or text.islower() or text.isupper():
        return normalize_name(text) or text
    words = text.split(" ")
    out = []
    for i, w in enumerate(words):
        if i and w.lower() in _SMALL_WORDS:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)


@dataclass(eq=False)
class _Node:
    key: str
    forms: Counter[str] = field(default_factory=Counter)
    count: int = 0
    pinned: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    ends: list[AttributePath] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    name: str = ""

    def absorb(self, other: _Node) -> None:
        """Merge ``other`` (and, recursively, its same-key children) into this node."""
        self.forms.update(other.forms)
        self.count += other.count
        self.ends.extend(other.ends)
        self.keys |= other.keys
        if self.pinned is None:
            self.pinned = other.pinned
        for key, child in other.children.items():
            mine = self.children.get(key)
            if mine is None:
                self.children[key] = child
            else:
                mine.absorb(child)


@dataclass
class MergeOutcome:
    """The merged paths and how they came about (see :class:`~deeppersona.builder.MergeResult`)."""

    paths: list[AttributePath]
    counts: dict[AttributePath, int]
    mapping: dict[AttributePath, AttributePath]
    merged_names: dict[AttributePath, list[str]]
    stats: dict[str, int]


def _similar_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(vectors)
    if n <= _NUMPY_MAX:
        sims = vectors @ vectors.T
        i, j = np.nonzero(np.triu(sims >= threshold, k=1))
        return i, j
    import faiss  # lazy: heavy import

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    lims, _dist, ids = index.range_search(vectors, float(threshold))
    counts: np.ndarray = np.diff(np.asarray(lims).astype(np.int64))
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    keep = ids > rows
    return rows[keep], ids[keep].astype(np.int64)


def _components(n: int, i: np.ndarray, j: np.ndarray) -> list[np.ndarray]:
    """Connected components with more than one member, as arrays of local indices."""
    if len(i) == 0:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return [g for g in groups if len(g) > 1]


class _Clusterer:
    def __init__(self, threshold: float, chain_slack: float) -> None:
        self.threshold = threshold
        self.floor = threshold - chain_slack

    def clusters(
        self,
        vectors: np.ndarray,
        weights: np.ndarray,
        pinned: np.ndarray,
        keys: Sequence[str],
        depth: int = 0,
    ) -> list[np.ndarray]:
        """Groups (anchor first) of local indices to merge; singletons are left out."""
        i, j = _similar_pairs(vectors, self.threshold)
        out: list[np.ndarray] = []
        for comp in _components(len(vectors), i, j):
            out.extend(self._split(comp, vectors, weights, pinned, keys, depth))
        return out

    def _split(
        self,
        members: np.ndarray,
        vectors: np.ndarray,
        weights: np.ndarray,
        pinned: np.ndarray,
        keys: Sequence[str],
        depth: int,
    ) -> list[np.ndarray]:
        pin = members[pinned[members]]
        if len(pin):
            anchors = pin
        else:
            order = sorted(members.tolist(), key=lambda m: (-weights[m], len(keys[m]), keys[m]))
            anchors = np.array(order[:1])
        sims = vectors[members] @ vectors[anchors].T
        best = sims.argmax(axis=1)
        best_sim = sims.max(axis=1)
        is_anchor = np.isin(members, anchors)
        groups = []
        for a_idx, anchor in enumerate(anchors):
            sel = members[(best == a_idx) & (best_sim >= self.floor) & ~is_anchor]
            if len(sel):
                groups.append(np.concatenate([[anchor], sel]))
        rest = members[(best_sim < self.floor) & ~is_anchor]
        if len(rest) > 1 and depth < 8:
            sub = self.clusters(
                vectors[rest], weights[rest], pinned[rest], [keys[r] for r in rest], depth + 1
            )
            groups.extend(rest[g] for g in sub)
        return groups


async def merge_tree(
    weighted_paths: Mapping[AttributePath, int],
    embed: Callable[[list[str]], np.ndarray],
    *,
    threshold: float,
    pinned: Iterable[AttributePath] = (),
    max_depth: int = 3,
    chain_slack: float = 0.1,
    confirm: Confirmer | None = None,
) -> MergeOutcome:
    """Merge similar sibling names level by level (Algorithm 1).

    Args:
        weighted_paths: Distinct paths (root first) and their number of occurrences.
        embed: Maps names to L2-normalised vectors (one row per name).
        threshold: Cosine similarity at or above which two siblings are merge candidates.
        pinned: Paths of an existing tree: their names are kept and never merged with each other.
        max_depth: Deepest level kept (deeper names are cut).
        chain_slack: How far below ``threshold`` a member may be from its cluster's anchor.
        confirm: Optional async judge of candidate clusters (the LLM's Merging Requirements check).

    Returns:
        The merged paths, their support, the mapping from each input path and the merged names.
    """
    roots: dict[str, _Node] = {}
    for path, weight in weighted_paths.items():
        _insert(roots, path[:max_depth], int(weight), pinned=False)
    for path in pinned:
        _insert(roots, tuple(path)[:max_depth], 0, pinned=True)

    all_keys = sorted({n.key for n in _walk(roots.values()) if n not in roots.values()})
    stats: dict[str, int] = {"distinct_paths": len(weighted_paths), "names_embedded": len(all_keys)}
    key_index = {k: i for i, k in enumerate(all_keys)}
    if all_keys:
        matrix = np.asarray(await asyncio.to_thread(embed, all_keys), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        matrix = np.ascontiguousarray(matrix / norms)
    else:
        matrix = np.zeros((0, 1), dtype=np.float32)

    clusterer = _Clusterer(threshold, chain_slack)
    parents: list[tuple[AttributePath, _Node]] = [((r.pinned or _top_form(r),), r) for r in roots.values()]
    for level in range(2, max_depth + 1):
        before = sum(len(p.children) for _, p in parents)
        plans: list[tuple[_Node, list[_Node], list[np.ndarray]]] = []
        for _, parent in parents:
            kids = list(parent.children.values())
            if len(kids) < 2:
                continue
            idx = np.fromiter((key_index[k.key] for k in kids), dtype=np.int64, count=len(kids))
            weights = np.fromiter((k.count for k in kids), dtype=np.float64, count=len(kids))
            pins = np.fromiter((k.pinned is not None for k in kids), dtype=bool, count=len(kids))
            groups = clusterer.clusters(matrix[idx], weights, pins, [k.key for k in kids])
            if groups:
                plans.append((parent, kids, groups))
        if confirm is not None and plans:
            plans = await _confirm(plans, parents, level, confirm)
        merged = 0
        for parent, kids, groups in plans:
            for group in groups:
                anchor = kids[int(group[0])]
                for m in group[1:]:
                    other = kids[int(m)]
                    if other is anchor or parent.children.get(other.key) is not other:
                        continue
                    del parent.children[other.key]
                    anchor.absorb(other)
                    merged += 1
        stats[f"level{level}_nodes_before"] = before
        stats[f"level{level}_merged"] = merged
        parents = [((*ppath, _name(child)), child) for ppath, p in parents for child in p.children.values()]

    return _outcome(roots, stats)


async def _confirm(
    plans: list[tuple[_Node, list[_Node], list[np.ndarray]]],
    parents: list[tuple[AttributePath, _Node]],
    level: int,
    confirm: Confirmer,
) -> list[tuple[_Node, list[_Node], list[np.ndarray]]]:
    path_of = {id(node): path for path, node in parents}
    replies = await asyncio.gather(
        *(
            confirm(level, path_of[id(parent)], [[_top_form(kids[int(m)]) for m in g] for g in groups])
            for parent, kids, groups in plans
        )
    )
    out = []
    for (parent, kids, groups), new_names in zip(plans, replies, strict=True):
        kept: list[np.ndarray] = []
        for group, names in zip(groups, new_names, strict=True):
            by_name: dict[str, list[int]] = {}
            for m, new in zip(group.tolist(), names, strict=True):
                by_name.setdefault(canonical_key(new) or canonical_key(_top_form(kids[m])), []).append(m)
            for new_key, members in by_name.items():
                if len(members) > 1:
                    anchor = members[0]
                    # the LLM's name becomes the display name unless the anchor is pinned
                    if kids[anchor].pinned is None:
                        label = next(n for m, n in zip(group.tolist(), names, strict=True) if m == anchor)
                        if canonical_key(label) == new_key and label.strip():
                            kids[anchor].forms[label.strip()] += 10**9
                    kept.append(np.array(members))
        out.append((parent, kids, kept))
    return out


def _insert(roots: dict[str, _Node], path: AttributePath, weight: int, *, pinned: bool) -> None:
    if not path:
        return
    level: dict[str, _Node] = roots
    node: _Node | None = None
    for name in path:
        key = canonical_key(name)
        if not key:
            break
        node = level.get(key)
        if node is None:
            node = level[key] = _Node(key=key, keys={key})
        node.forms[name] += weight
        node.count += weight
        if pinned and node.pinned is None:
            node.pinned = name
        level = node.children
    if node is not None and not pinned:
        node.ends.append(path)


def _walk(nodes: Iterable[_Node]) -> Iterable[_Node]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children.values())


def _top_form(node: _Node) -> str:
    if node.pinned is not None:
        return node.pinned
    if not node.forms:
        return node.key
    return min(node.forms.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]


def _name(node: _Node) -> str:
    if not node.name:
        node.name = node.pinned if node.pinned is not None else display_name(_top_form(node))
    return node.name


def _outcome(roots: dict[str, _Node], stats: dict[str, int]) -> MergeOutcome:
    counts: dict[AttributePath, int] = {}
    mapping: dict[AttributePath, AttributePath] = {}
    merged_names: dict[AttributePath, list[str]] = {}
    leaves: list[AttributePath] = []
    stack: list[tuple[AttributePath, _Node]] = [((r.pinned or _top_form(r),), r) for r in roots.values()]
    while stack:
        path, node = stack.pop()
        counts[path] = node.count
        for original in node.ends:
            mapping[original] = path
        if len(node.keys) > 1:
            merged_names[path] = sorted(node.forms, key=lambda f: (-node.forms[f], f))
        if node.children:
            stack.extend(((*path, _name(c)), c) for c in node.children.values())
        elif len(path) > 1:
            leaves.append(path)
    leaves.sort(key=lambda p: (-counts[p], p))
    stats["merged_leaf_paths"] = len(leaves)
    return MergeOutcome(paths=leaves, counts=counts, mapping=mapping, merged_names=merged_names, stats=stats)
