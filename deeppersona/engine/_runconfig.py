"""The run configuration: what shapes a run's personas, its id, and the checks that let a file resume only the same run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, DataFileError
from ..prompts import PromptLibrary
from ._checkpoint import ResumeState
from ._options import EngineOptions
from ._run import _Run

if TYPE_CHECKING:
    from ..demographics import Cohort
    from ..generation import ValueGenerator
    from ..selector import AttributeSelector

_RUN_CONFIG_FORMAT = 1
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_RESUME_HINT = "write to a new file, or pass overwrite=True (CLI: --overwrite) to start afresh"


def _run_config(
    *,
    fingerprint: str,
    model: str,
    embedder: str,
    k: int,
    seed: int,
    cohort: Cohort | None,
    anchors: Mapping[str, Any],
    selector: AttributeSelector,
    sampler: Any,
    generator: ValueGenerator,
    options: EngineOptions,
) -> dict[str, Any]:
    """Everything of a run that shapes its personas, JSON-safe (see :attr:`Provenance.run_config`).

    Left out on purpose: what only changes speed or durability (the backend's ``max_concurrency``,
    ``personas_in_flight``, ``select_in_thread``, ``progress``, ``fsync``) and ``persona_retries``
    (attempt ``a`` of persona ``i`` is drawn from ``(seed, i, a)`` whatever the setting, so it only
    decides how often a persona that is not ``ok`` is tried again).
    """
    cohort_fields: dict[str, Any] = {}  # no cohort: no constraint, as an empty Cohort
    if cohort is not None:
        cohort_fields = {key: value for key, value in cohort.model_dump().items() if value is not None}
        if cohort.predicate is not None:
            cohort_fields["predicate"] = cohort.predicate
    return {
        "format": _RUN_CONFIG_FORMAT,
        "library_version": __version__,
        "taxonomy": fingerprint,
        "model": model,
        "embedder": embedder,
        "k": int(k),
        "seed": int(seed),
        "cohort": _plain(cohort_fields),
        "anchors": _plain(dict(anchors)),
        "selector": {"class": _qualname(type(selector)), "settings": _public_settings(selector)},
        "sampler": {"class": _qualname(type(sampler)), "settings": _sampler_settings(sampler)},
        "generator": {
            "class": _qualname(type(generator)),
            "batch_size": _plain(generator.batch_size),
            "max_fill_retries": _plain(generator.max_fill_retries),
            "temperature": _plain(generator.temperature),
            "story_words": _plain(generator.story_words),
            "narrative_words": _plain(generator.narrative_words),
            "on_missing": _plain(generator.on_missing),
            "templates": _templates_fingerprint(generator.templates),
        },
        "options": {
            "consistency": options.consistency,
            "narrative": options.narrative,
            "anchor_similarity": options.anchor_similarity,
            "replace_unfilled": options.replace_unfilled,
        },
    }


def _run_id(config: Mapping[str, Any]) -> str:
    """A short, stable id of a run configuration."""
    text = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return "r-" + hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def _with_seed(run: _Run, seed: int) -> _Run:
    """``run`` with another seed (its recorded configuration and run id follow)."""
    config = {**run.provenance.run_config, "seed": int(seed)}
    provenance = run.provenance.model_copy(update={"run_config": config, "run_id": _run_id(config)})
    return dataclasses.replace(run, seed=int(seed), provenance=provenance)


def _check_resume(path: str | Path, state: ResumeState, run: _Run, *, explicit_seed: int | None) -> None:
    """Refuse to append ``run`` to a file written by another run (before any LLM call).

    Files that record a run configuration must match it field by field; older files (no recorded
    configuration) must match the seed and ``k``, as before run configurations were recorded.

    Raises:
        DataFileError: The file mixes lines of several runs.
        ConfigError: The file was written by another configuration, or another sketch for an index.
    """
    hint = _RESUME_HINT
    if len(state.seeds) > 1 or len(state.run_ids) > 1:
        raise DataFileError(
            f"{path} mixes personas of several runs (seeds {sorted(state.seeds)}, "
            f"run ids {sorted(state.run_ids)}); use a new file"
        )
    if state.run_config is not None:
        _refuse_other_config(path, state.run_config, run.provenance.run_config)
    file_seed = state.seed
    if explicit_seed is not None and file_seed is not None and explicit_seed != file_seed:
        raise ConfigError(
            f"{path} was written with seed {file_seed}, this engine has seed {explicit_seed}; "
            f"resume with the same seed, or {hint}"
        )
    if state.ks and state.ks != {run.k}:
        raise ConfigError(
            f"{path} was written with k={sorted(state.ks)}, not k={run.k}; use the same k, or {hint}"
        )
    if state.bio_mismatches:
        first = state.bio_mismatches[0]
        raise ConfigError(
            f"{path}: persona {first} enriched another sketch than sketches[{first}]; "
            f"resume with the same sketches, or {hint}"
        )


def _refuse_other_config(path: str | Path, recorded: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming each field where ``current`` differs from the ``recorded`` config."""
    differences = _config_differences(recorded, current)
    if differences:
        raise ConfigError(
            f"{path} was written by another run configuration: {'; '.join(differences)}. "
            f"Resume with the same configuration, or {_RESUME_HINT}"
        )


