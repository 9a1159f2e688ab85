"""The persona engine: an immutable fluent builder that generates, streams, enriches and checkpoints personas."""

from __future__ import annotations

from ._anchors import DEMOGRAPHIC_FIELDS, ResolvedAnchors, bind_anchors, validate_anchors
from ._checkpoint import JsonlCheckpoint, RunReport
from ._engine import PersonaEngine, persona_id
from ._options import EngineOptions
from ._pipeline import PersonaPipeline
from ._ray import map_personas, written_indices

__all__ = [
    "DEMOGRAPHIC_FIELDS",
    "EngineOptions",
    "JsonlCheckpoint",
    "PersonaEngine",
    "PersonaPipeline",
    "ResolvedAnchors",
    "RunReport",
    "bind_anchors",
    "map_personas",
    "persona_id",
    "validate_anchors",
    "written_indices",
]
