"""A Griffe extension that makes deeppersona's docstrings render well in the mkdocstrings API pages.

The docstrings are Google style with two habits that mkdocstrings does not read:

* **Sphinx roles** (``:class:`~deeppersona.llm.LLM```, ``:meth:`to_records```, ``:func:``, ``:attr:``,
  ``:data:``, ``:mod:``, ``:exc:``, ``:obj:``, ``:const:``). Each becomes a cross-reference: the target is
  resolved the way Sphinx would (the object's own scope and its parents', then an absolute path, then a
  unique name in the package) to the canonical path of a Griffe object, and written as an *optional*
  mkdocs-autorefs reference (``<autoref identifier="..." optional><code>title</code></autoref>``). It is a
  link where the target is rendered on some API page and plain code where it is not, so a reference to
  an undocumented helper never breaks ``mkdocs build --strict``. A target that resolves to nothing is
  plain code. The title follows Sphinx: ``~a.b.C`` shows ``C``, ``title <target>`` shows ``title``, a
  leading ``!`` means no link.
* **``Example:`` headings** (singular). Griffe's Google parser knows only ``Examples:``; ``Example:`` was
  read as an admonition and its ``>>>`` lines ran together as prose. The heading is renamed, so the
  section is parsed as examples and its doctest lines render as Python code.

Nothing in the source changes: the extension rewrites the docstrings Griffe loaded, before mkdocstrings
parses them. It is registered in ``mkdocs.yml`` under the Python handler's ``extensions`` option.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from typing import Any

from griffe import Extension, Object

__all__ = ["DocstringMarkup", "convert_docstring"]

logger = logging.getLogger("mkdocs.plugins.griffe_docstrings")

ROLE = re.compile(r":(?:py:)?(?P<role>meth|class|func|attr|data|mod|exc|obj|const|type):`(?P<body>[^`]+)`")
"""A Sphinx cross-reference role with its target (``:class:`~pkg.Name```)."""

_EXAMPLE_HEADING = re.compile(r"^(?P<indent>\s*)Example:\s*$")
_TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$")


def convert_docstring(text: str, resolve: Any) -> str:
    """Rewrite one docstring: roles become cross-references, ``Example:`` becomes ``Examples:``.

    Args:
        text: The docstring (cleaned, as Griffe keeps it).
        resolve: A function of a role's target returning its canonical path, or ``None``.

    Returns:
        The rewritten docstring. Code blocks (fences and doctest lines) are left as they are.
    """
    out: list[str] = []
    prose: list[str] = []  # consecutive lines outside code: a role may break across two of them

    def flush() -> None:
        if prose:
            out.append(ROLE.sub(lambda match: _reference(match["body"], resolve), "\n".join(prose)))
            prose.clear()

    in_fence = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        fence = stripped.startswith(("```", "~~~"))
        if fence or in_fence or stripped.startswith((">>>", "... ")) or stripped == "...":
            flush()
            out.append(line)
            in_fence = in_fence != fence
            continue
        heading = _EXAMPLE_HEADING.match(line)
        prose.append(f"{heading['indent']}Examples:" if heading else line)
    flush()
    return "\n".join(out)


def _reference(body: str, resolve: Any) -> str:
    """The Markdown for one role's body (``~a.b.C``, ``!C``, ``title <a.b.C>``)."""
    body = " ".join(body.split())  # a role broken across lines
    titled = _TITLED.match(body)
    if titled:
        title, target = titled["title"], titled["target"].strip()
    else:
        target = body.strip()
        title = None
    link = not target.startswith("!")
    target = target.lstrip("!")
    short = target.startswith("~")
    target = target.lstrip("~").lstrip(".")
    if title is None:
        title = target.rsplit(".", 1)[-1] if short else target
    code = f"<code>{html.escape(title)}</code>"
    path = resolve(target) if link and target else None
    if path is None:
        return code
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


