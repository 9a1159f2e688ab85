"""Pydantic response models of the builder's LLM calls.

Validators accept the small deviations local models produce (``"yes"`` for a label, a path written
as ``"A > B > C"``), so a usable reply is not re-asked for a formatting detail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..llm._keyed import KeyedReply, keyed_reply_type

__all__ = [
    "MergeMapping",
    "NODE_REWRITE_PATTERN",
    "PATH_REWRITE_PATTERN",
    "Personalizability",
    "Rewrites",
    "Verdicts",
    "read_rewrite",
    "read_verdict",
    "rewrite_reply_type",
    "verdict_key",
    "verdict_reply_type",
]

_PATH_SPLIT = re.compile(r"\s*(?:>|->|→|/|\\|::)\s*")

_LABELS: dict[str, str] = {
    "personalizable": "Personalizable",
    "personalized": "Personalizable",
    "yes": "Personalizable",
    "fully personalizable": "Personalizable",
    "true": "Personalizable",
    "partially personalizable": "Partially Personalizable",
    "partially": "Partially Personalizable",
    "partial": "Partially Personalizable",
    "partly personalizable": "Partially Personalizable",
    "no": "No",
    "not personalizable": "No",
    "non personalizable": "No",
    "nonpersonalizable": "No",
    "non-personalizable": "No",
    "false": "No",
    "none": "No",
}


class Personalizability(BaseModel):
    """Is the answer to a question personalizable? (the paper's Figure 6 record)."""

    model_config = ConfigDict(extra="ignore")

    category: str = Field("", description="The question type in a few words, e.g. 'travel planning'.")
    reason: str = Field(description="One or two sentences explaining the decision.")
    is_personalizable: Literal["No", "Partially Personalizable", "Personalizable"] = Field(
        description="'No', 'Partially Personalizable' or 'Personalizable'."
    )

    @field_validator("is_personalizable", mode="before")
    @classmethod
    def _normalise_label(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "Personalizable" if value else "No"
        if isinstance(value, str):
            key = " ".join(value.replace("_", " ").replace("-", " ").lower().split()).strip(" .")
            return _LABELS.get(key, _LABELS.get(key.replace(" ", "-"), value))
        return value


def _as_path(value: Any) -> Any:
    if isinstance(value, str):
        return [p for p in _PATH_SPLIT.split(value) if p.strip()]
    if isinstance(value, dict) and "path" in value:
        return _as_path(value["path"])
    return value


NODE_REWRITE_PATTERN = "^(none|[A-Z][A-Za-z&' /-]{2,40})$"
"""A Check Node rewrite: the general category an invalid name is an instance of, or ``none``."""

PATH_REWRITE_PATTERN = '^(none|[A-Z][^"\\\\\\n]{2,160})$'
"""A Check Path rewrite: the corrected path (names joined by " > "), or ``none``."""


class Verdicts(KeyedReply):
    """The reply of one Check Node or Check Path call: item key (``"3. Python"``, see :func:`verdict_key`)
    -> ``true`` for a valid item, ``false`` for an invalid one.

    Each call is a subclass of its own (:func:`verdict_reply_type`) whose schema lists its items' keys:
    the embedded model writes the keys as prompt and generates only ``true`` or ``false``. The rewrites
    of the items judged invalid are asked in a second call (:class:`Rewrites`). The paper's one object
    per item (``{"id": 3, "valid": true, "rewrite": ...}``) made the embedded model copy every valid
    path into ``rewrite``: 74 s for 30 paths, against 29 s for the same verdicts in this form.
    """


class Rewrites(KeyedReply):
    """The reply of one rewrite call: item key -> the rewrite, or ``"none"`` (see :func:`read_rewrite`)."""


def verdict_key(number: int, text: str) -> str:
    """The key of item ``number`` (from 1) of a check: ``"3. Python"``. The name in the key puts it right
    before its verdict: with bare numbers as keys the embedded model judged all 30 names of a batch
    invalid, valid ones included."""
    return f"{number}. {text}"


def verdict_reply_type(keys: Sequence[str]) -> type[Verdicts]:
    """The :class:`Verdicts` subclass of a check of the items ``keys``."""
    return keyed_reply_type("Verdicts", {key: {"type": "boolean"} for key in keys}, Verdicts)


def rewrite_reply_type(keys: Sequence[str], *, paths: bool) -> type[Rewrites]:
    """The :class:`Rewrites` subclass of the rewrite call of the items ``keys`` (Check Path's when ``paths``)."""
    value = {"type": "string", "pattern": PATH_REWRITE_PATTERN if paths else NODE_REWRITE_PATTERN}
    return keyed_reply_type("Rewrites", dict.fromkeys(keys, value), Rewrites)


_TRUE = frozenset({"true", "valid", "yes"})
_FALSE = frozenset({"false", "invalid", "no"})


def read_verdict(value: Any) -> bool | None:
    """``True`` (valid), ``False`` (invalid) or ``None`` (no verdict) from one value of a :class:`Verdicts`
    reply: a boolean, or from a model that answers in words, "true"/"valid"/"yes" and "false"/"invalid"/"no"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip(" .\"'").lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def read_rewrite(value: Any, *, paths: bool) -> str | list[str] | None:
    """The rewrite in one value of a :class:`Rewrites` reply (a path split into its names), or ``None``."""
    if not isinstance(value, str):
        return None
    text = value.strip(" .\"'")
    if not text or text.lower() in {"none", "null", "n/a"}:
        return None
    return _as_path(text) if paths else text


class MergeMapping(BaseModel):
    """The Merging Requirements reply: current node name -> new (merged) name."""

    model_config = ConfigDict(extra="ignore")

    mapping: dict[str, str] = Field(
        default_factory=dict, description="Each current node name mapped to its new name."
    )
