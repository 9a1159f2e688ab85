"""Turning any persona set into what the evaluator needs: Persona objects, plain strings, dicts, JSONL files.

The evaluator works on persona sets from any source (deeppersona, PersonaHub, OpenCharacter, plain
prompting). A persona may be:

* a :class:`deeppersona.persona.Persona` (or a :class:`~deeppersona.persona.Population` of them): the
  simulation prompt is :meth:`Persona.to_prompt`, the profile shown to judges and responders is its
  Figure 7 JSON (:meth:`Persona.to_nested`), attributes come from :meth:`Persona.values` and demographics
  from :attr:`Persona.demographics`; personas whose generation failed are left out (with a warning);
* a mapping that is a serialised Persona (what :meth:`Persona.to_dict` and ``PersonaEngine.generate_to``
  write): rebuilt with :meth:`Persona.from_dict`, then as above;
* a string: the persona text itself (a PersonaHub sketch, an OpenCharacter profile);
* any other mapping: its text field (``narrative``, ``persona``, ``profile``, ``text``, ``prompt``,
  ``description``, ``character``, ``content``), or else its fields rendered as ``key: value`` lines;
* any other object with ``to_prompt()``: its prompt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..demographics._models import PERSON_FIELDS
from ..errors import DataFileError, DataFileNotFoundError, EvaluationError
from ..persona import Persona
from ..persona._table import decode_row
from ..taxonomy._constants import PATH_SEPARATOR as _SEP

__all__ = ["PersonaView", "load_personas", "persona_view", "persona_views"]

logger = logging.getLogger(__name__)

TEXT_FIELDS: tuple[str, ...] = (
    "narrative",
    "persona",
    "profile",
    "text",
    "prompt",
    "description",
    "character",
    "content",
)
_PERSONA_FIELDS = frozenset(Persona.model_fields)


class PersonaView:
    """What the evaluator needs from one persona, whatever its source.

    Attributes:
        text: The persona as a role-play system prompt (survey simulation).
        profile: The persona as a user profile for judges and responders (the Figure 7 JSON of a
            deeppersona persona; ``text`` for other sources).
        demographics: Core demographic fields when known (age, gender, occupation, city, country …).
        attributes: Attribute path → value when known (deeppersona personas), else ``None``.
        paths: Taxonomy paths of those attributes when known (custom anchors excluded), else ``None``.
        source: The original object.
    """

    __slots__ = ("attributes", "demographics", "paths", "profile", "source", "text")

    def __init__(
        self,
        text: str,
        demographics: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
        source: Any = None,
        *,
        profile: str | None = None,
        paths: Sequence[tuple[str, ...]] | None = None,
    ) -> None:
        self.text = text
        self.profile = profile if profile is not None else text
        self.demographics = demographics or {}
        self.attributes = attributes
        self.paths = None if paths is None else list(paths)
        self.source = source

    def __repr__(self) -> str:
        return f"PersonaView({self.text[:40]!r}…)"


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{_SEP}{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _present(d: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in d.items() if v not in (None, "")}


def _demographics_of(d: Mapping[str, Any]) -> dict[str, Any]:
    dem = d.get("demographics")
    if isinstance(dem, Mapping):
        return _present(dem)
    return _present({k: d[k] for k in PERSON_FIELDS if k in d})


def _attributes_of(d: Mapping[str, Any]) -> dict[str, Any] | None:
    """Path → value from a dict's ``attributes``: a (nested) mapping or a list of ``{"path", "value"}``."""
    attrs = d.get("attributes")
    if isinstance(attrs, Mapping):
        out_map: dict[str, Any] = {}
        for key, value in attrs.items():
            if isinstance(value, Mapping) and "value" in value:
                out_map[str(key)] = value["value"]  # a serialised AttributeValue
            elif isinstance(value, Mapping):
                out_map.update(_flatten(value, str(key)))
            else:
                out_map[str(key)] = value
        return out_map
    if isinstance(attrs, Sequence) and not isinstance(attrs, str):
        out: dict[str, Any] = {}
        for a in attrs:
            if isinstance(a, Mapping) and "path" in a:
                path = a["path"]
                key = _SEP.join(path) if isinstance(path, (list, tuple)) else str(path)
                out[key] = a.get("value")
        return out or None
    return None


