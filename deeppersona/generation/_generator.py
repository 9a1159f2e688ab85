"""The :class:`ValueGenerator`: the LLM side of persona generation (paper §3.2, Algorithm 4)."""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..errors import ConfigError
from ..llm._base import LLM, FieldCheck, LLMResponse, Usage
from ..persona import AttributeValue, ConsistencyNote, CoreProfile
from ..persona._render import format_value, occupation_text
from ..prompts import PromptLibrary
from ..taxonomy import CONDITIONS, canonical_key
from ._checks import (
    FILL_STYLE_EXAMPLES,
    SENTENCE_END,
    WORD,
    ValueProblem,
    core_problems,
    describe_problem,
    is_first_person_narrative,
    lower_words,
    may_be_absent,
    na_restates_name,
    normalise,
    repetitive_openings,
    sentences,
    speaks_of_the_prompt,
    story_problem,
    trim_story,
    value_problem,
    word_count,
)
from ._contradictions import _Countries, may_contradict, value_contradiction
from ._draft import PersonaDraft
from ._schemas import (
    FREE_TEXT_MOST_CHARS,
    ConsistencyReport,
    FillItem,
    SketchFacts,
    check_value,
    circumstances_type,
    core_chain_type,
    fill_items,
    fill_reply_type,
    parse_word_range,
    with_options,
)

__all__ = ["CORE_EXTRA_ROUNDS", "CORE_FIELDS", "ValueGenerator", "merge_templates"]

logger = logging.getLogger(__name__)

CORE_FIELDS: tuple[str, ...] = (
    "values_orientation",
    "attitude",
    "attitude_details",
    "coping_mechanism",
    "life_stories",
    "interests",
)
"""The core-chain fields, in generation order."""

_POLARITIES = ("positive", "negative", "neutral")
_FACT_LABELS = (
    ("name", "Name"),
    ("age", "Age"),
    ("gender", "Gender"),
    ("occupation", "Occupation"),
    ("life_stage", "Life stage"),
)


CORE_EXTRA_ROUNDS = 2
"""Re-ask rounds the core chain's fields get beyond ``max_fill_retries`` (none when that is 0)."""


