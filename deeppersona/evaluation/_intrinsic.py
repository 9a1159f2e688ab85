"""Intrinsic persona quality (paper §4.1) plus judge-free diversity measures.

LLM-judge metrics (as in the paper, same judge and prompts for every set):

* ``judge_attributes``: the judge extracts the explicit attributes into nested JSON; the leaves are counted.
* ``uniqueness``: 1 (very generic) to 5 (highly unique).
* ``actionability``: 1 (hardly helpful) to 5 (fully helpful) for concrete recommendations.

Judge-free metrics:

* ``attributes``: attribute values per persona (deeppersona personas; NaN for plain texts); ``words``.
* ``distinct_1`` … ``distinct_3``: corpus-level distinct-n, unique word n-grams / all word n-grams, over
  the set's persona **profiles**: the same text for every set, the one the judge reads and the embedder
  encodes (a deeppersona ``Persona``'s Figure 7 JSON, whose field names count as words; for any other
  persona its text). Words are lower-cased runs of letters, digits and apostrophes; n-grams do not cross
  personas.
* ``mean_pairwise_similarity`` and ``mean_nn_similarity``: mean cosine similarity of all persona pairs and
  of each persona to its nearest neighbour (lower = more diverse).
* ``taxonomy_coverage`` / ``category_coverage``: share of the taxonomy's leaves / first-level categories that
  the set's attribute paths reach.
* Demographic marginals against the population tables (when personas carry demographics and
  :mod:`deeppersona.demographics` is available): total-variation distance per field (``tv_gender``, …).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._progress import set_total
from ..errors import DeepPersonaError, EvaluationError, LLMOutputError, LLMTransientError
from ._personas import PersonaView
from ._reports import IntrinsicReport
from ._simulate import call_seed

if TYPE_CHECKING:
    import pandas as pd

    from ..embeddings import Embedder
    from ..llm import LLM
    from ..prompts import PromptLibrary

__all__ = [
    "AttributeExtraction",
    "JudgeScore",
    "arun_intrinsic",
    "count_leaves",
    "distinct_n",
    "embedding_similarity",
]

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[\w']+")
_AGE_BANDS = ((0, 17, "<18"), (18, 29, "18-29"), (30, 44, "30-44"), (45, 64, "45-64"), (65, 200, "65+"))


class AttributeExtraction(BaseModel):
    """The judge's extraction: attributes grouped by category, leaves are stated values."""

    model_config = ConfigDict(extra="ignore")

    attributes: dict[str, Any] = Field(description="nested JSON: category -> attribute -> stated value")


class JudgeScore(BaseModel):
    """A 1–5 judge score with its rationale."""

    model_config = ConfigDict(extra="ignore")

    rationale: str = ""
    score: int = Field(ge=1, le=5)


# The judge calls per persona, in the order their results are read: (template, output model, seed tag).
_JUDGE_CALLS: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("eval_attribute_extraction", AttributeExtraction, "extract"),
    ("eval_uniqueness", JudgeScore, "unique"),
    ("eval_actionability", JudgeScore, "action"),
)