def _config_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``"field: <in the file> in the file, <now> now"`` for each differing (dotted) field."""
    old, new = _flatten(recorded), _flatten(current)
    missing = object()
    out = []
    for key in [*new, *(key for key in old if key not in new)]:
        before, after = old.get(key, missing), new.get(key, missing)
        if before != after:
            shown = [("absent" if value is missing else _short(value)) for value in (before, after)]
            out.append(f"{key}: {shown[0]} in the file, {shown[1]} now")
    return out


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):  # an empty mapping adds no field: {} and {"a": 1} differ in "a"
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> Any:
    """``value`` as JSON-safe data that survives a JSON round trip unchanged (for comparisons)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=8).hexdigest()
        return f"ndarray(shape={list(value.shape)}, dtype={value.dtype}, blake2b={digest})"
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    if type(value).__module__.startswith("pandas") and hasattr(value, "to_csv"):  # a table: its content
        digest = hashlib.blake2b(value.to_csv().encode("utf-8"), digest_size=8).hexdigest()
        return f"{type(value).__name__}(shape={list(value.shape)}, blake2b={digest})"
    if isinstance(value, type) or callable(value):
        return _qualname(value)
    return _ADDRESS.sub("", repr(value))


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__qualname__
    return f"{module}.{name}" if module else str(name)


def _public_settings(obj: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """An object's public attributes (its settings: constructor parameters, by the scikit-learn convention)."""
    skipped = set(skip)
    attributes = getattr(obj, "__dict__", {})
    return {
        key: _plain(value)
        for key, value in sorted(attributes.items())
        if not key.startswith("_") and key not in skipped
    }


def _sampler_settings(sampler: Any) -> dict[str, Any]:
    """A demographic sampler's settings; its tables count only when they are not the packaged ones."""
    settings = _public_settings(sampler, skip=("tables",))
    data_dir = getattr(getattr(sampler, "tables", None), "data_dir", None)
    if data_dir is not None:
        package = Path(__file__).resolve().parents[1]
        if not Path(data_dir).resolve().is_relative_to(package):
            settings["data_dir"] = str(data_dir)
    return settings


def _templates_fingerprint(library: PromptLibrary) -> str | None:
    """A hash of the templates that differ from the packaged ones (``None`` when none do)."""
    from ..prompts._library import _default_library

    packaged = _default_library()
    known = set(packaged.names)
    changed = {
        name: library.source(name)
        for name in library.names
        if name not in known or packaged.source(name) != library.source(name)
    }
    if not changed:
        return None
    text = json.dumps(changed, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
