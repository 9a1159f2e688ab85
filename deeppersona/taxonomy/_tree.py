"""The attribute taxonomy: an anytree-based tree of personalizable attribute categories."""

from __future__ import annotations

import difflib
import functools
import hashlib
import html
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from anytree import LevelOrderIter, PreOrderIter

from ..errors import ConfigError, DataFileNotFoundError, NodeNotFoundError, TaxonomyError
from ._canonical import canonical_key, split_path
from ._constants import DEFAULT_MAX_DEPTH, FORMAT_VERSION, PATH_SEPARATOR
from ._duplicates import near_duplicate_leaves, reviewed_pairs
from ._io import DocumentSettings, parse_json_text, read_json_file, roots_from_document, roots_from_nested
from ._node import AttributeNode, ValueType, _TreeRoot
from ._outline import format_outline, parse_outline
from ._stats import TaxonomyStats
from ._validate import TaxonomyProblem, structural_problems, style_problems

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["AttributeTree", "PathLike"]

logger = logging.getLogger(__name__)

PathLike = str | Sequence[str]
"""A node path: ``"Health > Sleep > Sleep Quality"`` or ``("Health", "Sleep", "Sleep Quality")``."""

_OUTLINE_SUFFIXES = frozenset({".txt", ".outline"})
_MAX_LISTED_PROBLEMS = 10


@functools.lru_cache(maxsize=1)
def _default_taxonomy_text() -> str:
    """Read the packaged default taxonomy once (an immutable string; trees are built fresh per call)."""
    resource = resources.files("deeppersona") / "data" / "taxonomy" / "default.json"
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileNotFoundError(
            "the default taxonomy (deeppersona/data/taxonomy/default.json) is missing from the installed "
            "package; reinstall deeppersona, or in a source checkout run `python scripts/build_taxonomy.py`"
        ) from None


