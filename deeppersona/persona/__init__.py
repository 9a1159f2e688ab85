"""Personas and populations: the pydantic :class:`Persona`, the list-like :class:`Population`."""

from __future__ import annotations

from ._models import STRATA, AttributeValue, ConsistencyNote, CoreProfile, Persona, Provenance, Stratum
from ._population import Population, PopulationStats, read_jsonl_personas

__all__ = [
    "STRATA",
    "AttributeValue",
    "ConsistencyNote",
    "CoreProfile",
    "Persona",
    "Population",
    "PopulationStats",
    "Provenance",
    "Stratum",
    "read_jsonl_personas",
]
