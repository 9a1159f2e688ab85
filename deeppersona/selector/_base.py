"""The :class:`AttributeSelector` base class: which taxonomy attributes a persona gets."""

from __future__ import annotations

import abc
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..taxonomy import PATH_SEPARATOR, AttributeNode, AttributeTree, applies, canonical_key

if TYPE_CHECKING:
    from ..embeddings import Embedder

__all__ = ["AttributeSelector", "SelectedAttribute", "SelectionContext", "excluded_by", "node_text"]


@dataclass(frozen=True)
class SelectionContext:
    """Everything a selector may use to choose the attributes of one persona.

    Attributes:
        tree: The taxonomy.
        profile: The persona's core profile as text (demographics, values, attitude, stories, interests).
        embedder: The embedder for similarity (``None`` when the selector needs none).
        exclude: Canonical node keys (``node.key``) to leave out, with their descendants: anchored attributes.
        run_seed: The run seed (for population-level schedules derived from it).
        index: The persona's index in the run.
        fingerprint: ``tree.fingerprint()`` when already known (saves recomputing it).
        life_stage: The persona's demographic life stage (``"employed"``, ``"retired"`` ...): attributes
            whose applicability conditions it rules out are not chosen (see
            :func:`~deeppersona.taxonomy.applies`).
        circumstances: Decided circumstances (``{"partnered": False}``) that rule attributes out the same
            way; an undecided condition leaves the attribute available.
        profile_embedding: The embedding of ``profile`` when the engine already has it (it embeds the
            profiles of the personas in flight together); use :meth:`profile_vector`, which falls back
            to encoding the profile.
    """

    tree: AttributeTree
    profile: str = ""
    embedder: Embedder | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    run_seed: int = 0
    index: int = 0
    fingerprint: str | None = None
    life_stage: str | None = None
    circumstances: Mapping[str, bool] = field(default_factory=dict)
    profile_embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def profile_vector(self) -> np.ndarray:
        """The profile's embedding as a ``(1, dim)`` float32 array: :attr:`profile_embedding` when the
        engine gave it, else ``embedder.encode([profile])`` (``"a person"`` for an empty profile).

        Raises:
            ConfigError: No embedding was given and the context has no embedder.
        """
        if self.profile_embedding is not None:
            return np.asarray(self.profile_embedding, dtype=np.float32).reshape(1, -1)
        if self.embedder is None:
            raise ConfigError("this selection context has neither a profile embedding nor an embedder")
        return np.asarray(self.embedder.encode([self.embedding_text]), dtype=np.float32)

    @property
    def embedding_text(self) -> str:
        """The text whose embedding :meth:`profile_vector` returns: the profile, or ``"a person"``."""
        return self.profile or "a person"

    def applicable(self, node: AttributeNode) -> bool:
        """Whether ``node`` may apply to this persona (its conditions are not ruled out)."""
        return not node.applies_when or (
            applies(node.applies_when, life_stage=self.life_stage, circumstances=self.circumstances)
            is not False
        )


@dataclass(frozen=True)
class SelectedAttribute:
    """One attribute chosen for a persona.

    Attributes:
        node: The taxonomy node.
        stratum: ``"near"``, ``"middle"`` or ``"far"`` (or ``"required"``).
        similarity: Cosine similarity between the node and the persona's core profile.
    """

    node: AttributeNode
    stratum: str
    similarity: float = 0.0

    @property
    def path(self) -> tuple[str, ...]:
        """The node's path (names from the root category down)."""
        return tuple(self.node.path)

    @property
    def path_str(self) -> str:
        """The node's path string."""
        return str(self.node.path_str)


def node_text(node: AttributeNode) -> str:
    """The text embedded for a candidate attribute: its path, plus its description when it has one."""
    text = node.path_str
    return f"{text}: {node.description}" if node.description else text


def excluded_by(key: str, exclude: Collection[str]) -> bool:
    """Whether node key ``key`` is one of ``exclude`` or lies below one of them."""
    if not exclude:
        return False
    if key in exclude:
        return True
    parts = key.split(PATH_SEPARATOR)
    return any(PATH_SEPARATOR.join(parts[:i]) in exclude for i in range(1, len(parts)))