class DocstringMarkup(Extension):
    """Turn Sphinx roles into cross-references and ``Example:`` sections into code examples.

    Args:
        packages: Names of the packages whose docstrings are rewritten (default: every package loaded).
    """

    def __init__(self, packages: list[str] | None = None) -> None:
        super().__init__()
        self.packages = set(packages) if packages else None

    def on_package(self, *, pkg: Any, loader: Any, **kwargs: Any) -> None:
        """Rewrite the docstrings of every object of ``pkg`` once it is fully loaded."""
        if self.packages is not None and pkg.name not in self.packages:
            return
        objects = list(_walk(pkg))
        by_name: dict[str, list[Object]] = {}
        for obj in objects:
            by_name.setdefault(obj.name, []).append(obj)
        converted = unresolved = 0
        for obj in objects:
            if obj.docstring is None or (
                ":" not in obj.docstring.value and "Example" not in obj.docstring.value
            ):
                continue
            missed: list[str] = []

            def resolve(target: str, obj: Object = obj, missed: list[str] = missed) -> str | None:
                found = _resolve(obj, target, pkg, loader, by_name)
                if found is None:
                    missed.append(target)
                return found

            new = convert_docstring(obj.docstring.value, resolve)
            if new != obj.docstring.value:
                obj.docstring.value = new
                converted += 1
            if missed:
                unresolved += len(missed)
                logger.debug("%s: unresolved role targets %s (shown as code)", obj.path, missed)
        logger.debug(
            "rewrote %d docstrings of %s; %d role targets left as code", converted, pkg.name, unresolved
        )


def _walk(obj: Object) -> Iterator[Object]:
    """Every object defined in ``obj`` (aliases left out: they are documented where they are defined)."""
    yield obj
    for member in list(obj.members.values()):
        if isinstance(member, Object):  # not an Alias
            yield from _walk(member)


def _final(obj: Any) -> Any:
    try:
        return obj.final_target if obj.is_alias else obj
    except Exception:  # an alias to something outside the loaded packages
        return None


def _member(obj: Any, parts: list[str]) -> Any:
    """Follow ``parts`` from ``obj`` through members (inherited ones included), or ``None``."""
    for part in parts:
        obj = _final(obj)
        if obj is None:
            return None
        try:
            obj = obj.all_members[part] if hasattr(obj, "all_members") else obj.members[part]
        except Exception:
            return None
    return _final(obj)


def _has(scope: Any, name: str) -> bool:
    try:
        return name in scope.members or name in getattr(scope, "all_members", {})
    except Exception:  # inherited members need bases that cannot be resolved
        return name in scope.members


def _canonical(obj: Any) -> str | None:
    try:
        return str(obj.canonical_path)
    except Exception:
        return None


def _resolve(obj: Object, target: str, pkg: Any, loader: Any, by_name: dict[str, list[Object]]) -> str | None:
    """The canonical path of ``target`` as seen from ``obj``, or ``None``."""
    parts = target.split(".")
    # 1. the object's own scope and its parents' (members, imported names), as Python would see the name
    scope: Any = obj
    while scope is not None:
        if _has(scope, parts[0]):
            found = _member(scope, parts)
            if found is not None:
                return _canonical(found)
        scope = scope.parent
    # 2. an absolute path (``deeppersona.llm.LLM``, ``llm.LLM`` within the package)
    for root_parts in (parts, [pkg.name, *parts]):
        if root_parts[0] == pkg.name:
            found = _member(pkg, root_parts[1:])
            if found is not None:
                return _canonical(found)
    # 3. a name defined once in the package (``Provenance.run_id`` from anywhere)
    candidates = [c for c in by_name.get(parts[0], []) if not c.is_module or len(parts) == 1]
    resolved = {_canonical(f) for c in candidates if (f := _member(c, parts[1:])) is not None}
    resolved.discard(None)
    if len(resolved) == 1:
        return resolved.pop()
    return None
