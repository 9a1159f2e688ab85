"""Build plausible, schema-valid JSON values from a JSON schema, deterministically from a generator."""

from __future__ import annotations

import datetime as _dt
import math
import re
import uuid
from typing import Any

import numpy as np

__all__ = ["fake_from_schema", "fake_sentence"]

_WORDS = (
    "quiet", "garden", "river", "morning", "family", "music", "bread", "travel", "market", "book",
    "careful", "bright", "city", "coffee", "friend", "window", "patient", "story", "walk", "kitchen",
    "ocean", "simple", "teacher", "evening", "warm", "bicycle", "letter", "curious", "village", "tea",
    "practical", "mountain", "neighbour", "honest", "piano", "street", "calm", "project", "winter", "summer",
    "harbour", "lantern", "copper", "meadow", "orchard", "festival", "workshop", "ferry", "saddle", "thunder",
    "pottery", "ledger", "clinic", "bakery", "chapel", "tailor", "cricket", "harvest", "radio", "stadium",
    "junction", "canal", "quarry", "pepper", "ginger", "mango", "cassava", "millet", "sorghum", "almond",
    "lagoon", "glacier", "prairie", "savanna", "tundra", "monsoon", "drizzle", "blizzard", "sunrise", "dusk",
    "stubborn", "frugal", "anxious", "cheerful", "restless", "modest", "proud", "wary", "eager", "gentle",
    "ferment", "knitting", "welding", "cycling", "fishing", "chess", "karaoke", "gardening", "hiking", "rowing",
    "tram", "scooter", "tractor", "minibus", "sailboat", "rickshaw", "caravan", "wagon", "canoe", "glider",
)  # fmt: skip

_MAX_DEPTH = 6
_WORD_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)\s+words")


def fake_sentence(rng: np.random.Generator, min_words: int = 2, max_words: int = 6) -> str:
    """A few deterministic words from a small vocabulary, capitalised like a short phrase."""
    n = int(rng.integers(min_words, max_words + 1))
    words = [_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), size=n)]
    return " ".join(words).capitalize()


def fake_from_schema(schema: dict[str, Any], rng: np.random.Generator) -> Any:
    """Return a JSON value that satisfies ``schema`` (types, enums, lengths, bounds, required keys).

    ``$ref`` into ``$defs`` is followed; ``anyOf``/``oneOf`` pick a non-null branch; string formats
    ``date``, ``date-time``, ``email``, ``uri`` and ``uuid`` get well-formed values. Custom validators and
    regex patterns are not understood: a :class:`~deeppersona.testing.FakeLLM` ``handler`` covers those.
    """
    defs = schema.get("$defs", {}) or schema.get("definitions", {})
    return _Faker(defs, rng).value(schema, 0, "")


