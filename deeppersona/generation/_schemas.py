"""Response models of the generation calls, and the per-batch fill schema."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
)

from ..llm._keyed import KeyedReply, keyed_reply_type
from ..taxonomy import CONDITIONS, PATH_SEPARATOR, AttributeNode, ValueType, canonical_key
from ._checks import (
    ValueProblem,
    absence_reason,
    bare_none,
    clip_value,
    invites_none,
    normalise,
    not_applicable_reason,
    parse_number,
    value_problem,
)

__all__ = [
    "ConsistencyFix",
    "ConsistencyReport",
    "CoreChain",
    "check_value",
    "FillItem",
    "FillReply",
    "SketchFacts",
    "coerce_value",
    "core_chain_type",
    "fill_items",
    "fill_reply_type",
    "with_options",
    "parse_word_range",
]


class CoreChain(BaseModel):
    """The core chain in generation order: each field is written after (and from) the ones before it."""

    model_config = ConfigDict(extra="ignore")

    values_orientation: str = Field(
        description="A phrase (4-12 words) capturing the person's core values and beliefs, not a label."
    )
    attitude: str = Field(description="One sentence (5-10 words): their overall attitude to life.")
    attitude_details: str = Field(
        description="One sentence (15-20 words): how the attitude shows in daily life."
    )
    coping_mechanism: str = Field(description="One sentence (5-10 words): how they deal with challenges.")
    life_stories: list[str] = Field(
        min_length=1, max_length=3, description="One to three concise personal stories."
    )
    interests: list[str] = Field(min_length=2, max_length=3, description="Two or three hobbies or interests.")


_LEAST_CHARS = {"values_orientation": 15, "attitude": 20, "attitude_details": 40, "coping_mechanism": 20}
"""Least characters of the core chain's short fields, written into the response schema."""


def parse_word_range(text: str) -> tuple[int, int]:
    """``"60-120"`` -> ``(60, 120)``; ``"150"`` -> ``(150, 150)``.

    Raises:
        ValueError: ``text`` is not one or two positive whole numbers (``lo <= hi``).
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*(?:words)?\s*", str(text))
    if not match:
        raise ValueError(f"a word range looks like '60-120', got {text!r}")
    lo = int(match.group(1))
    hi = int(match.group(2) or lo)
    if lo < 1 or hi < lo:
        raise ValueError(f"a word range needs 1 <= low <= high, got {text!r}")
    return lo, hi


@functools.lru_cache(maxsize=64)
def core_chain_type(
    num_stories: int, num_interests: int, story_words: tuple[int, int], fields: tuple[str, ...] = ()
) -> type[BaseModel]:
    """The response model of one core-chain request: :class:`CoreChain` with the drawn counts and lengths.

    The schema fixes the number of stories and interests (``minItems = maxItems``) and states each
    story's length, so providers with structured output and grammar-constrained local models produce
    exactly what is asked; :func:`~deeppersona.generation._checks.core_problems` checks the rest.

    Args:
        num_stories: Life stories asked for.
        num_interests: Interests asked for.
        story_words: ``(low, high)`` words per story.
        fields: Only these fields (a re-ask of the offending ones); all when empty.
    """
    lo, hi = story_words
    # Counts go into the schema only (json_schema_extra), not into validation: a reply that misses them
    # is still parsed, and core_problems re-asks just the offending fields with the reason.
    # (No minLength/maxLength on the stories: llama.cpp refuses grammars with repetitions that long.)
    story = Annotated[str, Field(description=f"A specific personal story, {lo}-{hi} words.")]
    interest = Annotated[
        str,
        # maxLength: a small model otherwise writes a sentence ("Reading, hiking and cooking are hobbies
        # that bring me joy") that the check refuses again and again
        Field(
            description="A hobby or interest, 2-5 words.", json_schema_extra={"minLength": 3, "maxLength": 40}
        ),
    ]
    # The short fields get a least length in the schema (not in validation): a grammar-constrained small
    # model otherwise answers a re-ask with "" again and again.
    specs: dict[str, Any] = {
        name: (
            str,
            Field(description=info.description, json_schema_extra={"minLength": _LEAST_CHARS.get(name, 1)}),
        )
        for name, info in CoreChain.model_fields.items()
    }
    specs["life_stories"] = (
        list[story],  # type: ignore[valid-type]
        Field(
            description=f"Exactly {num_stories} personal {'story' if num_stories == 1 else 'stories'}.",
            json_schema_extra={"minItems": num_stories, "maxItems": num_stories},
        ),
    )
    specs["interests"] = (
        list[interest],  # type: ignore[valid-type]
        Field(
            description=f"Exactly {num_interests} hobbies or interests.",
            json_schema_extra={"minItems": num_interests, "maxItems": num_interests},
        ),
    )
    wanted = fields or tuple(specs)
    return create_model(  # type: ignore[call-overload,no-any-return]
        "CoreChain" if not fields else "CoreChainFix",
        __config__=ConfigDict(extra="ignore"),
        **{name: specs[name] for name in wanted},
    )


class ConsistencyFix(BaseModel):
    """One contradiction and its repair."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(description="The key of the attribute to correct, exactly as used above.")
    corrected_value: str = Field(description="The corrected value.")
    reason: str = Field(description="One sentence: what contradicted what.")


