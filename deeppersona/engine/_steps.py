"""One persona's steps: demographics, core chain, circumstances, selection, fill, consistency, narrative.

:func:`make_persona` is the per-persona function every terminal call runs (``generate``, ``enrich``,
the file runs, :class:`~deeppersona.engine.PersonaPipeline` and the Ray actors): persona ``i`` is a
pure function of the resolved run and ``(run seed, i)``. Scheduling many personas is
:mod:`._schedule`'s concern.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._progress import set_total
from ..errors import AnchorError, DeepPersonaError, DemographicsError, GenerationError
from ..generation import PersonaDraft
from ..persona import Persona
from ..selector import SelectionContext
from ..taxonomy._constants import PATH_SEPARATOR
from ._anchors import validate_anchors
from ._inputs import _provenance
from ._run import _Job, _Run, persona_id

__all__ = ["make_persona"]

logger = logging.getLogger(__name__)


async def make_persona(run: _Run, job: _Job, steps: Any = None) -> Persona:
    """Generate persona ``job.index``, trying again (``options.persona_retries`` times) while it is not
    complete. Attempt 0 draws from ``(seed, index)``, attempt ``a`` from ``(seed, index, a)``, so
    every attempt is reproducible on its own. The last attempt is returned, with the usage of all."""
    persona = await _attempt(run, job, 0, steps)
    usage = persona.usage
    for attempt in range(1, run.options.persona_retries + 1):
        if persona.ok:
            break
        logger.info("persona %d is %s (%s); attempt %d", job.index, persona.status, persona.failure,
                    attempt + 1)  # fmt: skip
        if steps is not None:
            steps.reset()
            steps.set_description(f"persona {job.index}, attempt {attempt + 1}")
        persona = await _attempt(run, job, attempt, steps)
        usage = usage + persona.usage
    return persona.model_copy(update={"usage": usage}) if usage is not persona.usage else persona


async def _attempt(run: _Run, job: _Job, attempt: int, steps: Any = None) -> Persona:
    """One attempt at persona ``job.index``; failures become a failed Persona with the reason."""
    entropy = [run.seed, job.index] if attempt == 0 else [run.seed, job.index, attempt]
    streams = np.random.SeedSequence(entropy).spawn(4)
    demo_rng, core_rng, select_rng, llm_rng = (np.random.default_rng(s) for s in streams)
    anchors = run.anchors
    draft = PersonaDraft(
        demographics={},
        anchors=dict(anchors.raw),
        given=dict(anchors.given),
        fixed_core=dict(anchors.core),
        bio=anchors.bio,
        seeds=llm_rng,
        on_stage=_stage_reporter(steps),
    )
    gen = run.generator
    try:
        demographic_anchors = dict(anchors.demographic)
        extracted: dict[str, Any] = {}
        if job.sketch is not None:
            draft.bio = job.sketch
            draft.anchors["bio"] = job.sketch
            extracted = await gen.extract_sketch(run.llm, draft, job.sketch)
        draft.demographics = _draw(run, demo_rng, demographic_anchors, extracted, draft)
        if job.sketch is not None:
            draft.anchors = {**{k: draft.demographics[k] for k in extracted if k in draft.demographics},
                             **draft.anchors, "bio": job.sketch}  # fmt: skip
        await gen.core(run.llm, draft, core_rng)
        circumstances = await gen.circumstances(run.llm, draft, run.circumstances)
        context = SelectionContext(
            tree=run.tree,
            profile=gen.profile_text(draft),
            embedder=run.embedder,
            exclude=anchors.exclude,
            run_seed=run.seed,
            index=job.index,
            fingerprint=run.fingerprint,
            life_stage=(draft.demographics or {}).get("life_stage"),
            circumstances=circumstances,
        )
        if run.embed is not None:  # embedded together with the profiles of the other personas in flight
            vector = await run.embed.encode(context.embedding_text)
            context = dataclasses.replace(context, profile_embedding=vector)
        if run.select_pool is not None:
            selection = await asyncio.get_running_loop().run_in_executor(
                run.select_pool, run.selector.select, context, run.k, select_rng
            )
        else:
            selection = run.selector.select(context, run.k, select_rng)
        await gen.fill(run.llm, draft, selection)
        if run.options.replace_unfilled:
            await _replace_unfilled(run, draft, context, selection, select_rng)
        if run.options.consistency:
            await gen.check_consistency(run.llm, draft)
        if run.options.narrative:
            await gen.narrate(run.llm, draft)
    except DeepPersonaError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("persona %d failed: %s", job.index, reason)
        return _persona(run, job, draft, failure=reason)
    except Exception as exc:  # a backend or plug-in bug must not end a long run; the traceback is logged
        reason = f"{type(exc).__name__}: {exc}"
        logger.exception("persona %d failed unexpectedly: %s", job.index, reason)
        return _persona(run, job, draft, failure=reason)
    return _persona(run, job, draft)


async def _replace_unfilled(
    run: _Run,
    draft: PersonaDraft,
    context: SelectionContext,
    selection: Sequence[Any],
    rng: np.random.Generator,
) -> None:
    """Replace the selected attributes that got no valid value after every re-ask by as many others,
    chosen by the same selector with everything already selected left out, and fill those once.

    A small model that cannot say anything valid about one attribute ("Perfectionism" three times
    "does not have high perfectionism") otherwise makes the whole persona incomplete, and with
    ``persona_retries`` it is made again from the start (about ten minutes on a CPU). The persona
    keeps ``k`` values; each replacement is recorded in ``persona.warnings``. What the replacements
    do not fill stays missing (the persona is then ``incomplete``)."""
    if not draft.missing:
        return
    unfilled = [s for s in selection if PATH_SEPARATOR.join(s.path) in draft.missing]
    if not unfilled:
        return
    taken = frozenset(context.exclude) | {s.node.key for s in selection}
    try:
        more = run.selector.select(dataclasses.replace(context, exclude=taken), len(unfilled), rng)
    except DeepPersonaError as exc:  # too few candidates left: the attributes stay missing
        draft.warnings.append(f"no replacement for attributes without a valid value: {exc}")
        return
    for s in unfilled:
        path = PATH_SEPARATOR.join(s.path)
        draft.warnings.append(f"{path}: no valid value after re-asking; replaced by another attribute")
        draft.missing.pop(path, None)
        draft.attributes.pop(path, None)
    await run.generator.fill(run.llm, draft, more, more=True)


def _draw(
    run: _Run,
    rng: np.random.Generator,
    anchored: dict[str, Any],
    extracted: dict[str, Any],
    draft: PersonaDraft,
) -> dict[str, Any]:
    """Draw demographics; anchors are applied verbatim.

    With a sketch, its facts bind the draw (see :mod:`deeppersona.generation._sketch`): its places are
    resolved against the sampler's own tables ("Colorado" -> United States, whatever the model said),
    its life stage and age hints ("retired", "student") become cohort constraints, the rest anchors.
    Facts the tables cannot honour are dropped with a warning rather than failing the persona (the
    least important first: city and region, then the place, then the occupation); a stated life stage
    is kept even where the tables' age rules would not give it. Likes, dislikes and other stated facts
    go to ``draft.sketch_facts`` (shown to the core chain as fixed) and to ``draft.anchors``.
    ``extracted`` is left holding the demographic facts that were honoured (and ``life_stage``).
    """
    from ..generation._sketch import SKETCH_KEY, PlaceIndex, apply_stage, plan_draw, reading_from_facts

    if not extracted:
        drawn = run.sampler.draw(rng, run.cohort, anchored)
        out = drawn.model_dump() if hasattr(drawn, "model_dump") else dict(drawn)
        out.update(anchored)  # verbatim
        return out
    reading = extracted.pop(SKETCH_KEY, None)
    if reading is None:  # an extract_sketch override that returns plain facts
        reading = reading_from_facts(extracted, draft.bio or "")
    tables = getattr(run.sampler, "tables", None)
    if tables is not None and hasattr(tables, "cities"):
        try:
            reading = PlaceIndex.for_tables(tables).resolve(reading)
        except DeepPersonaError as exc:  # unreadable tables: keep the unresolved places
            draft.warnings.append(f"sketch: places not resolved against the tables: {exc}")
    plan = plan_draw(reading, anchored, run.cohort)
    for key, value in list(plan.facts.items()):
        try:
            validate_anchors({key: value})
        except AnchorError as exc:
            plan.facts.pop(key)
            draft.warnings.append(f"dropped sketch fact {key}={value!r}: {exc}")
    draft.warnings.extend([*reading.notes, *plan.notes])
    attempts = list(plan.attempts())
    last: Exception | None = None
    for i, (usable, cohort) in enumerate(attempts):
        state = rng.bit_generator.state
        try:
            drawn = run.sampler.draw(rng, cohort, {**usable, **anchored})
        except (DemographicsError, AnchorError) as exc:
            rng.bit_generator.state = state
            last = exc
            if i == len(attempts) - 1:
                raise
            continue
        dropped = sorted(set(plan.facts) - set(usable))
        if dropped:
            draft.warnings.append(
                f"dropped sketch facts {dropped} the demographic tables cannot honour: {last}"
            )
        if plan.age_range is not None and cohort is plan.base:
            draft.warnings.append(f"dropped the sketch's age range {plan.age_range}: {last}")
        out = drawn.model_dump() if hasattr(drawn, "model_dump") else dict(drawn)
        out.update(anchored)  # verbatim
        out.update({k: v for k, v in usable.items() if k in out or k == "name"})
        keep = "occupation" in usable or "occupation" in anchored
        staged = apply_stage(out, plan.stage, keep_occupation=keep)
        extracted.clear()
        extracted.update(usable)
        if staged:
            extracted["life_stage"] = out["life_stage"]
        draft.sketch_facts = reading.fact_lines()
        for key, value in reading.extra_anchors().items():
            draft.anchors.setdefault(key, value)
        return out
    raise GenerationError(f"could not draw demographics: {last}")  # pragma: no cover


def _persona(run: _Run, job: _Job, draft: PersonaDraft, failure: str | None = None) -> Persona:
    index = job.index
    missing = dict(draft.missing)
    if failure is None:
        if draft.core is None:
            missing.setdefault("core", "the core chain was not generated")
        if run.options.narrative and not draft.narrative:
            missing.setdefault("narrative", "no narrative was written")
    status = "failed" if failure else ("incomplete" if missing else "ok")
    if status == "incomplete":
        shown = ", ".join(list(missing)[:5]) + (" ..." if len(missing) > 5 else "")
        failure = f"{len(missing)} part(s) without a valid value after re-asking: {shown}"
    return Persona(
        id=persona_id(run.provenance.run_id, index, job.sketch),
        seed=run.seed,
        index=index,
        status=status,  # type: ignore[arg-type]
        failure=failure,
        missing=missing,
        anchors=draft.anchors,
        demographics=draft.demographics,
        core=draft.core,
        attributes=draft.all_attributes(),
        narrative=draft.narrative,
        consistency_notes=draft.notes,
        warnings=draft.warnings,
        provenance=_provenance(run.provenance, draft.demographics),
        usage=draft.usage,
    )


def _stage_reporter(steps: Any) -> Callable[[str], None] | None:
    """Advance ``steps`` by one for each main step and show the current one (re-asks add to the total)."""
    if steps is None:
        return None
    started: list[str] = []

    def report(stage: str) -> None:
        if started and "re-ask" not in started[-1]:
            steps.update(1)
        if "re-ask" in stage:
            set_total(steps, steps.total + 1, refresh=False)
        started.append(stage)
        steps.set_postfix_str(stage, refresh=True)

    return report