def _is_serialised_persona(d: Mapping[str, Any]) -> bool:
    return "id" in d and "seed" in d and set(d) <= _PERSONA_FIELDS


def _from_persona(persona: Persona) -> PersonaView:
    return PersonaView(
        persona.to_prompt(),
        _present(persona.demographics),
        persona.values(),
        persona,
        profile=json.dumps(persona.to_nested(), ensure_ascii=False),
        paths=[a.path for a in persona.attributes.values() if a.path and a.stratum != "custom"],
    )


def _from_mapping(d: Mapping[str, Any]) -> PersonaView:
    demographics, attributes = _demographics_of(d), _attributes_of(d)
    for key in TEXT_FIELDS:
        value = d.get(key)
        if isinstance(value, str) and value.strip():
            return PersonaView(value.strip(), demographics, attributes, d)
    lines = [f"{k}: {v}" for k, v in _flatten(d).items() if v not in (None, "", [], {})]
    if not lines:
        raise EvaluationError(f"persona {d!r} has no text fields ({', '.join(TEXT_FIELDS)}) and no values")
    return PersonaView("\n".join(lines), demographics, attributes, d)


def persona_view(obj: Any) -> PersonaView:
    """Normalise one persona (see the module docstring for what is accepted).

    Raises:
        EvaluationError: The object has no usable text, or is a serialised Persona that does not validate.
    """
    if isinstance(obj, PersonaView):
        return obj
    if isinstance(obj, Persona):
        return _from_persona(obj)
    if isinstance(obj, str):
        text = obj.strip()
        if not text:
            raise EvaluationError("a persona text is empty")
        return PersonaView(text, source=obj)
    if isinstance(obj, Mapping):
        if _is_serialised_persona(obj):
            try:
                return _from_persona(Persona.model_validate(decode_row(obj)))
            except (ValidationError, DataFileError) as exc:
                raise EvaluationError(
                    f"persona {obj.get('id')!r} looks like a serialised deeppersona Persona but does not "
                    f"validate (written by another version?): {str(exc)[:300]}"
                ) from exc
        return _from_mapping(obj)
    to_prompt = getattr(obj, "to_prompt", None)
    if callable(to_prompt):
        dem = getattr(obj, "demographics", None)
        return PersonaView(str(to_prompt()), _present(dem) if isinstance(dem, Mapping) else {}, source=obj)
    raise EvaluationError(
        f"cannot read a persona from {type(obj).__name__}; pass Persona objects, strings or dicts"
    )


def persona_views(personas: Iterable[Any] | str | Path, *, name: str = "personas") -> list[PersonaView]:
    """Normalise a persona set (a list, a Population, a JSONL path); failed Personas are left out.

    Raises:
        EvaluationError: A single persona instead of a set, an empty set, or an unreadable persona.
    """
    if isinstance(personas, Path) or (
        isinstance(personas, str) and Path(personas).suffix in {".jsonl", ".json", ".txt", ".parquet"}
    ):
        personas = load_personas(personas)
    elif _is_table(personas):  # a DataFrame or a datasets.Dataset: its rows, not its column names
        personas = _in_memory(personas)
    if isinstance(personas, (str, Persona, Mapping)):
        raise EvaluationError(
            f"{name}: expected a sequence of personas, got a single {type(personas).__name__}; "
            "wrap it in a list"
        )
    views = [persona_view(p) for p in personas]
    failed = [v for v in views if isinstance(v.source, Persona) and not v.source.ok]
    if failed:
        logger.warning(
            "%s: leaving out %d persona(s) whose generation failed (%s)",
            name,
            len(failed),
            "; ".join(f"{v.source.id}: {v.source.failure}" for v in failed[:3]),
        )
        views = [v for v in views if v not in failed]
    if not views:
        raise EvaluationError(f"persona set {name!r} is empty; give at least one persona")
    return views


