"""Reading taxonomies from dicts and JSON documents (strict, all-or-nothing)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataFileNotFoundError, TaxonomyError
from ._constants import DEFAULT_MAX_DEPTH, FORMAT_VERSION, PATH_SEPARATOR, READABLE_FORMAT_VERSIONS
from ._node import AttributeNode, ValueType

__all__ = ["DocumentSettings", "read_json_file", "roots_from_document", "roots_from_nested"]

_NODE_KEYS = frozenset({"name", "description", "value_type", "core", "applies_when", "support", "children"})
_DOC_KEYS = frozenset({"format_version", "roots", "max_depth", "fixed_roots", "metadata"})


@dataclass
class DocumentSettings:
    """Tree-level settings stored in a JSON document."""

    max_depth: int = DEFAULT_MAX_DEPTH
    fixed_roots: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class _Aliases:
    """Detects the same dict or list object reachable twice (shared sub-trees or cycles)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[int, str] = {}

    def visit(self, obj: object, where: str) -> None:
        if isinstance(obj, (dict, list)):
            first = self.seen.setdefault(id(obj), where)
            if first != where:
                raise TaxonomyError(
                    f"{self.source}: the same {type(obj).__name__} object is reachable twice, at "
                    f"{first or '<top>'!r} and at {where or '<top>'!r}; give each node its own dict "
                    "(a shared or cyclic sub-tree cannot be loaded)"
                )


def _where(path: Sequence[str]) -> str:
    return PATH_SEPARATOR.join(path)


def _check_name(name: object, path: Sequence[str], source: str, index: int) -> str:
    where = _where(path) or "<top>"
    if not isinstance(name, str):
        raise TaxonomyError(f"{source}: node {index} under {where!r} has a non-string name {name!r}")
    if not name.strip():
        raise TaxonomyError(
            f"{source}: node {index} under {where!r} has an empty or whitespace-only name {name!r}"
        )
    if ">" in name:
        raise TaxonomyError(f"{source}: name {name!r} under {where!r} contains '>', the path separator")
    return name


def _check_depth(path: Sequence[str], max_depth: int, source: str) -> None:
    if len(path) > max_depth:
        raise TaxonomyError(
            f"{source}: node {_where(path)!r} is at depth {len(path)}, over the maximum of {max_depth}; "
            "move it up a level or prune the tree"
        )


def roots_from_nested(obj: object, *, source: str, max_depth: int) -> list[AttributeNode]:
    """Build root nodes from a plain nested mapping of names.

    Values may be a mapping of children, a list of child names (or mappings), or ``None`` for a leaf.

    Args:
        obj: The nested mapping, such as ``{"Health": {"Sleep": ["Sleep Quality"]}}``.
        source: A label for error messages.
        max_depth: The deepest level allowed.

    Returns:
        The root-category nodes (detached).

    Raises:
        TaxonomyError: The structure is malformed; nothing is returned.
    """
    if not isinstance(obj, Mapping):
        raise TaxonomyError(f"{source}: expected a mapping of root-category names, got {type(obj).__name__}")
    aliases = _Aliases(source)
    aliases.visit(obj, "")
    return _nested_children(obj, (), aliases, source, max_depth)


def _nested_children(
    value: object, path: tuple[str, ...], aliases: _Aliases, source: str, max_depth: int
) -> list[AttributeNode]:
    items: list[tuple[object, object]]
    if value is None:
        return []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                items.append((item, None))
            elif isinstance(item, Mapping):
                aliases.visit(item, _where(path) + f"[{index}]")
                items.extend(item.items())
            else:
                raise TaxonomyError(
                    f"{source}: under {_where(path) or '<top>'!r}, list item {index} is {item!r}; "
                    "list items must be names or mappings"
                )
    else:
        raise TaxonomyError(
            f"{source}: children of {_where(path)!r} must be a mapping, a list of names or None, "
            f"got {type(value).__name__} {value!r}"
        )
    nodes = []
    for index, (name, children) in enumerate(items):
        checked = _check_name(name, path, source, index)
        child_path = (*path, checked)
        _check_depth(child_path, max_depth, source)
        aliases.visit(children, _where(child_path))
        node = AttributeNode(checked)
        for child in _nested_children(children, child_path, aliases, source, max_depth):
            child.parent = node
        nodes.append(node)
    return nodes


