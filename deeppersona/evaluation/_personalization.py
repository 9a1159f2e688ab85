"""LLM-personalization evaluation (paper §4.2, Appendix A.3 and A.6).

For every persona and request, a Personalization-Responder writes a response with the persona as the user
profile; the Response-Quality Evaluator scores it on ten metrics (five for the creative-writing requests 11
and 12). Optionally, responses of two persona sets to the same request are compared pairwise, giving win
rates and Elo ratings per dimension (Table 5).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from .._progress import set_total
from ..errors import EvaluationError, LLMOutputError, LLMTransientError
from ._elo import elo_ratings, win_rates
from ._personas import PersonaView
from ._reports import PersonalizationReport
from ._simulate import call_seed

if TYPE_CHECKING:
    from ..llm import LLM
    from ..prompts import PromptLibrary

__all__ = [
    "CREATIVE_METRICS",
    "PAIRWISE_DIMENSIONS",
    "PERSONALIZATION_REQUESTS",
    "QUALITY_METRICS",
    "PersonalizationRequest",
    "arun_personalization",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonalizationRequest:
    """One user request of the personalization benchmark.

    Attributes:
        text: The request.
        creative: Whether it is creative writing (scored with the five-metric rubric).
    """

    text: str
    creative: bool = False


PERSONALIZATION_REQUESTS: tuple[PersonalizationRequest, ...] = (
    PersonalizationRequest(
        "Help me create a strategic plan to achieve my long-term career goal, including a realistic timeline."
    ),
    PersonalizationRequest("Build a weekly schedule that balances my work demands and personal priorities."),
    PersonalizationRequest(
        "Suggest habits I can build in the next month to feel more focused and energized."
    ),
    PersonalizationRequest("Suggest a realistic fitness plan that fits my lifestyle."),
    PersonalizationRequest("What tactics can I use to prevent burnout over the next quarter."),
    PersonalizationRequest(
        "Suggest some unique and interesting conversation starters to chat with my friends or family."
    ),
    PersonalizationRequest("Plan a two-week vacation that maximizes relaxation but stays under $5k."),
    PersonalizationRequest("Suggest some quick activities that help me relax and recharge."),
    PersonalizationRequest("Create a monthly budget based on my income, savings goals, and lifestyle"),
    PersonalizationRequest("Outline steps to reach my target net-worth number by age 50."),
    PersonalizationRequest(
        "Craft a story for a Twitter or Threads post that showcases something I'm passionate about.",
        creative=True,
    ),
    PersonalizationRequest(
        "Help me write a short TikTok script reflecting on a meaningful personal experience.", creative=True
    ),
)
"""The paper's twelve personalized requests (Appendix A.6); 11 and 12 are creative writing."""

QUALITY_METRICS: dict[str, str] = {
    "personalization_fit": "PF",
    "attribute_coverage": "AC",
    "depth_specificity": "DS",
    "justification": "JU",
    "actionability": "ACT",
    "effort_reduction": "ER",
    "novelty_with_relevance": "NR",
    "diversity_of_suggestions": "DV",
    "goal_progress_alignment": "GP",
    "engagement_motivation_potential": "EM",
}
"""The Response-Quality Evaluator's ten metrics (key → the paper's abbreviation), in rubric order."""

CREATIVE_METRICS: tuple[str, ...] = (
    "personalization_fit",
    "attribute_coverage",
    "depth_specificity",
    "novelty_with_relevance",
    "engagement_motivation_potential",
)
"""The five metrics of the creative-writing rubric."""

PAIRWISE_DIMENSIONS: dict[str, tuple[str, str]] = {
    "personalization_fit": (
        "Personalization-Fit",
        "Is the response clearly tailored to its user rather than generic; does it feel made-for-me?",
    ),
    "attribute_coverage": (
        "Attribute Coverage",
        "How many distinct, relevant attributes of its user's profile does the response use correctly?",
    ),
    "diversity_of_suggestions": (
        "Diversity of Suggestions",
        "Does it present multiple viable paths, strategies or option types rather than a single point solution?",
    ),
    "goal_progress_alignment": (
        "Goal-Progress Alignment",
        "Is the advice explicitly tied to its user's longer-term goals, showing how each step advances them?",
    ),
}
"""Dimensions of the pairwise judgement (the four of the paper's Table 5): key → (name, definition)."""


