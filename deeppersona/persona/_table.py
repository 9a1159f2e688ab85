"""The persona table: one Arrow-safe row per persona, shared by Parquet, Arrow, Hugging Face and pandas.

A :class:`~deeppersona.persona.Persona` nests free-form data (attribute values that are a text, a
number, a boolean or a list; demographics of mixed types; a run configuration of any shape). Arrow needs
one type per column, so the table keeps the fixed-shape parts as typed columns and the free-form parts
as JSON text, and reading it back rebuilds exactly what :meth:`Persona.to_dict` holds:

==================  =================================  ==================================================
column              Arrow type                         content
==================  =================================  ==================================================
``id``              string                             the persona id
``seed``            int64                              the run seed
``index``           int64                              the position in its run
``status``          string                             ``ok`` / ``incomplete`` / ``failed``
``failure``         string (null)                      why the persona is not ``ok``
``attributes``      list<struct>                       one struct per attribute, in order (see below)
``warnings``        list<string>                       problems that did not stop generation
``narrative``       string                             the narrative
every other field   string                             JSON text: ``anchors``, ``demographics``,
                                                       ``core`` (null when none), ``missing``,
                                                       ``consistency_notes``, ``provenance``, ``usage``
==================  =================================  ==================================================

Each attribute struct has ``key`` (the persona's attribute name, ``"A > B > C"``), ``path``
(list<string>), ``stratum``, ``value`` (the value as JSON text: ``"\\"poor\\""``, ``"3"``,
``"[\\"ugali\\", \\"tilapia\\"]"``, ``"null"``), ``kind`` (``text``, ``number``, ``boolean``,
``list``, ``object`` or ``null``: what the JSON holds, to filter on without parsing) and
``not_applicable`` (the reason, or null). A field added to the models later becomes one more JSON
column, so no field is ever dropped on the way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._version import __version__
from ..errors import ConfigError, DataFileError, MissingDependencyError
from ._models import AttributeValue, Persona

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "TABLE_FORMAT",
    "decode_row",
    "import_datasets",
    "import_pyarrow",
    "persona_from_row",
    "persona_row",
    "persona_schema",
    "to_table",
    "value_kind",
]

TABLE_FORMAT = {"format": "deeppersona.persona-table", "version": 1}
"""Recorded in the schema metadata of every table written (key ``b"deeppersona"``)."""

_INT64_MAX = 2**63 - 1
_TEXT_COLUMNS = ("id", "status", "failure", "narrative")
_INT_COLUMNS = ("seed", "index")
_ATTRIBUTE_TEXT = ("stratum", "not_applicable")


def import_pyarrow() -> Any:
    """Import pyarrow, or raise :class:`MissingDependencyError` with the command that installs it."""
    try:
        import pyarrow
    except ImportError as exc:
        raise MissingDependencyError(
            "Parquet and Arrow tables need pyarrow: pip install 'deeppersona[parquet]'"
        ) from exc
    return pyarrow


def import_datasets() -> Any:
    """Import Hugging Face ``datasets``, or raise :class:`MissingDependencyError` naming the extra."""
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError(
            "Hugging Face datasets support needs the datasets package: pip install 'deeppersona[datasets]'"
        ) from exc
    return datasets


def value_kind(value: Any) -> str:
    """What an attribute value holds: ``text``, ``number``, ``boolean``, ``list``, ``object`` or ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "list"
    return "object"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def persona_row(persona: Persona) -> dict[str, Any]:
    """Return the table row of ``persona`` (plain Python values, Arrow-safe; see the module docstring)."""
    data = persona.model_dump(mode="json")
    row: dict[str, Any] = {}
    for name in Persona.model_fields:
        value = data[name]
        if name in _TEXT_COLUMNS or name in _INT_COLUMNS:
            row[name] = value
        elif name == "warnings":
            row[name] = [str(w) for w in value]
        elif name == "attributes":
            row[name] = [_attribute_row(key, attr) for key, attr in value.items()]
        else:
            row[name] = None if value is None else _json(value)
    seed = row["seed"]
    if not 0 <= seed <= _INT64_MAX:
        raise ConfigError(
            f"persona {persona.id!r} has seed {seed}, which does not fit a 64-bit table column; "
            "write it with to_jsonl instead"
        )
    return row


def _attribute_row(key: str, attr: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key}
    for name in AttributeValue.model_fields:
        value = attr[name]
        if name == "path":
            out[name] = [str(part) for part in value]
        elif name == "value":
            out[name] = _json(value)
            out["kind"] = value_kind(value)
        elif name in _ATTRIBUTE_TEXT:
            out[name] = value
        else:
            out[name] = _json(value)
    return out