def roots_from_document(doc: object, *, source: str) -> tuple[list[AttributeNode], DocumentSettings]:
    """Build root nodes from a JSON document (the form written by :meth:`AttributeTree.save`).

    Args:
        doc: The decoded document: ``{"format_version": 1, "roots": [...], ...}``.
        source: A label for error messages (the file name).

    Returns:
        The root-category nodes (detached) and the tree settings.

    Raises:
        TaxonomyError: The document has the wrong schema or version; nothing is returned.
    """
    if not isinstance(doc, Mapping):
        raise TaxonomyError(f"{source}: a taxonomy document must be a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - _DOC_KEYS)
    if unknown:
        raise TaxonomyError(
            f"{source}: unknown top-level keys {unknown}; a taxonomy document has {sorted(_DOC_KEYS)}"
        )
    if "format_version" not in doc:
        raise TaxonomyError(f"{source}: missing 'format_version' (this deeppersona reads {FORMAT_VERSION})")
    version = doc["format_version"]
    if version not in READABLE_FORMAT_VERSIONS or isinstance(version, bool):
        raise TaxonomyError(
            f"{source}: unsupported format_version {version!r}; this deeppersona reads versions "
            f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))} (upgrade deeppersona to read newer files)"
        )
    settings = DocumentSettings()
    max_depth = doc.get("max_depth", DEFAULT_MAX_DEPTH)
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
        raise TaxonomyError(f"{source}: 'max_depth' must be a positive integer, got {max_depth!r}")
    settings.max_depth = max_depth
    fixed = doc.get("fixed_roots")
    if fixed is not None:
        if not isinstance(fixed, list) or not all(isinstance(r, str) and r.strip() for r in fixed):
            raise TaxonomyError(f"{source}: 'fixed_roots' must be a list of names or null, got {fixed!r}")
        settings.fixed_roots = tuple(fixed)
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise TaxonomyError(f"{source}: 'metadata' must be an object, got {metadata!r}")
    settings.metadata = json.loads(json.dumps(metadata))  # a private deep copy of plain JSON data
    roots = doc.get("roots")
    if not isinstance(roots, list):
        raise TaxonomyError(f"{source}: 'roots' must be a list of node objects, got {type(roots).__name__}")
    aliases = _Aliases(source)
    aliases.visit(roots, "")
    nodes = [_doc_node(item, (), i, aliases, source, max_depth) for i, item in enumerate(roots)]
    return nodes, settings


def _doc_node(
    item: object, path: tuple[str, ...], index: int, aliases: _Aliases, source: str, max_depth: int
) -> AttributeNode:
    where = _where(path) or "<top>"
    if not isinstance(item, Mapping):
        raise TaxonomyError(f"{source}: node {index} under {where!r} must be an object, got {item!r}")
    name = _check_name(item.get("name"), path, source, index)
    node_path = (*path, name)
    aliases.visit(item, _where(node_path))
    at = f"{source}: node {_where(node_path)!r}"
    unknown = sorted(set(item) - _NODE_KEYS)
    if unknown:
        raise TaxonomyError(f"{at} has unknown keys {unknown}; allowed: {sorted(_NODE_KEYS)}")
    _check_depth(node_path, max_depth, source)
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        raise TaxonomyError(f"{at}: 'description' must be a string or null, got {description!r}")
    core = item.get("core", False)
    if not isinstance(core, bool):
        raise TaxonomyError(f"{at}: 'core' must be true or false, got {core!r}")
    raw_type = item.get("value_type")
    if raw_type is not None and not isinstance(raw_type, Mapping | str):
        raise TaxonomyError(f"{at}: 'value_type' must be an object or null, got {raw_type!r}")
    try:
        value_type = ValueType.coerce(raw_type)
    except TaxonomyError as exc:
        raise TaxonomyError(f"{at}: {exc}") from None
    when = item.get("applies_when", [])
    if not isinstance(when, list) or not all(isinstance(w, str) for w in when):
        raise TaxonomyError(f"{at}: 'applies_when' must be a list of condition names, got {when!r}")
    children = item.get("children")
    if children is None:
        children = []
    elif not isinstance(children, list):
        raise TaxonomyError(f"{at}: 'children' must be a list, got {type(children).__name__}")
    else:
        aliases.visit(children, _where(node_path) + "/children")
    try:
        node = AttributeNode(
            name, description, value_type, core, applies_when=when, support=item.get("support")
        )
    except TaxonomyError as exc:
        raise TaxonomyError(f"{at}: {exc}") from None
    for i, child in enumerate(children):
        _doc_node(child, node_path, i, aliases, source, max_depth).parent = node
    return node


def read_json_file(path: Path) -> object:
    """Read and decode a JSON file, raising library errors that name the file.

    Args:
        path: The file to read.

    Returns:
        The decoded JSON value.

    Raises:
        DataFileNotFoundError: The file does not exist.
        TaxonomyError: The file is not valid UTF-8 JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileNotFoundError(f"taxonomy file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_json_text(text, source=str(path))


def parse_json_text(text: str, *, source: str) -> object:
    """Decode JSON text, raising a :class:`TaxonomyError` with line and column on malformed input."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(
            f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