def _scores_model(keys: Sequence[str], name: str) -> type[Any]:  # dynamic fields: read as Any
    score_fields: dict[str, Any] = {k: (int, Field(ge=1, le=5)) for k in keys}
    rationale_fields: dict[str, Any] = {k: (str, "") for k in keys}
    scores = create_model(f"{name}Scores", __config__=ConfigDict(extra="ignore"), **score_fields)
    rationale = create_model(f"{name}Rationale", __config__=ConfigDict(extra="ignore"), **rationale_fields)
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="ignore"),
        rationale=(rationale, Field(description="a short explanation per metric, written before scoring")),
        scores=(scores, Field(description="an integer score from 1 to 5 per metric")),
    )
    return model


def _pairwise_model(keys: Sequence[str]) -> type[Any]:  # dynamic fields: read as Any
    verdict = Literal["A", "B", "tie"]
    winners = create_model(
        "PairwiseWinners", __config__=ConfigDict(extra="ignore"), **{k: (verdict, ...) for k in keys}
    )  # type: ignore[call-overload]
    model: type[BaseModel] = create_model(
        "PairwiseVerdict", __config__=ConfigDict(extra="ignore"), rationale=(str, ""), winners=(winners, ...)
    )
    return model


def _requests(requests: Sequence[PersonalizationRequest | str] | None) -> list[PersonalizationRequest]:
    if requests is None:
        return list(PERSONALIZATION_REQUESTS)
    # A plain string that is one of the paper's requests keeps its creative flag (requests 11 and 12).
    known = {" ".join(r.text.lower().split()): r for r in PERSONALIZATION_REQUESTS}
    out = [
        r
        if isinstance(r, PersonalizationRequest)
        else known.get(" ".join(str(r).lower().split()), PersonalizationRequest(str(r)))
        for r in requests
    ]
    if not out:
        raise EvaluationError("no personalization requests given")
    return out


