"""The :class:`Evaluator` facade: survey fidelity, Big Five, intrinsic quality and personalization."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._async import run_sync
from .._progress import make_bar
from ..errors import ConfigError, EvaluationError
from ..llm._resolve import preflight
from ._intrinsic import arun_intrinsic
from ._loaders import GroundTruth, country_aliases
from ._personalization import PersonalizationRequest, arun_personalization
from ._personas import PersonaView, persona_views
from ._reports import IntrinsicReport, PersonalizationReport, SurveyReport
from ._social import arun_survey
from ._surveys import packaged_instrument

if TYPE_CHECKING:
    from ..embeddings import Embedder
    from ..llm import LLM
    from ..prompts import PromptLibrary
    from ..taxonomy import AttributeTree
    from ._quality import QualityReport

__all__ = ["Evaluator"]

logger = logging.getLogger(__name__)


def _check_llm_options(model: Any, judge: Any, options: Mapping[str, Any]) -> None:
    """Refuse backend options that no backend would get, or whose names no backend knows."""
    if not options:
        return
    from ..llm import LLM
    from ..llm._options import check_backend_options
    from ..llm._resolve import DEFAULT_LOCAL_MODEL

    names = [model] if not isinstance(model, LLM) else []  # None: the embedded default is built
    if judge is not None and not isinstance(judge, LLM):
        names.append(judge)
    if not names:
        raise ConfigError(
            f"backend options ({', '.join(sorted(options))}) apply to backends built from model names; "
            "model and judge are LLM instances: configure them directly"
        )
    for name in names:
        check_backend_options(name if isinstance(name, str) else DEFAULT_LOCAL_MODEL, options)


def _resolve(model: Any, options: Mapping[str, Any]) -> LLM:
    """``model`` as a backend; ``options`` go to a backend built from a name (an instance is used as is)."""
    from ..llm import LLM, resolve_llm

    return model if isinstance(model, LLM) else resolve_llm(model, **options)


class Evaluator:
    """Evaluate persona sets the way the DeepPersona paper does (§4), correctly and reproducibly.

    The constructor only stores its arguments; models load on first use.

    Args:
        model: The LLM that answers surveys and writes responses: an :class:`~deeppersona.llm.LLM`, a
            LiteLLM model name, or ``None`` for the embedded local model.
        embedder: For intrinsic similarity metrics: an :class:`~deeppersona.embeddings.Embedder`, a callable,
            a model name, or ``None`` for the default sentence-transformers model.
        judge: The LLM judge (intrinsic metrics, response quality, pairwise preferences); ``model`` when
            ``None``.
        seed: Seed of every call, the bootstrap, sampling and Elo orders.
        repeats: Answers per persona and survey item (each a separate sample).
        temperature: Sampling temperature of survey answers and responses (backend default when ``None``).
        retries: Extra attempts for an unusable survey answer before it is recorded as missing.
        n_boot: Bootstrap replicates for confidence intervals (0 = none).
        level: Confidence level of the intervals.
        prompts: A :class:`~deeppersona.prompts.PromptLibrary`, or overrides for it (a directory or a
            name → template mapping).
        scale_mismatch: Survey items whose real data use another scale than the prompt (the paper's Q57):
            ``"exclude"`` reports them with a warning but leaves them out of the average; ``"recode"``
            maps their answers onto the real scale with the item's documented mapping and averages them.
        progress: Show a progress bar while the LLM works (surveys: over the answers of every method;
            intrinsic: over the judge calls; personalization: over the responses and judgements).
            ``None`` (the default) shows it on a terminal and in a Jupyter notebook (a widget, or a
            text bar without ipywidgets), ``True`` always, ``False`` never.
        **llm_options: Options of the backends built from ``model`` and ``judge`` when they are model names
            (or ``None``), the same names as :meth:`PersonaEngine.from_taxonomy
            <deeppersona.engine.PersonaEngine.from_taxonomy>` takes: ``api_base``, ``api_key``,
            ``max_concurrency``, ``requests_per_minute``, ``tokens_per_minute``, ``cache``, ``timeout``,
            ``drop_params`` and any other LiteLLM request parameter. Names are checked here, before any call.

    Raises:
        ConfigError: A setting is out of range, or an ``llm_options`` name is unknown, or options are given
            while ``model`` and ``judge`` are both :class:`~deeppersona.llm.LLM` instances.

    Example:
        >>> from deeppersona.testing import FakeLLM
        >>> from deeppersona.evaluation import Evaluator, surveys
        >>> truth = surveys.WVS7.from_histograms({"Q46": {1: 40, 2: 45, 3: 10, 4: 5}}, country="KEN")
        >>> report = Evaluator(FakeLLM(), n_boot=0).survey(["A nurse in Nairobi."] * 5, truth, baselines=False)
        >>> list(report.averages().index)
        ['personas']
    """

    def __init__(
        self,
        model: str | LLM | None = None,
        embedder: Embedder | Any = None,
        *,
        judge: str | LLM | None = None,
        seed: int | np.random.Generator | None = 0,
        repeats: int = 1,
        temperature: float | None = None,
        retries: int = 2,
        n_boot: int = 1000,
        level: float = 0.95,
        prompts: PromptLibrary | Mapping[str, str] | str | Path | None = None,
        scale_mismatch: Literal["exclude", "recode"] = "exclude",
        progress: bool | None = None,
        **llm_options: Any,
    ) -> None:
        if "concurrency" in llm_options:
            raise ConfigError(
                "concurrency is the backend's setting: Evaluator(model, max_concurrency=N), or an LLM "
                "built with max_concurrency=N"
            )
        if repeats < 1 or retries < 0 or n_boot < 0:
            raise ConfigError("repeats must be >= 1; retries and n_boot >= 0")
        if scale_mismatch not in ("exclude", "recode"):
            raise ConfigError(f"scale_mismatch must be 'exclude' or 'recode', got {scale_mismatch!r}")
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), got {level}")
        _check_llm_options(model, judge, llm_options)
        self.model = model
        self.embedder = embedder
        self.judge = judge
        self.seed = seed
        self.repeats = repeats
        self.temperature = temperature
        self.retries = retries
        self.n_boot = n_boot
        self.level = level
        self.prompts = prompts
        self.scale_mismatch = scale_mismatch
        self.progress = progress
        self.llm_options = dict(llm_options)
        self._llm: LLM | None = None
        self._judge: LLM | None = None
        self._embedder: Embedder | None = None
        self._prompts: PromptLibrary | None = None

    # --- lazily built resources -------------------------------------------------------------------
    @property
    def llm(self) -> LLM:
        """The answering backend (resolved on first use)."""
        if self._llm is None:
            self._llm = _resolve(self.model, self.llm_options)
        return self._llm

    @property
    def judge_llm(self) -> LLM:
        """The judge backend (the answering backend unless ``judge`` was given)."""
        if self.judge is None:
            return self.llm
        if self._judge is None:
            self._judge = _resolve(self.judge, self.llm_options)
        return self._judge

    def _embedder_or_none(self) -> Embedder | None:
        if self.embedder is False:
            return None
        if self._embedder is None:
            from ..embeddings import resolve_embedder

            self._embedder = resolve_embedder(self.embedder)
        return self._embedder

    def _library(self) -> PromptLibrary:
        if self._prompts is None:
            from ..prompts import PromptLibrary

            p = self.prompts
            self._prompts = p if isinstance(p, PromptLibrary) else PromptLibrary(p)
        return self._prompts

    def _seed(self) -> int:
        if isinstance(self.seed, (int, np.integer)) and not isinstance(self.seed, bool):
            return int(self.seed)
        return int(np.random.default_rng(self.seed).integers(0, 2**31 - 1))

    @staticmethod
    def _truth(ground_truth: GroundTruth | str | Path, instrument: str, country: str | None) -> GroundTruth:
        if isinstance(ground_truth, GroundTruth):
            if (
                country is not None
                and ground_truth.country is not None
                and not country_aliases(country) & country_aliases(ground_truth.country)
            ):
                raise EvaluationError(
                    f"country {country!r} does not match the ground truth, which holds answers from "
                    f"{ground_truth.country!r}; load the ground truth for {country!r} or drop country="
                )
            return ground_truth
        if isinstance(ground_truth, (str, Path)):
            if country is None:
                raise EvaluationError(
                    f"ground truth {str(ground_truth)!r} is a data file: pass country= (ISO-2, ISO-3 or "
                    "name) to compare with one country's answers, or load a GroundTruth yourself "
                    "(e.g. surveys.WVS7.load(path)) to pool every country"
                )
            return packaged_instrument(instrument).load(ground_truth, country=country)
        raise EvaluationError(
            f"ground_truth must be a GroundTruth or a path to the official data file, got {type(ground_truth).__name__}"
        )

    # --- social simulation --------------------------------------------------------------------------
    async def _arun_survey(
        self,
        instrument: str,
        personas: Sequence[Any] | Any,
        ground_truth: GroundTruth | str | Path,
        baselines: bool | Sequence[str],
        name: str,
        country: str | None,
    ) -> SurveyReport:
        """The flow shared by :meth:`survey` (``"wvs7"``) and :meth:`big_five` (``"ipip50"``)."""
        truth = self._truth(ground_truth, instrument, country)
        if self.scale_mismatch == "recode":
            truth = truth.recoded()
        by_trait = instrument == "ipip50"
        if by_trait and not truth.instrument.traits:
            raise EvaluationError(
                f"instrument {truth.instrument.name!r} has no traits; load it with surveys.IPIP50"
            )
        views = persona_views(personas, name=name)
        await preflight(self.llm)  # a missing key or an unreachable server: said now, never retried
        bar = make_bar(None, "big five" if by_trait else "survey", unit="answer", setting=self.progress)
        try:
            return await arun_survey(
                self.llm,
                views,
                truth,
                prompts=self._library(),
                name=name,
                baselines=baselines,
                country=country,
                repeats=self.repeats,
                seed=self._seed(),
                retries=self.retries,
                temperature=self.temperature,
                n_boot=self.n_boot,
                level=self.level,
                traits=by_trait and truth.responses is not None,
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()

    async def asurvey(
        self,
        personas: Sequence[Any] | Any,
        ground_truth: GroundTruth | str | Path,
        baselines: bool | Sequence[str] = True,
        *,
        name: str = "personas",
        country: str | None = None,
    ) -> SurveyReport:
        """Async :meth:`survey`."""
        return await self._arun_survey("wvs7", personas, ground_truth, baselines, name, country)

    def survey(
        self,
        personas: Sequence[Any] | Any,
        ground_truth: GroundTruth | str | Path,
        baselines: bool | Sequence[str] = True,
        *,
        name: str = "personas",
        country: str | None = None,
    ) -> SurveyReport:
        """Social simulation (paper §4.3): personas answer a survey; compare with real answers.

        Each persona answers every item with its ``to_prompt()`` as the system prompt; the baselines
        (Cultural Prompting and a demographics-only shallow persona) answer as many times. Every method's
        full answer distribution is compared with the full real one per item and on average, with
        bootstrap intervals.

        Args:
            personas: Persona objects, persona texts or dicts (or a Population, or a JSONL path).
            ground_truth: A :class:`GroundTruth` (any instrument), or the path of a WVS-7 CSV (then
                ``country`` is required).
            baselines: ``True`` for both baselines, ``False`` for none, or a list of baseline names.
            name: The persona set's name in the report.
            country: Country (ISO code or name) for the baselines and for loading a path.

        Returns:
            A :class:`SurveyReport`.

        Raises:
            EvaluationError: Empty persona set, a country without rows in the data file, a data-file
                path without ``country``, or a ``country`` that differs from the ground truth's.
        """
        return run_sync(self._arun_survey("wvs7", personas, ground_truth, baselines, name, country))

    async def abig_five(
        self,
        personas: Sequence[Any] | Any,
        ground_truth: GroundTruth | str | Path,
        baselines: bool | Sequence[str] = True,
        *,
        name: str = "personas",
        country: str | None = None,
    ) -> SurveyReport:
        """Async :meth:`big_five`."""
        return await self._arun_survey("ipip50", personas, ground_truth, baselines, name, country)

    def big_five(
        self,
        personas: Sequence[Any] | Any,
        ground_truth: GroundTruth | str | Path,
        baselines: bool | Sequence[str] = True,
        *,
        name: str = "personas",
        country: str | None = None,
    ) -> SurveyReport:
        """Big Five test (paper §4.4): the 50 IPIP items, compared per trait score (and per item).

        Args:
            personas: As for :meth:`survey`.
            ground_truth: A :class:`GroundTruth` of :data:`surveys.IPIP50`, or the path of the IPIP-FFM
                ``data-final.csv`` (then ``country`` is required).
            baselines: As for :meth:`survey`.
            name: The persona set's name.
            country: Country (ISO-2, ISO-3 or name).

        Returns:
            A trait-level :class:`SurveyReport` whose ``items_report`` holds the per-item comparison
            (item level only when the ground truth is histograms).
        """
        return run_sync(self._arun_survey("ipip50", personas, ground_truth, baselines, name, country))

    # --- intrinsic ----------------------------------------------------------------------------------
    async def aintrinsic(
        self,
        personas: Mapping[str, Any] | Sequence[Any],
        *,
        judge: bool = True,
        similarity: bool = True,
        taxonomy: Any = None,
        demographics: bool = True,
    ) -> IntrinsicReport:
        """Async :meth:`intrinsic`."""
        sets = _as_sets(personas)
        tree = taxonomy
        if isinstance(taxonomy, str) and taxonomy == "default":
            from ..taxonomy import AttributeTree

            tree = AttributeTree.default()
        if judge:
            await preflight(self.judge_llm)
        bar = make_bar(None, "intrinsic (judge)", unit="call", setting=self.progress) if judge else None
        try:
            return await arun_intrinsic(
                sets,
                prompts=self._library(),
                judge=self.judge_llm if judge else None,
                embedder=self._embedder_or_none() if similarity else None,
                taxonomy=tree,
                demographics=demographics,
                seed=self._seed(),
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()

    def intrinsic(
        self,
        personas: Mapping[str, Any] | Sequence[Any],
        *,
        judge: bool = True,
        similarity: bool = True,
        taxonomy: Any = None,
        demographics: bool = True,
    ) -> IntrinsicReport:
        """Intrinsic quality (paper §4.1) of one set or of several named sets.

        Args:
            personas: A persona set, or ``{"name": personas, ...}``.
            judge: Run the LLM-judge metrics (attribute count, uniqueness, actionability).
            similarity: Compute embedding similarities (loads the embedder).
            taxonomy: An ``AttributeTree`` (or ``"default"``) for taxonomy coverage; skipped when ``None``.
            demographics: Compare demographic marginals with the population tables when possible.

        Returns:
            An :class:`IntrinsicReport`.
        """
        return run_sync(
            self.aintrinsic(
                personas, judge=judge, similarity=similarity, taxonomy=taxonomy, demographics=demographics
            )
        )

    # --- personalization ----------------------------------------------------------------------------
    async def apersonalization(
        self,
        sets: Mapping[str, Any],
        *,
        requests: Sequence[PersonalizationRequest | str] | None = None,
        max_personas: int | None = None,
        pairwise: bool = True,
        dimensions: Sequence[str] | None = None,
    ) -> PersonalizationReport:
        """Async :meth:`personalization`."""
        chosen = _as_sets(sets)
        await preflight(self.llm)
        await preflight(self.judge_llm)
        bar = make_bar(None, "personalization", unit="call", setting=self.progress)
        try:
            return await arun_personalization(
                self.llm,
                self.judge_llm,
                chosen,
                prompts=self._library(),
                requests=requests,
                max_personas=max_personas,
                pairwise=pairwise,
                dimensions=dimensions,
                seed=self._seed(),
                temperature=self.temperature,
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()

    def personalization(
        self,
        sets: Mapping[str, Any],
        *,
        requests: Sequence[PersonalizationRequest | str] | None = None,
        max_personas: int | None = None,
        pairwise: bool = True,
        dimensions: Sequence[str] | None = None,
    ) -> PersonalizationReport:
        """LLM personalization (paper §4.2): responses per persona and request, judged on ten metrics.

        Args:
            sets: ``{"name": personas, ...}``; two or more sets enable pairwise judging.
            requests: The requests; the paper's twelve (``PERSONALIZATION_REQUESTS``) when ``None``.
            max_personas: Use at most this many personas per set (seeded sample).
            pairwise: Judge the sets' responses to the same request against each other (win rates, Elo).
            dimensions: Pairwise dimensions; the four of the paper's Table 5 by default.

        Returns:
            A :class:`PersonalizationReport`.
        """
        return run_sync(
            self.apersonalization(
                sets, requests=requests, max_personas=max_personas, pairwise=pairwise, dimensions=dimensions
            )
        )

    def __repr__(self) -> str:
        model = self.model if isinstance(self.model, (str, type(None))) else repr(self.model)
        return f"Evaluator(model={model!r}, seed={self.seed!r}, repeats={self.repeats})"

    # --- judge-free persona quality -----------------------------------------------------------------
    def quality(
        self,
        population: Any,
        *,
        sketches: Sequence[str | None] | Mapping[str, str] | None = None,
        tree: AttributeTree | str | Path | None = "default",
        story_words: tuple[int, int] = (60, 120),
        story_count: tuple[int, int] = (1, 3),
        interest_count: tuple[int, int] = (2, 3),
    ) -> QualityReport:
        """Judge-free quality of generated personas: depth, specificity, variety and coherence of values.

        No model is used (an ``Evaluator()`` without arguments will do): every figure is computed from the
        personas themselves with documented rules (``FIGURES``, ``CORE_PARTS`` and ``CONTRADICTION_RULES``
        in ``deeppersona.evaluation._quality``, and "Persona quality" in the evaluation guide): trivial,
        one-word, empty, placeholder, junk, repeated, name-echoing and sketch-copying values, cross-persona
        variety, core-chain completeness, anchor retention, sketch facts kept, rule-based contradictions
        and narrative coverage.

        Args:
            population: A :class:`~deeppersona.persona.Population` (its incomplete personas included), a
                :class:`~deeppersona.persona.Persona`, a sequence of personas or serialised personas, or the
                path of a JSONL file of personas. Failed personas are left out and counted.
            sketches: The sketch each persona was enriched from when it is not its ``bio``: a mapping
                persona id → sketch, or a sequence aligned with the personas as given (for a Population:
                its personas, then its ``failures``).
            tree: The taxonomy the attributes come from (each node's value type tells free text from
                categorical, numeric and list values): an ``AttributeTree``, ``"default"``, a taxonomy file,
                or ``None`` to treat every string value as free text.
            story_words: The requested ``(low, high)`` life-story length in words; a story passes with at
                least ``0.75 * low`` words.
            story_count: The requested number of life stories, ``(low, high)``.
            interest_count: The requested number of interests, ``(low, high)``.

        Returns:
            A ``QualityReport`` (``summary``, ``to_pandas(per=...)``, ``to_markdown()``, ``plot()``).

        Raises:
            EvaluationError: No persona to assess, or an object that is not a deeppersona persona.
            ConfigError: A bad bound or ``tree``.
        """
        from ._quality import assess_quality

        return assess_quality(
            population,
            sketches=sketches,
            tree=tree,
            story_words=story_words,
            story_count=story_count,
            interest_count=interest_count,
        )


def _as_sets(personas: Mapping[str, Any] | Sequence[Any]) -> dict[str, list[PersonaView]]:
    if isinstance(personas, Mapping) and not _looks_like_persona(personas):
        if not personas:
            raise EvaluationError("no persona sets given")
        return {str(k): persona_views(v, name=str(k)) for k, v in personas.items()}
    return {"personas": persona_views(personas)}


def _looks_like_persona(d: Mapping[str, Any]) -> bool:
    return any(k in d for k in ("narrative", "attributes", "persona", "profile", "text", "demographics"))
