"""Loading and rendering the packaged ``.jinja`` prompt templates."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ..errors import ConfigError

__all__ = ["PromptLibrary", "render", "template_names"]

_SUFFIX = ".jinja"


def _packaged_sources() -> dict[str, str]:
    root = resources.files(__package__)
    return {
        entry.name[: -len(_SUFFIX)]: entry.read_text(encoding="utf-8")
        for entry in root.iterdir()
        if entry.name.endswith(_SUFFIX)
    }


def _override_sources(overrides: Mapping[str, str] | str | Path | None) -> dict[str, str]:
    """Template name → text for ``overrides`` alone (a mapping, or a directory of ``*.jinja`` files)."""
    if overrides is None:
        return {}
    if isinstance(overrides, (str, Path)):
        directory = Path(overrides)
        if not directory.is_dir():
            raise ConfigError(f"template directory {str(directory)!r} does not exist or is not a directory")
        return {
            file.name[: -len(_SUFFIX)]: file.read_text(encoding="utf-8")
            for file in sorted(directory.glob(f"*{_SUFFIX}"))
        }
    sources: dict[str, str] = {}
    for name, text in overrides.items():
        if not isinstance(text, str):
            raise ConfigError(f"template {name!r} must be a string, got {type(text).__name__}")
        sources[name.removesuffix(_SUFFIX)] = text
    return sources


class PromptLibrary:
    """A set of named Jinja templates: the packaged ones, optionally overridden.

    Args:
        overrides: Template name → template text, or a directory whose ``*.jinja`` files override the
            packaged templates of the same name (and may add new ones).

    Example:
        >>> lib = PromptLibrary({"narrative": "Write about {{ name }}."})
        >>> lib.render("narrative", name="Ada")
        'Write about Ada.'
    """

    def __init__(self, overrides: Mapping[str, str] | str | Path | None = None) -> None:
        sources = dict(_packaged_sources())
        sources.update(_override_sources(overrides))
        self._sources = sources
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(sources),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    @property
    def names(self) -> list[str]:
        """The sorted template names available."""
        return sorted(self._sources)

    def source(self, name: str) -> str:
        """Return the raw text of template ``name``."""
        self._check(name)
        return self._sources[name]

    def render(self, name: str, /, **variables: Any) -> str:
        """Render template ``name`` with ``variables``.

        Raises:
            ConfigError: The template does not exist or a variable it uses is missing.
        """
        self._check(name)
        try:
            return self._env.get_template(name).render(**variables).strip()
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template {name!r} needs a variable that was not given: {exc}") from exc

    def with_overrides(self, overrides: Mapping[str, str] | str | Path) -> PromptLibrary:
        """Return a new library with ``overrides`` applied on top of this one."""
        merged = dict(self._sources)
        merged.update(_override_sources(overrides))
        return PromptLibrary(merged)

    def _check(self, name: str) -> None:
        if name not in self._sources:
            raise ConfigError(f"no prompt template named {name!r}; available: {', '.join(self.names)}")

    def __repr__(self) -> str:
        return f"PromptLibrary({len(self._sources)} templates)"


@functools.lru_cache(maxsize=1)
def _default_library() -> PromptLibrary:
    # The packaged templates are read-only data, so one cached library is safe to share.
    return PromptLibrary()


def render(name: str, /, **variables: Any) -> str:
    """Render the packaged template ``name`` (see :class:`PromptLibrary` to override templates)."""
    return _default_library().render(name, **variables)


def template_names() -> list[str]:
    """Names of the packaged templates."""
    return _default_library().names