class ConsistencyReport(BaseModel):
    """The contradictions found by the consistency pass (empty when there are none)."""

    model_config = ConfigDict(extra="ignore")

    contradictions: list[ConsistencyFix] = Field(default_factory=list, max_length=20)


class SketchFacts(BaseModel):
    """Facts a one-line persona sketch states about the person (``null`` or empty when it does not).

    The types are lenient on purpose (an age may come back as ``"65"``, a list as one string): a small
    model's near-miss should not cost a re-ask. :func:`deeppersona.generation._sketch.clean_facts`
    checks every field against the sketch's own words before anything is used.
    """

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, description="Their name, only if the description gives it.")
    age: int | str | None = Field(
        default=None, description="Their age in whole years, only if the description states a number."
    )
    age_hint: str | None = Field(
        default=None,
        description='Words of the description about their age or life stage ("retired", "student", '
        '"teenager", "in her forties").',
    )
    gender: str | None = Field(default=None, description="Their gender, only if the description says it.")
    occupation: str | None = Field(default=None, description="Their job (or former job), in a few words.")
    city: str | None = Field(default=None, description="The city or town they live in.")
    region: str | None = Field(default=None, description="The state, province or region they live in.")
    country: str | None = Field(default=None, description="The country they live in (common English name).")
    likes: list[str] | str | None = Field(
        default=None, description="Things they like, love or enjoy (short phrases)."
    )
    dislikes: list[str] | str | None = Field(
        default=None, description="Things they hate, dislike, avoid or oppose (short phrases)."
    )
    other_facts: list[str] | str | None = Field(
        default=None,
        description="Up to three other facts the description states about them (short phrases, not the "
        "whole description).",
    )


@dataclass(frozen=True)
class FillItem:
    """One attribute to fill: its JSON key, node, stratum and (precomputed) prompt texts.

    Attributes:
        key: The JSON key of the attribute in fill replies.
        node: The taxonomy node.
        stratum: The selector stratum.
        path: The node's path string.
        names: The node's path as a tuple of names.
        hint: The value-type hint shown in the prompt (empty for free text).
        description: The node's description (empty when it has none).
    """

    key: str
    node: AttributeNode
    stratum: str
    path: str = ""
    names: tuple[str, ...] = ()
    hint: str = ""
    description: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The value's JSON schema in a first ask (shared by every item of the node: never change it;
    worked out from the node when ``None``)."""

    @functools.cached_property
    def group(self) -> str:
        """The path of the attribute's parent (``Demographic Information > Income Profile``): fill prompts
        list the attributes of a batch under their parent's path, once per group."""
        return PATH_SEPARATOR.join(self.names[:-1])

    @functools.cached_property
    def named_by_key(self) -> bool:
        """Whether the key spells the leaf's name (``sleep_quality``, or ``diet_frequency`` for
        "Frequency" under "Diet"): a prompt then need not repeat the name beside the key."""
        if not self.names:
            return False
        leaf = _slug(self.names[-1])
        return self.key == leaf or (len(self.names) > 1 and self.key == f"{_slug(self.names[-2])}_{leaf}")

    @classmethod
    def of(cls, key: str, node: AttributeNode, stratum: str) -> FillItem:
        """Build an item, computing the node's path and hint once."""
        names = tuple(node.path)
        return cls(
            key,
            node,
            stratum,
            PATH_SEPARATOR.join(names),
            names,
            _hint(node.value_type, node.applies_when),
            str(node.description or ""),
        )


