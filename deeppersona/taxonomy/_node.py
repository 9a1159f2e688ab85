"""Attribute nodes and their value-type hints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from anytree import NodeMixin
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..errors import TaxonomyError
from ._canonical import canonical_key
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

    Example:
        >>> ValueType.parse("categorical: Morning | Evening").options
        ('Morning', 'Evening')
        >>> ValueType(kind="number", unit="hours").to_hint()
        'number: hours'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ValueKind = "text"
    options: tuple[str, ...] = ()
    unit: str | None = None

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
                return cls(kind="number", unit=rest or None)
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
        if self.kind == "number" and self.unit:
            return f"number: {self.unit}"
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``kind`` always, ``options`` and ``unit`` only when set."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.options:
            out["options"] = list(self.options)
        if self.unit is not None:
            out["unit"] = self.unit
        return out


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
        parent: The parent node.
        children: Child nodes.

    Attributes:
        name: The attribute name.
        description: A one-line description, or ``None``.
        value_type: The value-type hint, or ``None``.
        core: Whether this is a core attribute.
    """

    def __init__(
        self,
        name: str,
        description: str | None = None,
        value_type: ValueType | Mapping[str, Any] | str | None = None,
        core: bool = False,
        parent: AttributeNode | None = None,
        children: Iterable[AttributeNode] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TaxonomyError(f"an attribute name must be a string, got {name!r}")
        self.name = name
        self.description = description
        self.value_type = ValueType.coerce(value_type)
        self.core = bool(core)
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
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out

    def copy(self, *, deep: bool = True) -> AttributeNode:
        """Return a detached copy of this node (with copies of its descendants when ``deep``)."""
        clone = AttributeNode(self.name, self.description, self.value_type, self.core)
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
