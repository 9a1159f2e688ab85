"""Turning any persona set into prompt texts: Persona objects, plain strings, dicts, JSONL files.

The evaluator works on persona sets from any source (deeppersona, PersonaHub, OpenCharacter, plain
prompting). A persona may be:

* an object with ``to_prompt()`` (a :class:`deeppersona.persona.Persona`): its prompt is used;
* a string: the persona text itself (a PersonaHub sketch, an OpenCharacter profile);
* a mapping: a serialised Persona (rebuilt when :mod:`deeppersona.persona` validates it), or any object with
  a text field (``narrative``, ``persona``, ``profile``, ``text``, ``prompt``, ``description``,
  ``character``), or else its attributes rendered as ``key: value`` lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import DataFileError, DataFileNotFoundError, EvaluationError

__all__ = ["PersonaView", "load_personas", "persona_views"]

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
_DEMOGRAPHIC_FIELDS = ("name", "age", "gender", "occupation", "city", "region", "country")


class PersonaView:
    """What the evaluator needs from one persona, whatever its source.

    Attributes:
        text: The persona as a system prompt.
        demographics: Core demographic fields when known (age, gender, occupation, city, country …).
        attributes: Attribute path → value when known (deeppersona personas), else ``None``.
        source: The original object.
    """

    __slots__ = ("attributes", "demographics", "source", "text")

    def __init__(
        self,
        text: str,
        demographics: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
        source: Any = None,
    ) -> None:
        self.text = text
        self.demographics = demographics or {}
        self.attributes = attributes
        self.source = source

    def __repr__(self) -> str:
        return f"PersonaView({self.text[:40]!r}…)"


def _as_dict(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return dict(obj)
    dump = getattr(obj, "model_dump", None) or getattr(obj, "to_dict", None)
    if callable(dump):
        try:
            out = dump()
        except TypeError:
            return None
        return dict(out) if isinstance(out, Mapping) else None
    return None


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix} > {k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _demographics_of(obj: Any, d: Mapping[str, Any] | None) -> dict[str, Any]:
    dem = _as_dict(getattr(obj, "demographics", None))
    if dem is None and d is not None:
        dem = _as_dict(d.get("demographics"))
    if dem is None and d is not None:
        core = d.get("core")
        dem = _as_dict(core) if isinstance(core, Mapping) else None
    if dem is None and d is not None:
        dem = {k: d[k] for k in _DEMOGRAPHIC_FIELDS if k in d}
    return {k: v for k, v in (dem or {}).items() if v not in (None, "")}


def _attributes_of(obj: Any, d: Mapping[str, Any] | None) -> dict[str, Any] | None:
    attrs = getattr(obj, "attributes", None)
    if attrs is None and d is not None:
        attrs = d.get("attributes")
    if isinstance(attrs, Mapping):
        out_map: dict[str, Any] = {}
        for key, value in attrs.items():
            if isinstance(value, Mapping) and "value" in value:
                out_map[str(key)] = value["value"]  # a serialised AttributeValue
            elif isinstance(value, Mapping):
                out_map.update(_flatten(value, str(key)))
            elif hasattr(value, "value") and hasattr(value, "model_dump"):
                out_map[str(key)] = value.value  # an AttributeValue object
            else:
                out_map[str(key)] = value
        return out_map
    if isinstance(attrs, Sequence) and not isinstance(attrs, str):
        out: dict[str, Any] = {}
        for a in attrs:
            if isinstance(a, Mapping) and "path" in a:
                path = a["path"]
                out[" > ".join(path) if isinstance(path, (list, tuple)) else str(path)] = a.get("value")
        return out or None
    return None


def _try_persona(d: Mapping[str, Any]) -> Any:
    try:
        from ..persona import Persona  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return Persona.model_validate(d)
    except Exception:  # not a serialised deeppersona Persona: fall back to text fields
        return None


def persona_view(obj: Any) -> PersonaView:
    """Normalise one persona (see the module docstring for what is accepted).

    Raises:
        EvaluationError: The object has no usable text.
    """
    if isinstance(obj, PersonaView):
        return obj
    if isinstance(obj, str):
        text = obj.strip()
        if not text:
            raise EvaluationError("a persona text is empty")
        return PersonaView(text, source=obj)
    to_prompt = getattr(obj, "to_prompt", None)
    if callable(to_prompt):
        d = _as_dict(obj)
        return PersonaView(str(to_prompt()), _demographics_of(obj, d), _attributes_of(obj, d), obj)
    if isinstance(obj, Mapping):
        persona = _try_persona(obj) if "attributes" in obj else None
        if persona is not None and callable(getattr(persona, "to_prompt", None)):
            return persona_view(persona)
        for key in TEXT_FIELDS:
            value = obj.get(key)
            if isinstance(value, str) and value.strip():
                return PersonaView(value.strip(), _demographics_of(None, obj), _attributes_of(None, obj), obj)
        flat = _flatten(obj)
        lines = [f"{k}: {v}" for k, v in flat.items() if v not in (None, "", [], {})]
        if not lines:
            raise EvaluationError(
                f"persona {obj!r} has no text fields ({', '.join(TEXT_FIELDS)}) and no values"
            )
        return PersonaView("\n".join(lines), _demographics_of(None, obj), _attributes_of(None, obj), obj)
    raise EvaluationError(
        f"cannot read a persona from {type(obj).__name__}; pass Persona objects, strings or dicts"
    )


def persona_views(personas: Iterable[Any], *, name: str = "personas") -> list[PersonaView]:
    """Normalise a persona set (a list, a Population, a JSONL path).

    Raises:
        EvaluationError: The set is empty or a persona is unreadable.
    """
    if isinstance(personas, (str, Path)) and Path(personas).suffix in {".jsonl", ".json", ".txt"}:
        personas = load_personas(personas)
    if isinstance(personas, str):
        raise EvaluationError(f"{name}: expected a sequence of personas, got a single string")
    views = [persona_view(p) for p in personas]
    if not views:
        raise EvaluationError(f"persona set {name!r} is empty; give at least one persona")
    return views


def load_personas(path: str | Path) -> list[Any]:
    """Read personas from a file: JSONL (one JSON object or string per line) or plain text (one per line).

    Lines that are not JSON are kept as persona texts; blank lines are skipped.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: The file holds no personas.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"persona file {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".json":
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    else:
        items = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError:
                items.append(line)
    if not items:
        raise DataFileError(f"persona file {str(p)!r} holds no personas")
    logger.info("read %d personas from %s", len(items), p)
    return items