class ValueGenerator:
    """Writes a persona's values with an LLM: core chain, batched filling, consistency, narrative.

    Every prompt is a Jinja template of :mod:`deeppersona.prompts`, overridable by name through
    ``templates`` (``core_system``, ``core_chain``, ``fill_batch``, ``fill_batch_kept``, ``fill_missing``,
    ``consistency_check``, ``narrative``, ``enrich_system``, ``enrich_extract``).

    One persona is one dialogue: the core chain, then one turn per batch of attributes, then the
    consistency check, then the narrative. Each call therefore sees the whole profile so far, and
    consecutive calls share their prefix (KV-cache and prompt-cache friendly). Once answered, a fill
    request after the first (which holds the rules) stays in the dialogue as a one-line note
    (``fill_batch_kept``): its keys and values are in the answer, and the dialogue that every later
    call reads stays about a third shorter at ``k=220``. The attributes are split
    into ``ceil(k / batch_size)`` batches of near-equal size (``k=220``, ``batch_size=32``: seven
    batches of 31-32, not six of 32 and a stray 28; ``k=30``: one batch). With ``k=220`` a persona
    takes 1 + 1 + 7 + 1 + 1 = 11 calls: core chain, circumstances (when the taxonomy has conditional
    attributes), fill, consistency check, narrative (more when a re-ask is needed).

    Args:
        templates: A :class:`~deeppersona.prompts.PromptLibrary`, or overrides (name → text, or a
            directory of ``.jinja`` files) applied on top of the packaged templates.
        batch_size: Most attributes per fill call.
        max_fill_retries: Re-ask rounds for values that were refused (attributes, core-chain fields and
            the narrative). The core chain's short fields get :data:`CORE_EXTRA_ROUNDS` more: a core field
            that stays invalid makes the whole persona incomplete, and one more short call is far cheaper
            than generating the persona again.
        temperature: Sampling temperature (the backend default when ``None``).
        story_words: Length of each life story, in words (``"60-120"``); shown to the model, fixed in the
            reply schema and checked (a story is accepted within 0.75× the low and 1.5× the high bound).
            The paper asks 150-200 words; the shorter default keeps a persona's dialogue within small
            local models' reach and the profile text within the embedder's window (pass
            ``"150-200"`` for the paper's length).
        narrative_words: Length of the narrative, in words (text shown to the model).
        on_missing: What to do with attributes still without a value after the re-asks: ``"drop"`` them
            (with a warning on the persona) or ``"fail"`` the persona.

    Example:
        >>> gen = ValueGenerator(batch_size=40, templates={"narrative": "Describe them in {{ words }} words."})
    """

    def __init__(
        self,
        templates: PromptLibrary | Mapping[str, str] | str | Path | None = None,
        *,
        batch_size: int = 32,
        max_fill_retries: int = 2,
        temperature: float | None = None,
        story_words: str = "60-120",
        narrative_words: str = "120-180",
        on_missing: str = "drop",
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(max_fill_retries, int) or max_fill_retries < 0:
            raise ConfigError(f"max_fill_retries must be a non-negative integer, got {max_fill_retries!r}")
        if on_missing not in ("drop", "fail"):
            raise ConfigError(f"on_missing must be 'drop' or 'fail', got {on_missing!r}")
        if temperature is not None and not 0 <= temperature <= 2:
            raise ConfigError(f"temperature must lie within [0, 2], got {temperature}")
        self.templates = templates if isinstance(templates, PromptLibrary) else PromptLibrary(templates)
        self.batch_size = batch_size
        self.max_fill_retries = max_fill_retries
        self.temperature = temperature
        self.story_words = story_words
        self.narrative_words = narrative_words
        self.on_missing = on_missing
        self._node_cache: dict[int, Any] = {}  # per-node prompt texts, shared by this generator's personas
        self._countries: Any = None  # country names for the contradiction rules (built on first use)

    def replace(self, **changes: Any) -> ValueGenerator:
        """Return a copy with some constructor parameters changed (``templates`` overrides are merged).

        Raises:
            ConfigError: An unknown parameter or an invalid value.
        """
        names = (
            "batch_size",
            "max_fill_retries",
            "temperature",
            "story_words",
            "narrative_words",
            "on_missing",
        )
        unknown = sorted(set(changes) - {*names, "templates"})
        if unknown:
            raise ConfigError(
                f"unknown ValueGenerator parameter(s) {unknown}; known: templates, {', '.join(names)}"
            )
        if "templates" in changes and not isinstance(changes["templates"], PromptLibrary):
            changes["templates"] = merge_templates(self.templates, changes["templates"])
        params: dict[str, Any] = {name: getattr(self, name) for name in names}
        params.update({k: v for k, v in changes.items() if k != "templates"})
        checked = ValueGenerator(changes.get("templates", self.templates), **params)
        clone = copy.copy(self)
        clone.__dict__.update(checked.__dict__)
        clone._node_cache = getattr(self, "_node_cache", {})  # per-node texts do not depend on the parameters
        return clone

    def fill_calls(self, k: int) -> int:
        """How many fill calls ``k`` attributes take (re-asks excluded)."""
        return -(-k // self.batch_size)

    def fill_batches(self, k: int) -> list[range]:
        """The index ranges of ``k`` attributes' fill batches: :meth:`fill_calls` batches of near-equal
        size, none larger than ``batch_size``.

        Example:
            >>> [len(r) for r in ValueGenerator(batch_size=32).fill_batches(220)]
            [32, 32, 32, 31, 31, 31, 31]
        """
        calls = self.fill_calls(k)
        if calls == 0:
            return []
        size, extra = divmod(k, calls)  # the first ``extra`` batches take one more
        return [range(i * size + min(i, extra), (i + 1) * size + min(i + 1, extra)) for i in range(calls)]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(batch_size={self.batch_size}, max_fill_retries={self.max_fill_retries})"
        )

    # -- plumbing ------------------------------------------------------------------------------------

    def render(self, name: str, **variables: Any) -> str:
        """Render template ``name`` of this generator's library."""
        return self.templates.render(name, **variables)

    async def _call(
        self,
        llm: LLM,
        draft: PersonaDraft,
        messages: Sequence[Mapping[str, str]],
        response_model: Any,
        call_site: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        field_check: FieldCheck | None = None,
    ) -> LLMResponse[Any]:
        try:
            response = await llm.acomplete(
                messages,
                response_model,
                call_site=call_site,
                temperature=temperature if temperature is not None else self.temperature,
                max_tokens=max_tokens,
                seed=draft.next_seed(),
                # only where it is used: an LLM subclass written before the parameter still serves the rest
                **({"field_check": field_check} if field_check is not None else {}),
            )
        except Exception:  # LLMError, or a backend's own exception: the failed call still counts
            draft.usage = draft.usage + Usage(calls=1, failures=1)
            raise
        draft.usage = draft.usage + response.usage
        return response

    # -- 1. core chain -------------------------------------------------------------------------------

    def _facts(self, draft: PersonaDraft) -> list[tuple[str, Any]]:
        dem = draft.demographics
        facts = [(label, dem[key]) for key, label in _FACT_LABELS if dem.get(key) not in (None, "")]
        if dem.get("occupation"):  # a natural job title, not the table's ("crop farmworker")
            facts = [
                (label, occupation_text(dem) if label == "Occupation" else value) for label, value in facts
            ]
        place = ", ".join(str(dem[k]) for k in ("city", "region", "country") if dem.get(k))
        if place:
            facts.append(("Lives in", place))
        return facts

    @staticmethod
    def _place(draft: PersonaDraft) -> str:
        dem = draft.demographics
        return ", ".join(str(dem[k]) for k in ("region", "country") if dem.get(k)) or "their country"

    async def core(self, llm: LLM, draft: PersonaDraft, rng: np.random.Generator) -> CoreProfile:
        """Generate the core chain: values → life attitude → life stories → interests (one ordered call).

        The value orientation (positive, negative or neutral), the number of stories (1–3) and of
        interests (2–3) are drawn from ``rng``; anchored core fields are kept verbatim. Every field must
        meet its own spec (see :func:`~deeppersona.generation._checks.core_problems`): the offending
        fields alone are re-asked, saying what was wrong, up to ``max_fill_retries`` times; a field that
        still fails is recorded in ``draft.missing`` (the persona is then ``incomplete``).
        """
        draft.stage("core")
        polarity = str(_POLARITIES[int(rng.integers(0, 3))])
        num_stories = int(rng.integers(1, 4))
        num_interests = int(rng.integers(2, 4))
        fixed = [(k, format_value(v)) for k, v in draft.fixed_core.items()]
        given = [(key, format_value(attr.value)) for key, attr in draft.given.items()]
        story_range = parse_word_range(self.story_words)
        facts = self._facts(draft)
        system = self.render("core_system")
        user = self.render(
            "core_chain",
            facts=facts,
            bio=draft.bio,
            given=given,
            fixed=fixed,
            polarity=polarity,
            num_stories=num_stories,
            num_interests=num_interests,
            story_words=self.story_words,
            place=self._place(draft),
            sketch_facts=draft.sketch_facts,
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        model = core_chain_type(num_stories, num_interests, story_range)
        reply = (await self._call(llm, draft, messages, model, "core")).output
        data = _trimmed(reply.model_dump(), story_range)
        data.update(self._fixed_core(draft))

        def check(data: dict[str, Any]) -> dict[str, str]:
            found = core_problems(
                data,
                num_stories=num_stories,
                num_interests=num_interests,
                story_words=story_range,
                facts=[str(value) for _, value in facts],
            )
            return {k: v for k, v in found.items() if k not in draft.fixed_core}

        problems = check(data)
        if "life_stories" in problems:  # one story at a time: what a small model can do reliably
            draft.reject("core:life_stories")
            data["life_stories"] = await self._fix_stories(
                llm, draft, messages, data, num_stories, story_range
            )
            problems = check(data)
        convo = list(messages)
        last = _compact({k: data[k] for k in CORE_FIELDS})
        for _ in range(self.max_fill_retries + CORE_EXTRA_ROUNDS if self.max_fill_retries else 0):
            if not problems:
                break
            draft.stage("core re-ask")
            for name in problems:
                draft.reject(f"core:{name}")
            # the refused fields are left out of the previous turn: shown their own text, small models
            # copy it back word for word
            last = _compact({k: v for k, v in json.loads(last).items() if k not in problems})
            convo = [
                *convo,
                {"role": "assistant", "content": last},
                {"role": "user", "content": self.render("core_fix", problems=sorted(problems.items()))},
            ]
            fix_model = core_chain_type(num_stories, num_interests, story_range, tuple(sorted(problems)))
            fixed_reply = (
                await self._call(llm, draft, convo, fix_model, "core", temperature=self._reask_temperature())
            ).output
            last = _compact(fixed_reply.model_dump())
            data.update(_trimmed(fixed_reply.model_dump(), story_range))
            problems = check(data)
        for name, reason in problems.items():
            draft.missing[f"core.{name}"] = reason
            data[name] = self._valid_part(name, data[name], story_range)  # a refused value is never stored
        core = CoreProfile(values_polarity=polarity, **{k: data[k] for k in CORE_FIELDS})  # type: ignore[arg-type]
        draft.core = core
        draft.messages = [
            *messages,
            {"role": "assistant", "content": _compact({k: data[k] for k in CORE_FIELDS})},
        ]
        return core

    async def circumstances(self, llm: LLM, draft: PersonaDraft, names: Sequence[str]) -> dict[str, bool]:
        """Settle the circumstances behind the taxonomy's applicability conditions (one call).

        Asked right after the core chain, on a side branch of the dialogue: the exchange (a true/false
        list) is not kept in it, since a small model shown it lists "not a partner, parent, manager,
        religious ..." in the portrait, and leaving it out of the narrative alone would make a local model
        evaluate the whole dialogue after it again. The answer is stored in ``draft.core.circumstances``;
        the selector then skips the attributes it rules out, and the first fill request states the
        circumstances that hold ("has a spouse or partner; works for pay") and those of
        :data:`SETTLED_ABSENT` that do not ("has no children"), so the values filled see them.

        Args:
            llm: The backend.
            draft: The persona so far (its core chain done).
            names: Condition names from :data:`~deeppersona.taxonomy.CONDITIONS` (none: no call).

        Returns:
            Condition → true/false.
        """
        wanted = [n for n in dict.fromkeys(names) if n in CONDITIONS]
        if not wanted:
            return {}
        draft.stage("circumstances")
        user = self.render("circumstances", conditions=[(n, CONDITIONS[n]) for n in wanted])
        model = circumstances_type(tuple(wanted))
        messages = [*draft.messages, {"role": "user", "content": user}]
        reply = (await self._call(llm, draft, messages, model, "circumstances")).output
        decided = {n: bool(getattr(reply, n)) for n in wanted}
        if draft.core is not None:
            draft.core = draft.core.model_copy(update={"circumstances": decided})
        return decided

    @staticmethod
    def _valid_part(name: str, value: Any, story_range: tuple[int, int]) -> Any:
        """What of a core field that failed its spec may be kept: the valid stories and interests, else
        nothing (``""``); the field is listed in ``draft.missing``."""
        if name == "life_stories":
            kept: list[str] = []
            for story in value or []:
                if story_problem(str(story), kept, story_words=story_range) is None:
                    kept.append(str(story).strip())
            return kept
        if name == "interests":
            return [
                str(i).strip()
                for i in value or []
                if value_problem(str(i), kind="item") is None and str(i).strip()
            ]
        return ""

    async def _fix_stories(
        self,
        llm: LLM,
        draft: PersonaDraft,
        messages: list[dict[str, str]],
        data: dict[str, Any],
        num_stories: int,
        story_range: tuple[int, int],
    ) -> list[str]:
        """Keep the stories that meet the spec and ask for each missing one on its own (with the reason
        when an answer is refused, up to ``max_fill_retries`` re-asks per story)."""
        kept: list[str] = []
        for story in data.get("life_stories") or []:
            text = str(story).strip()
            if len(kept) < num_stories and story_problem(text, kept, story_words=story_range) is None:
                kept.append(text)
        # the other stories are not shown: a small model given their full text writes the same story
        # again, and given their openings it begins with the same words ("Mary Jepchirchir, who had always
        # dreamed of owning a car, decided to ..." three times in three tries); a theme of its own steers
        # each new story to another kind of event (three tries out of three accepted)
        others = {k: data[k] for k in CORE_FIELDS if k != "life_stories"}
        context = [*messages, {"role": "assistant", "content": _compact(others)}]
        model = _one_story_type(story_range)
        first_theme = int(draft.seeds.integers(len(STORY_THEMES)))
        while len(kept) < num_stories:
            draft.stage(f"story {len(kept) + 1}/{num_stories}")
            user = self.render(
                "core_story",
                number=len(kept) + 1,
                total=num_stories,
                story_words=self.story_words,
                place=self._place(draft),
                theme=STORY_THEMES[(first_theme + len(kept)) % len(STORY_THEMES)],
                others=[_clip(_first_sentence(s), 12) for s in kept],
            )
            convo = [*context, {"role": "user", "content": user}]
            story = ""
            for attempt in range(self.max_fill_retries + 1):
                temperature = self._reask_temperature() if attempt else None
                reply = (
                    await self._call(
                        llm,
                        draft,
                        convo,
                        model,
                        "core",
                        temperature=temperature,
                        max_tokens=_room(2 * story_range[1]),
                    )
                ).output
                story = trim_story(str(reply.story), story_words=story_range)
                problem = story_problem(story, kept, story_words=story_range)
                if problem is None:
                    break
                # the refused story is not shown back: a small model given its own text as the previous
                # turn copies it word for word, even at a warmer temperature
                note = f"(An earlier try was refused: it {problem}.) "
                convo = [*context, {"role": "user", "content": note + user}]
            else:
                return [*kept, story]  # recorded as missing by the caller's check
            kept.append(story)
        return kept

    def _fixed_core(self, draft: PersonaDraft) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in draft.fixed_core.items():
            if name in ("life_stories", "interests"):
                out[name] = list(value) if isinstance(value, (list, tuple)) else [value]
            else:
                out[name] = value
        return out

    def _reask_temperature(self) -> float:
        """Sampling temperature of a re-ask: warmer than the first try, so the same answer is less likely."""
        return min(1.3, (self.temperature if self.temperature is not None else 0.7) + 0.3)

    def profile_text(self, draft: PersonaDraft) -> str:
        """The persona's compact core profile as one text: what the selector embeds.

        The paper compares candidate attributes with "the pre-defined core attributes": demographics,
        values, attitude, life stories and interests. The text holds each of them in short form (the
        opening of each life story, the start of the biography, the first anchored attributes) and stays
        within about 128 words, so that an embedder with a short context such as
        MiniLM (256 tokens) sees all of it rather than the first story only, and embedding stays cheap.
        """
        # the name says nothing about which attributes fit the person, and place names repeat
        # ("Mexico City, Mexico City, Mexico"): both only add tokens to embed
        facts = [(label, value) for label, value in self._facts(draft) if label != "Name"]
        facts = [(label, _dedupe_place(value) if label == "Lives in" else value) for label, value in facts]
        parts = ["; ".join(f"{label}: {value}" for label, value in facts)]
        if draft.bio:
            parts.append(_clip(draft.bio, 40))
        core = draft.core
        if core is not None:
            parts.append(
                f"Values: {_clip(core.values_orientation, 20)}. Attitude: {_clip(core.attitude, 20)} "
                f"Coping: {_clip(core.coping_mechanism, 15)} Interests: {_clip(', '.join(core.interests), 20)}."
            )
            parts.extend(f"Story: {_clip(_first_sentence(story), 25)}" for story in core.life_stories)
        parts.extend(
            f"{attr.path[-1] if attr.path else key}: {_clip(format_value(attr.value), 8)}"
            for key, attr in list(draft.given.items())[:10]
        )
        return _clip("\n".join(p for p in parts if p), PROFILE_WORDS)

    # -- 2. progressive filling ----------------------------------------------------------------------

    async def fill(
        self, llm: LLM, draft: PersonaDraft, selected: Sequence[Any], *, more: bool = False
    ) -> None:
        """Fill the selected attributes in batches, each conditioned on the whole profile so far.

        Every value is checked before it is stored (:func:`~deeppersona.generation._schemas.check_value`):
        empty, placeholder, junk, outside the options, not a number, only the attribute's name, the
        sketch copied, a bare word for a free-text attribute, or the same text as another value of this
        persona. Refused values are never stored: their keys alone are re-asked, with what was wrong, at
        a warmer temperature, up to ``max_fill_retries`` rounds. An explicit "N/A: reason" is kept as a
        not-applicable attribute. What still has no value is recorded in ``draft.missing``.

        Args:
            llm: The model.
            draft: The persona (its dialogue must hold the core chain).
            selected: ``(node, stratum)`` pairs (or :class:`~deeppersona.selector.SelectedAttribute`).

            more: ``selected`` are further attributes of a persona already filled (replacements of
                attributes that got no valid value): they are added to its items.

        Raises:
            GenerationError: ``on_missing="fail"`` and some attributes never got a value.
        """
        pairs = [(s.node, s.stratum) if hasattr(s, "node") else (s[0], s[1]) for s in selected]
        items = [
            self._fitted(draft, item) for item in fill_items(pairs, cache=getattr(self, "_node_cache", None))
        ]
        draft.items = [*draft.items, *items] if more else items
        seen = self._seen_values(draft)
        missing: list[tuple[FillItem, str, Any]] = []
        batches = self.fill_batches(len(items))
        circumstances = (draft.core.circumstances if draft.core is not None else None) or {}
        settled = [] if more else _settled(circumstances)
        for number, span in enumerate(batches, 1):
            draft.stage(f"fill {number}/{len(batches)}")
            batch = items[span.start : span.stop]
            user = self.render(
                "fill_batch", first=number == 1, items=batch, examples=FILL_STYLE_EXAMPLES, settled=settled
            )
            # the first request (with the rules) stays in the dialogue; a later one, once answered, is
            # kept as a one-line note: its keys are in the answer, and the dialogue (which every later
            # call reads again) stays short
            kept = user if number == 1 else self.render("fill_batch_kept", number=number)
            missing += await self._fill_turn(llm, draft, user, batch, seen, first_ask=True, kept=kept)
        for round_ in range(self.max_fill_retries):
            if not missing:
                break
            draft.stage(f"re-ask {round_ + 1} ({len(missing)} values)")
            left: list[tuple[FillItem, str, Any]] = []
            # at most REASK_BATCH values per call: asked for 26 at once, the embedded model answered "N/A"
            # to 22 of them, twice (k=220), one not-applicable answer leading to the next
            for start in range(0, len(missing), REASK_BATCH):
                chunk = missing[start : start + REASK_BATCH]
                # a repeated value or a refused "N/A" is not quoted back: forty rows quoting one phrase
                # made the embedded model write that phrase forty times again (40 of 41 refused in the
                # second round, k=220), and eight rows quoting "N/A: No known heart issues" and the like
                # got eight new "N/A: The person does not have ..." (k=220, both rounds)
                rows = [
                    (item, _feedback(problem, item), "" if problem in _NOT_QUOTED else _shown(raw))
                    for item, problem, raw in chunk
                ]
                left += await self._fill_turn(
                    llm,
                    draft,
                    self.render("fill_missing", items=rows),
                    [item for item, _, _ in chunk],
                    seen,
                    temperature=self._reask_temperature(),
                    longer={item.key for item, problem, _ in chunk if problem in _THIN},
                    decided={item.key for item, problem, _ in chunk if _wants_decided(problem, item)},
                )
            missing = left
        for item, problem, _ in missing:
            draft.missing[item.path] = describe_problem(problem)
        if missing:
            paths = ", ".join(item.path for item, _, _ in missing[:5]) + (" ..." if len(missing) > 5 else "")
            message = f"{len(missing)} attribute(s) got no usable value after re-asking: {paths}"
            if self.on_missing == "fail":
                from ..errors import GenerationError

                raise GenerationError(message)
            logger.info(message)

    @staticmethod
    def _seen_values(draft: PersonaDraft) -> dict[str, str]:
        """Normalised free-text values already in the profile (anchors, core) → where they are."""
        seen: dict[str, str] = {}
        for key, attr in draft.given.items():
            if isinstance(attr.value, str):
                seen.setdefault(normalise(attr.value), key)
        for path, attr in draft.attributes.items():
            if isinstance(attr.value, str):
                seen.setdefault(normalise(attr.value), path)
        return seen

    @staticmethod
    def _na_problem(
        draft: PersonaDraft, item: FillItem, reason: str, seen: dict[str, str], *, pending: int = 0
    ) -> ValueProblem | None:
        """Why a not-applicable answer is refused: its reason only negates an attribute every person has
        (:func:`~deeppersona.generation._checks.may_be_absent`), repeats the
        reason of another attribute ("minimal involvement" for ten attributes), or the persona already
        has as many not-applicable attributes as :data:`MAX_NOT_APPLICABLE` allows."""
        if na_restates_name(reason, item.node.name) and not may_be_absent(
            item.names, item.node.applies_when, item.node.description
        ):
            return "na_restates_name"
        if _NA_KEY + normalise(reason) in seen:
            return "repeated"
        total = len(draft.items) or 1
        held = pending + sum(1 for a in draft.attributes.values() if a.not_applicable is not None)
        if held + 1 > max(2, int(MAX_NOT_APPLICABLE * total)):
            return "too_many_na"
        return None

    async def _fill_turn(
        self,
        llm: LLM,
        draft: PersonaDraft,
        user: str,
        batch: Sequence[FillItem],
        seen: dict[str, str],
        *,
        temperature: float | None = None,
        first_ask: bool = False,
        longer: Collection[str] = (),
        decided: Collection[str] = (),
        kept: str | None = None,
    ) -> list[tuple[FillItem, str, Any]]:
        """One fill call; returns the items refused, with the problem and the refused reply.

        ``kept``: what the dialogue keeps of the request ``user`` once it is answered (``user`` itself
        when ``None``).

        ``first_ask``: the batch's first ask, where a one-word free-text value is refused too.
        ``longer``: keys whose free-text value must be longer in the schema; ``decided``: keys whose
        free-text value must be no "N/A" (see ``fill_reply_type``)."""
        messages = [*draft.messages, {"role": "user", "content": user}]
        model = fill_reply_type(batch, longer=longer, decided=decided)
        sketch = draft.bio
        ignore = str(draft.demographics.get("name") or "").split()
        check = self._field_check(draft, batch, seen, sketch=sketch, ignore=ignore, first_ask=first_ask,
                                  longer=longer, decided=decided)  # fmt: skip
        reply = (
            await self._call(llm, draft, messages, model, "fill", temperature=temperature, field_check=check)
        ).output
        values = dict(reply) if isinstance(reply, Mapping) else {}
        by_canon: dict[str, Any] | None = None  # built only if the model changed some key's spelling
        accepted: dict[str, Any] = {}
        refused: list[tuple[FillItem, str, Any]] = []
        carried = _continuations(values)
        for item in batch:
            if item.key in values:
                raw = values[item.key]
            else:
                if by_canon is None:
                    by_canon = {canonical_key(str(k)): v for k, v in values.items()}
                raw = by_canon.get(canonical_key(item.key))
            problem, value, not_applicable = self._judge(
                draft, item, raw, seen, sketch=sketch, ignore=ignore, first_ask=first_ask, carried=carried
            )
            if problem is not None:
                draft.reject(problem if not problem.startswith("it contradicts") else "contradiction")
                refused.append((item, problem, raw))
                continue
            _remember(seen, item, value, not_applicable, ignore)
            accepted[item.key] = value if not_applicable is None else f"N/A: {not_applicable}"
            draft.missing.pop(item.path, None)
            draft.attributes[item.path] = AttributeValue(
                value=value,
                stratum=item.stratum,  # type: ignore[arg-type]
                path=item.names,
                not_applicable=not_applicable,
            )
        if refused:
            problems = Counter(problem if not problem.startswith("it contradicts") else "contradiction"
                               for _, problem, _ in refused)  # fmt: skip
            logger.info("fill: %d of %d values refused (%s)", len(refused), len(batch),
                        ", ".join(f"{p} {n}" for p, n in problems.most_common()))  # fmt: skip
            for item, problem, raw in refused if logger.isEnabledFor(logging.DEBUG) else ():
                logger.debug("fill: %s refused (%s): %s", item.key, problem, _shown(raw))
        asked = messages if kept is None else [*draft.messages, {"role": "user", "content": kept}]
        draft.messages = [*asked, {"role": "assistant", "content": _compact(accepted)}]
        return refused

    def _judge(
        self,
        draft: PersonaDraft,
        item: FillItem,
        raw: Any,
        seen: dict[str, str],
        *,
        sketch: str | None,
        ignore: Sequence[str],
        first_ask: bool,
        carried: set[str] | None = None,
        pending_na: int = 0,
    ) -> tuple[str | None, Any, str | None]:
        """Check one filled value: ``(problem or None, normalised value, not-applicable reason or None)``.

        ``seen``: the persona's values so far (see :meth:`_seen_values`); ``carried``: keys whose value
        ran on into the next key's (:func:`_continuations`); ``pending_na``: not-applicable answers
        accepted in this reply but not yet stored (they count against the ration)."""
        value, found, not_applicable = check_value(raw, item.node, sketch=sketch, ignore=ignore)
        problem: str | None = found
        if problem is None and carried and _key_in(item.key, carried):
            return "continuation", None, None
        if not_applicable is not None:
            problem = self._na_problem(draft, item, not_applicable, seen, pending=pending_na)
            if problem is not None:
                not_applicable = None
        if problem is None and not_applicable is None:
            clash = self._contradiction(draft, item, value)
            if clash is not None:
                problem = f"it contradicts the person: {clash}"
        if problem is None and isinstance(value, str) and _free_text(item):
            where = seen.get(normalise(value))
            shared = [seen[_SENTENCE_KEY + s] for s in sentences(value) if _SENTENCE_KEY + s in seen]
            if (where is not None and where != item.path) or any(w != item.path for w in shared):
                problem = "repeated"  # the same value, or a sentence of another ("She is always happy")
            elif f"{_OPENING_KEY}{_opening(value, ignore)}#{MAX_SAME_OPENING}" in seen:
                problem = "repeated"  # a third value opening "None of my current life ..."
            elif first_ask and self.max_fill_retries and word_count(value) == 1:
                # asked once more for a phrase; a one-word answer to the re-ask is kept ("Hair
                # Length: long" is shallow, not wrong) and counted by the quality report
                problem = "one_word"
        return problem, value, not_applicable

    def _field_check(
        self,
        draft: PersonaDraft,
        batch: Sequence[FillItem],
        seen: dict[str, str],
        *,
        sketch: str | None,
        ignore: Sequence[str],
        first_ask: bool,
        longer: Collection[str],
        decided: Collection[str],
    ) -> FieldCheck:
        """The ``field_check`` of one fill call: each value is judged as soon as the model writes it
        (:meth:`_judge`, against the values written before it in the same reply too); a refused one gets
        the schema a re-ask would ask it under, and a backend that writes one value at a time (the
        embedded model) samples it again there and then. The whole reply is judged again afterwards."""
        items = {item.key: item for item in batch}
        written = dict(seen)  # the persona's values and, as they pass, this reply's
        pending_na = 0

        def check(key: str, raw: Any) -> Mapping[str, Any] | None:
            nonlocal pending_na
            item = items.get(key)
            if item is None:
                return None
            problem, value, not_applicable = self._judge(
                draft, item, raw, written, sketch=sketch, ignore=ignore, first_ask=first_ask,
                pending_na=pending_na,
            )  # fmt: skip
            if problem is None:
                _remember(written, item, value, not_applicable, ignore)
                pending_na += not_applicable is not None
                return None
            draft.reject("refused_as_written")
            logger.debug("fill: %s refused as written (%s): %s", key, problem, _shown(raw))
            # a repeated value is asked longer too: sampled again under its first schema, the embedded
            # model wrote the same short phrase ("Facts and logic") a second time
            thin = key in longer or problem in _THIN or problem == "repeated"
            wanted = fill_reply_type(
                [item],
                longer={key} if thin else (),
                decided={key} if key in decided or _wants_decided(problem, item) else (),
            )
            return dict(wanted.json_schema["properties"][key])

        return check

    def _fitted(self, draft: PersonaDraft, item: FillItem) -> FillItem:
        """``item`` without the options of its categorical type that contradict the person (asked,
        "Employment Status" answered "Retired" for a person of 21, refused, and cost a re-ask call);
        ``item`` itself when every option fits, or none does (the value is then re-asked as before)."""
        vt = item.node.value_type
        if vt is None or vt.kind != "categorical" or not may_contradict(item.names):
            return item
        fitting = [option for option in vt.options if self._contradiction(draft, item, option) is None]
        return with_options(item, fitting) if 0 < len(fitting) < len(vt.options) else item

    def _contradiction(self, draft: PersonaDraft, item: FillItem, value: Any) -> str | None:
        """Why ``value`` contradicts the persona's demographics (the quality report's one-value rules:
        "Diaspora Identity: Kenyan" for a Kenyan in Kenya, a child older than the parent ...), or ``None``."""
        if self._countries is None:  # country spellings, resolved once per generator
            self._countries = _Countries()
        return value_contradiction(draft.demographics, item.names, value, self._countries)

    # -- 3. consistency ------------------------------------------------------------------------------

    async def check_consistency(self, llm: LLM, draft: PersonaDraft) -> list[ConsistencyNote]:
        """Ask for contradictions in the profile and repair them (anchors are never changed).

        Returns:
            The repairs made (also appended to ``draft.notes``).
        """
        fixed = [f"{k}: {format_value(a.value)}" for k, a in draft.given.items()]
        fixed += [
            f"{k}: {format_value(v)}" for k, v in draft.anchors.items() if k not in draft.given and k != "bio"
        ]
        draft.stage("consistency")
        user = self.render("consistency_check", fixed=fixed)
        messages = [*draft.messages, {"role": "user", "content": user}]
        report: ConsistencyReport = (
            await self._call(llm, draft, messages, ConsistencyReport, "consistency")
        ).output
        by_key = {item.key: item for item in draft.items}
        by_canon: dict[str, FillItem] | None = None
        notes: list[ConsistencyNote] = []
        applied: dict[str, Any] = {}
        for fix in report.contradictions:
            item = by_key.get(fix.key)
            if item is None:
                if by_canon is None:
                    # fill keys are slugs (lower-case words joined by "_"): their canonical key is cheap
                    by_canon = {i.key.replace("_", " "): i for i in draft.items}
                item = by_canon.get(canonical_key(fix.key))
            if item is None or item.path not in draft.attributes:
                continue  # unknown key, or an anchor (anchors are not in the fill items)
            value, problem, not_applicable = check_value(fix.corrected_value, item.node, sketch=draft.bio)
            old = draft.attributes[item.path].value
            if problem is not None or not_applicable is not None or value == old:
                continue
            draft.attributes[item.path] = draft.attributes[item.path].model_copy(update={"value": value})
            notes.append(ConsistencyNote(path=item.path, old=old, new=value, reason=fix.reason))
            applied[item.key] = value
        draft.notes.extend(notes)
        if applied:
            draft.messages = [*messages, {"role": "assistant", "content": _compact({"corrected": applied})}]
        # with nothing corrected the exchange is left out of the dialogue: the narrative that follows
        # otherwise borrows the question's examples ("a teetotaller who does not drink every weekend")
        return notes

    # -- 4. narrative --------------------------------------------------------------------------------

    async def narrate(self, llm: LLM, draft: PersonaDraft) -> str:
        """Write the concise narrative ``Narr(P)`` of the profile so far.

        A narrative shorter than half the lower bound of ``narrative_words`` (or empty), longer than twice
        the upper bound, or a list in disguise (three sentences opening alike: "She is a lover of ...") is
        re-asked up to ``max_fill_retries`` times; if it stays so, it is kept and recorded in
        ``draft.missing``. So is one that names a prompt label, speaks of the prompt, copies the
        instructions, or gives the person children or a partner the settled circumstances deny; but
        when every try is refused and in one of them only some sentences were wrong, while the rest
        still makes a whole narrative (three quarters of the lower bound of words at least), that rest
        is kept, and the sentences dropped are recorded in ``draft.warnings``.
        """
        draft.stage("narrative")
        low, high = parse_word_range(self.narrative_words)
        user = self.render("narrative", words=self.narrative_words)
        seen = list(draft.messages)  # the whole dialogue: its prefix is the previous calls' (KV cache)
        messages = [*seen, {"role": "user", "content": user}]
        convo = list(messages)
        text = ""
        problem: str | None = None
        repairs: list[tuple[str, list[str], str]] = []  # (text without the faulty sentences, those, why)
        for attempt in range(self.max_fill_retries + 1):
            temperature = self._reask_temperature() if attempt else None
            reply = await self._call(
                llm, draft, convo, None, "narrative", temperature=temperature, max_tokens=_room(2 * high)
            )
            text = _tidy_narrative(str(reply.output), low, high)
            name = str(draft.demographics.get("name") or "").strip() or None
            problem = _whole_narrative_problem(text, draft, low, high, name)
            if problem is None:
                draft.missing.pop("narrative", None)
                break
            repaired, dropped = _without_faulty_sentences(text, draft)
            if (
                dropped
                and word_count(repaired) >= _REPAIRED_LEAST * low
                and _whole_narrative_problem(repaired, draft, low, high, name) is None
            ):
                repairs.append((repaired, dropped, problem))
            draft.reject("narrative")
            draft.missing["narrative"] = problem
            logger.info("narrative refused (attempt %d): %s; it began %r", attempt + 1, problem, text[:120])
            # the refused text is not shown back: a small model copies its own previous turn
            note = f"(An earlier try was refused: {problem}.) "
            convo = [*seen, {"role": "user", "content": note + user}]
        if problem is not None and repairs:
            # every try was wrong, but one only in a sentence or two (an invented child, a label, words of
            # the instructions): the rest is kept rather than the persona made again from the start.
            # Not before the tries run out: what follows a dropped sentence may lean on it ("He agreed")
            text, dropped, why = min(repairs, key=lambda r: len(r[1]))
            draft.missing.pop("narrative", None)
            draft.reject("narrative_sentence")
            logger.info("narrative: %d sentence(s) dropped (%s)", len(dropped), why)
            draft.warnings.append(
                f"narrative: {len(dropped)} sentence(s) dropped ({why}): " + " ".join(dropped)
            )
        draft.narrative = text
        draft.messages = [
            *draft.messages,
            {"role": "user", "content": user},
            {"role": "assistant", "content": text},
        ]
        return text

    # -- enrichment ----------------------------------------------------------------------------------

    async def extract_sketch(self, llm: LLM, draft: PersonaDraft, sketch: str) -> dict[str, Any]:
        """Extract the facts a one-line persona sketch states (one call; usage added to ``draft``).

        The model's reply is checked against the sketch's own words
        (:func:`~deeppersona.generation._sketch.clean_facts`): placeholders such as "None" never become
        values, an age or a name counts only when the sketch gives it, and the life stage, gender, likes
        and dislikes are also read from the sketch by rules. Places are resolved against the demographic
        tables later, when the engine draws the demographics.

        Returns:
            The demographic facts (``name``, ``age``, ``gender``, ``occupation``, ``city``, ``region``,
            ``country``; only those found), and the whole
            :class:`~deeppersona.generation._sketch.SketchReading` under
            :data:`~deeppersona.generation._sketch.SKETCH_KEY`.
        """
        from ._sketch import clean_facts

        draft.stage("sketch")
        messages = [
            {"role": "system", "content": self.render("enrich_system")},
            {"role": "user", "content": self.render("enrich_extract", sketch=sketch)},
        ]
        reply: SketchFacts = (await self._call(llm, draft, messages, SketchFacts, "enrich")).output
        return clean_facts(reply, sketch).to_extracted()


def _room(words: int) -> int:
    """A token limit for a reply of at most ``words`` words of prose (JSON framing included).

    A small model sometimes repeats a sentence until the limit: without a limit fitted to the text asked
    for, that loop runs to the backend's default (minutes on a CPU) before it is re-asked."""
    return int(words * 1.6) + 64


def _trimmed(data: dict[str, Any], story_range: tuple[int, int]) -> dict[str, Any]:
    """``data`` with over-long life stories cut after a whole sentence (:func:`trim_story`)."""
    stories = data.get("life_stories")
    if isinstance(stories, list):
        data = {**data, "life_stories": [trim_story(str(s), story_words=story_range) for s in stories]}
    return data


@functools.lru_cache(maxsize=16)
def _one_story_type(story_words: tuple[int, int]) -> type[BaseModel]:
    lo, hi = story_words
    return create_model(  # type: ignore[call-overload,no-any-return]
        "LifeStory",
        __config__=ConfigDict(extra="ignore"),
        story=(str, Field(description=f"One specific personal story, {lo}-{hi} words.")),
    )


def _tidy_narrative(text: str, low: int, high: int) -> str:
    """The narrative without sentences it repeats word for word, cut after a whole sentence when it is
    far too long (:func:`~deeppersona.generation._checks.trim_story`): a small model often writes a
    good opening and then goes round in circles."""
    seen: set[str] = set()
    kept = []
    for sentence in SENTENCE_END.split(str(text).strip()):
        key = normalise(sentence)
        if word_count(sentence) >= 6 and key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    return trim_story(" ".join(kept), story_words=(low, high))


_REPAIRED_LEAST = 0.75
"""Share of the lower word bound a narrative must keep after its faulty sentences are dropped."""


def _whole_narrative_problem(
    text: str, draft: PersonaDraft, low: int, high: int, name: str | None
) -> str | None:
    """Why a narrative must be written again (every check of :meth:`ValueGenerator.narrate`), or ``None``."""
    return (
        _narrative_problem(text, low, high, name)
        or _copied_instructions(text, draft)
        or _invented_circumstance(text, draft)
    )


def _sentence_fault(sentence: str, draft: PersonaDraft) -> bool:
    """Whether one sentence of a narrative is wrong on its own: it names a prompt label, speaks of the
    prompt, gives the person children or a partner the circumstances deny, or copies the instructions."""
    return bool(
        _LABELS.search(sentence)
        or speaks_of_the_prompt(sentence)
        or _invented_circumstance(sentence, draft)
        or _copied_instructions(sentence, draft)
    )


def _without_faulty_sentences(text: str, draft: PersonaDraft) -> tuple[str, list[str]]:
    """``text`` without its sentences that are wrong on their own (:func:`_sentence_fault`), and those."""
    kept: list[str] = []
    dropped: list[str] = []
    for sentence in SENTENCE_END.split(text.strip()):
        (dropped if _sentence_fault(sentence, draft) else kept).append(sentence)
    return " ".join(kept), dropped


def _narrative_problem(text: str, low: int, high: int, name: str | None = None) -> str | None:
    """Why a narrative must be written again: JSON, far too short, far too long, a list in disguise, or
    written as the person speaking (the prompt asks for a third-person portrait; the embedded model
    wrote "I am Marius Pruschke, a professional sales manager ..." for 1 persona of 4)."""
    stripped = re.sub(r"^\s*```\w*\s*", "", text)  # a code fence: "```json {...}"
    if stripped[:1] in "{[" or re.match(r'^"?\w+"?\s*:\s*["{\[]', stripped):
        return "it is JSON; write plain prose sentences about the person"
    words = word_count(text)
    if words < low // 2:
        return f"it has {words} words, {low}-{high} were asked"
    if words > 2 * high:
        return f"it has {words} words, far more than the {low}-{high} asked; keep to the essentials"
    opening = repetitive_openings(text)
    if opening is not None:
        return f'too many sentences start with "{opening}"; write connected prose, not a list'
    if speaks_of_the_prompt(text):
        return "it talked about the text ('not mentioning', 'in the given profile'); describe the person"
    if is_first_person_narrative(text):
        # naming the opening helps: told "it speaks as the person ('I am ...')", the embedded model
        # answered "I am Marius ..." again; told to begin "Marius Pruschke is", it wrote about him
        begin = f', beginning "{name} is"' if name else ""
        return f"it was written in the first person; write about them in the third person{begin}"
    return None


_COMMON = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "or",
        "is",
        "are",
        "was",
        "his",
        "her",
        "their",
        "they",
        "he",
        "she",
    ]
)
"""Words too common to mark a run of words as the person's own facts."""

