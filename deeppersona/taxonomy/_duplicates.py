"""Near-duplicate leaves under different parents: the same attribute written twice.

Siblings with near-identical names are caught by the style checks (``near-duplicate``). Across
branches the same attribute can hide under two wordings ("Sleep Duration" / "Typical Sleep Duration",
"Grudges Held" / "Grudge Holding"). :func:`near_duplicate_leaves` flags leaf pairs whose names say the
same (the same content words, or one name's words inside the other's with descriptions that overlap)
or whose descriptions are nearly the same. A tree may list reviewed pairs that are meant to stay (each
with its reason) in ``metadata["reviewed_duplicates"]``; those are not reported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._canonical import stem_key
from ._node import AttributeNode

__all__ = ["near_duplicate_leaves", "reviewed_pairs"]

_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "toward",
        "towards",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "who",
        "with",
        "person",
        "person's",
        "people",
        "s",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")

NAME_OVERLAP_DESCRIPTION = 0.5
"""Least description overlap (Jaccard of content words) for names where one holds the other's words."""

DESCRIPTION_OVERLAP = 0.75
"""Description overlap above which two leaves are the same attribute whatever their names."""


def _content(text: str) -> frozenset[str]:
    return frozenset(w for w in stem_key(" ".join(_WORD.findall(text.lower()))).split() if w not in _STOP)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_duplicate_leaves(
    leaves: Iterable[AttributeNode], reviewed: Mapping[frozenset[str], str] | None = None
) -> list[tuple[AttributeNode, AttributeNode, str]]:
    """Leaf pairs under different parents that look like one attribute, with why.

    Args:
        leaves: The leaves to compare.
        reviewed: Pairs to leave out (``frozenset({path_a, path_b})`` → reason), see :func:`reviewed_pairs`.

    Returns:
        ``(a, b, why)`` for each flagged pair, in tree order.
    """
    reviewed = reviewed or {}
    nodes = [n for n in leaves if not n.children]
    names = [_content(n.name) for n in nodes]
    descriptions = [_content(n.description or "") for n in nodes]
    index: dict[str, list[int]] = defaultdict(list)
    for i, words in enumerate(names):
        for w in words:
            index[w].append(i)
    for i, words in enumerate(descriptions):
        for w in words:
            index["d:" + w].append(i)
    out: list[tuple[AttributeNode, AttributeNode, str]] = []
    for i, node in enumerate(nodes):
        others = {j for w in names[i] for j in index[w] if j > i}
        others |= {j for w in descriptions[i] for j in index["d:" + w] if j > i}
        for j in sorted(others):
            other = nodes[j]
            if other.parent is node.parent:
                continue
            why = _why(names[i], names[j], descriptions[i], descriptions[j])
            if why and frozenset((node.path_str, other.path_str)) not in reviewed:
                out.append((node, other, why))
    return out


def _why(na: frozenset[str], nb: frozenset[str], da: frozenset[str], db: frozenset[str]) -> str | None:
    if na and na == nb:
        return "the same name words"
    overlap = _jaccard(da, db)
    small, big = (na, nb) if len(na) <= len(nb) else (nb, na)
    if len(small) >= 2 and small <= big and overlap >= NAME_OVERLAP_DESCRIPTION:
        return f"one name inside the other, descriptions {overlap:.0%} alike"
    if len(da) >= 5 and len(db) >= 5 and overlap >= DESCRIPTION_OVERLAP:
        return f"descriptions {overlap:.0%} alike"
    return None


def reviewed_pairs(metadata: Mapping[str, Any]) -> dict[frozenset[str], str]:
    """The reviewed pairs of a tree's metadata: ``[[path_a, path_b, reason], ...]`` → lookup."""
    raw: Any = metadata.get("reviewed_duplicates") or []
    out: dict[frozenset[str], str] = {}
    for entry in raw if isinstance(raw, Sequence) else []:
        if isinstance(entry, Sequence) and len(entry) == 3 and all(isinstance(x, str) for x in entry):
            out[frozenset(entry[:2])] = entry[2]
    return out