def persona_schema() -> pyarrow.Schema:
    """Return the Arrow schema of the persona table (with the format recorded in its metadata)."""
    pa = import_pyarrow()
    attr_fields = [pa.field("key", pa.string())]
    for name in AttributeValue.model_fields:
        if name == "path":
            attr_fields.append(pa.field(name, pa.list_(pa.string())))
        elif name == "value":
            attr_fields += [pa.field("value", pa.string()), pa.field("kind", pa.string())]
        else:
            attr_fields.append(pa.field(name, pa.string()))
    fields = []
    for name in Persona.model_fields:
        if name in _INT_COLUMNS:
            fields.append(pa.field(name, pa.int64()))
        elif name == "warnings":
            fields.append(pa.field(name, pa.list_(pa.string())))
        elif name == "attributes":
            fields.append(pa.field(name, pa.list_(pa.struct(attr_fields))))
        else:
            fields.append(pa.field(name, pa.string()))
    meta = {**TABLE_FORMAT, "library_version": __version__}
    return pa.schema(fields, metadata={b"deeppersona": json.dumps(meta).encode()})


def to_table(personas: Iterable[Persona]) -> pyarrow.Table:
    """Return the persona table of ``personas`` as a ``pyarrow.Table``."""
    pa = import_pyarrow()
    schema = persona_schema()
    return pa.Table.from_pylist([persona_row(p) for p in personas], schema=schema)


# ---------------------------------------------------------------------- reading
def _plain(value: Any) -> Any:
    """Turn what pandas and Arrow hand back (numpy arrays and scalars, NaN for a missing text) into
    plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return _plain(tolist())
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _from_json(name: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"column {name!r} holds text that is not JSON: {str(exc)[:120]}") from exc
    return value


def _decode_attributes(value: Any) -> Any:
    if not isinstance(value, list):
        return value  # a mapping (Persona.to_dict form): validated as it is
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, Mapping) or "key" not in item:
            raise DataFileError(f"an attribute entry is {item!r}, not a struct with a 'key'")
        attr = {k: v for k, v in item.items() if k not in ("key", "kind")}
        for name, field_value in list(attr.items()):
            if name == "value" or (name not in ("path", *_ATTRIBUTE_TEXT) and isinstance(field_value, str)):
                attr[name] = _from_json(f"attributes.{name}", field_value)
            elif name in _ATTRIBUTE_TEXT and _missing(field_value):
                attr[name] = None
        out[str(item["key"])] = attr
    return out


def decode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one table row (or a :meth:`Persona.to_dict` dict) into what :class:`Persona` validates."""
    data = _plain(dict(row))
    for name, value in list(data.items()):
        if name == "attributes":
            data[name] = _decode_attributes(value)
        elif name in _TEXT_COLUMNS:
            data[name] = None if _missing(value) else value
        elif name not in _INT_COLUMNS and name != "warnings" and name in Persona.model_fields:
            data[name] = _from_json(name, value)
    if data.get("core") is None or _missing(data.get("core")):
        data.pop("core", None)
    for name in ("status", "narrative"):
        if data.get(name) is None:
            data.pop(name, None)  # the model's default
    return data


def persona_from_row(row: Any, where: str) -> Persona:
    """Rebuild a persona from a :class:`Persona`, a table row or a :meth:`Persona.to_dict` dict.

    Args:
        row: The record.
        where: Where the record comes from, for error messages (``"record 3"``).

    Raises:
        DataFileError: The record is not a persona.
    """
    if isinstance(row, Persona):
        return row
    if not isinstance(row, Mapping):
        raise DataFileError(f"{where} is a {type(row).__name__}, not a persona record (a dict or a Persona)")
    unknown = sorted(str(k) for k in row if k not in Persona.model_fields)
    if unknown:
        hint = ""
        if "n_attributes" in unknown:
            hint = (
                "; this looks like Population.to_pandas(), an analysis view that does not hold whole "
                "personas: use Population.to_records() (or to_parquet / to_hf_dataset) for a table "
                "that reads back"
            )
        raise DataFileError(
            f"{where} is not a deeppersona persona record: unknown column(s) {', '.join(unknown[:8])}{hint}"
        )
    try:
        return Persona.model_validate(decode_row(row))
    except DataFileError as exc:
        raise DataFileError(f"{where}: {exc}") from exc
    except (ValidationError, ValueError, TypeError) as exc:
        raise DataFileError(f"{where} is not a deeppersona persona: {str(exc)[:300]}") from exc