@functools.lru_cache(maxsize=256)
def circumstances_type(names: tuple[str, ...]) -> type[BaseModel]:
    """The reply model of the circumstances call: one true/false field per condition of ``names`` (from
    :data:`~deeppersona.taxonomy.CONDITIONS`); built once per set of conditions."""
    fields: dict[str, Any] = {n: (bool, Field(description=f"the person {CONDITIONS[n]}")) for n in names}
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Circumstances", __config__=ConfigDict(extra="ignore"), **fields
    )


def _hint(vt: ValueType | None, conditions: Sequence[str] = (), options: Sequence[str] | None = None) -> str:
    """The bracketed hint of a fill item: the value type (a categorical one with ``options`` when given),
    and the circumstance it presupposes."""
    if vt is None or vt.kind == "text":
        text = ""
    elif vt.kind == "categorical":
        text = "one of: " + " | ".join(vt.options if options is None else options)
    elif vt.kind == "number":
        text = f"a number{' of ' + vt.unit if vt.unit else ''}"
        if vt.minimum is not None and vt.maximum is not None:
            text += f", {vt.minimum:g} to {vt.maximum:g}"
        elif vt.minimum is not None:
            text += f", at least {vt.minimum:g}"
        elif vt.maximum is not None:
            text += f", at most {vt.maximum:g}"
    else:
        text = "a short list"
    if conditions:
        needs = " and ".join(CONDITIONS.get(c, c) for c in conditions)
        text = (text + "; " if text else "") + f"only if the person {needs}, else N/A"
    return text


_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(name: str) -> str:
    return _SLUG.sub("_", canonical_key(name)).strip("_") or "attribute"


@dataclass(frozen=True)
class _NodeInfo:
    """The static, per-node parts of a :class:`FillItem` (cached across personas)."""

    node: AttributeNode
    slug: str
    parent_slug: str
    names: tuple[str, ...]
    path: str
    hint: str
    description: str
    schema: dict[str, Any]


def _node_info(node: AttributeNode, cache: dict[int, _NodeInfo] | None) -> _NodeInfo:
    if cache is not None:
        hit = cache.get(id(node))
        if hit is not None and hit.node is node:
            return hit
    names = tuple(node.path)
    parent = node.parent
    info = _NodeInfo(
        node,
        _slug(node.name),
        _slug(parent.name) if isinstance(parent, AttributeNode) and parent.name else "",
        names,
        PATH_SEPARATOR.join(names),
        _hint(node.value_type, node.applies_when),
        str(node.description or ""),
        _value_schema(node.value_type),
    )
    if cache is not None:
        cache[id(node)] = info
    return info


def fill_items(
    selected: Sequence[tuple[AttributeNode, str]], *, cache: dict[int, Any] | None = None
) -> list[FillItem]:
    """Give every selected attribute a unique, readable JSON key.

    The key is the leaf name in snake case (``sleep_quality``); when two leaves share a name their
    parent's name is prefixed (``diet_frequency``), and a number is appended if that still collides.

    Args:
        selected: ``(node, stratum)`` pairs.
        cache: A dict to keep the per-node texts in across calls (the caller owns it; pass the same one
            for every persona of a run to skip recomputing paths and hints).
    """
    infos = [_node_info(node, cache) for node, _ in selected]
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.slug] = counts.get(info.slug, 0) + 1
    used: set[str] = set()
    out: list[FillItem] = []
    for info, (_, stratum) in zip(infos, selected, strict=True):
        key = info.slug
        if counts[key] > 1 and info.parent_slug:
            key = f"{info.parent_slug}_{key}"
        candidate, n = key, 2
        while candidate in used:
            candidate, n = f"{key}_{n}", n + 1
        used.add(candidate)
        out.append(
            FillItem(
                candidate, info.node, stratum, info.path, info.names, info.hint, info.description, info.schema
            )
        )
    return out


def with_options(item: FillItem, options: Sequence[str]) -> FillItem:
    """``item`` offering only ``options`` of its categorical value type, in its hint and its schema (the
    options of one persona: "Retired" is no option for a person of 21)."""
    return dataclasses.replace(
        item,
        hint=_hint(item.node.value_type, item.node.applies_when, options),
        schema={"type": "string", "enum": list(options)},
    )


