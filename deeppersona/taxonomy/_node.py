"""Attribute nodes and their value-type hints."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from anytree import NodeMixin
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..errors import TaxonomyError
from ._canonical import canonical_key
from ._conditions import check_conditions
from ._constants import PATH_SEPARATOR

__all__ = ["AttributeNode", "ValueKind", "ValueType"]

ValueKind = Literal["text", "categorical", "list", "number"]


class ValueType(BaseModel):
    """A hint about the kind of value an attribute takes, for prompts and validation.

    Attributes:
        kind: ``"text"`` (free text), ``"categorical"`` (one of ``options``), ``"list"`` (several
            short items) or ``"number"`` (a quantity in ``unit``).
        options: The allowed values of a categorical attribute (at least two, unique).
        unit: The unit of a numeric attribute, such as ``"people"`` or ``"hours per week"``.
        minimum: The least plausible value of a numeric attribute, or ``None``.
        maximum: The greatest plausible value of a numeric attribute, or ``None``.

    An ordinal scale is a categorical type whose options run from one end of the scale to the other
    ("Never | Rarely | Sometimes | Often"); a yes/no attribute is the categorical ``Yes | No``.

    Example:
        >>> ValueType.parse("categorical: Morning | Evening").options
        ('Morning', 'Evening')
        >>> ValueType(kind="number", unit="hours").to_hint()
        'number: hours'
        >>> ValueType.parse("number: hours, 0-24").maximum
        24.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ValueKind = "text"
    options: tuple[str, ...] = ()
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    @field_validator("options")
    @classmethod
    def _clean_options(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(v.strip() for v in value)
        if any(not v for v in cleaned):
            raise ValueError("options must not be empty strings")
        if len({v.casefold() for v in cleaned}) != len(cleaned):
            raise ValueError(f"options repeat a value: {list(cleaned)}")
        return cleaned

    @field_validator("unit")
    @classmethod
    def _clean_unit(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None

    @model_validator(mode="after")
    def _check_kind(self) -> ValueType:
        if self.kind == "categorical" and len(self.options) < 2:
            raise ValueError("a categorical value type needs at least two options")
        if self.kind != "categorical" and self.options:
            raise ValueError(f"options are only allowed for kind 'categorical', not {self.kind!r}")
        if self.kind != "number" and self.unit is not None:
            raise ValueError(f"a unit is only allowed for kind 'number', not {self.kind!r}")
        if self.kind != "number" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"a range is only allowed for kind 'number', not {self.kind!r}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"the range {self.minimum:g}-{self.maximum:g} runs backwards")
        return self

    @classmethod
    def parse(cls, hint: str) -> ValueType:
        """Parse a compact hint: ``"text"``, ``"list"``, ``"number: unit"`` or ``"categorical: A | B"``.

        Args:
            hint: The hint text (the part between braces in an outline file).

        Returns:
            The value type.

        Raises:
            TaxonomyError: The hint names an unknown kind or is otherwise invalid.
        """
        kind, _, rest = hint.partition(":")
        kind = kind.strip().lower()
        rest = rest.strip()
        try:
            if kind == "categorical":
                return cls(kind="categorical", options=tuple(o for o in rest.split("|")))
            if kind == "number":
                unit, minimum, maximum = _number_hint(rest)
                return cls(kind="number", unit=unit, minimum=minimum, maximum=maximum)
            if kind in ("text", "list"):
                if rest:
                    raise ValueError(f"kind {kind!r} takes no argument, got {rest!r}")
                return cls(kind=kind)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise TaxonomyError(f"invalid value-type hint {{{hint}}}: {_first_error(exc)}") from None
        except ValueError as exc:
            raise TaxonomyError(f"invalid value-type hint {{{hint}}}: {exc}") from None
        raise TaxonomyError(
            f"invalid value-type hint {{{hint}}}: unknown kind {kind!r}; use text, list, number or categorical"
        )

    @classmethod
    def coerce(cls, value: ValueType | Mapping[str, Any] | str | None) -> ValueType | None:
        """Turn a value type, its dict form or a hint string into a :class:`ValueType`.

        Args:
            value: A value type, a dict such as ``{"kind": "number", "unit": "people"}``, a hint string
                (see :meth:`parse`) or ``None``.

        Returns:
            The value type, or ``None`` for ``None``.

        Raises:
            TaxonomyError: The value is not a valid value type.
        """
        if value is None or isinstance(value, ValueType):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            try:
                return cls.model_validate(dict(value))
            except ValidationError as exc:
                raise TaxonomyError(f"invalid value type {dict(value)!r}: {_first_error(exc)}") from None
        raise TaxonomyError(f"a value type must be a ValueType, dict or hint string, got {value!r}")

    def to_hint(self) -> str:
        """Return the compact hint form (the inverse of :meth:`parse`)."""
        if self.kind == "categorical":
            return "categorical: " + " | ".join(self.options)
        if self.kind == "number" and (self.unit or self.minimum is not None or self.maximum is not None):
            parts = [self.unit] if self.unit else []
            if self.minimum is not None or self.maximum is not None:
                parts.append(f"{_num(self.minimum)}-{_num(self.maximum)}")
            return "number: " + ", ".join(parts)
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``kind`` always, ``options`` and ``unit`` only when set."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.options:
            out["options"] = list(self.options)
        if self.unit is not None:
            out["unit"] = self.unit
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def in_range(self, number: float) -> bool:
        """Whether ``number`` lies within the plausible range (always true without one)."""
        return (self.minimum is None or number >= self.minimum) and (
            self.maximum is None or number <= self.maximum
        )


_RANGE = re.compile(r"^(?P<lo>-?\d+(?:\.\d+)?)?\s*(?:-|–|\.\.|to)\s*(?P<hi>-?\d+(?:\.\d+)?)?$")


def _number_hint(rest: str) -> tuple[str | None, float | None, float | None]:
    """Split ``"hours, 0-24"`` into the unit and the range (either may be absent)."""
    unit, minimum, maximum = rest, None, None
    head, sep, tail = rest.rpartition(",")
    match = _RANGE.match(tail.strip()) if sep else _RANGE.match(rest.strip())
    if match and (match.group("lo") or match.group("hi")):
        unit = head if sep else ""
        minimum = float(match.group("lo")) if match.group("lo") else None
        maximum = float(match.group("hi")) if match.group("hi") else None
    return unit.strip() or None, minimum, maximum


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return str(err.get("msg", exc))


class AttributeNode(NodeMixin):  # type: ignore[misc]
    """One attribute category of an :class:`AttributeTree` (an anytree node).

    anytree's iterators (``PreOrderIter``, ``LevelOrderIter``, ``RenderTree`` ...) work on these nodes.
    Unlike anytree's own ``NodeMixin.path`` (a tuple of nodes), :attr:`path` here holds the *names*
    from the root category down; :attr:`node_path` gives the nodes. anytree's ``Walker`` relies on
    the node form and is therefore not supported.

    Args:
        name: The attribute name, such as ``"Sleep Quality"``.
        description: A one-line description that prompts can use.
        value_type: A value-type hint (a :class:`ValueType`, its dict form or a hint string).
        core: Whether this is a core attribute that every persona fills first.
        applies_when: Conditions that must all hold for the attribute to apply to a person, from
            :data:`~deeppersona.taxonomy.CONDITIONS` (``("partnered",)``); empty when it applies to
            everyone.
        support: How often people disclose this attribute in real self-disclosure text (a smoothed
            count; see ``docs/taxonomy.md``), or ``None`` when unknown. The selector's long-tail prior
            favours attributes with low support.
        parent: The parent node.
        children: Child nodes.

    Attributes:
        name: The attribute name.
        description: A one-line description, or ``None``.
        value_type: The value-type hint, or ``None``.
        core: Whether this is a core attribute.
        applies_when: The applicability conditions (a tuple, empty for everyone).
        support: The disclosure support, or ``None``.
    """

    def __init__(
        self,
        name: str,
        description: str | None = None,
        value_type: ValueType | Mapping[str, Any] | str | None = None,
        core: bool = False,
        parent: AttributeNode | None = None,
        children: Iterable[AttributeNode] | None = None,
        applies_when: Iterable[str] = (),
        support: float | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TaxonomyError(f"an attribute name must be a string, got {name!r}")
        self.name = name
        self.description = description
        self.value_type = ValueType.coerce(value_type)
        self.core = bool(core)
        if isinstance(applies_when, str):
            applies_when = (applies_when,)
        try:
            self.applies_when: tuple[str, ...] = check_conditions(applies_when)
        except ValueError as exc:
            raise TaxonomyError(f"attribute {name!r}: {exc}") from None
        if support is not None:
            if isinstance(support, bool) or not isinstance(support, int | float) or not support >= 0:
                raise TaxonomyError(f"attribute {name!r}: support must be a number >= 0, got {support!r}")
            support = float(support)
        self.support: float | None = support
        self.parent = parent
        if children:
            self.children = list(children)

    @property
    def name(self) -> str:
        """The attribute name (setting it also updates :attr:`key`)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value
        self._ckey = canonical_key(value)

    @property
    def canonical_name(self) -> str:
        """The canonical key of this node's own name (see :func:`canonical_key`)."""
        return self._ckey

    @property
    def node_path(self) -> tuple[AttributeNode, ...]:
        """The nodes from the root category down to this one."""
        nodes: list[AttributeNode] = []
        node: AttributeNode | None = self
        while node is not None and not isinstance(node, _TreeRoot):
            nodes.append(node)
            node = node.parent
        return tuple(reversed(nodes))

    @property
    def path(self) -> tuple[str, ...]:
        """The names from the root category down to this node."""
        return tuple(n.name for n in self.node_path)

    @property
    def path_str(self) -> str:
        """The path as one string: ``"Health > Sleep > Sleep Quality"``."""
        return PATH_SEPARATOR.join(self.path)

    @property
    def key(self) -> str:
        """The canonical key of the path: ``"health > sleep > sleep quality"``."""
        return PATH_SEPARATOR.join(n._ckey for n in self.node_path)

    @property
    def depth(self) -> int:  # type: ignore[override]
        """The level of this node: 1 for a root category, 2 for its children, and so on."""
        return len(self.node_path)

    @property
    def ancestors(self) -> tuple[AttributeNode, ...]:  # type: ignore[override]
        """The attribute nodes above this one, from the root category down (the tree's hidden top excluded)."""
        return self.node_path[:-1]

    @property
    def category(self) -> str:
        """The name of the root category this node belongs to."""
        path = self.node_path
        return path[0].name if path else ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this node and its descendants (fields at their defaults are omitted)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        if self.value_type is not None:
            out["value_type"] = self.value_type.to_dict()
        if self.core:
            out["core"] = True
        if self.applies_when:
            out["applies_when"] = list(self.applies_when)
        if self.support is not None:
            out["support"] = self.support
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out

    def copy(self, *, deep: bool = True) -> AttributeNode:
        """Return a detached copy of this node (with copies of its descendants when ``deep``)."""
        clone = AttributeNode(
            self.name,
            self.description,
            self.value_type,
            self.core,
            applies_when=self.applies_when,
            support=self.support,
        )
        if deep:
            for child in self.children:
                child.copy(deep=True).parent = clone
        return clone

    def __repr__(self) -> str:
        extra = ", core=True" if self.core else ""
        return f"AttributeNode({self.path_str or self.name!r}, children={len(self.children)}{extra})"


class _TreeRoot(AttributeNode):
    """The hidden top node of an :class:`AttributeTree`; its children are the root categories."""

    def __init__(self) -> None:
        super().__init__("")

    def __repr__(self) -> str:
        return f"_TreeRoot(categories={len(self.children)})"