_GRAM = 6
"""Words in a row that a narrative may not share with the instructions it was given."""


def _grams(text: str, n: int = _GRAM) -> set[tuple[str, ...]]:
    words = lower_words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


_LABELS = re.compile(r"\b(?:POSITIVE|NEGATIVE|NEUTRAL)\b|(?i:\bvalues? system\b|\bpolarity\b)")
"""Labels of the prompts that a portrait must not name (the narrative prompt forbids them)."""


_OWN_CHILDREN = re.compile(
    r"\b(?:his|her|their)\s+(?:first\s+|only\s+|eldest\s+|youngest\s+|two\s+|three\s+)?"
    r"(?:child|children|kids?|sons?|daughters?|baby)\b"
    r"|\b(?:has|had|have|raising|raises|mother of|father of|parent of)\s+(?:a|an|one|two|three|four|\d+)\s+"
    r"(?:young\s+|little\s+|grown\s+)?(?:child|children|kids?|sons?|daughters?)\b",
    re.IGNORECASE,
)
_OWN_PARTNER = re.compile(
    r"\b(?<!late )(?<!ex-)(?<!former )(?:his|her|their)\s+(?:wife|husband|spouse|partner|girlfriend|boyfriend|fianc[ée]e?)\b"
    r"|\bmarried to\b|\b(?:has|have) been together for\b",
    re.IGNORECASE,
)


