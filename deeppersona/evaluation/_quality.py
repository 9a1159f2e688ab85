"""Judge-free persona quality: how deep, specific, varied and coherent the generated values are.

:func:`assess_quality` (what :meth:`Evaluator.quality <deeppersona.evaluation.Evaluator.quality>` runs)
reads personas only; no model, embedder or network is used. Every figure has a definition in
:data:`FIGURES`, every contradiction rule one in :data:`CONTRADICTION_RULES` and every core part one in
:data:`CORE_PARTS`; ``docs/evaluation.md`` ("Persona quality") explains them with examples.

The value checks are the ones generation uses (:mod:`deeppersona.generation._checks`), so what the
generator refuses and what this report counts are the same thing.

Which values are counted:

* *values*: the persona's attributes except anchored ones (stratum ``"anchor"`` or ``"custom"``: the
  user gave them verbatim, so they say nothing about the generator). They still appear, marked, in the
  per-value table.
* *not-applicable* values (``AttributeValue.not_applicable`` set, or a value written as
  ``"N/A: <reason>"``) are counted apart and left out of every other value figure.
* *free-text* values: string values of attributes whose taxonomy node has no value type or the
  ``"text"`` kind; attributes the taxonomy does not know (custom trees, renamed nodes) are free text when
  their value is a string. Categorical, numeric and list values are not free text.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from ..engine._anchors import classify_key
from ..errors import ConfigError, EvaluationError
from ..generation._checks import (
    content_words,
    copies_sketch,
    is_echo,
    is_first_person,
    is_first_person_narrative,
    is_junk,
    is_one_word,
    is_placeholder,
    is_trivial,
    lists_options,
    normalise,
    not_applicable_reason,
    parse_number,
    sentences,
    speaks_of_the_prompt,
    story_problem,
    word_count,
)
from ..generation._contradictions import (
    CONTRADICTION_RULES,
    _Attr,
    _Countries,
    _is_empty,
    _rule_breaks,
    _text,
    _usable_text,
)
from ..persona import Persona, Population
from ..taxonomy import PATH_SEPARATOR as _SEP
from ..taxonomy import canonical_key

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..taxonomy import AttributeTree

__all__ = ["CONTRADICTION_RULES", "CORE_PARTS", "FIGURES", "QualityReport", "assess_quality"]

logger = logging.getLogger(__name__)


FIGURES: dict[str, str] = {
    "personas": "personas assessed (status 'ok' or 'incomplete'; failed ones are left out)",
    "values": "attribute values counted (anchored values excluded; not-applicable ones included)",
    "free_text_values": "counted values that are free text (not not-applicable)",
    "trivial_share": (
        "free-text values that are bare words such as 'High', 'Yes' or 'very low', or options listed "
        "instead of a value ('Single | Divorced')"
    ),
    "one_word_share": "free-text values of exactly one word",
    "mean_words": "mean length of free-text values, in words",
    "empty_share": "values that are None, blank or an empty list (of all values that are not N/A)",
    "placeholder_share": (
        "values that stand for no value: 'N/A', 'unknown', 'string', or a statement about the request "
        "('not mentioned in the given text, it is assumed to be zero') (of all values not N/A)"
    ),
    "junk_share": "values without a letter or digit, or a JSON fragment such as '{' (of all values not N/A)",
    "unusable_share": "values that are empty, a placeholder or junk (of all values not N/A)",
    "not_applicable_share": "values marked not applicable with a reason (of all values)",
    "repeated_share": (
        "per persona, free-text values whose normalised text equals another of its values, or that share "
        "a sentence of 6+ words with one; mean"
    ),
    "distinct_ratio": "per free-text attribute held by 2+ personas, distinct values / occurrences; mean",
    "echo_share": "free-text values that only repeat the attribute's name ('Grief Process: no grief process')",
    "first_person_share": "free-text values written as the person speaking ('I'm confident in who I am')",
    "sketch_copy_share": "free-text values of personas with a sketch that copy the sketch",
    "core_complete_share": "personas whose core chain is complete (see the core parts)",
    "anchor_retention": (
        "anchors other than the bio whose value appears unchanged in the persona (a sketch's likes, "
        "dislikes and stated facts: taken up in its text)"
    ),
    "sketch_facts_kept": (
        "for personas with a sketch, its place, occupation, life stage, age, gender and name facts "
        "reflected in the demographics"
    ),
    "contradiction_share": "personas breaking at least one contradiction rule",
    "contradictions": "rule breaks in all (one per persona and rule)",
    "narrative_coverage": "per persona, attributes with a distinctive word found in the narrative; mean",
    "narrative_first_person_share": (
        "personas whose narrative is written as the person speaking ('I am Marius ...': its first sentence, "
        "or more than half of its sentences, quotations aside)"
    ),
    "ok_but_incomplete": "personas with status 'ok' whose core is incomplete or that hold an unusable value",
}
"""The headline figures of :attr:`QualityReport.summary`, name → definition (shares are 0-1)."""

CORE_PARTS: dict[str, str] = {
    "values_orientation": "a phrase of 2+ words that says more than the polarity ('Neutral', 'Positive')",
    "attitude": "a sentence of 4+ words",
    "attitude_details": "present, 4+ words",
    "coping_mechanism": "present, 4+ words",
    "life_stories": (
        "as many as asked (story_count); each usable, 0.75 x low to 1.5 x high story_words, not repeating "
        "an earlier story or its sentences (the generator's rule)"
    ),
    "interests": "as many as asked (interest_count), none empty, a placeholder or junk",
}
"""The parts of the core chain that :func:`assess_quality` checks, name → what passes."""


_SHARES = frozenset(FIGURES) - {"personas", "values", "free_text_values", "mean_words", "contradictions",
                                "ok_but_incomplete"}  # fmt: skip
_HIGHER_IS_BETTER = ("core_complete_share", "anchor_retention", "sketch_facts_kept", "narrative_coverage",
                     "distinct_ratio")  # fmt: skip

# --- small text helpers -----------------------------------------------------------------------------

_COMMON_WORDS = frozenset(
    content_words(
        "about above after again against along already although always among another around because "
        "before being below between both could during every everything family first other others "
        "their there these thing things think those though through under until usually often "
        "sometimes really people person rather quite still where which while would without within "
        "years person's something someone general overall level levels"
    )
)
_POLARITY_WORDS = frozenset(content_words("neutral positive negative value values orientation mixed"))


def _items(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value if _text(v).strip()]
    return [_text(value)]


def _distinctive(text: str) -> set[str]:
    return {w for w in content_words(text) if len(w) >= 5 and w not in _COMMON_WORDS}


# --- anchors ----------------------------------------------------------------------------------------


def _classify(key: str) -> tuple[str, str]:
    """The engine's anchor classification (one alias table), with other keys in canonical form."""
    kind, name = classify_key(key)
    return (kind, canonical_key(name)) if kind == "other" else (kind, name)