FREE_TEXT_LEAST_CHARS = 12
"""Least characters of a free-text value in the fill reply's schema (about three words)."""

REASK_LEAST_CHARS = 30
"""Least characters of a free-text value re-asked after a bare level or a placeholder ("High to Very
High", "None of the above"): about six words. The embedded model gave "High to Very High" to the same
four attributes in the first ask and in both re-asks, and the whole persona was made again for it."""

FREE_TEXT_MOST_CHARS = 120
"""Most characters of a free-text value in the fill reply's schema (about 20 words; 3-15 are asked): a
small model sometimes writes a paragraph per value (a thousand tokens, minutes on a CPU, for one batch).
A value that reaches the limit is cut back to its last whole clause (:func:`clip_value`)."""

FREE_TEXT_MOST_WORDS = 30
"""Longer free-text values are cut after their last whole sentence within this many words
(:func:`~deeppersona.generation._checks.clip_value`)."""


def _value_schema(vt: ValueType | None, least: int = FREE_TEXT_LEAST_CHARS) -> dict[str, Any]:
    schema: dict[str, Any]
    if vt is not None and vt.kind == "categorical":
        schema = {"type": "string", "enum": list(vt.options)}
    elif vt is not None and vt.kind == "number":
        schema = {"type": "number"}
        if vt.minimum is not None:  # providers with structured output keep to it; llama.cpp ignores it
            schema["minimum"] = vt.minimum
        if vt.maximum is not None:
            schema["maximum"] = vt.maximum
    elif vt is not None and vt.kind == "list":
        schema = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}
    else:
        # a least length: under a grammar a small model cannot answer "High" or "none"; hosted models
        # read it as the hint it is (the checks refuse what is still too thin)
        schema = {"type": "string", "minLength": least, "maxLength": FREE_TEXT_MOST_CHARS}
    # no description: the fill prompt lists every key with its path, type and options already, and a
    # local model reads the schema as prompt text (30 paths are about 700 tokens to evaluate per batch)
    return schema


class FillReply(KeyedReply):
    """The reply to one fill batch: a dict of key → value.

    Each batch gets its own subclass (see :func:`fill_reply_type`) whose JSON schema lists the batch's
    exact keys and value types, so providers with structured output and grammar-constrained local
    models emit every key. Validation itself is lenient (any JSON object): missing or unusable values
    are re-asked by the generator rather than failing the whole batch. The fill prompt lists every key
    with its path, type and options (:attr:`~deeppersona.llm._keyed.KeyedReply.prompt_lists_keys`).
    """


DECIDED_PATTERN = '^[A-MO-Za-mo-z0-9][^"\\\\\\n]*$'
"""A free-text value that opens with a letter other than "N" or "n", or a digit (no "N/A: ...", "None",
"not ..."; a value opening with "Nairobi" is rarer than the cascade it stops; nor "}" and line breaks:
sampled in the middle of a reply and kept from "N/A", the embedded model wrote ``}`` and blank lines)
and holds no quote, backslash or line break."""


def _decided_schema(least: int) -> dict[str, Any]:
    """A free-text value of :data:`REASK_LEAST_CHARS` characters or more that is no "N/A": a re-ask after
    an N/A that was refused. The pattern spells the length out too: llama.cpp's grammar keeps to the
    pattern alone when there is one."""
    most = FREE_TEXT_MOST_CHARS
    return {
        "type": "string",
        "minLength": least,
        "maxLength": most,
        "pattern": DECIDED_PATTERN.replace("]*$", f"]{{{least - 1},{most - 1}}}$"),
    }


