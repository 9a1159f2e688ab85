"""Response models of the generation calls, and the per-batch fill schema."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from ..taxonomy import AttributeNode, ValueType, canonical_key

__all__ = [
    "ConsistencyFix",
    "ConsistencyReport",
    "CoreChain",
    "FillItem",
    "FillReply",
    "SketchFacts",
    "coerce_value",
    "fill_items",
    "fill_reply_type",
]


class CoreChain(BaseModel):
    """The core chain in generation order: each field is written after (and from) the ones before it."""

    model_config = ConfigDict(extra="ignore")

    values_orientation: str = Field(
        description="A short phrase capturing the person's core values and beliefs."
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
    """Demographic facts a one-line persona sketch states or clearly implies (``None`` when it does not)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    age: int | None = Field(default=None, ge=0, le=110)
    gender: str | None = None
    occupation: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None


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

    @classmethod
    def of(cls, key: str, node: AttributeNode, stratum: str) -> FillItem:
        """Build an item, computing the node's path and hint once."""
        names = tuple(node.path)
        return cls(
            key, node, stratum, " > ".join(names), names, _hint(node.value_type), str(node.description or "")
        )


def _hint(vt: ValueType | None) -> str:
    if vt is None or vt.kind == "text":
        return ""
    if vt.kind == "categorical":
        return "one of: " + " | ".join(vt.options)
    if vt.kind == "number":
        return f"a number{' of ' + vt.unit if vt.unit else ''}"
    return "a short list"


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
        " > ".join(names),
        _hint(node.value_type),
        str(node.description or ""),
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
            FillItem(candidate, info.node, stratum, info.path, info.names, info.hint, info.description)
        )
    return out


def _value_schema(item: FillItem) -> dict[str, Any]:
    vt = item.node.value_type
    schema: dict[str, Any]
    if vt is not None and vt.kind == "categorical":
        schema = {"type": "string", "enum": list(vt.options)}
    elif vt is not None and vt.kind == "number":
        schema = {"type": "number"}
    elif vt is not None and vt.kind == "list":
        schema = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}
    else:
        schema = {"type": "string"}
    schema["description"] = item.path + (f" [{item.hint}]" if item.hint else "")
    return schema


class FillReply(dict):  # type: ignore[type-arg]
    """The reply to one fill batch: a dict of key → value.

    Each batch gets its own subclass (see :func:`fill_reply_type`) whose JSON schema lists the batch's
    exact keys and value types, so providers with structured output and grammar-constrained local
    models emit every key. Validation itself is lenient (any JSON object): missing or unusable values
    are re-asked by the generator rather than failing the whole batch.
    """

    json_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return dict(cls.json_schema)


def fill_reply_type(items: Sequence[FillItem], name: str = "AttributeValues") -> type[FillReply]:
    """Return a :class:`FillReply` subclass whose JSON schema has exactly the keys of ``items``."""
    schema = {
        "title": name,
        "type": "object",
        "properties": {item.key: _value_schema(item) for item in items},
        "required": [item.key for item in items],
        "additionalProperties": False,
    }
    return type(name, (FillReply,), {"json_schema": schema})


_EMPTY = {"", "n/a", "na", "none", "null", "unknown", "not specified", "-", "?"}


def coerce_value(value: Any, node: AttributeNode) -> tuple[bool, Any]:
    """Check and normalise one filled value against the node's value type.

    Returns:
        ``(usable, value)``: ``usable`` is ``False`` for a missing, empty or mistyped value.
    """
    if value is None:
        return False, None
    if isinstance(value, dict):
        value = next(iter(value.values()), None) if len(value) == 1 else None
        if value is None:
            return False, None
    vt = node.value_type
    kind = vt.kind if vt is not None else "text"
    if kind == "number":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                return False, None
            return True, int(value) if float(value).is_integer() else float(value)
        match = re.search(r"-?\d+(?:[.,]\d+)?", str(value))
        if not match:
            return False, None
        number = float(match.group().replace(",", "."))
        return True, int(number) if number.is_integer() else number
    if kind == "list":
        items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
        cleaned = [str(v).strip() for v in items if str(v).strip() and str(v).strip().lower() not in _EMPTY]
        return (True, cleaned) if cleaned else (False, None)
    if isinstance(value, list):
        value = ", ".join(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, bool):
        value = "yes" if value else "no"
    text = str(value).strip()
    if kind == "categorical" and vt is not None:  # before the emptiness check: "None" may be an option
        for option in vt.options:
            if option.casefold() == text.casefold():
                return True, option
    if text.lower() in _EMPTY:
        return False, None
    return True, text