def _same(anchor: Any, target: Any, *, loose: bool) -> bool:
    if target is None or _is_empty(target):
        return False
    if isinstance(anchor, (list, tuple)):
        targets = {normalise(t) for t in _items(target)}
        return all(normalise(_text(a)) in targets for a in anchor)
    if isinstance(anchor, (int, float)) and not isinstance(anchor, bool):
        number = parse_number(target)
        return number is not None and abs(number - float(anchor)) < 1e-9
    a = normalise(_text(anchor))
    if isinstance(target, (list, tuple)):
        return any(_same(anchor, t, loose=loose) for t in target)
    t = normalise(_text(target))
    if a == t:
        return True
    return loose and bool(a) and bool(t) and (f" {a} " in f" {t} " or f" {t} " in f" {a} ")


_SKETCH_FACTS = frozenset({"city", "region", "country", "occupation", "life_stage", "age", "gender", "name"})
"""The sketch facts the demographics must reflect: place, occupation, life stage, age, gender, name."""

_SKETCH_CONTEXT = frozenset({"likes", "dislikes", "stated_facts", "former_occupation", "origin"})
"""Anchors an enrichment records from a sketch for the prompts (not fields of the persona): they count as
retained when the persona's text (core chain, values, narrative) takes them up."""


def _in_persona_text(persona: Persona, value: Any) -> bool:
    """Whether each item of ``value`` shares a distinctive word (5+ letters) with the persona's text."""
    items = value if isinstance(value, (list, tuple)) else [value]
    parts: list[str] = [persona.narrative]
    if persona.core is not None:
        core = persona.core
        parts += [core.values_orientation, core.attitude, core.attitude_details, core.coping_mechanism]
        parts += [*core.life_stories, *core.interests]
    parts += [_text(a.value) for a in persona.attributes.values() if a.value is not None]
    words = set(content_words(" ".join(parts)))
    for item in items:
        wanted = {w for w in content_words(_text(item)) if len(w) >= 5}
        if wanted and not wanted & words:
            return False
    return True


