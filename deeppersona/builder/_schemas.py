"""Pydantic response models of the builder's LLM calls.

Validators accept the small deviations local models produce (``"yes"`` for a label, a path written
as ``"A > B > C"``), so a usable reply is not re-asked for a formatting detail.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MergeMapping",
    "NodeVerdict",
    "NodeVerdicts",
    "PathVerdict",
    "PathVerdicts",
    "Personalizability",
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


class NodeVerdict(BaseModel):
    """The Check Node judgement of one attribute name."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(description="The number of the name in the list.")
    valid: bool = Field(description="True if the name is a general category or aspect.")
    rewrite: str | None = Field(
        None, description="For an invalid name, a general category that could replace it; else null."
    )


class NodeVerdicts(BaseModel):
    """Check Node judgements of a batch of names."""

    model_config = ConfigDict(extra="ignore")

    verdicts: list[NodeVerdict] = Field(default_factory=list)


class PathVerdict(BaseModel):
    """The Check Path judgement of one attribute path."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(description="The number of the path in the list.")
    valid: bool = Field(description="True if the path is a valid personal attribute path.")
    rewrite: list[str] | None = Field(
        None, description="For an invalid path that can be fixed, the corrected path; else null."
    )

    @field_validator("rewrite", mode="before")
    @classmethod
    def _split_string(cls, value: Any) -> Any:
        return _as_path(value) if value else None


class PathVerdicts(BaseModel):
    """Check Path judgements of a batch of paths."""

    model_config = ConfigDict(extra="ignore")

    verdicts: list[PathVerdict] = Field(default_factory=list)


class MergeMapping(BaseModel):
    """The Merging Requirements reply: current node name -> new (merged) name."""

    model_config = ConfigDict(extra="ignore")

    mapping: dict[str, str] = Field(
        default_factory=dict, description="Each current node name mapped to its new name."
    )