class AttributeTree:
    """A taxonomy of personalizable attribute categories (paper §3.1), at most three levels deep.

    The tree holds root categories (level 1) such as ``"Physical and Health Characteristics"``, their
    sub-categories (level 2) and attributes (level 3). Nodes are :class:`AttributeNode` objects
    (anytree nodes), so anytree's iterators and renderers work on them.

    Lookups match names canonically: ``tree.get("physical_and_health_characteristics > sleep")``
    finds ``"Physical and Health Characteristics > Sleep"`` (see :func:`canonical_key`).

    Methods that derive a tree (:meth:`subtree`, :meth:`filter`, :meth:`prune`, :meth:`merge`,
    :meth:`copy`) return a new tree and leave this one alone; :meth:`add_path` and :meth:`remove`
    change this tree in place.

    Args:
        roots: Root-category nodes to adopt (they are moved into this tree, not copied).
        max_depth: The deepest level allowed (root categories are level 1).
        fixed_roots: The allowed root-category names, or ``None`` to allow any.
        metadata: Free-form JSON-compatible information saved with the tree (provenance, version).

    The constructor does not validate; the ``from_*`` and ``load`` constructors do, and
    :meth:`validate` reports every problem.

    Example:
        >>> tree = AttributeTree.from_paths(["Health > Sleep > Sleep Quality", "Health > Diet"])
        >>> tree.get("health > sleep > sleep_quality").path_str
        'Health > Sleep > Sleep Quality'
        >>> len(tree), [n.name for n in tree.leaves()]
        (4, ['Sleep Quality', 'Diet'])
    """

    def __init__(
        self,
        roots: Iterable[AttributeNode] = (),
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        fixed_roots: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
            raise ConfigError(f"max_depth must be a positive integer, got {max_depth!r}")
        self.max_depth = max_depth
        self.fixed_roots: tuple[str, ...] | None = tuple(fixed_roots) if fixed_roots is not None else None
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._top = _TreeRoot()
        for root in roots:
            root.parent = self._top

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> AttributeTree:
        """Return the library's default taxonomy (12 root categories, depth 3, thousands of nodes).

        The packaged JSON file is read once and cached as text; every call builds and returns a new,
        independent tree, so changing one never affects another.

        Returns:
            A fresh copy of the default taxonomy.
        """
        return cls.from_json(_default_taxonomy_text(), source="deeppersona/data/taxonomy/default.json")

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        max_depth: int | None = None,
        fixed_roots: Sequence[str] | None = None,
        source: str = "<dict>",
    ) -> AttributeTree:
        """Build a tree from a document dict or a plain nested mapping of names.

        Two shapes are accepted:

        * the document written by :meth:`to_dict` (it has a ``"format_version"`` key, or a
          ``"roots"`` list of node objects, and then must have a valid ``format_version``);
        * a nested mapping of names, whose values are mappings of children, lists of child names, or
          ``None`` for leaves: ``{"Health": {"Sleep": ["Sleep Quality", "Sleep Schedule"]}}``.

        Args:
            data: The dict.
            max_depth: The deepest level allowed (default: the document's, else 3).
            fixed_roots: Allowed root-category names (default: the document's, else any).
            source: A label for error messages.

        Returns:
            The tree.

        Raises:
            TaxonomyError: Wrong schema or ``format_version``, the same dict reachable twice, a node
                deeper than ``max_depth``, an empty name, duplicate siblings or an unknown root; the
                message names the source and the node path, and nothing is half-loaded.
        """
        if _looks_like_document(data):
            roots, settings = roots_from_document(data, source=source)
            if max_depth is not None:
                settings.max_depth = max_depth
        else:
            depth = max_depth if max_depth is not None else DEFAULT_MAX_DEPTH
            roots = roots_from_nested(data, source=source, max_depth=depth)
            settings = DocumentSettings(max_depth=depth)
        if fixed_roots is not None:
            settings.fixed_roots = tuple(fixed_roots)
        return cls._checked(roots, settings, source)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[PathLike],
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        fixed_roots: Sequence[str] | None = None,
    ) -> AttributeTree:
        """Build a tree from paths; missing intermediate nodes are created.

        Paths that differ only in spelling (``"Health > sleep"`` and ``"Health > Sleep"``) share
        nodes; the first spelling wins.

        Args:
            paths: ``"Health > Sleep > Sleep Quality"`` strings or tuples of names.
            max_depth: The deepest level allowed.
            fixed_roots: Allowed root-category names, or ``None`` for any.

        Returns:
            The tree.

        Raises:
            TaxonomyError: A path is empty, too deep, has an empty name or an unknown root.
        """
        if isinstance(paths, str):
            paths = [paths]
        tree = cls(max_depth=max_depth, fixed_roots=fixed_roots)
        for path in paths:
            tree.add_path(path)
        return tree

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> AttributeTree:
        """Build a tree from JSON text in the document format written by :meth:`to_json`.

        Args:
            text: The JSON text.
            source: A label for error messages.

        Returns:
            The tree.

        Raises:
            TaxonomyError: Malformed JSON or any problem listed under :meth:`from_dict`.
        """
        data = parse_json_text(text, source=source)
        if not isinstance(data, Mapping) or "format_version" not in data:
            raise TaxonomyError(
                f"{source}: not a taxonomy document (a JSON object with 'format_version' and 'roots')"
            )
        return cls.from_dict(data, source=source)

    @classmethod
    def from_outline(
        cls,
        text: str,
        *,
        source: str = "<outline>",
        max_depth: int = DEFAULT_MAX_DEPTH,
        fixed_roots: Sequence[str] | None = None,
    ) -> AttributeTree:
        """Build a tree from the indented outline format (see the taxonomy guide).

        Args:
            text: The outline text.
            source: A label for error messages (``source:line`` is reported).
            max_depth: The deepest level allowed.
            fixed_roots: Allowed root-category names, or ``None`` for any.

        Returns:
            The tree.

        Raises:
            TaxonomyError: The outline is malformed; the message names the file and line.
        """
        roots = parse_outline(text, source=source, max_depth=max_depth)
        settings = DocumentSettings(
            max_depth=max_depth, fixed_roots=tuple(fixed_roots) if fixed_roots is not None else None
        )
        return cls._checked(roots, settings, source)

    @classmethod
    def load(cls, path: str | Path, *, fixed_roots: Sequence[str] | None = None) -> AttributeTree:
        """Load a tree from a JSON document, or from an outline file (``.txt`` / ``.outline``).

        Args:
            path: The file.
            fixed_roots: Allowed root-category names (overrides the file's setting).

        Returns:
            The tree.

        Raises:
            DataFileNotFoundError: The file does not exist.
            TaxonomyError: The file is malformed; the message names the file and the node path.
        """
        file = Path(path)
        if file.suffix.lower() in _OUTLINE_SUFFIXES:
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise DataFileNotFoundError(f"taxonomy file {str(file)!r} does not exist") from None
            return cls.from_outline(text, source=str(file), fixed_roots=fixed_roots)
        data = read_json_file(file)
        if not isinstance(data, Mapping) or "format_version" not in data:
            raise TaxonomyError(
                f"{file}: not a taxonomy document (a JSON object with 'format_version' and 'roots')"
            )
        return cls.from_dict(data, fixed_roots=fixed_roots, source=str(file))

    @classmethod
    def _checked(cls, roots: list[AttributeNode], settings: DocumentSettings, source: str) -> AttributeTree:
        tree = cls(
            roots, max_depth=settings.max_depth, fixed_roots=settings.fixed_roots, metadata=settings.metadata
        )
        problems = tree.validate()
        if problems:
            listed = "; ".join(str(p) for p in problems[:_MAX_LISTED_PROBLEMS])
            more = len(problems) - _MAX_LISTED_PROBLEMS
            tail = f"; and {more} more" if more > 0 else ""
            raise TaxonomyError(f"{source}: {len(problems)} problem(s) in the taxonomy: {listed}{tail}")
        return tree

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document form; :meth:`from_dict` reads it back to an equal tree.

        Returns:
            ``{"format_version": 1, "max_depth": 3, "fixed_roots": [...] | None, "metadata": {...},
            "roots": [node, ...]}`` where each node is ``{"name", "description"?, "value_type"?,
            "core"?, "children"?}`` (fields at their defaults are omitted).
        """
        return {
            "format_version": FORMAT_VERSION,
            "max_depth": self.max_depth,
            "fixed_roots": list(self.fixed_roots) if self.fixed_roots is not None else None,
            "metadata": json.loads(json.dumps(self.metadata)),
            "roots": [root.to_dict() for root in self.roots],
        }

    def to_nested(self) -> dict[str, Any]:
        """Return the plain nested form ``{name: {child: {...}}}`` (names only; leaves map to ``{}``)."""

        def nest(node: AttributeNode) -> dict[str, Any]:
            return {child.name: nest(child) for child in node.children}

        return nest(self._top)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the document as JSON text with sorted keys (stable, diff-friendly)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False) + "\n"

    def to_outline(self) -> str:
        """Return the tree in the indented outline format."""
        return format_outline(self.roots)

    def save(self, path: str | Path) -> Path:
        """Save the tree as a JSON document (or as an outline for ``.txt`` / ``.outline`` paths).

        Args:
            path: The output file; parent directories are created.

        Returns:
            The path written.
        """
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        text = self.to_outline() if file.suffix.lower() in _OUTLINE_SUFFIXES else self.to_json()
        file.write_text(text, encoding="utf-8")
        return file

    # ------------------------------------------------------------------ lookup
    @property
    def roots(self) -> tuple[AttributeNode, ...]:
        """The root-category (level-1) nodes, in order."""
        return tuple(self._top.children)

    @property
    def depth(self) -> int:
        """The deepest level present (0 for an empty tree)."""
        return max((n.depth for n in self.leaves()), default=0)

    def find(self, path: PathLike) -> AttributeNode | None:
        """Return the node at ``path`` (matched canonically), or ``None``.

        Args:
            path: ``"Health > Sleep"`` or ``("Health", "Sleep")``, in any spelling.

        Returns:
            The node, or ``None`` when the tree has no such path.

        Raises:
            TaxonomyError: ``path`` is not a string or sequence of names, or has an empty segment.
        """
        node: AttributeNode = self._top
        for name in split_path(path):
            key = canonical_key(name)
            for child in node.children:
                if child.canonical_name == key:
                    node = child
                    break
            else:
                return None
        return node if node is not self._top else None

    def get(self, path: PathLike) -> AttributeNode:
        """Return the node at ``path`` (matched canonically).

        Args:
            path: ``"Health > Sleep"`` or ``("Health", "Sleep")``, in any spelling.

        Returns:
            The node.

        Raises:
            NodeNotFoundError: No node has this path; the message suggests close names.
        """
        node: AttributeNode = self._top
        for name in split_path(path):
            key = canonical_key(name)
            match = next((c for c in node.children if c.canonical_name == key), None)
            if match is None:
                names = [c.name for c in node.children]
                close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
                where = f"{node.path_str!r} has" if node is not self._top else "the tree has"
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise NodeNotFoundError(f"no node {_show(path)!r}: {where} no child {name!r}{hint}")
            node = match
        return node

    def __getitem__(self, path: PathLike) -> AttributeNode:
        return self.get(path)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, AttributeNode):
            return item is not self._top and item.root is self._top
        try:
            return self.find(item) is not None  # type: ignore[arg-type]
        except TaxonomyError:
            return False

    def __len__(self) -> int:
        return sum(1 for _ in self.nodes())

    def __iter__(self) -> Iterator[AttributeNode]:
        return self.nodes()

    def nodes(self, order: Literal["dfs", "bfs"] = "dfs") -> Iterator[AttributeNode]:
        """Iterate over every node (the root categories included).

        Args:
            order: ``"dfs"`` (depth-first, pre-order) or ``"bfs"`` (level by level).

        Returns:
            An iterator of nodes.
        """
        top = self._top

        def not_top(n: AttributeNode) -> bool:
            return n is not top

        if order == "dfs":
            return iter(PreOrderIter(top, filter_=not_top))
        if order == "bfs":
            return iter(LevelOrderIter(top, filter_=not_top))
        raise ConfigError(f"order must be 'dfs' or 'bfs', got {order!r}")

    def leaves(self, order: Literal["dfs", "bfs"] = "dfs") -> Iterator[AttributeNode]:
        """Iterate over the nodes without children.

        Args:
            order: ``"dfs"`` or ``"bfs"``.

        Returns:
            An iterator of leaf nodes.
        """
        return (n for n in self.nodes(order) if not n.children)

    def core_nodes(self) -> list[AttributeNode]:
        """Return the nodes marked as core attributes, in depth-first order."""
        return [n for n in self.nodes() if n.core]

    def paths(self, *, leaves_only: bool = False) -> list[str]:
        """Return the path string of every node (or of every leaf), in depth-first order."""
        source = self.leaves() if leaves_only else self.nodes()
        return [n.path_str for n in source]

    # ------------------------------------------------------------------ editing
    def add_path(
        self,
        path: PathLike,
        *,
        description: str | None = None,
        value_type: ValueType | Mapping[str, Any] | str | None = None,
        core: bool | None = None,
    ) -> AttributeNode:
        """Add a path, creating missing nodes; existing nodes are matched canonically.

        Attributes given here are set on the last node of the path; ``None`` leaves them unchanged.

        Args:
            path: ``"Health > Sleep > Sleep Quality"`` or a tuple of names.
            description: A one-line description for the last node.
            value_type: A value-type hint for the last node.
            core: Whether the last node is a core attribute.

        Returns:
            The last node of the path.

        Raises:
            TaxonomyError: The path is too deep, has an empty name or a ``>`` in a name, or its root is
                not one of the tree's fixed roots. The tree is unchanged on error.
        """
        names = split_path(path)
        if len(names) > self.max_depth:
            raise TaxonomyError(
                f"path {_show(path)!r} has depth {len(names)}, over this tree's maximum of {self.max_depth}"
            )
        for name in names:
            if ">" in name or not canonical_key(name):
                raise TaxonomyError(f"path {_show(path)!r} has an invalid name {name!r}")
        if self.fixed_roots is not None and canonical_key(names[0]) not in {
            canonical_key(r) for r in self.fixed_roots
        }:
            raise TaxonomyError(
                f"path {_show(path)!r} starts with {names[0]!r}, which is not one of this tree's root "
                f"categories: {', '.join(self.fixed_roots)}"
            )
        vt = ValueType.coerce(value_type)
        node: AttributeNode = self._top
        for name in names:
            key = canonical_key(name)
            match = next((c for c in node.children if c.canonical_name == key), None)
            node = match if match is not None else AttributeNode(name, parent=node)
        if description is not None:
            node.description = description
        if vt is not None:
            node.value_type = vt
        if core is not None:
            node.core = bool(core)
        return node

    def remove(self, path: PathLike) -> AttributeNode:
        """Remove the node at ``path`` and everything beneath it.

        Args:
            path: The node's path (matched canonically).

        Returns:
            The removed node, now detached (its descendants stay attached to it).

        Raises:
            NodeNotFoundError: No node has this path.
        """
        node = self.get(path)
        node.parent = None
        return node

    # ------------------------------------------------------------------ deriving trees
    def copy(self) -> AttributeTree:
        """Return a deep, independent copy."""
        return self._like([root.copy() for root in self.roots])

    def _like(self, roots: Iterable[AttributeNode]) -> AttributeTree:
        return type(self)(
            roots, max_depth=self.max_depth, fixed_roots=self.fixed_roots, metadata=self.metadata
        )

    def _copy_kept(self, keep: set[int]) -> AttributeTree:
        def clone(node: AttributeNode) -> AttributeNode:
            copy = node.copy(deep=False)
            for child in node.children:
                if id(child) in keep:
                    clone(child).parent = copy
            return copy

        return self._like(clone(r) for r in self.roots if id(r) in keep)

    def subtree(self, roots: PathLike | Iterable[PathLike]) -> AttributeTree:
        """Return a new tree with only the given nodes, their ancestors and all their descendants.

        Args:
            roots: One path string, or an iterable of paths (strings or tuples of names). Note that a
                tuple of strings is read as several paths: ``("Health", "Career")`` keeps two roots.

        Returns:
            The new tree.

        Raises:
            NodeNotFoundError: A path is not in the tree.
        """
        paths: list[PathLike] = [roots] if isinstance(roots, str) else list(roots)
        keep: set[int] = set()
        for path in paths:
            node = self.get(path)
            keep.update(id(n) for n in node.node_path)
            keep.update(id(n) for n in node.descendants)
        return self._copy_kept(keep)

    def filter(self, predicate: Callable[[AttributeNode], bool]) -> AttributeTree:
        """Return a new tree with the nodes for which ``predicate`` is true, plus their ancestors.

        Ancestors are kept so that every kept node keeps its full path; use :meth:`remove` or
        :meth:`prune` to drop whole branches.

        Args:
            predicate: Called with each node.

        Returns:
            The new tree.
        """
        keep: set[int] = set()
        for node in self.nodes():
            if predicate(node):
                keep.update(id(n) for n in node.node_path)
        return self._copy_kept(keep)

    def prune(self, max_depth: int) -> AttributeTree:
        """Return a new tree without the nodes deeper than ``max_depth``.

        Args:
            max_depth: The deepest level kept (1 keeps only the root categories).

        Returns:
            The new tree.
        """
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
            raise ConfigError(f"max_depth must be a positive integer, got {max_depth!r}")
        return self._copy_kept({id(n) for n in self.nodes() if n.depth <= max_depth})

    def merge(self, other: AttributeTree, *, prefer: Literal["self", "other"] | None = None) -> AttributeTree:
        """Return the union of two trees; nodes whose paths match canonically become one node.

        Where both trees set an attribute differently, ``prefer`` picks a side. By default
        (``None``) the choice is symmetric, so ``a.merge(b)`` and ``b.merge(a)`` have the same
        :meth:`fingerprint`: the name first in sort order (``"Sleep Quality"`` before
        ``"sleep quality"``), the longer description, the value type whose JSON sorts first, and
        ``core`` if either is core. Merging a tree with itself gives an equal tree.

        Args:
            other: The tree to merge in.
            prefer: ``"self"``, ``"other"`` or ``None`` (symmetric).

        Returns:
            The merged tree (deepest ``max_depth`` of the two; ``fixed_roots`` kept when both agree).
        """
        if not isinstance(other, AttributeTree):
            raise TypeError(f"can only merge another AttributeTree, not {type(other).__name__}")
        if prefer not in (None, "self", "other"):
            raise ConfigError(f"prefer must be 'self', 'other' or None, got {prefer!r}")
        fixed = self.fixed_roots if self.fixed_roots == other.fixed_roots else None
        metadata = (
            {**other.metadata, **self.metadata} if prefer != "other" else {**self.metadata, **other.metadata}
        )
        merged = type(self)(
            [r.copy() for r in self.roots],
            max_depth=max(self.max_depth, other.max_depth),
            fixed_roots=fixed,
            metadata=metadata,
        )
        _merge_children(merged._top, other.roots, prefer)
        return merged

    # ------------------------------------------------------------------ checks and summaries
    def validate(self, *, style: bool = False) -> list[TaxonomyProblem]:
        """Return every problem in the tree (empty when the tree is valid).

        Structural checks (always): empty names, ``>`` in names, depth over
        ``max_depth``, duplicate siblings after canonicalisation, unknown root categories when the
        roots are fixed. With ``style=True`` also: stray whitespace, the naming style (Title Case, no digits, no
        snake_case or CamelCase, commas only in root names), names that look like specific
        instances, values or marketing terms (a word-list heuristic), near-duplicate siblings
        (plural and ``-ing`` variants), level-2 nodes without a description, and leaves under different
        parents that look like the same attribute (:func:`~deeppersona.taxonomy._duplicates.near_duplicate_leaves`;
        pairs reviewed as intended are listed in ``metadata["reviewed_duplicates"]``).

        Args:
            style: Also run the style checks.

        Returns:
            The problems, each with the path of the node concerned.
        """
        problems = structural_problems(self._top, max_depth=self.max_depth, fixed_roots=self.fixed_roots)
        if style:
            problems.extend(style_problems(self._top))
            reviewed = reviewed_pairs(self.metadata)
            for a, b, why in near_duplicate_leaves(self.leaves(), reviewed):
                problems.append(
                    TaxonomyProblem(
                        a.path_str,
                        f"looks like the same attribute as {b.path_str!r} ({why}); merge them, or list the "
                        "pair with its reason in metadata['reviewed_duplicates']",
                        "near-duplicate-leaf",
                    )
                )
        return problems

    def stats(self) -> TaxonomyStats:
        """Return node, leaf, per-root and per-level counts."""
        per_root = {root.name: 1 + len(root.descendants) for root in self.roots}
        histogram: Counter[int] = Counter()
        leaves = core = described = described_leaves = 0
        kinds: Counter[str] = Counter()
        conditions: Counter[str] = Counter()
        conditional = supported = 0
        for node in self.nodes():
            supported += node.support is not None
            histogram[node.depth] += 1
            leaves += not node.children
            core += node.core
            described += bool(node.description)
            if not node.children:
                described_leaves += bool(node.description)
                if node.value_type is not None:
                    kinds[node.value_type.kind] += 1
                conditional += bool(node.applies_when)
                conditions.update(node.applies_when)
        return TaxonomyStats(
            nodes=sum(histogram.values()),
            leaves=leaves,
            per_root=per_root,
            depth_histogram=dict(sorted(histogram.items())),
            core=core,
            described=described,
            described_leaves=described_leaves,
            typed_leaves=dict(sorted(kinds.items())),
            conditional_leaves=conditional,
            conditions=dict(conditions.most_common()),
            supported=supported,
        )

    def fingerprint(self) -> str:
        """Return a stable hash of the tree's content, independent of the order of siblings.

        Names, descriptions, value types, core flags, applicability conditions and support count; ``max_depth``, ``fixed_roots`` and
        ``metadata`` do not.

        Returns:
            16 hexadecimal characters (the start of a SHA-256 digest).
        """

        def canon(node: AttributeNode) -> str:
            vt = node.value_type.to_dict() if node.value_type is not None else None
            children = sorted(canon(c) for c in node.children)
            fields: list[Any] = [node.name, node.description, vt, node.core, children]
            if node.applies_when or node.support is not None:  # only when set: older trees keep theirs
                fields.append(list(node.applies_when))
            if node.support is not None:
                fields.append(node.support)
            return json.dumps(
                fields,
                sort_keys=True,
                ensure_ascii=False,
                separators=(",", ":"),
            )

        body = json.dumps(sorted(canon(r) for r in self.roots), separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AttributeTree):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def render(self, *, max_depth: int | None = None, max_children: int | None = None) -> str:
        """Return an indented text drawing of the tree.

        Args:
            max_depth: Draw down to this level (default: all).
            max_children: Draw at most this many children per node, then ``...``.

        Returns:
            The drawing, one node a line.
        """
        lines: list[str] = []

        def draw(node: AttributeNode) -> None:
            lines.append("  " * (node.depth - 1) + node.name + (" *" if node.core else ""))
            if max_depth is not None and node.depth >= max_depth:
                return
            kids = node.children
            for child in kids[:max_children] if max_children is not None else kids:
                draw(child)
            if max_children is not None and len(kids) > max_children:
                lines.append("  " * node.depth + f"... ({len(kids) - max_children} more)")

        for root in self.roots:
            draw(root)
        return "\n".join(lines)

    def __repr__(self) -> str:
        stats = self.stats()
        return f"AttributeTree(nodes={stats.nodes}, roots={stats.roots}, leaves={stats.leaves}, depth={stats.max_depth})"

    def _repr_html_(self) -> str:
        stats = self.stats()
        rows = []
        for root in self.roots:
            names = [c.name for c in root.children]
            shown = ", ".join(html.escape(n) for n in names[:6]) + (" …" if len(names) > 6 else "")
            rows.append(
                f"<tr><td><b>{html.escape(root.name)}</b></td>"
                f"<td style='text-align:right'>{stats.per_root[root.name]}</td><td>{shown}</td></tr>"
            )
        levels = ", ".join(f"L{d}: {n}" for d, n in stats.depth_histogram.items())
        return (
            f"<div><b>AttributeTree</b>: {stats.nodes} nodes, {stats.leaves} leaves, "
            f"{stats.roots} root categories ({levels}), fingerprint <code>{self.fingerprint()}</code>"
            "<table><thead><tr><th>root category</th><th>nodes</th><th>sub-categories</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def to_pandas(self) -> pd.DataFrame:
        """Return a DataFrame with a row per node, in depth-first order.

        Columns: ``path``, ``name``, ``depth``, ``root``, ``description``, ``value_type`` (the compact
        hint, such as ``"number: people"``), ``core``, ``applies_when`` (the conditions joined by
        commas, or ``None``), ``support`` and ``n_children``.
        """
        import pandas as pd

        rows = [
            {
                "path": n.path_str,
                "name": n.name,
                "depth": n.depth,
                "root": n.category,
                "description": n.description,
                "value_type": n.value_type.to_hint() if n.value_type is not None else None,
                "core": n.core,
                "applies_when": ", ".join(n.applies_when) or None,
                "support": n.support,
                "n_children": len(n.children),
            }
            for n in self.nodes()
        ]
        columns = [
            "path", "name", "depth", "root", "description", "value_type", "core", "applies_when", "support",
            "n_children",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def plot_sunburst(
        self, path: str | Path | None = None, *, levels: int = 2, title: str | None = None
    ) -> go.Figure:
        """Plot the domain distribution as a sunburst (the paper's Figure 3).

        Each wedge's size is the number of nodes beneath it, so the plot shows how coverage is
        balanced across categories.

        Args:
            path: Where to save the plot: ``.html`` (interactive, via plotly; self-contained, so it opens
                offline) or ``.png`` / ``.svg`` /
                ``.pdf`` / ``.jpg`` (static, drawn with matplotlib: no browser needed; two rings).
                ``None`` saves nothing.
            levels: How many levels the plotly figure draws.
            title: The title.

        Returns:
            The plotly figure (show it in a notebook with ``fig.show()``).

        Raises:
            ConfigError: ``path`` has an unsupported suffix.
        """
        from ._plot import check_plot_suffix, save_matplotlib_sunburst, sunburst_figure

        target = Path(path) if path is not None else None
        kind = check_plot_suffix(target) if target is not None else None
        fig = sunburst_figure(self.roots, levels=levels, title=title)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind == "html":
                fig.write_html(str(target), include_plotlyjs=True)  # works offline: no CDN
            else:
                save_matplotlib_sunburst(self.roots, target, title=title)
            logger.info("saved taxonomy sunburst to %s", target)
        return fig


def _looks_like_document(data: object) -> bool:
    """A document has ``format_version``, or ``roots`` holding a list of node objects."""
    if not isinstance(data, Mapping):
        return False
    if "format_version" in data:
        return True
    roots = data.get("roots")
    return isinstance(roots, list) and all(isinstance(r, Mapping) and "name" in r for r in roots)


def _show(path: object) -> str:
    if isinstance(path, str):
        return path
    if isinstance(path, Sequence):
        return PATH_SEPARATOR.join(str(p) for p in path)
    return repr(path)


_P = TypeVar("_P")


def _pick(a: _P | None, b: _P | None, prefer: str | None, order: Callable[[_P], Any]) -> _P | None:
    """The merged value of one field: the only one present, the preferred side's, else the least by ``order``."""
    if a is None or b is None or a == b:
        return a if a is not None else b
    if prefer == "self":
        return a
    if prefer == "other":
        return b
    return min(a, b, key=order)


def _merge_children(target: AttributeNode, incoming: Iterable[AttributeNode], prefer: str | None) -> None:
    for node in incoming:
        match = next((c for c in target.children if c.canonical_name == node.canonical_name), None)
        if match is None:
            node.copy().parent = target
            continue
        if match.name != node.name:
            if prefer is None:
                match.name = min(match.name, node.name)
            elif prefer == "other":
                match.name = node.name
        match.description = _pick(match.description, node.description, prefer, lambda d: (-len(d), d))
        match.value_type = _pick(
            match.value_type, node.value_type, prefer, lambda v: json.dumps(v.to_dict(), sort_keys=True)
        )
        match.core = match.core or node.core
        _merge_children(match, node.children, prefer)
