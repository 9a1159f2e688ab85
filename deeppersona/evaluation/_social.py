"""Social-simulation evaluation (paper §4.3–4.4): personas and baselines answer a survey; compare with real data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._progress import set_total
from ..errors import DeepPersonaError, EvaluationError
from ._compare import Column, compare_tables
from ._loaders import GroundTruth, country_aliases
from ._personas import PersonaView
from ._reports import SurveyReport
from ._simulate import SimulatedAnswers, asimulate

if TYPE_CHECKING:
    import pandas as pd

    from ..llm import LLM
    from ..prompts import PromptLibrary

__all__ = ["BASELINES", "arun_survey", "shallow_systems"]

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("cultural_prompting", "shallow_persona")
"""Baseline methods run beside the persona set."""


def _sampled_demographics(country: str, n: int, seed: int) -> list[dict[str, Any]]:
    from ..demographics import Cohort, DemographicSampler

    try:
        sampler = DemographicSampler(seed=seed)
        rng = np.random.default_rng(seed)
        cohort = Cohort(country=country)
        return [sampler.draw(rng, cohort).model_dump() for _ in range(n)]
    except DeepPersonaError as exc:  # the baseline is optional: the report says why it could not run
        raise EvaluationError(f"DemographicSampler failed: {type(exc).__name__}: {exc}") from exc


def shallow_systems(
    views: Sequence[PersonaView], prompts: PromptLibrary, *, country: str | None, seed: int
) -> list[str]:
    """Demographics-only system prompts: from each persona's demographics, else from DemographicSampler draws.

    Raises:
        EvaluationError: Neither the personas' demographics nor a sampler for ``country`` are available.
    """
    if all(v.demographics for v in views):
        dems = [v.demographics for v in views]
    elif country is not None:
        try:
            dems = _sampled_demographics(country, len(views), seed)
        except DeepPersonaError as exc:
            raise EvaluationError(f"cannot draw demographics for {country!r}: {exc}") from exc
    else:
        raise EvaluationError("the personas carry no demographics and the ground truth names no country")
    return [prompts.render("eval_shallow_persona", d=d, country=country or "") for d in dems]


def _warn_other_countries(views: Sequence[PersonaView], country: str | None) -> None:
    """Log a warning when personas live in another country than the one the real answers come from."""
    if country is None:
        return
    aliases = country_aliases(country)
    known = [
        v.demographics for v in views if v.demographics.get("country") or v.demographics.get("country_code")
    ]
    elsewhere = [
        d
        for d in known
        if not {str(d.get("country", "")).strip().upper(), str(d.get("country_code", "")).strip().upper()}
        & aliases
    ]
    if elsewhere:
        logger.warning(
            "%d of %d personas live outside %s (e.g. %s), but the real answers are from %s; "
            "generate them with engine.cohort(country=...) for a like-for-like comparison",
            len(elsewhere),
            len(views),
            country,
            elsewhere[0].get("country") or elsewhere[0].get("country_code"),
            country,
        )


async def arun_survey(
    llm: LLM,
    views: Sequence[PersonaView],
    ground_truth: GroundTruth,
    *,
    prompts: PromptLibrary,
    name: str = "personas",
    baselines: bool | Sequence[str] = True,
    country: str | None = None,
    repeats: int = 1,
    seed: int = 0,
    retries: int = 2,
    temperature: float | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    traits: bool = False,
    progress: Any = None,
) -> SurveyReport:
    """Run the persona set and the baselines through the survey and compare each with the ground truth.

    Args:
        llm: The backend that answers.
        views: The personas.
        ground_truth: Real answers (its instrument defines the items).
        prompts: Templates for the baselines.
        name: The persona set's method name in the report.
        baselines: ``True`` for both baselines, ``False`` for none, or names from :data:`BASELINES`.
        country: Country name for the baselines; from the ground truth when ``None``.
        repeats: Answers per respondent and item.
        seed: Base seed of calls and bootstrap.
        retries: Extra attempts per unusable answer before recording it as missing.
        temperature: Sampling temperature.
        n_boot: Bootstrap replicates (0 = no intervals).
        level: Confidence level.
        traits: Compare trait scores (Big Five) instead of items; the item report is attached.
        progress: A progress bar over the answers of every method (its total is set here), or ``None``.

    Returns:
        The :class:`SurveyReport`.
    """
    if not views:
        raise EvaluationError("the persona set is empty; give at least one persona")
    instrument = ground_truth.instrument
    chosen = list(BASELINES) if baselines is True else [] if baselines is False else list(baselines)
    unknown = set(chosen) - set(BASELINES)
    if unknown:
        raise EvaluationError(f"unknown baselines {sorted(unknown)}; choose from {list(BASELINES)}")
    where = country or ground_truth.country_name
    _warn_other_countries(views, ground_truth.country)
    systems: dict[str, list[str]] = {name: [v.text for v in views]}
    skipped: dict[str, str] = {}
    for b in chosen:
        try:
            if b == "cultural_prompting":
                if where is None:
                    raise EvaluationError(
                        "no country: load the ground truth for one country or pass country="
                    )
                systems[b] = [prompts.render("eval_cultural_prompting", country=where)] * len(views)
            else:
                systems[b] = shallow_systems(views, prompts, country=where, seed=seed)
        except EvaluationError as exc:
            logger.warning("baseline %s skipped: %s", b, exc)
            skipped[b] = str(exc)
    if progress is not None:
        set_total(progress, sum(len(s) for s in systems.values()) * repeats * len(instrument))
    answers: dict[str, SimulatedAnswers] = {}
    for m, sys_prompts in systems.items():
        answers[m] = await asimulate(
            llm,
            sys_prompts,
            instrument,
            method=m,
            repeats=repeats,
            seed=seed,
            retries=retries,
            temperature=temperature,
            progress=progress,
        )
    items = [
        Column(it.id, np.asarray(it.codes, dtype=float), (float(it.scale[0]), float(it.scale[1])))
        for it in instrument
    ]
    item_report = _report(
        answers,
        ground_truth,
        items,
        {m: a.responses for m, a in answers.items()},
        ground_truth.responses,
        ground_truth.counts,
        n_boot,
        level,
        seed,
        skipped,
    )
    if not traits:
        return item_report
    if ground_truth.responses is None:
        raise EvaluationError(
            "trait scores need individual real answers; this ground truth holds histograms only"
        )
    trait_cols = []
    for t in instrument.traits:
        lo, hi = instrument.trait_items(t)[0].scale
        trait_cols.append(Column(t, instrument.trait_support(t), (float(lo), float(hi))))
    sim_traits = {m: instrument.trait_scores(a.responses) for m, a in answers.items()}
    real_traits = ground_truth.trait_scores()
    real_counts = {c.id: _counts(real_traits[c.id].to_numpy(dtype=float), c) for c in trait_cols}
    report = _report(
        answers, ground_truth, trait_cols, sim_traits, real_traits, real_counts, n_boot, level, seed, skipped
    )
    report.items_report = item_report
    return report


def _counts(values: np.ndarray, col: Column) -> np.ndarray:
    codes = col.codes(values)
    return np.bincount(codes[codes >= 0], minlength=col.support.size).astype(float)


def _report(
    answers: dict[str, SimulatedAnswers],
    ground_truth: GroundTruth,
    columns: list[Column],
    sim_tables: dict[str, pd.DataFrame],
    real: pd.DataFrame | None,
    real_counts: dict[str, np.ndarray],
    n_boot: int,
    level: float,
    seed: int,
    skipped: dict[str, str],
) -> SurveyReport:
    import pandas as pd

    tables = []
    for k, (m, table) in enumerate(sim_tables.items()):
        rng = np.random.default_rng([seed, k])
        t = compare_tables(
            table, columns, real=real, real_counts=real_counts, n_boot=n_boot, level=level, rng=rng
        )
        t.insert(0, "method", m)
        tables.append(t)
    return SurveyReport(
        instrument=ground_truth.instrument,
        ground_truth=ground_truth,
        answers=answers,
        table=pd.concat(tables, ignore_index=True),
        columns=columns,
        real_counts={c.id: np.asarray(real_counts[c.id], dtype=float) for c in columns},
        level=level,
        skipped=skipped,
        sim_tables=sim_tables,
    )
