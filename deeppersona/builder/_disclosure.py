"""Constrained extraction: what one self-disclosure reveals, as typed items a small model can follow.

The extraction reply is a list of items ``{root, category, attribute, value}``: the root is an enum of
the builder's root categories (a grammar-constrained model cannot write anything else), the two names
below it are short Title Case names without digits (a ``pattern`` the grammar enforces; validation
does not, so a hosted model's other spelling is not re-asked: the later stages canonicalise it), and
the disclosed value is kept apart in ``value`` instead of becoming a node ("Country of Residence >
Kenya"). When the builder classifies and extracts in one call (``one_call``), a pair from which
nothing is extracted is the one labelled "No": the label follows from the items, which a small model
gets right far more often than a label written before them.

:func:`clean_disclosures` turns the items into ``(path, value)`` pairs and counts what it drops: a root
name used below the root (a list of roots, not a path), a name repeated within the path, a name that is
the disclosed value, a placeholder name ("None").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from ..taxonomy import canonical_key
from ._records import AttributePath

__all__ = [
    "NAME_PATTERN",
    "DisclosureDrops",
    "clean_disclosures",
    "disclosure_reply_type",
    "names_value",
    "value_in_text",
]

NAME_PATTERN = (
    r"^[A-Z][A-Za-z']{0,20}([ -]([A-Z][A-Za-z']{0,20}|and|of|or|in|for|to|the|with|on|at|as)){0,4}$"
)
"""An attribute name: 1-5 Title Case words (a few lower-case joining words allowed), no digits or
symbols. Written in the regex subset llama.cpp's grammar converter reads (no ``(?:``)."""

NAME_MAX_CHARS = 40
VALUE_MAX_CHARS = 80

_PLACEHOLDER_NAMES = frozenset({"none", "null", "unknown", "n a", "na", "other", "misc", "general", "value"})

DisclosureDrops = Counter
"""Drop reason → count (``root_in_path``, ``repeated_name``, ``value_as_name``, ``placeholder_name``,
``unknown_root``, ``empty``, ``value_not_in_text``, ``repeated_value``)."""


