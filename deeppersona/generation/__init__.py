"""Value generation: the LLM side of a persona (core chain, batched filling, consistency, narrative)."""

from __future__ import annotations

from ._draft import PersonaDraft
from ._generator import CORE_FIELDS, ValueGenerator
from ._schemas import (
    ConsistencyFix,
    ConsistencyReport,
    CoreChain,
    FillItem,
    FillReply,
    SketchFacts,
    coerce_value,
    fill_items,
    fill_reply_type,
)

__all__ = [
    "CORE_FIELDS",
    "ConsistencyFix",
    "ConsistencyReport",
    "CoreChain",
    "FillItem",
    "FillReply",
    "PersonaDraft",
    "SketchFacts",
    "ValueGenerator",
    "coerce_value",
    "fill_items",
    "fill_reply_type",
]
