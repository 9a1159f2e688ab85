"""The indented outline format: a readable way to write a taxonomy by hand.

One node a line, four spaces of indentation a level::

    # comment lines start with '#'; blank lines are ignored
    Demographic Information :: Who the person is on paper
        Age :: Age and life stage [core]
            Life Stage {categorical: Child | Teenager | Adult | Older Adult}
        Household Composition :: Who the person lives with
            Household Size {number: people}
            Pets in Household {list}

After the name come, in any order at the end of the line: ``:: description``, ``[core]``, a value
type hint in braces (``{text}``, ``{list}``, ``{number: unit}``, ``{number: unit, 0-24}``,
``{categorical: A | B}``) and applicability conditions (``[when: partnered, parent]``, names from
:data:`~deeppersona.taxonomy.CONDITIONS`)::

    Partner's Work Schedule {text} [when: partnered] :: When the person's partner works
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import TaxonomyError
from ._conditions import check_conditions
from ._constants import DEFAULT_MAX_DEPTH
from ._node import AttributeNode, ValueType

__all__ = ["format_outline", "parse_outline"]

INDENT = 4
_TRAILING_MARK = re.compile(r"\s*(\[[^\[\]]*\]|\{[^{}]*\})\s*$")


@dataclass
class _Line:
    lineno: int
    node: AttributeNode
    children: list[_Line] = field(default_factory=list)


def _split_marks(text: str, where: str) -> tuple[str, bool | None, ValueType | None, tuple[str, ...] | None]:
    """Strip trailing ``[core]``, ``[when: ...]`` and ``{hint}`` marks from ``text``."""
    core: bool | None = None
    value_type: ValueType | None = None
    when: tuple[str, ...] | None = None
    while True:
        match = _TRAILING_MARK.search(text)
        if not match:
            break
        mark = match.group(1)
        text = text[: match.start()]
        if mark.startswith("[") and mark[1:].lstrip().lower().startswith("when:"):
            if when is not None:
                raise TaxonomyError(f"{where}: [when: ...] given twice")
            names = [n for n in mark.strip("[] ").partition(":")[2].split(",") if n.strip()]
            if not names:
                raise TaxonomyError(f"{where}: {mark} names no condition")
            try:
                when = check_conditions(names)
            except ValueError as exc:
                raise TaxonomyError(f"{where}: {exc}") from None
        elif mark.startswith("["):
            if mark.strip("[] ").lower() != "core":
                raise TaxonomyError(f"{where}: unknown tag {mark}; the tags are [core] and [when: ...]")
            if core:
                raise TaxonomyError(f"{where}: [core] given twice")
            core = True
        else:
            if value_type is not None:
                raise TaxonomyError(f"{where}: more than one value-type hint")
            try:
                value_type = ValueType.parse(mark[1:-1])
            except TaxonomyError as exc:
                raise TaxonomyError(f"{where}: {exc}") from None
    return text, core, value_type, when


def _parse_line(content: str, where: str) -> AttributeNode:
    name_part, sep, desc_part = content.partition("::")
    core = False
    value_type: ValueType | None = None
    description: str | None = None
    when: tuple[str, ...] = ()
    if sep:
        desc_part, desc_core, desc_type, desc_when = _split_marks(desc_part, where)
        when = desc_when or ()
        description = " ".join(desc_part.split()) or None
        core = bool(desc_core)
        value_type = desc_type
    name_part, name_core, name_type, name_when = _split_marks(name_part, where)
    if name_when is not None:
        if when:
            raise TaxonomyError(f"{where}: [when: ...] given twice")
        when = name_when
    if name_core:
        if core:
            raise TaxonomyError(f"{where}: [core] given twice")
        core = True
    if name_type is not None:
        if value_type is not None:
            raise TaxonomyError(f"{where}: more than one value-type hint")
        value_type = name_type
    if sep and description is None:
        raise TaxonomyError(f"{where}: '::' is followed by no description; remove it or write one")
    name = name_part.strip()
    if not name:
        raise TaxonomyError(f"{where}: the line has no name")
    for bad in "{}[]>":
        if bad in name:
            raise TaxonomyError(f"{where}: name {name!r} contains {bad!r}; marks go at the end of the line")
    return AttributeNode(name, description, value_type, core, applies_when=when)


def parse_outline(
    text: str, *, source: str = "<outline>", max_depth: int = DEFAULT_MAX_DEPTH
) -> list[AttributeNode]:
    """Parse outline text into detached root-category nodes.

    Args:
        text: The outline.
        source: A label for error messages, normally the file name.
        max_depth: The deepest level allowed.

    Returns:
        The root-category nodes with their descendants.

    Raises:
        TaxonomyError: On the first error, naming ``source:line``: tabs, indentation that is not a
            multiple of four spaces or skips a level, depth over ``max_depth``, an empty name, a bad
            mark, or a duplicate sibling (after canonicalisation).
    """
    roots: list[_Line] = []
    stack: list[_Line] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        body = raw.rstrip()
        indent_text = body[: len(body) - len(body.lstrip())]
        if "\t" in indent_text:
            raise TaxonomyError(f"{where}: tab in indentation; indent with {INDENT} spaces a level")
        indent = len(indent_text)
        if indent % INDENT:
            raise TaxonomyError(f"{where}: indentation of {indent} spaces is not a multiple of {INDENT}")
        level = indent // INDENT + 1
        if level > max_depth:
            raise TaxonomyError(f"{where}: depth {level} is over the maximum of {max_depth}")
        if level > len(stack) + 1:
            raise TaxonomyError(
                f"{where}: indented {level - len(stack) - 1} level(s) too deep for its parent"
            )
        line = _Line(lineno, _parse_line(body.strip(), where))
        del stack[level - 1 :]
        siblings = stack[-1].children if stack else roots
        key = line.node.canonical_name
        if not key:
            raise TaxonomyError(f"{where}: name {line.node.name!r} has no letters")
        for other in siblings:
            if other.node.canonical_name == key:
                raise TaxonomyError(
                    f"{where}: {line.node.name!r} duplicates its sibling {other.node.name!r} "
                    f"(line {other.lineno})"
                )
        siblings.append(line)
        stack.append(line)
    return [_attach(line) for line in roots]


def _attach(line: _Line) -> AttributeNode:
    for child in line.children:
        _attach(child).parent = line.node
    return line.node


def format_outline(roots: list[AttributeNode] | tuple[AttributeNode, ...]) -> str:
    """Write root-category nodes (and their descendants) in the outline format.

    Args:
        roots: The root-category nodes.

    Returns:
        The outline text; :func:`parse_outline` reads it back to an equal tree.
    """
    lines: list[str] = []

    def emit(node: AttributeNode, level: int) -> None:
        text = node.name
        if node.value_type is not None:
            text += " {" + node.value_type.to_hint() + "}"
        if node.applies_when:
            text += " [when: " + ", ".join(node.applies_when) + "]"
        if node.description:
            text += " :: " + node.description
        if node.core:
            text += " [core]"
        lines.append(" " * (INDENT * level) + text)
        for child in node.children:
            emit(child, level + 1)

    for root in roots:
        emit(root, 0)
    return "\n".join(lines) + ("\n" if lines else "")