def _anchor_found(persona: Persona, key: str, value: Any, countries: _Countries, *, loose: bool) -> bool:
    """Whether anchor ``key=value`` appears in the persona (unchanged, or contained when ``loose``)."""
    kind, name = _classify(key)
    dem = persona.demographics
    if kind == "demographic":
        if name in ("country", "country_code"):
            wanted = countries.names(_text(value))[0]
            return any(
                dem.get(f) and countries.names(str(dem[f]))[0] & wanted for f in ("country", "country_code")
            )
        return _same(value, dem.get(name), loose=loose)
    if kind == "core":
        return persona.core is not None and _same(value, getattr(persona.core, name, None), loose=loose)
    for attr_key, attr in persona.attributes.items():
        path = attr.path or tuple(attr_key.split(_SEP))
        if canonical_key(attr_key) == name or (path and canonical_key(path[-1]) == name):
            return _same(value, attr.value, loose=loose)
    values = [*dem.values(), *(a.value for a in persona.attributes.values())]
    return any(_same(value, v, loose=loose) for v in values)


# --- core chain -------------------------------------------------------------------------------------


def _core_failures(
    persona: Persona,
    story_words: tuple[int, int],
    story_count: tuple[int, int],
    interest_count: tuple[int, int],
) -> list[str]:
    core = persona.core
    if core is None:
        return list(CORE_PARTS)
    failing: list[str] = []
    values = core.values_orientation or ""
    if (
        not _usable_text(values)
        or word_count(values) < 2
        or is_trivial(values)
        or not set(content_words(values)) - _POLARITY_WORDS
    ):
        failing.append("values_orientation")
    for part in ("attitude", "attitude_details", "coping_mechanism"):
        text = getattr(core, part) or ""
        if not _usable_text(text) or word_count(text) < 4:
            failing.append(part)
    stories = list(core.life_stories)
    # the generator's rule for each story: usable text, 0.75 x low to 1.5 x high words, no repeat of an earlier one
    if not story_count[0] <= len(stories) <= story_count[1] or any(
        story_problem(s, stories[:i], story_words=story_words) is not None for i, s in enumerate(stories)
    ):
        failing.append("life_stories")
    interests = list(core.interests)
    if not interest_count[0] <= len(interests) <= interest_count[1] or any(
        not _usable_text(i) for i in interests
    ):
        failing.append("interests")
    # the generator knows what was asked (3 stories, not 2): a part it recorded as missing is failing
    recorded = [part for part in CORE_PARTS if f"core.{part}" in (persona.missing or {})]
    return failing + [part for part in recorded if part not in failing]


# --- input ------------------------------------------------------------------------------------------


def _as_personas(population: Any) -> list[Persona]:
    """Every persona of the input, in order (a Population's incomplete ones after its finished ones)."""
    if isinstance(population, (str, Path)):
        from ..persona import read_jsonl_personas

        return read_jsonl_personas(population)
    if isinstance(population, Persona):
        return [population]
    if isinstance(population, Population):
        return [*population, *population.failures]
    if isinstance(population, Mapping):
        population = [population]
    if not isinstance(population, Iterable):
        raise EvaluationError(
            f"cannot read personas from {type(population).__name__}; pass a Population, Persona objects, "
            "serialised personas or a JSONL path"
        )
    out: list[Persona] = []
    for item in population:
        if isinstance(item, Persona):
            out.append(item)
        elif isinstance(item, Mapping):
            try:
                out.append(Persona.from_dict(item))
            except ValidationError as exc:
                raise EvaluationError(
                    f"persona {item.get('id')!r} is not a serialised deeppersona Persona: {str(exc)[:300]}"
                ) from exc
        else:
            raise EvaluationError(
                f"quality needs deeppersona personas (their attributes and core chain), got "
                f"{type(item).__name__}; plain persona texts cannot be assessed"
            )
    return out


def _resolve_tree(tree: AttributeTree | str | Path | None) -> AttributeTree | None:
    if tree is None:
        return None
    from ..taxonomy import AttributeTree

    if isinstance(tree, AttributeTree):
        return tree
    if isinstance(tree, str) and tree == "default":
        return AttributeTree.default()
    if isinstance(tree, (str, Path)):
        return AttributeTree.load(tree)
    raise ConfigError(f"tree must be an AttributeTree, 'default', a path or None, got {type(tree).__name__}")


def _pair(value: Sequence[int], name: str, *, least: int) -> tuple[int, int]:
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or pair[0] < least or pair[0] > pair[1]:
        raise ConfigError(f"{name} must be (low, high) with {least} <= low <= high, got {value!r}")
    return pair[0], pair[1]