def load_personas(personas: str | Path | Iterable[Any]) -> list[Any]:
    """Read a persona set into a list: from a file, or from a set already in memory.

    Files: JSONL (one JSON object or string per line) or plain text (one persona per line), or a
    ``.json`` list. Serialised Personas (``Population.to_jsonl``, ``PersonaEngine.generate_to``) come back
    as dicts and are rebuilt as :class:`~deeppersona.persona.Persona` by the evaluator. Lines that are not
    JSON are kept as persona texts; blank lines are skipped; a last line that starts a JSON object but
    is cut off (an interrupted write) is skipped with a warning. A ``.parquet`` file written by
    ``Population.to_parquet`` gives its Personas.

    In memory: a :class:`~deeppersona.persona.Population` gives its complete personas; a list (or any
    iterable) of Personas, dicts and strings is returned as a list; a pandas ``DataFrame`` or a Hugging
    Face ``datasets.Dataset`` gives its rows as dicts.

    Args:
        personas: A path, or the persona set itself.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: The file holds no personas, or a line other than the last is broken JSON.
        EvaluationError: An in-memory set is empty, is a single persona (wrap it in a list), or holds
            something that is not a persona (a number, None ...).
    """
    if not isinstance(personas, (str, Path)):
        return _in_memory(personas)
    path = personas
    if Path(path).suffix == ".parquet":
        from ..persona import Population

        return list(Population.from_parquet(path))
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"persona file {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8")
    items: list[Any] = []
    if p.suffix == ".json":
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    else:
        lines = text.split("\n")
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if not line.startswith("{"):
                    items.append(line)  # a plain-text persona
                elif number == len(lines):  # no newline after it: a write that never finished
                    logger.warning("%s: skipping a truncated last line (an interrupted write)", p)
                else:
                    raise DataFileError(f"{p}:{number}: broken JSON object ({exc})") from exc
    if not items:
        raise DataFileError(f"persona file {str(p)!r} holds no personas")
    logger.info("read %d personas from %s", len(items), p)
    return items


def _is_table(obj: Any) -> bool:
    """A pandas DataFrame or a Hugging Face Dataset (neither imported here)."""
    frame = callable(getattr(obj, "to_dict", None)) and hasattr(obj, "columns")
    dataset = callable(getattr(obj, "to_list", None)) and hasattr(obj, "column_names")
    return not isinstance(obj, Mapping) and (frame or dataset)


def _in_memory(personas: Any) -> list[Any]:
    """The items of an in-memory persona set (see :func:`load_personas`)."""
    from ..persona import Population

    if isinstance(personas, Population):
        items: list[Any] = list(personas)
    elif isinstance(personas, (Persona, Mapping, PersonaView, bytes)):
        raise EvaluationError(
            f"expected a set of personas, got a single {type(personas).__name__}; wrap it in a list"
        )
    elif _is_table(personas):
        rows = personas.to_dict(orient="records") if hasattr(personas, "columns") else personas.to_list()
        items = list(rows)
    elif isinstance(personas, Iterable):
        items = list(personas)
    else:
        raise EvaluationError(
            f"cannot read personas from a {type(personas).__name__}; pass a path, a Population, or a list "
            "of Personas, dicts or strings"
        )
    for i, item in enumerate(items):
        if not isinstance(item, (Persona, Mapping, str, PersonaView)) and not callable(
            getattr(item, "to_prompt", None)
        ):
            raise EvaluationError(
                f"persona {i} is a {type(item).__name__}; a persona set holds Personas, dicts or strings"
            )
    if not items:
        raise EvaluationError("the persona set is empty; give at least one persona")
    return items