def fill_reply_type(
    items: Sequence[FillItem],
    name: str = "AttributeValues",
    *,
    longer: Collection[str] = (),
    decided: Collection[str] = (),
) -> type[FillReply]:
    """Return a :class:`FillReply` subclass whose JSON schema has exactly the keys of ``items``.

    Free-text values of the keys in ``longer`` need :data:`REASK_LEAST_CHARS` characters instead of
    :data:`FREE_TEXT_LEAST_CHARS` (a re-ask after a bare level or a placeholder); those of the keys in
    ``decided`` as many, and must not open with "N" (a re-ask after a refused "N/A": the embedded model,
    re-asked for eight such values, answered "N/A: The person does not have ..." to all eight, twice).
    A list value of a key in either has items that do not open with "N" (no ``["None"]``)."""
    properties: dict[str, Any] = {}
    for item in items:
        vt = item.node.value_type
        if item.key in decided and (vt is None or vt.kind == "text"):
            properties[item.key] = _decided_schema(REASK_LEAST_CHARS)
        elif (item.key in longer or item.key in decided) and vt is not None and vt.kind == "list":
            # items that are no "None" nor "N/A: ...": asked again after ["None"], the embedded model
            # wrote ["N/A: No subjects found boring"], and the value cost a re-ask call
            properties[item.key] = {
                **_value_schema(vt),
                "items": {"type": "string", "pattern": DECIDED_PATTERN},
            }
        elif item.key in longer or item.key in decided:
            properties[item.key] = _value_schema(vt, REASK_LEAST_CHARS)
        else:
            properties[item.key] = item.schema or _value_schema(vt)
    return keyed_reply_type(name, properties, FillReply)


def check_value(
    value: Any, node: AttributeNode, *, sketch: str | None = None, ignore: Collection[str] = ()
) -> tuple[Any, ValueProblem | None, str | None]:
    """Check and normalise one filled value against the node's value type and the value rules.

    Args:
        value: The value as the model wrote it.
        node: The attribute's taxonomy node (its name and value type).
        sketch: The persona's sketch or biography (a value must not copy it).
        ignore: Words that are no content (the person's name; see ``value_problem``).

    Returns:
        ``(value, problem, not_applicable)``: the normalised value; why it must not be stored (see
        :func:`~deeppersona.generation._checks.value_problem`), or ``None``; and the reason of an explicit
        "not applicable" answer (then ``value`` is ``None`` and ``problem`` is ``None``).
    """
    if isinstance(value, dict):
        value = next(iter(value.values()), None) if len(value) == 1 else None
    if value is None:
        return None, "empty", None
    vt = node.value_type
    kind = vt.kind if vt is not None else "text"
    options = vt.options if vt is not None else ()
    if kind == "categorical" and isinstance(value, str):  # before anything else: "None" may be an option
        wanted = normalise(value)
        for option in options:
            if normalise(option) == wanted:
                return option, None, None
    reason = not_applicable_reason(value)
    if reason is not None:
        return None, None, reason
    if (
        kind in ("text", "list")
        and (node.applies_when or invites_none(node.description))
        and bare_none(value)
    ):
        # the taxonomy allows "none" here ("..., or none"; a conditional attribute): an honest absence
        return None, None, f"the person has no {node.name.lower()}"
    if kind == "number":
        number = parse_number(value)
        if number is None:
            return None, "not_a_number", None
        if vt is not None and not vt.in_range(number):
            return None, "out_of_range", None
        return (int(number) if number.is_integer() else number), None, None
    if kind == "list":
        items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
        cleaned = [str(v).strip() for v in items if str(v).strip()]
        problem = value_problem(cleaned or None, kind="list", name=node.name, sketch=sketch, ignore=ignore)
        return (cleaned if problem is None else None), problem, None
    if isinstance(value, list):
        value = ", ".join(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, bool):
        value = "yes" if value else "no"
    text = str(value).strip()
    if kind == "text":
        text = clip_value(text, words=FREE_TEXT_MOST_WORDS, limit=FREE_TEXT_MOST_CHARS)
    problem = value_problem(text, kind=kind, options=options, name=node.name, sketch=sketch, ignore=ignore)
    if problem == "echo" and kind == "text":
        reason = absence_reason(  # "does not host dinner parties": none
            text, node.path, ignore=ignore, conditions=node.applies_when, description=node.description
        )
        if reason is not None:
            return None, None, reason
    return (text if problem is None else None), problem, None


def coerce_value(value: Any, node: AttributeNode) -> tuple[bool, Any]:
    """Check and normalise one filled value against the node's value type (see :func:`check_value`).

    Returns:
        ``(usable, value)``: ``usable`` is ``False`` for a missing, empty, mistyped or shallow value, and
        for an explicit not-applicable answer.
    """
    checked, problem, reason = check_value(value, node)
    return (problem is None and reason is None), checked
