"""Core demographics drawn from real population tables.

``DemographicSampler`` draws country (by population), city (by GeoNames population), age (UN World
Population Prospects 2022), gender (configurable shares), occupation (life-stage rules and employment
weights) and an optional name; ``Cohort`` constrains the draws; ``Demographics`` is one drawn person.
The tables ship as compact package data (see ``deeppersona/data/demographics/PROVENANCE.md``).
"""

from __future__ import annotations

from ._models import LIFE_STAGES, Cohort, Demographics, LifeStageRules
from ._occupations import OccupationTable
from ._sampler import DemographicSampler, normalize_gender
from ._tables import DemographicTables

__all__ = [
    "LIFE_STAGES",
    "Cohort",
    "DemographicSampler",
    "DemographicTables",
    "Demographics",
    "LifeStageRules",
    "OccupationTable",
    "normalize_gender",
]