class _Faker:
    def __init__(self, defs: dict[str, Any], rng: np.random.Generator) -> None:
        self.defs = defs
        self.rng = rng

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            target = dict(self.defs.get(name, {}))
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
            seen += 1
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = {**self.resolve(part), **merged}
            schema = merged
        return schema

    def value(self, schema: dict[str, Any], depth: int, name: str) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            options = schema["enum"]
            return options[int(self.rng.integers(0, len(options)))]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [self.resolve(b) for b in schema[key]]
                non_null = [b for b in branches if b.get("type") != "null"]
                plain = [b for b in non_null if "pattern" not in b]  # e.g. Decimal: number | patterned string
                pool = plain or non_null or branches
                if depth >= _MAX_DEPTH and len(pool) < len(branches):
                    return None
                return self.value(pool[int(self.rng.integers(0, len(pool)))], depth, name)
        if "default" in schema and depth >= _MAX_DEPTH:
            return schema["default"]
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or kind
            kind = kinds[0]
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            return None
        return handler(schema, depth, name)

    def _null(self, schema: dict[str, Any], depth: int, name: str) -> None:
        return None

    def _boolean(self, schema: dict[str, Any], depth: int, name: str) -> bool:
        return bool(self.rng.integers(0, 2))

    def _bounds(
        self, schema: dict[str, Any], default_lo: float, default_hi: float
    ) -> tuple[float, float, bool]:
        lo = schema.get("minimum", -math.inf)
        hi = schema.get("maximum", math.inf)
        exclusive = False
        if "exclusiveMinimum" in schema:
            lo = max(lo, schema["exclusiveMinimum"])
            exclusive = True
        if "exclusiveMaximum" in schema:
            hi = min(hi, schema["exclusiveMaximum"])
            exclusive = True
        if math.isinf(lo) and math.isinf(hi):
            lo, hi = default_lo, default_hi
        elif math.isinf(lo):
            lo = hi - (default_hi - default_lo)
        elif math.isinf(hi):
            hi = lo + (default_hi - default_lo)
        return float(lo), float(hi), exclusive

    def _integer(self, schema: dict[str, Any], depth: int, name: str) -> int:
        lo, hi, _ = self._bounds(
            schema, 18 if "age" in name.lower() else 0, 80 if "age" in name.lower() else 100
        )
        ilo = math.ceil(lo)
        ihi = math.floor(hi)
        if "exclusiveMinimum" in schema and ilo == schema["exclusiveMinimum"]:
            ilo += 1
        if "exclusiveMaximum" in schema and ihi == schema["exclusiveMaximum"]:
            ihi -= 1
        if ihi < ilo:
            ihi = ilo
        value = int(self.rng.integers(ilo, ihi + 1))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = min(ihi - ihi % step, max(ilo + (-ilo) % step, value - value % step))
        return value

    def _number(self, schema: dict[str, Any], depth: int, name: str) -> float:
        lo, hi, exclusive = self._bounds(schema, 0.0, 1.0)
        if exclusive:
            span = hi - lo
            lo, hi = lo + span * 0.01, hi - span * 0.01
        value = round(float(lo + (hi - lo) * self.rng.random()), 3) if hi > lo else lo
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            k = round(value / step)
            for candidate in (k, k + 1, k - 1, math.ceil(lo / step), math.floor(hi / step)):
                if lo <= candidate * step <= hi:
                    return float(candidate * step)
        return value

    def _string(self, schema: dict[str, Any], depth: int, name: str) -> str:
        fmt = schema.get("format")
        if fmt == "date":
            return (_dt.date(2000, 1, 1) + _dt.timedelta(days=int(self.rng.integers(0, 9000)))).isoformat()
        if fmt == "date-time":
            base = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
            return (base + _dt.timedelta(seconds=int(self.rng.integers(0, 10**9)))).isoformat()
        if fmt == "email":
            return f"{_WORDS[int(self.rng.integers(0, len(_WORDS)))]}@example.org"
        if fmt in ("uri", "url"):
            return f"https://example.org/{_WORDS[int(self.rng.integers(0, len(_WORDS)))]}"
        if fmt == "uuid":
            return str(uuid.UUID(int=int(self.rng.integers(0, 2**62))))
        min_len = int(schema.get("minLength", 0))
        max_len = schema.get("maxLength")
        if "pattern" in schema:
            matched = self._matching(str(schema["pattern"]), min_len, max_len)
            if matched is not None:
                return matched
        words = _WORD_RANGE.search(str(schema.get("description", "")))
        if words:  # a length asked for in words ("60-120 words"): honour it, as a real model should
            lo, hi = int(words.group(1)), int(words.group(2))
            text = fake_sentence(self.rng, lo, max(lo, hi))
        else:  # three words or more from 120: values of one reply practically never repeat
            text = fake_sentence(self.rng, 3, 7)
        while len(text) < min_len:
            text = f"{text} {fake_sentence(self.rng)}"
        if max_len is not None and len(text) > int(max_len):
            text = text[: int(max_len)].rstrip() if int(max_len) >= min_len else text[: int(max_len)]
            while len(text) < min_len:
                text += "x"
        return text

    def _matching(self, pattern: str, min_len: int, max_len: Any) -> str | None:
        """A simple string that matches ``pattern`` (regex support is best effort)."""
        try:
            regex = re.compile(pattern)
        except re.error:
            return None
        word = _WORDS[int(self.rng.integers(0, len(_WORDS)))]
        letters = "".join(chr(ord("a") + int(i)) for i in self.rng.integers(0, 26, size=12))
        digits = "".join(str(int(i)) for i in self.rng.integers(0, 10, size=12))
        candidates = [word, word.upper(), word.capitalize(), fake_sentence(self.rng)]
        for n in range(1, 13):
            candidates += [letters[:n].upper(), letters[:n], digits[:n], f"{letters[:n]}{digits[:n]}"]
        for candidate in candidates:
            if len(candidate) < min_len or (max_len is not None and len(candidate) > int(max_len)):
                continue
            if regex.search(candidate):
                return candidate
        return None

    def _array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        min_items = int(schema.get("minItems", 0))
        max_items = int(schema.get("maxItems", max(min_items, 3)))
        upper = min(max_items, max(min_items, 3))
        n = (
            min_items
            if depth >= _MAX_DEPTH
            else int(self.rng.integers(max(min_items, min(1, upper)), upper + 1))
        )
        if "prefixItems" in schema:
            return [self.value(s, depth + 1, name) for s in schema["prefixItems"]]
        item_schema = schema.get("items", {})
        items: list[Any] = []
        unique = bool(schema.get("uniqueItems"))
        tries = 0
        while len(items) < n and tries < n * 10 + 10:
            tries += 1
            item = self.value(item_schema, depth + 1, name)
            if unique and item in items:
                continue
            items.append(item)
        return items

    def _object(self, schema: dict[str, Any], depth: int, name: str) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if key in required or depth < _MAX_DEPTH - 1:
                out[key] = self.value(sub, depth + 1, key)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict):
            min_p = int(schema.get("minProperties", 0))
            max_p = int(schema.get("maxProperties", max(min_p, 3)))
            n = min(max_p, max(min_p, 2 if depth < _MAX_DEPTH else min_p))
            while len(out) < n:
                key = f"{_WORDS[int(self.rng.integers(0, len(_WORDS)))]} {len(out) + 1}"
                out[key] = self.value(extra, depth + 1, key)
        return out
