"""Plain records that flow through the builder: QA pairs, per-pair judgements, attribute paths."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AttributePath", "Label", "PairRecord", "QAPair", "pair_key"]

AttributePath = tuple[str, ...]
"""An attribute path: names from the root category down, e.g. ``("Lifestyle and Daily Routine", "Sleep")``."""

Label = Literal["No", "Partially Personalizable", "Personalizable"]
"""The paper's three personalizability classes (Figure 6)."""


def pair_key(question: str, answer: str) -> str:
    """Return the content hash that identifies a QA pair (used as its checkpoint key).

    Args:
        question: The user's question.
        answer: The assistant's answer.

    Returns:
        A 32-character hex digest of both texts.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(question.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(answer.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass(frozen=True)
class QAPair:
    """One question and the answer it received.

    Attributes:
        question: The user's turn.
        answer: The assistant's reply (may be empty when only questions are available).
        id: An identifier from the source data, if any.
        meta: Any other fields of the source record.
    """

    question: str
    answer: str = ""
    id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The content hash of the pair (see :func:`pair_key`)."""
        return pair_key(self.question, self.answer)


@dataclass(frozen=True)
class PairRecord:
    """What the builder learned from one QA pair: the record of the paper's Figure 6, plus its paths.

    Attributes:
        key: The pair's content hash.
        question: The question.
        answer: The answer.
        category: The question type the model named.
        label: ``"No"``, ``"Partially Personalizable"`` or ``"Personalizable"``; ``None`` when classification failed.
        reason: The model's reason for the label.
        paths: Attribute paths extracted from the pair (empty when not extracted).
        values: What the person disclosed for each path, in the same order ("" when not said).
        dropped: Extracted items that were not attribute paths, by reason (``value_as_name`` ...).
        error: Why the pair could not be processed, or ``None``.
        id: The pair's identifier from the source data, if any.
    """

    key: str
    question: str
    answer: str
    category: str = ""
    label: Label | None = None
    reason: str = ""
    paths: tuple[AttributePath, ...] = ()
    error: str | None = None
    id: str | None = None
    values: tuple[str, ...] = ()
    dropped: Mapping[str, int] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the record in the paper's Figure 6 layout (plus ``paths`` and ``error``)."""
        return {
            "id": self.id,
            "question": self.question,
            "original_answer": self.answer,
            "tags": {
                "category": self.category,
                "is_personalizable": {"reason": self.reason, "is_personalizable": self.label},
            },
            "paths": [list(p) for p in self.paths],
            "values": list(self.values),
            "error": self.error,
        }


def as_path(path: Sequence[str]) -> AttributePath:
    """Return ``path`` as a tuple of stripped, non-empty names."""
    return tuple(s for s in (str(p).strip() for p in path) if s)
