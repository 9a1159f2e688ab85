"""The reference vocabulary shown during extraction: a tree's names, so that one attribute gets one name.

A small model asked to name what a sentence discloses invents a new name each time ("Food Preferences",
"Favorite Food", "Cookie Consumption"); shown the names a reference tree already uses, it reuses them.
:class:`Vocabulary` offers two views of a reference tree (usually the default tree):

- :attr:`Vocabulary.hints`: a few category names under each root, the same for every pair (they belong
  to the prompt's fixed prefix, which a local model evaluates once);
- :meth:`Vocabulary.nearest`: the attribute paths whose names lie nearest a pair's text by embedding,
  different for each pair (shown just before the conversation). The paths are embedded once per
  builder, through the embedding cache when one is given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..taxonomy import AttributeNode, AttributeTree, canonical_key

if TYPE_CHECKING:
    from ..embeddings import VectorIndex

__all__ = ["Vocabulary"]

Embed = Callable[[list[str]], np.ndarray]


class Vocabulary:
    """The names of a reference tree under the builder's roots.

    Args:
        tree: The reference tree.
        roots: The builder's root names; only the tree's roots with the same (canonical) names are used,
            and their paths are shown with the builder's spelling of the root.
        depth: Length of the paths :meth:`nearest` offers (the builder's ``max_depth``).
        embed: Texts → rows of unit vectors (the builder's embedder); needed by :meth:`nearest` only.
    """

    def __init__(self, tree: AttributeTree, roots: Sequence[str], *, depth: int, embed: Embed | None = None):
        self.tree = tree
        self.roots = tuple(roots)
        self.depth = depth
        self._embed = embed

    def __repr__(self) -> str:
        return f"Vocabulary(roots={len(self._root_nodes())}, paths={len(self.paths)}, depth={self.depth})"

    def _root_nodes(self) -> dict[str, AttributeNode]:
        by_key = {canonical_key(r.name): r for r in self.tree.roots}
        return {root: by_key[canonical_key(root)] for root in self.roots if canonical_key(root) in by_key}

    @functools.cached_property
    def hints(self) -> dict[str, list[str]]:
        """Root name → up to 30 category names of the tree under it (worked out once: every pair's
        prompt shows them)."""
        return {root: [c.name for c in node.children[:30]] for root, node in self._root_nodes().items()}

    @functools.cached_property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        """The tree's paths of length ``depth`` under the shared roots (the builder's root spelling)."""
        out: list[tuple[str, ...]] = []
        for root, node in self._root_nodes().items():
            for child in node.descendants:
                path = tuple(child.path)
                if len(path) == self.depth:
                    out.append((root, *path[1:]))
        return tuple(out)

    @functools.cached_property
    def _index(self) -> VectorIndex:
        from ..embeddings import VectorIndex

        if self._embed is None:
            raise RuntimeError("Vocabulary.nearest needs an embed function")
        # the names below the root: the root's own words say little about which attribute fits
        vectors = self._embed([" > ".join(p[1:]) for p in self.paths])
        return VectorIndex(np.asarray(vectors, dtype=np.float32))

    def snapped(self, paths: Sequence[tuple[str, ...]], threshold: float) -> list[tuple[str, ...]]:
        """Each path, or the vocabulary path whose names lie nearest its last name (its attribute) when
        their cosine similarity is ``threshold`` or more (the vocabulary's root comes with it)."""
        if not paths or not self.paths:
            return list(paths)
        assert self._embed is not None
        queries = np.asarray(self._embed([p[-1] for p in paths]), dtype=np.float32)
        sims, ids = self._index.search(queries, 1)
        return [
            self.paths[int(i[0])] if i[0] >= 0 and float(s[0]) >= threshold else tuple(p)
            for p, s, i in zip(paths, sims, ids, strict=True)
        ]

    def nearest(self, texts: Sequence[str], k: int) -> list[list[tuple[str, ...]]]:
        """For each text, the ``k`` paths whose names lie nearest it (best first)."""
        if k <= 0 or not texts or not self.paths:
            return [[] for _ in texts]
        assert self._embed is not None
        queries = np.asarray(self._embed(list(texts)), dtype=np.float32)
        _, ids = self._index.search(queries, min(k, len(self.paths)))
        return [[self.paths[int(i)] for i in row if i >= 0] for row in ids]