def _invented_circumstance(text: str, draft: PersonaDraft) -> str | None:
    """Why a narrative must be written again when it gives the person children or a partner that the
    settled circumstances say they do not have ("He has no children but lives with them", "had his first
    child when he was 20": the embedded model, told "has no children", k=220). A late, former or ex-
    partner is no contradiction."""
    circumstances = (draft.core.circumstances if draft.core is not None else None) or {}
    if circumstances.get("parent") is False and (found := _OWN_CHILDREN.search(text)):
        return f'it gives the person children ("{found.group(0)}"), but they have none; keep to the profile'
    if circumstances.get("partnered") is False and (found := _OWN_PARTNER.search(text)):
        return f'it gives the person a partner ("{found.group(0)}"), but they have none; keep to the profile'
    return None


def _copied_instructions(text: str, draft: PersonaDraft) -> str | None:
    """Why a narrative must be written again when it copies the instructions of the dialogue.

    A small model sometimes writes the prompt back into the portrait ("He has a NEUTRAL value system,
    which may fit his background or clash with it", "interests ... inferred from the stories rather than
    copied from them"). The polarity label or "value system", and six words in a row shared with a
    request of the dialogue (the instructions; not the person's own facts, biography or sketch, which a
    narrative may echo), are refused.
    """
    label = _LABELS.search(text)
    if label:
        return f'it names a label ("{label.group(0)}"); state the values and facts themselves'
    # the person's own facts may be echoed: a run of words that holds any word of them ("lives in Ongata
    # Rongai, Kajiado County, Kenya", "Farmworkers and Laborers, Crop ...") is not an instruction
    facts = " ".join(
        str(v)
        for v in (draft.bio, *draft.sketch_facts, *draft.demographics.values(), *draft.anchors.values())
        if v
    )
    fact_words = {w.lower() for w in WORD.findall(facts)} - _COMMON
    own = {g for g in _grams(text) if not fact_words.intersection(g)}
    if not own:
        return None
    asked = _runs_found(own, (m for m in draft.messages if m.get("role") == "user"))
    if not asked:
        return None
    # words the model itself wrote about the person (its accepted values, which a re-ask may quote back
    # in a request) are facts, not instructions: "always ready to help others and" was refused so
    shared = asked - _runs_found(asked, (m for m in draft.messages if m.get("role") != "user"))
    if not shared:
        return None
    copied = " ".join(min(shared))
    return f'it copies the instructions ("{copied} ..."); describe the person in your own words'


