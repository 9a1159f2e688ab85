"""Evaluation of persona sets: survey fidelity, Big Five, intrinsic quality, personalization (paper §4).

Public names::

    Evaluator               the facade: survey, big_five, intrinsic, personalization, quality
    surveys                 instruments (WVS7, IPIP50) and ground-truth loaders
    GroundTruth             real answers for one country
    Instrument, SurveyItem  survey definitions as data
    SurveyReport, IntrinsicReport, PersonalizationReport    results (to_pandas, to_markdown, plots)
    QualityReport           judge-free persona quality figures (Evaluator.quality)
    compare_samples, ks_statistic, wasserstein, normalized_wasserstein, js_divergence, js_distance,
    mean_difference, bootstrap_ci, METRICS                 the distribution metrics
    elo_ratings, win_rates  pairwise preference aggregation
    PERSONALIZATION_REQUESTS, QUALITY_METRICS, CREATIVE_METRICS, PAIRWISE_DIMENSIONS
    load_personas           read a persona file (JSONL objects or text lines)
"""

from __future__ import annotations

from . import surveys
from ._bootstrap import bootstrap_ci
from ._coverage import survey_coverage, survey_leaves
from ._elo import elo_ratings, win_rates
from ._evaluator import Evaluator
from ._loaders import GroundTruth
from ._metrics import (
    METRICS,
    compare_samples,
    js_distance,
    js_divergence,
    ks_statistic,
    mean_difference,
    normalized_wasserstein,
    wasserstein,
)
from ._personalization import (
    CREATIVE_METRICS,
    PAIRWISE_DIMENSIONS,
    PERSONALIZATION_REQUESTS,
    QUALITY_METRICS,
    PersonalizationRequest,
)
from ._personas import load_personas
from ._quality import QualityReport
from ._reports import IntrinsicReport, PersonalizationReport, SurveyReport
from ._simulate import SimulatedAnswers
from ._surveys import Instrument, SurveyItem

__all__ = [
    "CREATIVE_METRICS",
    "METRICS",
    "PAIRWISE_DIMENSIONS",
    "PERSONALIZATION_REQUESTS",
    "QUALITY_METRICS",
    "Evaluator",
    "GroundTruth",
    "Instrument",
    "IntrinsicReport",
    "PersonalizationReport",
    "PersonalizationRequest",
    "QualityReport",
    "SimulatedAnswers",
    "SurveyItem",
    "SurveyReport",
    "bootstrap_ci",
    "compare_samples",
    "elo_ratings",
    "js_distance",
    "js_divergence",
    "ks_statistic",
    "load_personas",
    "mean_difference",
    "normalized_wasserstein",
    "survey_coverage",
    "survey_leaves",
    "surveys",
    "wasserstein",
    "win_rates",
]