class AttributeSelector(abc.ABC):
    """Chooses which ``k`` taxonomy attributes a persona gets. Subclass it to shape a cohort.

    The candidates are the taxonomy's leaves (level-3 nodes, and level-2 nodes without children),
    minus core attributes themselves (the engine fills those first; the leaves under a core node, such as
    "Age > Subjective Age", are candidates like any other), minus nodes with a
    :meth:`node_weight` of zero, minus whatever the context excludes (anchored attributes).

    Extension points, from the lightest to the heaviest:

    * override :meth:`node_weight` to bias the draw (``0`` removes a node);
    * override :meth:`candidates` to change the candidate set;
    * override :meth:`select` for an entirely different strategy.

    Implementations must be deterministic given ``(context, k, rng)`` and must not keep per-persona
    state: the engine calls :meth:`select` for many personas, concurrently and in any order.

    Example:
        >>> class NoMediaSelector(StratifiedSelector):  # doctest: +SKIP
        ...     def node_weight(self, node):
        ...         return 0.0 if node.category == "Media Consumption and Engagement" else 1.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._candidate_cache: dict[str, list[AttributeNode]] = {}
        self._available_cache: dict[tuple[str, frozenset[str]], int] = {}

    # -- hooks -------------------------------------------------------------------------------------------

    def node_weight(self, node: AttributeNode) -> float:
        """Return a non-negative prior weight for candidate ``node`` (1 by default; 0 removes it)."""
        return 1.0

    def candidates(self, tree: AttributeTree) -> list[AttributeNode]:
        """Return the candidate attributes of ``tree`` in depth-first order (before context exclusions)."""
        out = []
        for node in tree.leaves():
            if node.depth < 2 or node.core:
                continue
            if self.node_weight(node) <= 0:
                continue
            out.append(node)
        return out

    def prepare(  # noqa: B027
        self, tree: AttributeTree, embedder: Embedder | None = None, *, fingerprint: str | None = None
    ) -> None:
        """Build whatever :meth:`select` needs once per taxonomy (e.g. candidate embeddings).

        The engine calls this before a run's first LLM call, so slow one-off work shows up front.
        The default does nothing.
        """

    @abc.abstractmethod
    def select(self, context: SelectionContext, k: int, rng: np.random.Generator) -> list[SelectedAttribute]:
        """Return exactly ``k`` distinct attributes for one persona.

        Args:
            context: The tree, the persona's core profile, the embedder and the exclusions.
            k: How many attributes to choose.
            rng: The persona's random generator (derived from the run seed and the persona index).

        Returns:
            ``k`` selected attributes, none excluded by the context, in taxonomy (depth-first) order.

        Raises:
            ConfigError: Fewer than ``k`` candidates are available.
        """

    # -- helpers -----------------------------------------------------------------------------------------

    def cached_candidates(self, tree: AttributeTree, fingerprint: str | None = None) -> list[AttributeNode]:
        """:meth:`candidates`, cached per tree fingerprint."""
        fp = fingerprint or tree.fingerprint()
        with self._lock:
            hit = self._candidate_cache.get(fp)
        if hit is not None:
            return hit
        found = self.candidates(tree)
        with self._lock:
            self._candidate_cache[fp] = found
        return found

    def available(
        self, tree: AttributeTree, exclude: Iterable[str] = (), *, fingerprint: str | None = None
    ) -> int:
        """Return how many candidates remain once ``exclude`` (node keys) is removed (cached per fingerprint)."""
        ex = frozenset(exclude)
        fp = fingerprint or tree.fingerprint()
        with self._lock:
            hit = self._available_cache.get((fp, ex))
        if hit is None:
            hit = sum(1 for n in self.cached_candidates(tree, fp) if not excluded_by(n.key, ex))
            with self._lock:
                self._available_cache[(fp, ex)] = hit
        return hit

    def check(
        self, tree: AttributeTree, k: int, exclude: Iterable[str] = (), *, fingerprint: str | None = None
    ) -> None:
        """Raise :class:`~deeppersona.errors.ConfigError` unless ``k`` attributes can be selected.

        Raises:
            ConfigError: ``k`` is not a positive integer or exceeds the available candidates.
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer (the number of attributes), got {k!r}")
        n = self.available(tree, exclude, fingerprint=fingerprint)
        if k > n:
            raise ConfigError(
                f"k={k} attributes asked for, but the taxonomy offers only {n} candidate attributes "
                f"to {type(self).__name__} (core attributes, anchors and exclusions removed); "
                f"lower k or use a larger taxonomy"
            )

    def params(self) -> dict[str, Any]:
        """The constructor parameters (for ``repr`` and provenance)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    _cache_attrs: tuple[str, ...] = ("_candidate_cache", "_available_cache")
    """Attributes holding caches, which a pickled copy leaves behind (it rebuilds them where it runs)."""

    def __getstate__(self) -> dict[str, Any]:  # picklable for process pools and Ray
        state = dict(self.__dict__)
        state.pop("_lock", None)
        for name in self._cache_attrs:
            if name in state:
                state[name] = type(state[name])()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def resolve_paths(tree: AttributeTree, paths: Sequence[str] | None, what: str) -> list[AttributeNode]:
    """Look up ``paths`` in ``tree`` (canonical matching), raising a clear error for unknown ones."""
    if not paths:
        return []
    out = []
    for p in paths:
        node = tree.find(p)
        if node is None:
            raise ConfigError(f"{what}: the taxonomy has no attribute {p!r}")
        out.append(node)
    return out


def canonical_roots(names: Iterable[str] | None) -> frozenset[str] | None:
    """Canonical keys of root-category names (``None`` stays ``None``)."""
    return None if names is None else frozenset(canonical_key(n) for n in names)