class _Item(BaseModel):
    """The lenient base of one extracted item (its fields are made per root set, in generation order)."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("category", "attribute", "value", mode="before", check_fields=False)
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value if isinstance(value, str) else str(value)


def _name_field(description: str) -> Any:
    return (
        str,
        Field(
            description=description, json_schema_extra={"pattern": NAME_PATTERN, "maxLength": NAME_MAX_CHARS}
        ),
    )


@lru_cache(maxsize=32)
def disclosure_reply_type(
    roots: tuple[str, ...], max_depth: int = 3, max_items: int = 8, min_items: int = 0
) -> type[BaseModel]:
    """The response model of an extraction call for ``roots``.

    Args:
        roots: The root categories (the item's ``root`` is an enum of them).
        max_depth: 3 (root, category, attribute) or 2 (root, category).
        max_items: At most this many items (``maxItems``).
        min_items: At least this many items (``minItems``, in the schema only: a grammar-constrained model
            then cannot close the list at once; a shorter reply still validates). 1 for a pair already
            classified personalizable, 0 when the same call also decides whether it discloses anything.

    Returns:
        A pydantic model with one field, ``attributes``: a list of items.
    """
    item_fields: dict[str, Any] = {
        "root": (Literal[roots], Field(description="One of the root categories.")),  # type: ignore[valid-type]
        "category": _name_field("The general category below the root (Title Case, no values)."),
    }
    if max_depth >= 3:
        item_fields["attribute"] = _name_field(
            "The attribute, one level below the category (Title Case, no values)."
        )
    item_fields["value"] = (
        str,
        Field(
            description="What the person disclosed for this attribute, in a few words.",
            json_schema_extra={"maxLength": VALUE_MAX_CHARS},
        ),
    )
    item = create_model("DisclosedAttribute", __base__=_Item, **item_fields)
    counts: dict[str, Any] = {"maxItems": max_items}
    if min_items:
        counts["minItems"] = min_items
    attributes: tuple[Any, Any] = (
        list[item],  # type: ignore[valid-type]
        Field(default_factory=list, json_schema_extra=counts),
    )
    model = create_model("Disclosures", __config__=ConfigDict(extra="ignore"), attributes=attributes)
    model.__doc__ = "What one self-disclosure reveals: its attribute items (none for small talk)."
    return model


def clean_disclosures(
    items: Iterable[Any], roots: Sequence[str], *, max_depth: int = 3, text: str | None = None
) -> tuple[list[tuple[AttributePath, str]], DisclosureDrops]:
    """Turn extracted items into ``(path, value)`` pairs, dropping what is not an attribute path.

    Args:
        items: Items of a :func:`disclosure_reply_type` reply (models or dicts).
        roots: The root categories (a root name below the root marks a list of roots).
        max_depth: Names per path at most (root included).
        text: The conversation the items come from; when given, an item whose value shares no word
            with it is dropped (``value_not_in_text``): what the user said is in their words.

    Returns:
        The kept ``(path, value)`` pairs, without duplicate paths (the first value is kept), and the
        count of dropped items by reason.
    """
    root_keys = {canonical_key(r): r for r in roots}
    drops: DisclosureDrops = Counter()
    kept: dict[AttributePath, str] = {}
    values_seen: set[str] = set()
    for raw in items:
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else raw.model_dump()
        root = root_keys.get(canonical_key(str(data.get("root") or "")))
        if root is None:
            drops["unknown_root"] += 1
            continue
        names = [_tidy(data.get("category")), _tidy(data.get("attribute"))][: max_depth - 1]
        names = [n for n in names if n]
        value = " ".join(str(data.get("value") or "").split())
        if not names:
            drops["empty"] += 1
            continue
        reason = _name_problem(names, root_keys, value)
        if reason is None and text is not None and value and not value_in_text(value, text):
            reason = "value_not_in_text"
        if reason is None and value and canonical_key(value) in values_seen:
            reason = "repeated_value"  # one fact, one item: the same value under a second name
        if reason is not None:
            drops[reason] += 1
            continue
        if value:
            values_seen.add(canonical_key(value))
        kept.setdefault((root, *names), value)
    return list(kept.items()), drops


def _tidy(name: Any) -> str:
    return " ".join(str(name or "").split()).strip(" .:-")


_WORD = re.compile(r"[a-z0-9']+")


def _name_problem(names: Sequence[str], root_keys: Mapping[str, str], value: str) -> str | None:
    keys = [canonical_key(n) for n in names]
    if any(k in root_keys for k in keys):
        return "root_in_path"  # "Demographic Information > Physical and Health Characteristics > ..."
    if len(set(keys)) < len(keys):
        return "repeated_name"  # "Occupation > Occupation"
    if any(k in _PLACEHOLDER_NAMES for k in keys):
        return "placeholder_name"
    if value and any(names_value(n, value) for n in names):
        return "value_as_name"  # "Age > 25-35", "Favorite Sport > Ultimate Frisbee" ("ultimate frisbee")
    return None


def names_value(name: str, value: str) -> bool:
    """Whether the attribute ``name`` is the disclosed ``value`` itself ("Ultimate Frisbee" for
    "ultimate frisbee", "25-35" for "25-35"): equal, or all of the value's words and no others."""
    key = canonical_key(name)
    if not value or key == canonical_key(value):
        return bool(value)
    words, value_words = set(_WORD.findall(key)), set(_WORD.findall(value.lower()))
    return bool(words) and words <= value_words and len(words) >= len(value_words)


_STOP = frozenset(
    {
    "the", "and", "but", "for", "with", "from", "that", "this", "they", "them", "their", "there", "have",
    "has", "had", "was", "were", "are", "not", "you", "your", "yours", "our", "out", "all", "any", "can",
    "could", "would", "should", "will", "just", "very", "really", "also", "some", "about", "into", "than",
    "then", "when", "what", "who", "how", "why", "its", "i'm", "i've", "don't", "didn't"
    }
)  # fmt: skip


@lru_cache(maxsize=1024)
def _stems(text: str) -> frozenset[str]:
    """Content words of ``text``, cut to five letters (a crude stem: "knitting" and "knit" meet below)."""
    return frozenset(
        w[:5] for w in _WORD.findall(text.lower()) if (len(w) >= 3 or w.isdigit()) and w not in _STOP
    )


def value_in_text(value: str, text: str) -> bool:
    """Whether the disclosed ``value`` shares a content word with the conversation ``text`` (a word of
    one is the other's start: "knitting" for "I love to knit"). A value with no content word passes."""
    said = _stems(value)
    if not said:
        return True
    words = _stems(text)
    return any(
        a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))
        for a in said
        for b in words
    )