def _runs_found(runs: set[tuple[str, ...]], messages: Iterable[Mapping[str, Any]]) -> set[tuple[str, ...]]:
    """The word runs of ``runs`` (lower-case, :data:`_GRAM` words) that occur in ``messages``.

    The requests hold some 10,000 words at k=220: their words are scanned once for the runs' first
    words, with no set of all their runs built."""
    firsts = {g[0] for g in runs}
    found: set[tuple[str, ...]] = set()
    for message in messages:
        words = WORD.findall(str(message.get("content", "")).lower())  # not memoised: long, seen once
        for i in range(len(words) - _GRAM + 1):
            if words[i] in firsts:
                gram = tuple(words[i : i + _GRAM])
                if gram in runs:
                    found.add(gram)
    return found


STORY_THEMES: tuple[str, ...] = (
    "their work or how they earn or once earned a living",
    "their family or home life",
    "a hard time: an illness, a loss or a setback",
    "a move, a journey or a change of place",
    "a quarrel or conflict with someone, and how it ended",
    "something they did that they are proud or ashamed of",
)
"""Kinds of event a life story asked on its own is about (one each, from a per-persona starting point)."""

SETTLED_ABSENT: dict[str, str] = {"partnered": "has no spouse or partner", "parent": "has no children"}
"""How the first fill request states the circumstances that do not hold, for those a portrait would
otherwise invent (the quick-start farmer, told only what held, got "a wife and two children" in his
narrative while ``parent`` was false). The other absent ones stay unsaid: shown a list of what the person
is not, a small model writes "he is not a partner, parent, manager, religious ..." into the portrait."""