def count_leaves(value: Any) -> int:
    """Number of leaf values in nested JSON (empty containers and empty strings count 0)."""
    if isinstance(value, Mapping):
        return sum(count_leaves(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(count_leaves(v) for v in value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return 1


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Corpus-level distinct-n: unique word n-grams divided by all word n-grams (NaN when there are none).

    Words are lower-cased runs of letters, digits and apostrophes; n-grams are taken within each text,
    never across two texts.
    """
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        toks = _TOKEN.findall(text.lower())
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else float("nan")


def embedding_similarity(vectors: np.ndarray) -> tuple[float, float]:
    """Mean pairwise cosine similarity and mean nearest-neighbour similarity of row vectors.

    Returns:
        ``(mean_pairwise, mean_nearest_neighbour)``; NaN for fewer than two vectors.
    """
    v = np.asarray(vectors, dtype=np.float64)
    n = v.shape[0]
    if n < 2:
        return float("nan"), float("nan")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms == 0, 1.0, norms)
    sim = v @ v.T
    off = ~np.eye(n, dtype=bool)
    pairwise = float(sim[off].mean())
    np.fill_diagonal(sim, -np.inf)
    return pairwise, float(sim.max(axis=1).mean())


def _coverage(views: Sequence[PersonaView], taxonomy: Any) -> tuple[float, float]:
    """Share of the tree's leaves (outside the core attributes) and of its root categories reached."""
    from ..taxonomy import canonical_key

    leaves = {leaf.key for leaf in taxonomy.leaves() if not any(n.core for n in leaf.node_path)}
    roots = {canonical_key(r.name) for r in taxonomy.roots}
    hit_leaves: set[str] = set()
    hit_roots: set[str] = set()
    for v in views:
        paths = v.paths if v.paths is not None else list(v.attributes or {})
        for path in paths:
            node = taxonomy.find(path)
            if node is None:
                continue
            hit_roots.add(canonical_key(node.path[0]))
            if node.key in leaves:
                hit_leaves.add(node.key)
    return (
        len(hit_leaves) / len(leaves) if leaves else float("nan"),
        len(hit_roots & roots) / len(roots) if roots else float("nan"),
    )


def _band(age: Any) -> str | None:
    try:
        a = int(age)
    except (TypeError, ValueError):
        return None
    return next(label for lo, hi, label in _AGE_BANDS if lo <= a <= hi)


def demographic_marginals(
    views: Sequence[PersonaView], name: str, *, n_reference: int, seed: int
) -> pd.DataFrame:
    """Observed shares of gender, age band and occupation group against a DemographicSampler reference.

    Raises:
        EvaluationError: No demographics, or no reference sample can be drawn for their country.
    """
    import pandas as pd

    dems = [v.demographics for v in views if v.demographics]
    if not dems:
        raise EvaluationError("the personas carry no demographics")
    from ..demographics import DemographicSampler

    countries = {str(d.get("country")) for d in dems if d.get("country")}
    cohort: dict[str, Any] = {"country": countries.pop()} if len(countries) == 1 else {}
    try:
        ref = DemographicSampler(seed=seed).sample(n_reference, seed=seed, **cohort)
    except DeepPersonaError as exc:  # an optional metric: the report says why it is missing
        raise EvaluationError(f"cannot sample the reference population: {type(exc).__name__}: {exc}") from exc
    obs = pd.DataFrame(dems)
    rows = []
    for field in ("gender", "age_band", "occupation_group", "country"):
        if field == "age_band":
            o = obs["age"].map(_band) if "age" in obs else None
            e = ref["age"].map(_band) if "age" in ref else None
        else:
            o = obs.get(field)
            e = ref.get(field)
        if o is None or e is None or (field == "country" and cohort):
            continue
        po = o.dropna().astype(str).value_counts(normalize=True)
        pe = e.dropna().astype(str).value_counts(normalize=True)
        for cat in sorted(set(po.index) | set(pe.index)):
            rows.append(
                {
                    "set": name,
                    "field": field,
                    "category": cat,
                    "observed": float(po.get(cat, 0.0)),
                    "expected": float(pe.get(cat, 0.0)),
                }
            )
    return pd.DataFrame(rows)


async def _judge(
    llm: LLM,
    prompts: PromptLibrary,
    template: str,
    model: type[BaseModel],
    text: str,
    seed: int,
    progress: Any = None,
) -> Any:
    try:
        resp = await llm.acomplete(
            [{"role": "user", "content": prompts.render(template, persona=text)}],
            model,
            call_site=f"intrinsic.{template.removeprefix('eval_')}",
            temperature=0.0,
            seed=seed,
        )
    except (LLMOutputError, LLMTransientError) as exc:
        logger.warning("%s judge call failed: %s", template, exc)
        return None
    finally:
        if progress is not None:
            progress.update(1)
    return resp.output


async def arun_intrinsic(
    sets: Mapping[str, Sequence[PersonaView]],
    *,
    prompts: PromptLibrary,
    judge: LLM | None,
    embedder: Embedder | None,
    taxonomy: Any = None,
    demographics: bool = True,
    n_reference: int = 2000,
    seed: int = 0,
    progress: Any = None,
) -> IntrinsicReport:
    """Compute the intrinsic metrics of each persona set (see the module docstring).

    Args:
        sets: Set name → personas.
        prompts: The judge templates.
        judge: The LLM judge; ``None`` skips the judge metrics.
        embedder: For the similarity metrics; ``None`` skips them.
        taxonomy: An ``AttributeTree`` for coverage; ``None`` skips coverage.
        demographics: Compare demographic marginals with the population tables when possible.
        n_reference: Size of the reference demographic sample.
        seed: Base seed.
        progress: A progress bar over the judge calls (its total is set here), or ``None``.

    Returns:
        The :class:`IntrinsicReport`.
    """
    import pandas as pd

    if not sets:
        raise EvaluationError("no persona sets given")
    notes: dict[str, str] = {}
    if progress is not None and judge is not None:
        set_total(progress, len(_JUDGE_CALLS) * sum(len(views) for views in sets.values()))
    per_persona_rows: list[dict[str, Any]] = []
    per_set_rows: dict[str, dict[str, float]] = {}
    marginals = []
    for name, views in sets.items():
        if not views:
            raise EvaluationError(f"persona set {name!r} is empty")
        rows = [
            {
                "set": name,
                "persona": i,
                "words": float(len(_TOKEN.findall(v.profile))),
                "attributes": float(len(v.attributes)) if v.attributes is not None else float("nan"),
            }
            for i, v in enumerate(views)
        ]
        if judge is not None:
            jobs = [
                _judge(judge, prompts, template, model, v.profile, call_seed(seed, tag, name, i), progress)
                for i, v in enumerate(views)
                for template, model, tag in _JUDGE_CALLS
            ]
            results = await asyncio.gather(*jobs)
            for i, row in enumerate(rows):
                ext, uni, act = results[3 * i : 3 * i + 3]
                row["judge_attributes"] = (
                    float(count_leaves(ext.attributes)) if ext is not None else float("nan")
                )
                row["uniqueness"] = float(uni.score) if uni is not None else float("nan")
                row["actionability"] = float(act.score) if act is not None else float("nan")
        per_persona_rows.extend(rows)
        summary: dict[str, float] = {}
        # Like for like: every set's distinct-n reads the profiles, whatever else a persona carries.
        texts = [v.profile for v in views]
        for n in (1, 2, 3):
            summary[f"distinct_{n}"] = distinct_n(texts, n)
        if embedder is not None:
            vecs = embedder.encode([v.profile for v in views])
            summary["mean_pairwise_similarity"], summary["mean_nn_similarity"] = embedding_similarity(vecs)
        if taxonomy is not None and any(v.attributes for v in views):
            summary["taxonomy_coverage"], summary["category_coverage"] = _coverage(views, taxonomy)
        if demographics and any(v.demographics for v in views):
            try:
                marg = demographic_marginals(views, name, n_reference=n_reference, seed=seed)
                marginals.append(marg)
                for field, sub in marg.groupby("field"):
                    summary[f"tv_{field}"] = float(0.5 * np.abs(sub["observed"] - sub["expected"]).sum())
            except EvaluationError as exc:
                notes["demographic marginals"] = str(exc)
        per_set_rows[name] = summary
    if judge is None:
        notes["judge metrics"] = "no judge model"
    if embedder is None:
        notes["embedding similarity"] = "no embedder"
    per_persona = pd.DataFrame(per_persona_rows)
    metric_cols = [c for c in per_persona.columns if c not in ("set", "persona")]
    means = per_persona.groupby("set", sort=False)[metric_cols].mean()
    extra = pd.DataFrame.from_dict(per_set_rows, orient="index")
    per_set = means.join(extra) if len(extra.columns) else means
    per_set.index.name = "set"
    return IntrinsicReport(
        per_persona, per_set, pd.concat(marginals, ignore_index=True) if marginals else None, notes
    )
