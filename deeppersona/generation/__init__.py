"""Value generation: the LLM side of a persona (core chain, batched filling, consistency, narrative)."""

from __future__ import annotations

from ._draft import PersonaDraft
from ._generator import CORE_FIELDS, ValueGenerator
from ._schemas import ConsistencyFix, ConsistencyReport, CoreChain, FillReply, SketchFacts

__all__ = [
    "CORE_FIELDS",
    "ConsistencyFix",
    "ConsistencyReport",
    "CoreChain",
    "FillReply",
    "PersonaDraft",
    "SketchFacts",
    "ValueGenerator",
]