def _settled(circumstances: Mapping[str, bool]) -> list[str]:
    """The circumstances the first fill request states: those that hold, then :data:`SETTLED_ABSENT`."""
    held = [CONDITIONS[n] for n, holds in circumstances.items() if holds and n in CONDITIONS]
    return held + [
        SETTLED_ABSENT[n] for n, holds in circumstances.items() if not holds and n in SETTLED_ABSENT
    ]


_REFUSED_NA = frozenset({"unfounded_na", "na_restates_name", "too_many_na"})
"""Problems of a refused "N/A": its re-ask's schema asks for a value that is no "N/A" (``decided``)."""


def _wants_decided(problem: str, item: FillItem) -> bool:
    """Whether the re-ask of ``item`` asks for a value that is no "N/A" (see ``fill_reply_type``): after a
    refused N/A, or a placeholder ("Not Applicable") or an echo ("No specific style") for what the person
    cannot lack."""
    if problem in _REFUSED_NA:
        return True
    return problem in ("placeholder", "echo") and not may_be_absent(
        item.names, item.node.applies_when, item.node.description
    )


_NOT_QUOTED = _REFUSED_NA | {"repeated"}
"""Problems whose refused answer a re-ask does not quote: the small model copies the quote."""

REASK_BATCH = 8
"""Most refused values re-asked in one call."""

