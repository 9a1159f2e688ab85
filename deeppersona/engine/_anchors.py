"""Anchors: validation, classification and binding to taxonomy attributes."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnchorError, TaxonomyError
from ..persona import AttributeValue
from ..taxonomy import AttributeNode, AttributeTree, canonical_key

if TYPE_CHECKING:
    from ..embeddings import Embedder

__all__ = [
    "DEMOGRAPHIC_FIELDS",
    "ResolvedAnchors",
    "bind_anchors",
    "check_text_length",
    "classify_key",
    "name_embedding_table",
    "validate_anchors",
]

# Canonical names of taxonomy attributes that restate a drawn demographic field; never selected.
_RESTATES_DEMOGRAPHICS = frozenset({"given name", "family name", "full name"})

logger = logging.getLogger(__name__)

DEMOGRAPHIC_FIELDS: tuple[str, ...] = (
    "name",
    "age",
    "gender",
    "country",
    "country_code",
    "region",
    "city",
    "occupation",
    "occupation_group",
    "life_stage",
)
"""Anchor keys that fix a core demographic field (they go to the demographic sampler)."""

_CORE_ALIASES: dict[str, str] = {
    "values orientation": "values_orientation",
    "values": "values_orientation",
    "personal values": "values_orientation",
    "core values": "values_orientation",
    "attitude": "attitude",
    "life attitude": "attitude",
    "attitude details": "attitude_details",
    "coping mechanism": "coping_mechanism",
    "coping": "coping_mechanism",
    "life stories": "life_stories",
    "life story": "life_stories",
    "stories": "life_stories",
    "personal story": "life_stories",
    "personal stories": "life_stories",
    "interests": "interests",
    "hobbies": "interests",
    "hobbies and interests": "interests",
}
_AGE_RANGE = (0, 110)
_SCALARS = (str, int, float, bool)


def classify_key(key: str) -> tuple[str, str]:
    """Classify an anchor key: ``("bio", "bio")``, ``("demographic", field)``, ``("core", field)`` or ``("other", key)``."""
    ck = canonical_key(key)
    if ck in ("bio", "biography"):
        return "bio", "bio"
    snake = ck.replace(" ", "_")
    if snake in DEMOGRAPHIC_FIELDS:
        return "demographic", snake
    if ck in _CORE_ALIASES:
        return "core", _CORE_ALIASES[ck]
    return "other", key


def _check_text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AnchorError(f"anchor {key!r} must be a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise AnchorError(f"anchor {key!r} is an empty string; give a value or drop the anchor")
    return value


def _check_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return _check_text(key, value)
    if isinstance(value, float) and not math.isfinite(value):
        raise AnchorError(f"anchor {key!r} is {value}; give a finite number")
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise AnchorError(f"anchor {key!r} is an empty list; give at least one item or drop the anchor")
        return [_check_value(key, v) for v in value]
    raise AnchorError(
        f"anchor {key!r} has unsupported type {type(value).__name__}; use a string, number, boolean "
        "or a list of those"
    )


def check_text_length(what: str, text: str, max_chars: int | None = None) -> None:
    """Refuse a sketch or anchor text longer than ``max_chars`` characters.

    Args:
        what: How to name the text in the error ("sketch 3", "anchor 'bio'").
        text: The text.
        max_chars: The limit; ``None`` means the default of ``EngineOptions.max_sketch_chars``.

    Raises:
        AnchorError: The text is too long.
    """
    limit = _default_max_chars() if max_chars is None else max_chars
    if len(text) > limit:
        raise AnchorError(
            f"{what} is {len(text):,} characters long, more than the limit of {limit:,}; shorten it "
            "(a persona needs a sketch of a few sentences) or raise the engine option max_sketch_chars"
        )


def _default_max_chars() -> int:
    from ._options import EngineOptions

    return int(EngineOptions.model_fields["max_sketch_chars"].default)


def _text_parts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [part for item in value for part in _text_parts(item)]
    return []


def validate_anchors(anchors: Mapping[str, Any], *, max_text_chars: int | None = None) -> dict[str, Any]:
    """Check anchors and return them (``None`` values mean "remove this anchor" and are kept as ``None``).

    Args:
        anchors: Anchor name → value.
        max_text_chars: The longest text value accepted (the ``bio`` and every other string, list items
            included); ``None`` means the default of ``EngineOptions.max_sketch_chars`` (4000).

    Raises:
        AnchorError: An empty key, a value of the wrong type, an impossible value (``age=-3``), or a text
            longer than ``max_text_chars``.
    """
    out: dict[str, Any] = {}
    for key, value in anchors.items():
        if not isinstance(key, str) or not key.strip():
            raise AnchorError(f"anchor names must be non-empty strings, got {key!r}")
        check_text_length(f"anchor name {key[:40]!r}...", key, max_text_chars)
        if value is None:
            out[key] = None
            continue
        kind, name = classify_key(key)
        if kind == "bio":
            _check_text(key, value)
        elif kind == "demographic" and name == "age":
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise AnchorError(f"anchor age must be a whole number of years, got {value!r}")
            if not _AGE_RANGE[0] <= int(value) <= _AGE_RANGE[1]:
                raise AnchorError(
                    f"anchor age={value} is impossible; give an age within {_AGE_RANGE[0]}-{_AGE_RANGE[1]}"
                )
            value = int(value)
        elif kind == "demographic":
            _check_text(key, value)
        elif kind == "core" and name in ("life_stories", "interests"):
            if isinstance(value, str):
                _check_text(key, value)
            elif isinstance(value, (list, tuple)) and value:
                value = [_check_text(key, v) for v in value]
            else:
                raise AnchorError(
                    f"anchor {key!r} must be a string or a non-empty list of strings, got {value!r}"
                )
        elif kind == "core":
            _check_text(key, value)
        else:
            value = _check_value(key, value)
        for text in _text_parts(value):
            check_text_length(f"anchor {key!r}", text, max_text_chars)
        out[key] = value
    return out


@dataclass(frozen=True)
class ResolvedAnchors:
    """Anchors split by role, with attribute anchors bound to taxonomy nodes.

    Attributes:
        raw: Every anchor as given.
        demographic: Fields for the demographic sampler (canonical field names).
        core: Fixed core-chain fields.
        bio: The free-text biography, if any.
        given: Attribute anchors: path string → value (stratum ``"anchor"``), or own key (``"custom"``).
        exclude: Keys of the taxonomy nodes the anchors bound (the selector leaves them out).
    """

    raw: dict[str, Any] = field(default_factory=dict)
    demographic: dict[str, Any] = field(default_factory=dict)
    core: dict[str, Any] = field(default_factory=dict)
    bio: str | None = None
    given: dict[str, AttributeValue] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()


def _match_by_name(tree: AttributeTree, key: str) -> AttributeNode | None:
    ck = canonical_key(key)
    matches = [n for n in tree.nodes() if n.depth >= 2 and n.canonical_name == ck]
    if not matches:
        return None
    leaves = [n for n in matches if not n.children] or matches
    if len(leaves) > 1:
        logger.info("anchor %r matches %d attributes; binding to %s", key, len(leaves), leaves[0].path_str)
    return leaves[0]


def bind_anchors(
    tree: AttributeTree,
    anchors: Mapping[str, Any],
    *,
    embedder: Embedder | None = None,
    threshold: float | None = 0.85,
    name_embeddings: Callable[[], tuple[list[AttributeNode], np.ndarray]] | None = None,
) -> ResolvedAnchors:
    """Split anchors by role and bind attribute anchors to the taxonomy.

    An attribute anchor binds to a node when its key is a path of the tree (``"Health > Sleep"``), when
    its key names a node canonically (``sleep_quality`` → ``... > Sleep Quality``), or when the embedding
    of its key is at least ``threshold`` cosine-similar to a node's name. Others are kept as custom
    attributes under their own key.

    Args:
        tree: The taxonomy.
        anchors: Validated anchors (see :func:`validate_anchors`).
        embedder: Embedder for similarity binding (``None`` disables it).
        threshold: Minimum cosine similarity for embedding binding (``None`` disables it).
        name_embeddings: Returns ``(nodes, embeddings of their names)`` for similarity binding (called only
            when some anchor did not bind by name; lets the caller cache the embeddings).

    Raises:
        AnchorError: A path-like key that names no node, or two anchors bound to the same attribute.
    """
    demographic: dict[str, Any] = {}
    core: dict[str, Any] = {}
    bio: str | None = None
    given: dict[str, AttributeValue] = {}
    exclude: set[str] = set()
    raw = {k: v for k, v in anchors.items() if v is not None}
    unbound: list[str] = []
    bound: dict[str, str] = {}
    for key, value in raw.items():
        kind, name = classify_key(key)
        if kind == "bio":
            bio = str(value)
            continue
        if kind == "demographic":
            demographic[name] = value
            continue
        if kind == "core":
            core[name] = value
            continue
        node: AttributeNode | None = None
        if ">" in key:
            try:
                node = tree.find(key)
            except TaxonomyError as exc:
                raise AnchorError(f"anchor {key!r}: {exc}") from None
            if node is None:
                raise AnchorError(
                    f"anchor {key!r} looks like a taxonomy path but the taxonomy has no such attribute; "
                    "check the spelling or use a plain name to keep it as a custom attribute"
                )
        else:
            node = _match_by_name(tree, key)
        if node is None:
            unbound.append(key)
            continue
        _bind(given, exclude, bound, key, value, node)
    if unbound and embedder is not None and threshold is not None:
        nodes, matrix = (
            name_embeddings() if name_embeddings is not None else name_embedding_table(tree, embedder)
        )
        if nodes:
            queries = np.asarray(embedder.encode([canonical_key(k) for k in unbound]), dtype=np.float32)
            sims = queries @ matrix.T
            still = []
            for row, key in enumerate(unbound):
                best = int(np.argmax(sims[row]))
                if float(sims[row, best]) >= threshold:
                    _bind(given, exclude, bound, key, raw[key], nodes[best])
                else:
                    still.append(key)
            unbound = still
    for key in unbound:
        given[key] = AttributeValue(value=raw[key], stratum="custom", path=(key,))
    # attributes that would only restate a demographic field the sampler fills (the person's name)
    exclude.update(  # "name" in the casefolded name first: canonical_key on every node costs ~20 ms a run
        node.key
        for node in tree.nodes()
        if "name" in node.name.casefold() and canonical_key(node.name) in _RESTATES_DEMOGRAPHICS
    )
    return ResolvedAnchors(
        raw=raw, demographic=demographic, core=core, bio=bio, given=given, exclude=frozenset(exclude)
    )


def _bind(
    given: dict[str, AttributeValue],
    exclude: set[str],
    bound: dict[str, str],
    key: str,
    value: Any,
    node: AttributeNode,
) -> None:
    if node.key in bound:
        raise AnchorError(
            f"anchors {bound[node.key]!r} and {key!r} both name the attribute {node.path_str!r}; keep one"
        )
    bound[node.key] = key
    given[node.path_str] = AttributeValue(value=value, stratum="anchor", path=tuple(node.path))
    exclude.add(node.key)


def name_embedding_table(
    tree: AttributeTree, embedder: Embedder, *, fingerprint: str | None = None
) -> tuple[list[AttributeNode], np.ndarray]:
    """The non-core nodes below the root categories, and the embeddings of their names.

    The embeddings go through the persistent :class:`~deeppersona.embeddings.EmbeddingCache` (keyed by
    the tree fingerprint, the embedder and the names), so a slow embedder pays for them once per taxonomy.
    """
    nodes = [n for n in tree.nodes() if n.depth >= 2 and not any(a.core for a in n.node_path)]
    if not nodes:
        return [], np.zeros((0, 1), dtype=np.float32)
    names = [n.name for n in nodes]
    try:
        from ..embeddings import EmbeddingCache

        key = f"anchor-names-{fingerprint or tree.fingerprint()}"
        return nodes, np.asarray(EmbeddingCache().get_or_compute(key, names, embedder), dtype=np.float32)
    except OSError as exc:  # an unwritable cache must not stop generation
        logger.warning(
            "embedding cache unavailable (%s); encoding %d attribute names directly", exc, len(names)
        )
    return nodes, np.asarray(embedder.encode(names), dtype=np.float32)
