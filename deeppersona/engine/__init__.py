"""The persona engine: an immutable fluent builder that generates, streams, enriches and checkpoints personas."""

from __future__ import annotations

from ._checkpoint import RunReport
from ._engine import PersonaEngine
from ._options import EngineOptions
from ._pipeline import PersonaPipeline
from ._ray import map_personas, written_indices
from ._run import persona_id

__all__ = [
    "EngineOptions",
    "PersonaEngine",
    "PersonaPipeline",
    "RunReport",
    "map_personas",
    "persona_id",
    "written_indices",
]
