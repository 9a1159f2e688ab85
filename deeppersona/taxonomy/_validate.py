"""Structural and style checks of a taxonomy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from anytree import PreOrderIter

from ._canonical import SMALL_WORDS, canonical_key, stem_key
from ._constants import PATH_SEPARATOR
from ._lint import instance_problems
from ._node import AttributeNode

__all__ = ["TaxonomyProblem", "name_style_problems", "structural_problems", "style_problems"]

_TITLE_PART = re.compile(r"^[A-Z][a-z]*(?:'[a-z]*)?$")  # Sleep, Children's, Parents'
_ACRONYM = re.compile(r"^[A-Z]{2,6}$")  # HIV, DIY, LGBTQ


@dataclass(frozen=True)
class TaxonomyProblem:
    """One problem found by :meth:`AttributeTree.validate`.

    Attributes:
        path: The path of the offending node (``" > "``-separated; the parent path for sibling problems).
        message: What is wrong and how to fix it.
        code: A short machine-readable code such as ``"duplicate-sibling"`` or ``"too-deep"``.
    """

    path: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.path or '<top>'}: {self.message} [{self.code}]"


def _display_path(node: AttributeNode) -> str:
    return PATH_SEPARATOR.join(n.name if n.name.strip() else repr(n.name) for n in node.node_path)


def _walk(top: AttributeNode) -> Iterator[AttributeNode]:
    return PreOrderIter(top, filter_=lambda n: n is not top)  # type: ignore[no-any-return]


def structural_problems(
    top: AttributeNode, *, max_depth: int, fixed_roots: Sequence[str] | None
) -> list[TaxonomyProblem]:
    """Return the problems that make a tree invalid.

    Checks empty or whitespace-only names, names containing ``>``, nodes deeper than ``max_depth``, siblings whose names share a canonical key, and root
    categories outside ``fixed_roots`` (when given).

    Args:
        top: The tree's hidden top node.
        max_depth: The deepest level allowed (root categories are level 1).
        fixed_roots: The allowed root-category names, or ``None`` for any.

    Returns:
        Every problem found, in depth-first order.
    """
    problems: list[TaxonomyProblem] = []
    allowed = {canonical_key(r) for r in fixed_roots} if fixed_roots is not None else None
    parents: list[AttributeNode] = [top]
    for node in _walk(top):
        path = _display_path(node)
        name = node.name
        if not name.strip() or not node.canonical_name:
            problems.append(TaxonomyProblem(path, f"empty or punctuation-only name {name!r}", "empty-name"))
        elif ">" in name:
            problems.append(
                TaxonomyProblem(path, f"name {name!r} contains '>', the path separator", "invalid-name")
            )
        depth = node.depth
        if depth > max_depth:
            problems.append(
                TaxonomyProblem(path, f"depth {depth} is over the maximum of {max_depth}", "too-deep")
            )
        if depth == 1 and allowed is not None and node.canonical_name not in allowed:
            problems.append(
                TaxonomyProblem(
                    path,
                    f"unknown root category {name!r}; this tree allows only: {', '.join(fixed_roots or ())}",
                    "unknown-root",
                )
            )
        if node.children:
            parents.append(node)
    for parent in parents:
        problems.extend(_duplicate_siblings(parent, key=lambda n: n.canonical_name, code="duplicate-sibling"))
    return problems


def _duplicate_siblings(parent: AttributeNode, *, key: object, code: str) -> list[TaxonomyProblem]:
    keyfn = key  # a callable; typed loosely to keep the signature short
    seen: dict[str, AttributeNode] = {}
    problems: list[TaxonomyProblem] = []
    for child in parent.children:
        k = keyfn(child)  # type: ignore[operator]
        if not k:
            continue
        if k in seen:
            if code != "duplicate-sibling" and seen[k].canonical_name == child.canonical_name:
                continue  # an exact duplicate, reported by the structural check
            what = "the same name" if code == "duplicate-sibling" else "nearly the same name"
            problems.append(
                TaxonomyProblem(
                    _display_path(parent),
                    f"siblings {seen[k].name!r} and {child.name!r} have {what}; merge or rename them",
                    code,
                )
            )
        else:
            seen[k] = child
    return problems


def name_style_problems(name: str, *, is_root: bool = False) -> list[str]:
    """Return what is wrong with a name under the library's naming style (empty when it conforms).

    The style: Title Case words separated by single spaces; small words (``a``, ``an``, ``and``,
    ``as``, ``at``, ``but``, ``by``, ``for``, ``in``, ``nor``, ``of``, ``on``, ``or``, ``per``,
    ``the``, ``to``, ``vs``, ``with``) may be lower case unless first; hyphenated words capitalise each part; acronyms of 2–6 capitals are allowed;
    no digits, underscores or CamelCase; commas only in root-category names.

    Args:
        name: The name to check.
        is_root: Whether the name is a root category (commas allowed).

    Returns:
        Human-readable complaints.
    """
    issues: list[str] = []
    if any(c.isdigit() for c in name):
        issues.append("contains a digit (a value or measurement, not a category)")
    if "_" in name:
        issues.append("snake_case; use words separated by spaces")
    if "," in name and not is_root:
        issues.append("comma outside a root-category name")
    bad = sorted({c for c in name if not (c.isalpha() or c in " -'," or c.isdigit() or c == "_")})
    if bad:
        issues.append(f"characters {''.join(bad)!r} not allowed; spell words out")
    words = name.replace(",", " ").split()
    for index, word in enumerate(words):
        parts = word.split("-")
        for pindex, part in enumerate(parts):
            if not part:
                issues.append(f"stray hyphen in {word!r}")
                continue
            if any(c.isdigit() for c in part) or "_" in part:
                continue  # reported above
            if _ACRONYM.match(part) or _TITLE_PART.match(part):
                continue
            first = index == 0 and pindex == 0
            if part in SMALL_WORDS and not first:
                continue
            if re.search(r"[a-z][A-Z]", part):
                issues.append(f"CamelCase word {word!r}; separate the words with spaces")
            else:
                issues.append(f"word {word!r} is not in Title Case")
            break
    return issues


def style_problems(top: AttributeNode, *, describe_level: int | None = 2) -> list[TaxonomyProblem]:
    """Return naming-style problems, named entities, near-duplicate siblings and missing descriptions.

    Args:
        top: The tree's hidden top node.
        describe_level: Nodes at this level must carry a description (``None`` to skip the check).

    Returns:
        Every problem found.
    """
    problems: list[TaxonomyProblem] = []
    for node in _walk(top):
        path = _display_path(node)
        if node.name != node.name.strip() or "  " in node.name or any(c in node.name for c in "\t\n\r"):
            problems.append(
                TaxonomyProblem(path, f"name {node.name!r} has stray whitespace; use single spaces", "whitespace")
            )
        for issue in name_style_problems(node.name, is_root=node.depth == 1):
            problems.append(TaxonomyProblem(path, f"name {node.name!r}: {issue}", "naming-style"))
        for issue in instance_problems(node.name):
            code, _, message = issue.partition(":")
            problems.append(TaxonomyProblem(path, f"name {node.name!r}: {message}", code))
        if describe_level is not None and node.depth == describe_level and not (node.description or "").strip():
            problems.append(
                TaxonomyProblem(path, f"level-{describe_level} node has no description", "missing-description")
            )
    for parent in (top, *(n for n in _walk(top) if n.children)):
        problems.extend(_duplicate_siblings(parent, key=lambda n: stem_key(n.name), code="near-duplicate"))
    return problems