async def arun_personalization(
    responder: LLM,
    judge: LLM,
    sets: Mapping[str, Sequence[PersonaView]],
    *,
    prompts: PromptLibrary,
    requests: Sequence[PersonalizationRequest | str] | None = None,
    max_personas: int | None = None,
    pairwise: bool = True,
    dimensions: Sequence[str] | None = None,
    seed: int = 0,
    temperature: float | None = None,
    progress: Any = None,
) -> PersonalizationReport:
    """Generate, score and (optionally) pairwise-judge personalised responses for each persona set.

    Args:
        responder: The Personalization-Responder model.
        judge: The Response-Quality Evaluator (and pairwise judge) model.
        sets: Set name → personas (two or more sets for pairwise judging).
        prompts: The templates.
        requests: The requests; the paper's twelve when ``None``.
        max_personas: Use at most this many personas per set (a seeded sample).
        pairwise: Judge responses of each pair of sets to the same request against each other.
        dimensions: Pairwise dimensions (keys of :data:`PAIRWISE_DIMENSIONS`); the four of Table 5 by default.
        seed: Base seed (sampling, pairing, presentation order, Elo orders, call seeds).
        temperature: Responder temperature.
        progress: A progress bar over the LLM calls (a response and its judgement per persona and
            request, then the pairwise judgements; its total is set here), or ``None``.

    Returns:
        The :class:`PersonalizationReport`.
    """
    import pandas as pd

    if not sets:
        raise EvaluationError("no persona sets given")
    for name, views in sets.items():
        if not views:
            raise EvaluationError(f"persona set {name!r} is empty")
    reqs = _requests(requests)
    dims = list(dimensions or PAIRWISE_DIMENSIONS)
    bad = [d for d in dims if d not in PAIRWISE_DIMENSIONS]
    if bad:
        raise EvaluationError(f"unknown pairwise dimensions {bad}; choose from {list(PAIRWISE_DIMENSIONS)}")
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[PersonaView]] = {}
    for name, views in sets.items():
        idx = np.arange(len(views))
        if max_personas is not None and len(views) > max_personas:
            idx = np.sort(rng.choice(len(views), size=max_personas, replace=False))
        chosen[name] = [views[int(i)] for i in idx]
    full_model = _scores_model(list(QUALITY_METRICS), "QualityJudgement")
    creative_model = _scores_model(list(CREATIVE_METRICS), "CreativeQualityJudgement")
    system = prompts.render("eval_responder_system")
    failures = 0
    responses: dict[tuple[str, int, int], str] = {}
    score_rows: list[dict[str, Any]] = []
    if progress is not None:  # a response and its judgement per persona and request
        set_total(progress, 2 * len(reqs) * sum(len(views) for views in chosen.values()))

    def advance(calls: int = 1) -> None:
        if progress is not None:
            progress.update(calls)

    async def respond_and_score(
        name: str, i: int, view: PersonaView, r: int, req: PersonalizationRequest
    ) -> None:
        nonlocal failures
        try:
            resp = await responder.acomplete(
                [
                    {"role": "system", "content": system},
                    {
                        "role": "user",
                        "content": prompts.render(
                            "eval_responder_user", persona=view.profile, request=req.text
                        ),
                    },
                ],
                None,
                call_site="personalization.respond",
                temperature=temperature,
                seed=call_seed(seed, "respond", name, i, r),
            )
            advance()
            answer = str(resp.output)
            responses[(name, i, r)] = answer
            template = "eval_response_quality_creative" if req.creative else "eval_response_quality"
            judged = await judge.acomplete(
                [
                    {
                        "role": "user",
                        "content": prompts.render(
                            template, profile_text=view.profile, question=req.text, answer=answer
                        ),
                    }
                ],
                creative_model if req.creative else full_model,
                call_site="personalization.judge",
                temperature=0.0,
                seed=call_seed(seed, "judge", name, i, r),
            )
            advance()
        except (LLMOutputError, LLMTransientError) as exc:
            # after a failed response its judgement is never asked: count both
            advance(1 if (name, i, r) in responses else 2)
            failures += 1
            logger.warning("personalization %s persona %d request %d failed: %s", name, i, r + 1, exc)
            return
        for metric, score in judged.output.scores.model_dump().items():
            score_rows.append(
                {
                    "set": name,
                    "persona": i,
                    "request": r + 1,
                    "creative": req.creative,
                    "metric": metric,
                    "score": float(score),
                }
            )

    await asyncio.gather(
        *(
            respond_and_score(name, i, view, r, req)
            for name, views in chosen.items()
            for i, view in enumerate(views)
            for r, req in enumerate(reqs)
        )
    )
    if not score_rows:
        raise EvaluationError("every personalization call failed; see the log for the errors")
    metric_order = {m: k for k, m in enumerate(QUALITY_METRICS)}
    set_order = {n: k for k, n in enumerate(chosen)}
    scores = pd.DataFrame(score_rows)
    scores["_s"] = scores["set"].map(set_order)
    scores["_m"] = scores["metric"].map(metric_order)
    scores = (
        scores.sort_values(["_s", "persona", "request", "_m"])
        .drop(columns=["_s", "_m"])
        .reset_index(drop=True)
    )
    resp_frame = pd.DataFrame(
        [
            {"set": n, "persona": i, "request": r + 1, "response": t}
            for (n, i, r), t in sorted(
                responses.items(), key=lambda kv: (set_order[kv[0][0]], kv[0][1], kv[0][2])
            )
        ]
    )

    battles_frame = pairwise_frame = None
    if pairwise and len(chosen) >= 2:
        battles_frame, failures_pw = await _pairwise(
            judge, chosen, reqs, responses, dims, prompts, seed, progress
        )
        failures += failures_pw
        pairwise_frame = _pairwise_table(battles_frame, dims, seed)
    return PersonalizationReport(scores, resp_frame, battles_frame, pairwise_frame, failures)