_THIN = frozenset({"trivial", "alternatives", "one_word", "placeholder"})
"""Problems of a value too thin to be one: its re-ask asks for a longer free-text value in the schema."""


def _continuations(values: Mapping[str, Any]) -> set[str]:
    """The keys (canonical) of the reply's text values that go on with the sentence of the value before them.

    A value stopped by the schema's ``maxLength`` mid-sentence ("She believes that a well-rounded and")
    is followed, in a small model's reply, by the rest of that sentence as the next attribute's value
    ("unique individual should be respected ..."): the next value starts in lower case right after a
    value that reached the limit without ending its sentence."""
    out: set[str] = set()
    before: Any = None
    for key, raw in values.items():
        if (
            isinstance(raw, str)
            and isinstance(before, str)
            and len(before.strip()) >= FREE_TEXT_MOST_CHARS - 3
            and before.strip()[-1:] not in ".!?)\"'"
            and raw.lstrip()[:1].islower()
        ):
            out.add(canonical_key(str(key)))
        before = raw
    return out


def _remember(
    seen: dict[str, str], item: FillItem, value: Any, not_applicable: str | None, ignore: Sequence[str]
) -> None:
    """Record an accepted value in ``seen`` (its text, its sentences, its opening, its N/A reason), so that
    later values repeating it are refused."""
    if isinstance(value, str) and _free_text(item):
        seen[normalise(value)] = item.path
        for sentence in sentences(value):
            seen.setdefault(_SENTENCE_KEY + sentence, item.path)
        opening = _opening(value, ignore)
        if opening:
            n = next(i for i in range(1, MAX_SAME_OPENING + 2) if f"{_OPENING_KEY}{opening}#{i}" not in seen)
            seen[f"{_OPENING_KEY}{opening}#{n}"] = item.path
    if not_applicable is not None:
        seen[_NA_KEY + normalise(not_applicable)] = item.path


