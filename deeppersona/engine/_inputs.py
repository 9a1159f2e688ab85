"""Checks of what a user passes to the engine (before any LLM call or file), and sketch rows."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnchorError, ConfigError, GenerationError, TaxonomyError
from ..llm._base import LLM
from ..persona import Persona, Population, Provenance
from ..taxonomy import AttributeTree

logger = logging.getLogger(__name__)


def _check_tree(tree: AttributeTree, require_core: bool) -> None:
    if not any(True for _ in tree.leaves()):
        raise TaxonomyError("the taxonomy has no attributes; give a tree with at least one path")
    if require_core and not tree.core_nodes():
        raise TaxonomyError(
            "the taxonomy marks no core attributes (age, gender, location, occupation, personal values, "
            "life attitude, personal story, interests); mark them with `tree.get(path).core = True` "
            "(see deeppersona.taxonomy.CORE_ATTRIBUTES), or pass require_core=False"
        )


def _check_model(model: Any, llm_options: Mapping[str, Any] | None = None) -> None:
    if model is not None and not isinstance(model, (LLM, str)):
        raise ConfigError(f"model must be an LLM, a LiteLLM model string or None, got {type(model).__name__}")
    if isinstance(model, str) and not model.strip():
        raise ConfigError("model must not be an empty string")
    if llm_options:
        if isinstance(model, LLM):
            raise ConfigError(
                f"backend options ({', '.join(sorted(llm_options))}) apply to a backend built from a model "
                f"name; model is an LLM instance ({type(model).__name__}): configure it directly"
            )
        from ..llm._options import check_backend_options
        from ..llm._resolve import DEFAULT_LOCAL_MODEL

        check_backend_options(model.strip() if model else DEFAULT_LOCAL_MODEL, llm_options)


def _provenance(base: Provenance, demographics: Mapping[str, Any]) -> Provenance:
    """The run's provenance, plus where this persona's drawn occupation came from (see the demographics docs)."""
    source = demographics.get("occupation_source")
    return base.model_copy(update={"occupation_source": str(source)}) if source else base


def _check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer (attributes per persona), got {k!r}")


def _check_output_path(path: str | Path) -> None:
    """An output path must name a file (not a directory) in an existing directory."""
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ConfigError(f"the output path must be a non-empty str or Path, got {path!r}")
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"the output path {str(target)!r} is a directory; give a file name such as out.jsonl"
        )
    parent = target.parent
    if not parent.exists():
        raise ConfigError(f"the directory of the output path {str(target)!r} does not exist; create it first")
    if not parent.is_dir():
        raise ConfigError(f"the output path {str(target)!r} lies under {str(parent)!r}, which is a file")


def _check_count(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _check_sketches(sketches: str | Iterable[str], max_chars: int | None = None) -> list[str]:
    """Check sketches before any LLM call and return them as a list.

    Args:
        sketches: One sketch or an iterable of them.
        max_chars: The longest sketch accepted, in characters (``EngineOptions.max_sketch_chars``;
            ``None`` means its default, 4000).

    Raises:
        AnchorError: Not strings, none given, an empty sketch, or a sketch longer than ``max_chars``.
    """
    from ._anchors import check_text_length

    if isinstance(sketches, (bytes, Mapping)) or not isinstance(sketches, (str, Iterable)):
        raise AnchorError(
            f"sketches must be a string or a sequence of strings, got {type(sketches).__name__}"
        )
    items = [sketches] if isinstance(sketches, str) else list(sketches)
    if not items:
        raise AnchorError("no sketches given; pass a sketch string or a non-empty list of them")
    for i, sketch in enumerate(items):
        if not isinstance(sketch, str):
            raise AnchorError(f"sketch {i} is a {type(sketch).__name__}, not a string")
        if not sketch.strip():
            raise AnchorError(f"sketch {i} is empty; every sketch needs some text")
        check_text_length(f"sketch {i}", sketch, max_chars)
    return items


SKETCH_FIELDS: tuple[str, ...] = ("persona", "sketch", "text", "bio", "description")
"""The keys :meth:`PersonaEngine.enrich` looks for, in order, when no ``field`` is given."""


def _is_dataframe(obj: Any) -> bool:
    import sys

    pandas = sys.modules.get("pandas")  # a DataFrame exists only if pandas is loaded already
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _is_hf_dataset(obj: Any) -> bool:
    """A Hugging Face ``datasets.Dataset`` (not imported here: recognised by its module and columns)."""
    return type(obj).__module__.startswith("datasets.") and isinstance(
        getattr(obj, "column_names", None), list
    )


def _pick_field(field: str | None, names: Sequence[str], where: str) -> str:
    if field is not None:
        if field not in names:
            shown = ", ".join(repr(n) for n in list(names)[:12]) or "none"
            raise AnchorError(
                f"{where} has no field {field!r} (its fields: {shown}); pass field=<the key holding the "
                "sketch text>"
            )
        return field
    for name in SKETCH_FIELDS:
        if name in names:
            return name
    shown = ", ".join(repr(n) for n in list(names)[:12]) or "none"
    raise AnchorError(
        f"{where} has none of the sketch fields {', '.join(SKETCH_FIELDS)} (its fields: {shown}); "
        "pass field=<the key holding the sketch text>"
    )


def _row_text(row: Mapping[str, Any], i: int, field: str | None) -> Any:
    name = _pick_field(field, [str(key) for key in row], f"row {i}")
    return _cell(row[name], i, name)


def _cell(value: Any, i: int, name: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise AnchorError(f"row {i}: field {name!r} is empty; every sketch needs some text")
    return value  # its type and length are checked by _check_sketches


def _sketch_texts(sketches: Any, field: str | None) -> tuple[list[Any], bool]:
    """The sketch texts of :meth:`PersonaEngine.enrich` input, unchecked, and whether it was one sketch.

    Raises:
        ConfigError: ``field`` is not a non-empty string.
        AnchorError: A row or table without the field, an empty value, or an input of another type.
    """
    if field is not None and (not isinstance(field, str) or not field.strip()):
        raise ConfigError(f"field must be a non-empty string naming the sketch column, got {field!r}")
    if isinstance(sketches, str):
        return [sketches], True
    if isinstance(sketches, Mapping):
        return [_row_text(sketches, 0, field)], True
    if _is_dataframe(sketches) or _is_hf_dataset(sketches):
        kind = "the DataFrame" if _is_dataframe(sketches) else "the dataset"
        columns = [str(c) for c in (sketches.columns if _is_dataframe(sketches) else sketches.column_names)]
        name = _pick_field(field, columns, kind)
        return [_cell(v, i, name) for i, v in enumerate(sketches[name])], False
    if isinstance(sketches, bytes) or not isinstance(sketches, Iterable):
        raise AnchorError(
            "sketches must be a string, a dict row, or a sequence of them (a DataFrame or a datasets.Dataset "
            f"works too), got {type(sketches).__name__}"
        )
    return [_row_text(s, i, field) if isinstance(s, Mapping) else s for i, s in enumerate(sketches)], False


def _finish(personas: list[Persona], *, single: bool) -> Persona | Population:
    personas.sort(key=lambda p: p.index)
    if single:
        persona = personas[0]
        if persona.status == "failed":
            raise GenerationError(f"the persona could not be generated: {persona.failure}")
        if persona.status == "incomplete":  # returned, not raised: what was generated is kept
            logger.warning("persona %d is incomplete: %s", persona.index, persona.failure)
        return persona
    return Population(personas)