async def _pairwise(
    judge: LLM,
    chosen: Mapping[str, Sequence[PersonaView]],
    reqs: Sequence[PersonalizationRequest],
    responses: Mapping[tuple[str, int, int], str],
    dims: Sequence[str],
    prompts: PromptLibrary,
    seed: int,
    progress: Any = None,
) -> tuple[Any, int]:
    import pandas as pd

    model = _pairwise_model(dims)
    rng = np.random.default_rng([seed, 7])
    dim_specs = [
        {"key": d, "name": PAIRWISE_DIMENSIONS[d][0], "definition": PAIRWISE_DIMENSIONS[d][1]} for d in dims
    ]
    rows: list[dict[str, Any]] = []
    failures = 0
    jobs = []
    for a, b in itertools.combinations(list(chosen), 2):
        n = min(len(chosen[a]), len(chosen[b]))
        pa, pb = rng.permutation(len(chosen[a]))[:n], rng.permutation(len(chosen[b]))[:n]
        for r in range(len(reqs)):
            for ia, ib in zip(pa, pb, strict=True):
                if (a, int(ia), r) in responses and (b, int(ib), r) in responses:
                    jobs.append((a, int(ia), b, int(ib), r, bool(rng.integers(0, 2))))
    if progress is not None:
        set_total(progress, progress.total + len(jobs))

    async def judge_one(a: str, ia: int, b: str, ib: int, r: int, swap: bool) -> None:
        nonlocal failures
        first, second = ((b, ib), (a, ia)) if swap else ((a, ia), (b, ib))
        text = prompts.render(
            "eval_pairwise",
            question=reqs[r].text,
            profile_a=chosen[first[0]][first[1]].profile,
            answer_a=responses[(first[0], first[1], r)],
            profile_b=chosen[second[0]][second[1]].profile,
            answer_b=responses[(second[0], second[1], r)],
            dimensions=dim_specs,
        )
        try:
            out = await judge.acomplete(
                [{"role": "user", "content": text}],
                model,
                call_site="personalization.pairwise",
                temperature=0.0,
                seed=call_seed(seed, "pairwise", a, ia, b, ib, r),
            )
        except (LLMOutputError, LLMTransientError) as exc:
            if progress is not None:
                progress.update(1)
            failures += 1
            logger.warning("pairwise judgement %s vs %s (request %d) failed: %s", a, b, r + 1, exc)
            return
        if progress is not None:
            progress.update(1)
        verdicts = out.output.winners.model_dump()
        for d in dims:
            v = verdicts[d]
            winner = "tie" if v == "tie" else (first[0] if v == "A" else second[0])
            rows.append(
                {
                    "dimension": d,
                    "request": r + 1,
                    "a": a,
                    "b": b,
                    "a_persona": ia,
                    "b_persona": ib,
                    "winner": winner,
                    "a_shown_first": not swap,
                }
            )

    await asyncio.gather(*(judge_one(*job) for job in jobs))
    frame = pd.DataFrame(
        rows, columns=["dimension", "request", "a", "b", "a_persona", "b_persona", "winner", "a_shown_first"]
    )
    frame = frame.sort_values(["dimension", "request", "a", "b", "a_persona"], kind="stable").reset_index(
        drop=True
    )
    return frame, failures


def _pairwise_table(battles: Any, dims: Sequence[str], seed: int) -> Any:
    import pandas as pd

    rows = []
    for d in dims:
        sub = battles[battles["dimension"] == d]
        triples = list(zip(sub["a"], sub["b"], sub["winner"], strict=True))
        if not triples:
            continue
        rates = win_rates(triples)
        elo = elo_ratings(triples, seed=seed)
        for player in sorted(rates, key=lambda p: -elo[p]):
            rows.append(
                {
                    "dimension": d,
                    "set": player,
                    **{k: rates[player][k] for k in ("wins", "losses", "ties", "battles", "win_rate")},
                    "elo": elo[player],
                }
            )
    return pd.DataFrame(rows)