def _key_in(key: str, keys: set[str]) -> bool:
    return bool(keys) and canonical_key(key) in keys


def _free_text(item: FillItem) -> bool:
    vt = item.node.value_type
    return vt is None or vt.kind == "text"


def _feedback(problem: str, item: FillItem) -> str:
    vt = item.node.value_type
    text = describe_problem(
        problem, options=vt.options if vt is not None else (), unit=vt.unit if vt is not None else None
    )
    if problem == "placeholder" and may_be_absent(item.names, item.node.applies_when, item.node.description):
        # the embedded model answered "none of the above" three times for "Mistakes at Work" of a woman
        # without a job, and the persona was retried whole: name the honest way out
        text += '; if this person truly has none, write "N/A: " and what about them rules it out'
    return text


def _shown(raw: Any) -> str:
    """A refused reply as quoted back to the model (short)."""
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def merge_templates(base: PromptLibrary, overrides: Mapping[str, str] | str | Path) -> PromptLibrary:
    """Return ``base`` with ``overrides`` (name → text, or a directory of ``.jinja`` files) applied on top.

    Earlier overrides in ``base`` are kept (see :meth:`PromptLibrary.with_overrides`).
    """
    return base.with_overrides(overrides)


MAX_NOT_APPLICABLE = 0.2
"""The largest share of a persona's selected attributes that may be "not applicable" (at least 2): most
attributes apply to everyone, and a small model that learns the N/A escape uses it for everything."""

_NA_KEY = "\x00n/a:"  # marks not-applicable reasons among the seen values (they must differ too)
_OPENING_KEY = "\x00o:"  # marks the four opening words of stored values (name removed), counted #1, #2
MAX_SAME_OPENING = 2
"""Free-text values of one persona that may open with the same four words (the person's name aside);
further ones are re-asked as repeats ("None of my current life experiences have involved ..." seven times)."""


def _opening(value: str, ignore: Sequence[str]) -> str:
    """The first four words of ``value`` after its subject (the person's name, "the person", "she" ...);
    ``""`` for values under six words. "The person values ..." and "The person prefers ..." differ."""
    return _opening_of(str(value), tuple(ignore))


@functools.lru_cache(maxsize=4096)
def _opening_of(value: str, ignore: tuple[str, ...]) -> str:
    """:func:`_opening`, memoised: a value is judged, then remembered, and both read its opening."""
    names = {w.casefold() for w in ignore}
    words = [w.casefold() for w in WORD.findall(value)]
    while words and words[0] in names:
        words.pop(0)
    if words[:2] in (["the", "person"], ["this", "person"]):
        del words[:2]
    elif words[:1] in (["he"], ["she"], ["they"]):
        del words[:1]
    return " ".join(words[:4]) if len(words) >= 6 else ""


_SENTENCE_KEY = "\x00s:"  # marks sentences (6+ words) of stored values: another value may not repeat one

PROFILE_WORDS = 128
"""Word budget of :meth:`ValueGenerator.profile_text` (well within MiniLM's 256 word pieces)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def _clip(text: str, words: int) -> str:
    """``text`` cut to its first ``words`` whitespace-separated words (newlines kept)."""
    count = 0
    lines = []
    for line in str(text).splitlines():
        tokens = line.split()
        if count + len(tokens) > words:
            tokens = tokens[: max(0, words - count)]
            if tokens:
                lines.append(" ".join(tokens) + " ...")
            break
        count += len(tokens)
        lines.append(" ".join(tokens))
    return "\n".join(lines)


def _dedupe_place(place: str) -> str:
    """``"Mexico City, Mexico City, Mexico"`` -> ``"Mexico City, Mexico"`` (repeated parts dropped)."""
    parts: list[str] = []
    for part in place.split(", "):
        if part not in parts:
            parts.append(part)
    return ", ".join(parts)


def _compact(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