# --- the assessment ---------------------------------------------------------------------------------


def _mean(values: Iterable[float]) -> float:
    items = [v for v in values if not math.isnan(v)]
    return sum(items) / len(items) if items else math.nan


def _share(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def assess_quality(
    population: Any,
    *,
    sketches: Sequence[str | None] | Mapping[str, str] | None = None,
    tree: AttributeTree | str | Path | None = "default",
    story_words: Sequence[int] = (60, 120),
    story_count: Sequence[int] = (1, 3),
    interest_count: Sequence[int] = (2, 3),
) -> QualityReport:
    """Measure the judge-free quality figures of a persona set (see :data:`FIGURES`).

    Args:
        population: A :class:`~deeppersona.persona.Population` (its incomplete personas included), one
            :class:`~deeppersona.persona.Persona`, a sequence of personas or serialised personas, or the
            path of a JSONL file of serialised personas. Personas whose status is ``"failed"`` are left
            out and counted.
        sketches: The sketch each persona was enriched from, when it is not its ``bio``: a mapping
            persona id → sketch, or a sequence aligned with the personas as given (for a Population: its
            personas, then its ``failures``).
        tree: The taxonomy the attributes come from (the kind of each value is its node's value type):
            an :class:`~deeppersona.taxonomy.AttributeTree`, ``"default"`` for the packaged one, the path
            of a taxonomy file, or ``None`` (every string value is then free text).
        story_words: The requested ``(low, high)`` length of a life story in words; a story passes with at
            least ``0.75 * low`` words.
        story_count: How many life stories were asked for, ``(low, high)``.
        interest_count: How many interests were asked for, ``(low, high)``.

    Returns:
        A :class:`QualityReport`.

    Raises:
        EvaluationError: No persona to assess, an object that is not a persona, or ``sketches`` of the
            wrong length.
        ConfigError: A bad ``story_words``, ``story_count``, ``interest_count`` or ``tree``.
        DataFileError: A JSONL path that does not exist or holds something other than personas.
    """
    words_range = _pair(story_words, "story_words", least=1)
    stories_range = _pair(story_count, "story_count", least=0)
    interests_range = _pair(interest_count, "interest_count", least=0)
    everyone = _as_personas(population)
    sketch_of: dict[int, str | None] = {}
    if sketches is not None:
        if isinstance(sketches, Mapping):
            sketch_of = {i: sketches.get(p.id) for i, p in enumerate(everyone)}
        else:
            given = list(sketches)
            if len(given) != len(everyone):
                raise EvaluationError(
                    f"sketches has {len(given)} entries for {len(everyone)} personas; give one per persona "
                    "(None where there is no sketch) or a mapping persona id -> sketch"
                )
            sketch_of = dict(enumerate(given))
    kept = [(i, p) for i, p in enumerate(everyone) if getattr(p, "status", "ok") != "failed"]
    failed = len(everyone) - len(kept)
    if failed:
        logger.info("quality: leaving out %d persona(s) whose generation failed", failed)
    if not kept:
        raise EvaluationError("no personas to assess (the set is empty or every persona failed)")
    taxonomy = _resolve_tree(tree)
    kinds: dict[tuple[str, ...], tuple[str, frozenset[str]]] = {}
    countries = _Countries()

    def type_of(path: tuple[str, ...]) -> tuple[str, frozenset[str]]:
        """The value kind at ``path`` and its options (lower case), ``("unknown", {})`` off the tree."""
        if taxonomy is None or not path:
            return "unknown", frozenset()
        if path not in kinds:
            try:
                node = taxonomy.find(path)
            except ValueError:  # a path the tree cannot parse (an empty segment)
                node = None
            vt = None if node is None else node.value_type
            kind = "unknown" if node is None else ("text" if vt is None else vt.kind)
            kinds[path] = kind, frozenset(o.casefold() for o in (vt.options if vt else ()))
        return kinds[path]

    value_rows: list[dict[str, Any]] = []
    persona_rows: list[dict[str, Any]] = []
    statuses: Counter[str] = Counter()
    core_fail: Counter[str] = Counter({part: 0 for part in CORE_PARTS})
    rule_count: Counter[str] = Counter({rule: 0 for rule in CONTRADICTION_RULES})
    anchors_total = anchors_kept = facts_total = facts_kept = 0
    for i, persona in kept:
        status = str(getattr(persona, "status", "ok"))
        statuses[status] += 1
        sketch = sketch_of.get(i) or persona.bio
        narrative_words = set(content_words(persona.narrative)) if persona.narrative.strip() else set()
        attrs: list[_Attr] = []
        rows: list[dict[str, Any]] = []
        own_name = str(persona.demographics.get("name") or "").split()  # not content
        for key, av in persona.attributes.items():
            path = tuple(av.path) or tuple(key.split(_SEP))
            value = av.value
            reason = getattr(av, "not_applicable", None) or not_applicable_reason(value)
            na = reason is not None
            attrs.append(_Attr(key, path, value, na))
            kind, options = ("custom", frozenset()) if av.stratum == "custom" else type_of(path)
            text = _text(value)
            empty = not na and _is_empty(value)
            # one of the attribute's own options ("None" concussions, thyroid function "Unknown") is a value
            an_option = isinstance(value, str) and value.strip().casefold() in options
            placeholder = (
                not (na or empty or an_option)
                and isinstance(value, (str, list, tuple))
                and all(is_placeholder(t) or speaks_of_the_prompt(t) for t in _items(value))
            )
            junk = (
                not (na or empty or placeholder)
                and isinstance(value, (str, list, tuple))
                and any(is_junk(t) for t in _items(value))
            )
            is_free = not na and isinstance(value, str) and kind in ("text", "unknown", "custom")
            usable = not (empty or placeholder or junk)
            row: dict[str, Any] = {
                "persona_id": persona.id,
                "path": key,
                "name": path[-1] if path else key,
                "stratum": av.stratum,
                "kind": kind,
                "value": value,
                "counted": av.stratum not in ("anchor", "custom"),
                "free_text": is_free,
                "words": word_count(text) if is_free else None,
                "not_applicable": reason,
                "empty": empty,
                "placeholder": placeholder,
                "junk": junk,
                # the generator's rule: a bare word, or only filler ("does not have any")
                "trivial": is_free
                and usable
                and (is_trivial(text) or not content_words(text) or lists_options(text)),
                "one_word": is_free and is_one_word(text),
                "repeated": False,
                "echo": is_free and usable and is_echo(text, path[-1] if path else key, ignore=own_name),
                "sketch_copy": is_free and usable and copies_sketch(text, sketch),
                "first_person": is_free and usable and is_first_person(text),
                "in_narrative": None,
                "contradiction": "",
            }
            if row["counted"] and not na and usable and narrative_words:
                distinctive = _distinctive(text)
                if distinctive:
                    row["in_narrative"] = bool(distinctive & narrative_words)
            rows.append(row)
        # repeats among the persona's counted, non-empty free-text values
        live_rows = [r for r in rows if r["counted"] and r["free_text"] and not r["empty"]]
        texts = Counter(normalise(r["value"]) for r in live_rows)
        # a sentence (6+ words) used by two values counts too: "She is always happy and content with her
        # life" closing fifteen otherwise different values is the same mode collapse
        shared = Counter(s for r in live_rows for s in set(sentences(r["value"])))
        for r in live_rows:
            if texts[normalise(r["value"])] > 1 or any(shared[s] > 1 for s in sentences(r["value"])):
                r["repeated"] = True
        breaks = _rule_breaks(persona, attrs, countries)
        for rule, where, _detail in breaks:
            rule_count[rule] += 1
            for r in rows:
                if r["path"] == where:
                    r["contradiction"] = ",".join(filter(None, (r["contradiction"], rule)))
        for r in rows:
            r["problem"] = next(
                (
                    p
                    for p in (
                        "empty",
                        "placeholder",
                        "junk",
                        "sketch_copy",
                        "echo",
                        "trivial",
                        "first_person",
                        "repeated",
                    )
                    if r[p]
                ),
                "",
            )
        value_rows.extend(rows)
        failing = _core_failures(persona, words_range, stories_range, interests_range)
        core_fail.update(failing)
        # anchors and sketch facts
        n_anchor = n_anchor_kept = n_fact = n_fact_kept = 0
        for key, value in persona.anchors.items():
            if value is None or _classify(key)[0] == "bio":
                continue
            n_anchor += 1
            if key in _SKETCH_CONTEXT:  # recorded from a sketch to shape the text, not stored as a field
                n_anchor_kept += _in_persona_text(persona, value)
                continue
            n_anchor_kept += _anchor_found(persona, key, value, countries, loose=False)
            if sketch and key in _SKETCH_FACTS:
                n_fact += 1
                n_fact_kept += _anchor_found(persona, key, value, countries, loose=True)
        anchors_total += n_anchor
        anchors_kept += n_anchor_kept
        facts_total += n_fact
        facts_kept += n_fact_kept
        counted = [r for r in rows if r["counted"]]
        live = [r for r in counted if not r["not_applicable"]]
        free = [r for r in live if r["free_text"]]
        nonempty_free = [r for r in free if not r["empty"]]
        checkable = [r for r in counted if r["in_narrative"] is not None]
        unusable = sum(r["empty"] or r["placeholder"] or r["junk"] for r in live)
        persona_rows.append(
            {
                "id": persona.id,
                "index": persona.index,
                "status": status,
                "values": len(counted),
                "free_text_values": len(free),
                "trivial_share": _share(sum(r["trivial"] for r in free), len(free)),
                "one_word_share": _share(sum(r["one_word"] for r in free), len(free)),
                "mean_words": _share(sum(r["words"] for r in free), len(free)),
                "unusable": unusable,
                "not_applicable": len(counted) - len(live),
                "repeated_share": _share(sum(r["repeated"] for r in nonempty_free), len(nonempty_free)),
                "echo": sum(r["echo"] for r in free),
                "sketch_copy": sum(r["sketch_copy"] for r in free),
                "first_person": sum(r["first_person"] for r in free),
                "core_complete": not failing,
                "core_failures": ", ".join(failing),
                "anchors": n_anchor,
                "anchors_retained": n_anchor_kept,
                "sketch_facts": n_fact,
                "sketch_facts_kept": n_fact_kept,
                "contradictions": "; ".join(f"{rule}: {detail}" for rule, _, detail in breaks),
                "narrative_coverage": _share(sum(bool(r["in_narrative"]) for r in checkable), len(checkable)),
                "narrative_first_person": is_first_person_narrative(persona.narrative),
                "ok_but_incomplete": status == "ok" and (bool(failing) or unusable > 0),
            }
        )
    # cross-persona distinct-value ratio per free-text attribute
    by_path: dict[str, list[str]] = defaultdict(list)
    for r in value_rows:
        if r["counted"] and r["free_text"] and not r["empty"]:
            by_path[r["path"]].append(normalise(r["value"]))
    attribute_rows: list[dict[str, Any]] = [
        {
            "path": path,
            "occurrences": len(vals),
            "distinct": len(set(vals)),
            "distinct_ratio": len(set(vals)) / len(vals),
        }
        for path, vals in by_path.items()
        if len(vals) >= 2
    ]
    counted_rows = [r for r in value_rows if r["counted"]]
    live_rows = [r for r in counted_rows if not r["not_applicable"]]
    free_rows = [r for r in live_rows if r["free_text"]]
    sketched = {
        row["id"] for row, (i, p) in zip(persona_rows, kept, strict=True) if sketch_of.get(i) or p.bio
    }
    sketch_free = [r for r in free_rows if r["persona_id"] in sketched]
    n = len(persona_rows)
    summary: dict[str, float] = {
        "personas": n,
        "values": len(counted_rows),
        "free_text_values": len(free_rows),
        "trivial_share": _share(sum(r["trivial"] for r in free_rows), len(free_rows)),
        "one_word_share": _share(sum(r["one_word"] for r in free_rows), len(free_rows)),
        "mean_words": _share(sum(r["words"] for r in free_rows), len(free_rows)),
        "empty_share": _share(sum(r["empty"] for r in live_rows), len(live_rows)),
        "placeholder_share": _share(sum(r["placeholder"] for r in live_rows), len(live_rows)),
        "junk_share": _share(sum(r["junk"] for r in live_rows), len(live_rows)),
        "unusable_share": _share(
            sum(r["empty"] or r["placeholder"] or r["junk"] for r in live_rows), len(live_rows)
        ),
        "not_applicable_share": _share(len(counted_rows) - len(live_rows), len(counted_rows)),
        "repeated_share": _mean(r["repeated_share"] for r in persona_rows),
        "distinct_ratio": _mean(r["distinct_ratio"] for r in attribute_rows),
        "echo_share": _share(sum(r["echo"] for r in free_rows), len(free_rows)),
        "first_person_share": _share(sum(r["first_person"] for r in free_rows), len(free_rows)),
        "sketch_copy_share": _share(sum(r["sketch_copy"] for r in sketch_free), len(sketch_free)),
        "core_complete_share": sum(r["core_complete"] for r in persona_rows) / n,
        "anchor_retention": _share(anchors_kept, anchors_total),
        "sketch_facts_kept": _share(facts_kept, facts_total),
        "contradiction_share": sum(bool(r["contradictions"]) for r in persona_rows) / n,
        "contradictions": sum(rule_count.values()),
        "narrative_coverage": _mean(r["narrative_coverage"] for r in persona_rows),
        "narrative_first_person_share": sum(r["narrative_first_person"] for r in persona_rows) / n,
        "ok_but_incomplete": sum(r["ok_but_incomplete"] for r in persona_rows),
    }
    settings = {
        "story_words": list(words_range),
        "story_count": list(stories_range),
        "interest_count": list(interests_range),
        "taxonomy": None if taxonomy is None else taxonomy.fingerprint(),
    }
    logger.info("quality: assessed %d personas, %d values", n, len(counted_rows))
    return QualityReport(
        summary=summary,
        core_failures=dict(core_fail),
        contradictions=dict(rule_count),
        statuses=dict(statuses),
        failed=failed,
        settings=settings,
        _persona_rows=persona_rows,
        _value_rows=value_rows,
        _attribute_rows=attribute_rows,
    )


# --- the report -------------------------------------------------------------------------------------


def _fmt(name: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if name in _SHARES:
        return f"{100 * value:.1f}%"
    if name == "mean_words":
        return f"{value:.1f}"
    return str(int(value))


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclass
class QualityReport:
    """Judge-free quality figures of a persona set (see :meth:`Evaluator.quality`).

    Attributes:
        summary: Headline figure → value (shares 0-1, ``nan`` when nothing was there to measure); the
            definitions are in :data:`FIGURES`.
        core_failures: Core part → personas failing it (see :data:`CORE_PARTS`).
        contradictions: Rule → personas breaking it (see :data:`CONTRADICTION_RULES`).
        statuses: Persona status → count, over the assessed personas.
        failed: Personas left out because their generation failed.
        settings: The story and interest bounds used and the taxonomy's fingerprint.

    Example:
        >>> from deeppersona.persona import Persona
        >>> from deeppersona.evaluation import Evaluator
        >>> report = Evaluator().quality([Persona(id="p0", seed=0)], tree=None)
        >>> report.summary["core_complete_share"]
        0.0
    """

    summary: dict[str, float]
    core_failures: dict[str, int]
    contradictions: dict[str, int]
    statuses: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    _persona_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _value_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _attribute_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_pandas(self, per: Literal["summary", "persona", "value", "attribute"] = "summary") -> pd.DataFrame:
        """Return the report as a table.

        Args:
            per: ``"summary"``: one row per headline figure (``value``, ``definition``);
                ``"persona"``: one row per persona (its figures, failing core parts, contradictions);
                ``"value"``: one row per attribute value with its flags (``empty``, ``placeholder``,
                ``junk``, ``trivial``, ``one_word``, ``repeated``, ``echo``, ``first_person``, ``sketch_copy``,
                ``in_narrative``, ``contradiction``) and ``problem``, the first flag raised;
                ``"attribute"``: one row per free-text attribute held by 2+ personas (distinct ratio).

        Raises:
            EvaluationError: An unknown ``per``.
        """
        import pandas as pd

        if per == "summary":
            return pd.DataFrame(
                {"value": [self.summary[k] for k in FIGURES], "definition": list(FIGURES.values())},
                index=pd.Index(list(FIGURES), name="figure"),
            )
        if per == "persona":
            return pd.DataFrame(self._persona_rows)
        if per == "value":
            columns = ["persona_id", "path", "name", "stratum", "kind", "value", "counted", "free_text", "words",
                       "not_applicable", "problem", "empty", "placeholder", "junk", "trivial", "one_word",
                       "repeated", "echo", "first_person", "sketch_copy", "in_narrative", "contradiction"]  # fmt: skip
            return pd.DataFrame(self._value_rows, columns=columns)
        if per == "attribute":
            frame = pd.DataFrame(
                self._attribute_rows, columns=["path", "occurrences", "distinct", "distinct_ratio"]
            )
            return frame.sort_values(
                ["distinct_ratio", "occurrences"], ascending=[True, False], ignore_index=True
            )
        raise EvaluationError(f"per must be 'summary', 'persona', 'value' or 'attribute', got {per!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-compatible data (``nan`` becomes ``None``)."""
        return {
            "summary": {k: _json_number(v) for k, v in self.summary.items()},
            "core_failures": dict(self.core_failures),
            "contradictions": dict(self.contradictions),
            "statuses": dict(self.statuses),
            "failed": self.failed,
            "settings": dict(self.settings),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def flagged(self, limit: int = 10) -> list[tuple[str, str, int]]:
        """The most frequent flagged values: ``(problem, normalised value, count)``, most frequent first."""
        counts = Counter(
            (r["problem"], normalise(_text(r["value"])) or "''")
            for r in self._value_rows
            if r["counted"] and r["problem"]
        )
        return [(p, v, c) for (p, v), c in counts.most_common(limit)]

    def to_markdown(self) -> str:
        """The report as Markdown: the figures with their definitions, failing core parts, contradictions."""
        status = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        head = f"**Persona quality** ({self.summary['personas']:g} personas: {status}"
        head += f"; {self.failed} failed, left out)" if self.failed else ")"
        lines = [head, "", "| figure | value | definition |", "|---|---|---|"]
        lines += [f"| {k} | {_fmt(k, self.summary[k])} | {FIGURES[k]} |" for k in FIGURES]
        lines += [
            "",
            "**Core parts failing** (personas): "
            + ", ".join(f"{k} {v}" for k, v in self.core_failures.items()),
        ]
        lines += [
            "",
            "**Contradictions** (personas): " + ", ".join(f"{k} {v}" for k, v in self.contradictions.items()),
        ]
        flagged = self.flagged(8)
        if flagged:
            lines += [
                "",
                "**Most frequent flagged values**: " + ", ".join(f"{v!r} {p} ×{c}" for p, v, c in flagged),
            ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        s = self.summary
        parts = [
            f"{s['personas']:g} personas",
            f"{s['values']:g} values",
            f"trivial={_fmt('trivial_share', s['trivial_share'])}",
            f"one_word={_fmt('one_word_share', s['one_word_share'])}",
            f"unusable={_fmt('unusable_share', s['unusable_share'])}",
            f"repeated={_fmt('repeated_share', s['repeated_share'])}",
            f"echo={_fmt('echo_share', s['echo_share'])}",
            f"core_complete={_fmt('core_complete_share', s['core_complete_share'])}",
            f"contradictions={s['contradictions']:g}",
        ]
        return f"QualityReport({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{html.escape(_fmt(k, self.summary[k]))}"
            f"</td><td>{html.escape(FIGURES[k])}</td></tr>"
            for k in FIGURES
        )
        core = ", ".join(f"{k} {v}" for k, v in self.core_failures.items())
        rules = ", ".join(f"{k} {v}" for k, v in self.contradictions.items())
        return (
            f"<div><b>Persona quality</b> ({html.escape(repr(self))})"
            f"<table><tr><th>figure</th><th>value</th><th>definition</th></tr>{rows}</table>"
            f"<p><b>Core parts failing:</b> {html.escape(core)}</p>"
            f"<p><b>Contradictions:</b> {html.escape(rules)}</p></div>"
        )

    def plot(self, path: str | Path | None = None) -> Figure:
        """One compact figure: the share figures as bars (left) and the failure counts (right).

        Args:
            path: Also save the figure to this PNG path.

        Returns:
            The matplotlib figure (built without pyplot, so no global state is touched).
        """
        from matplotlib.ticker import MaxNLocator

        from .._figure import new_figure, save_figure

        shares = [k for k in FIGURES if k in _SHARES]
        values = [self.summary[k] for k in shares]
        fig = new_figure(10, 4.2)
        left, right = fig.subplots(1, 2, width_ratios=(3, 2))
        y = list(range(len(shares)))[::-1]
        colors = ["#55a868" if k in _HIGHER_IS_BETTER else "#c44e52" for k in shares]
        left.barh(y, [0.0 if math.isnan(v) else v for v in values], color=colors)
        left.set_yticks(y, shares, fontsize=8)
        left.set_xlim(0, 1)
        for yy, v in zip(y, values, strict=True):
            left.text(0.01 if math.isnan(v) else min(v, 0.85) + 0.01, yy, "n/a" if math.isnan(v) else f"{v:.0%}",
                      va="center", fontsize=7)  # fmt: skip
        left.set_title(f"Shares ({self.summary['personas']:g} personas; green: higher is better)", fontsize=9)
        counts = {f"core: {k}": v for k, v in self.core_failures.items()}
        counts.update({f"rule: {k}": v for k, v in self.contradictions.items()})
        yc = list(range(len(counts)))[::-1]
        right.barh(
            yc,
            list(counts.values()),
            color=["#dd8452"] * len(self.core_failures) + ["#8172b3"] * len(self.contradictions),
        )
        right.set_yticks(yc, list(counts), fontsize=8)
        right.set_xlim(0, max([1, *counts.values()]) * 1.1)
        right.set_title("Personas failing a core part / breaking a rule", fontsize=9)
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        if path is not None:
            save_figure(fig, path)
        return fig
