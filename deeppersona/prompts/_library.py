"""Loading and rendering the packaged ``.jinja`` prompt templates."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

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


REQUIRED_VARIABLES: dict[str, frozenset[str]] = {
    "core_chain": frozenset({"facts", "num_stories", "num_interests", "story_words"}),
    "circumstances": frozenset({"conditions"}),
    "core_fix": frozenset({"problems"}),
    "core_story": frozenset({"story_words"}),
    "fill_batch": frozenset({"items"}),
    "fill_missing": frozenset({"items"}),
    "enrich_extract": frozenset({"sketch"}),
    "llm_reask": frozenset({"error"}),
    "llm_json_instructions": frozenset({"schema"}),
}
"""Variables an override of these templates must use: without them the model would not see what it is
asked about (the attributes to fill, the sketch, the schema ...), and the replies could not be checked."""


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _check_required(env: jinja2.Environment, name: str, text: str) -> None:
    required = REQUIRED_VARIABLES.get(name)
    try:
        used = jinja2.meta.find_undeclared_variables(env.parse(text))
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template {name!r} override is not valid Jinja: {exc}") from None
    if required and not required <= used:
        missing = ", ".join(sorted(required - used))
        raise ConfigError(
            f"template {name!r} override drops the required variable(s) {missing}; "
            f"use {{{{ {sorted(required - used)[0]} }}}} in it (see the packaged template)"
        )


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
        extra = _override_sources(overrides)
        sources.update(extra)
        self._sources = sources
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(sources),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

        # tojson: a JSON string a model reads as data (its quotes cannot close the prompt's delimiters),
        # with accents and apostrophes kept readable ("São Paulo", "O'Hare"; Jinja's own filter writes
        # \u00e3 and \u0027 for HTML safety, which prompts do not need and small models copy)
        self._env.filters["tojson"] = _tojson
        for name, text in extra.items():
            _check_required(self._env, name, text)

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
