"""Reading QA pairs from Python objects, JSONL, JSON and CSV files, or any iterable of dicts.

Bad records never crash a long run: each is skipped and counted by reason in :class:`InputStats`.
Only problems that leave nothing to work on (a missing or empty file, a file in the wrong encoding,
records that all lack the configured fields) raise :class:`~deeppersona.errors.DataFileError`.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataFileError, DataFileNotFoundError
from ._records import QAPair

__all__ = ["DEFAULT_MAX_CHARS", "InputStats", "QASource", "read_qa"]

DEFAULT_MAX_CHARS = 20_000
"""Longest question plus answer (in characters) accepted by default; longer pairs are skipped."""

QASource = str | os.PathLike[str] | Iterable[Any]
"""A file path (``.jsonl``, ``.json``, ``.csv``) or an iterable of dicts, ``(question, answer)`` tuples,
question strings or :class:`QAPair` objects."""

_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class InputStats:
    """What reading the input gave: pairs kept and records skipped by reason.

    Attributes:
        source: A short description of where the pairs came from.
        records: Records seen.
        pairs: Pairs kept.
        skipped: Skipped records by reason (``missing_field``, ``empty``, ``too_long``, ``bad_json``,
            ``bad_encoding``, ``not_a_record``, ``duplicate``).
        keys_seen: Field names seen on records (to help fix a wrong ``fields`` setting).
    """

    source: str
    records: int = 0
    pairs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    keys_seen: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        """Count one skipped record."""
        self.skipped[reason] += 1


def read_qa(
    source: QASource,
    *,
    fields: Sequence[str | None] = ("question", "answer"),
    id_field: str | None = "id",
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
) -> tuple[list[QAPair], InputStats]:
    """Read QA pairs, skipping and counting bad records.

    Args:
        source: A path to a ``.jsonl``/``.ndjson``, ``.json`` (an array of objects) or ``.csv``/``.tsv``
            file, or an iterable of dicts (Hugging Face ``datasets`` rows work), ``(question, answer)``
            tuples, question strings or :class:`QAPair` objects.
        fields: The record fields holding the question and the answer; use ``(field, None)`` when
            the data has questions only.
        id_field: A record field holding an identifier, if any.
        max_chars: Pairs whose question plus answer are longer are skipped as ``too_long``.
        limit: Keep at most this many pairs.

    Returns:
        The pairs (duplicates removed, in input order) and the reading statistics.

    Raises:
        DataFileNotFoundError: ``source`` names a file that does not exist.
        DataFileError: The file is empty, not UTF-8 text, of an unknown type, or no record had the
            configured fields.
        ConfigError: ``fields`` or ``max_chars`` is invalid.
    """
    if len(fields) != 2 or not isinstance(fields[0], str) or not fields[0]:
        raise ConfigError(f"fields must be (question_field, answer_field or None), got {fields!r}")
    if max_chars <= 0:
        raise ConfigError(f"max_chars must be positive, got {max_chars}")
    q_field, a_field = fields[0], fields[1]
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        stats = InputStats(source=str(path))
        records: Iterable[Any] = _read_file(path, stats)
    elif isinstance(source, (bytes, Mapping)):
        raise ConfigError(
            f"QA input must be a file path or an iterable of records, got {type(source).__name__}"
        )
    else:
        try:
            records = iter(source)
        except TypeError:
            raise ConfigError(
                f"QA input must be a file path or an iterable of records, got {type(source).__name__}"
            ) from None
        stats = InputStats(source=f"<{type(source).__name__}>")

    pairs: list[QAPair] = []
    seen: set[str] = set()
    for record in records:
        if limit is not None and len(pairs) >= limit:
            break
        stats.records += 1
        pair = _to_pair(record, q_field, a_field, id_field, stats)
        if pair is None:
            continue
        if len(pair.question) + len(pair.answer) > max_chars:
            stats.skip("too_long")
            continue
        if _has_surrogates(pair.question) or _has_surrogates(pair.answer):
            stats.skip("bad_encoding")
            continue
        key = pair.key
        if key in seen:
            stats.skip("duplicate")
            continue
        seen.add(key)
        pairs.append(pair)
    stats.pairs = len(pairs)
    if not pairs and stats.records:
        raise DataFileError(_nothing_usable_message(stats, q_field, a_field))
    return pairs, stats


# -- records -> pairs ---------------------------------------------------------------------------------


def _to_pair(
    record: Any, q_field: str, a_field: str | None, id_field: str | None, stats: InputStats
) -> QAPair | None:
    if isinstance(record, QAPair):
        question, answer, rid, meta = record.question, record.answer, record.id, dict(record.meta)
    elif isinstance(record, str):
        question, answer, rid, meta = record, "", None, {}
    elif isinstance(record, Mapping):
        stats.keys_seen.update(str(k) for k in record)
        if q_field not in record or (a_field is not None and a_field not in record):
            stats.skip("missing_field")
            return None
        question = record[q_field]
        answer = record[a_field] if a_field is not None else ""
        raw_id = record.get(id_field) if id_field else None
        rid = None if raw_id is None else str(raw_id)
        meta = {k: v for k, v in record.items() if k not in (q_field, a_field, id_field)}
    elif (
        isinstance(record, Sequence) and not isinstance(record, (bytes, bytearray)) and len(record) in (1, 2)
    ):
        question = record[0]
        answer = record[1] if len(record) == 2 else ""
        rid, meta = None, {}
    else:
        stats.skip("not_a_record")
        return None
    if answer is None:
        answer = ""
    if not isinstance(question, str) or not isinstance(answer, str):
        stats.skip("not_text")
        return None
    question, answer = question.strip(), answer.strip()
    if not question:
        stats.skip("empty")
        return None
    return QAPair(question=question, answer=answer, id=rid, meta=meta)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nothing_usable_message(stats: InputStats, q_field: str, a_field: str | None) -> str:
    reasons = ", ".join(f"{n} {r}" for r, n in stats.skipped.most_common())
    wanted = f"{q_field!r}" + (f" and {a_field!r}" if a_field else "")
    msg = f"no usable QA pair in {stats.source}: {stats.records} record(s) read, all skipped ({reasons})."
    if stats.skipped.get("missing_field"):
        keys = ", ".join(k for k, _ in stats.keys_seen.most_common(12)) or "none"
        msg += (
            f" The records need the fields {wanted}; fields found: {keys}. "
            "Pass fields=(question_field, answer_field) (CLI: --fields QUESTION,ANSWER)."
        )
    if stats.skipped.get("too_long"):
        msg += " Raise max_chars to accept longer pairs."
    if stats.skipped.get("bad_encoding") or stats.skipped.get("bad_json"):
        msg += " Check that the file is UTF-8 encoded JSON Lines or CSV."
    return msg


# -- files --------------------------------------------------------------------------------------------


def _read_file(path: Path, stats: InputStats) -> Iterator[Any]:
    if not path.exists():
        raise DataFileNotFoundError(f"QA file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataFileError(f"{str(path)!r} is a directory; pass a .jsonl, .json or .csv file")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise DataFileError(
            f"cannot read {str(path)!r}: unknown file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(_SUFFIXES)}"
        )
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head.strip() and (path.stat().st_size == 0 or not path.read_bytes().strip()):
        raise DataFileError(f"QA file {str(path)!r} is empty")
    if head.startswith(_UTF16_BOMS):
        raise DataFileError(
            f"QA file {str(path)!r} is UTF-16 encoded; convert it to UTF-8 "
            "(for example: iconv -f UTF-16 -t UTF-8 in > out)"
        )
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, stats)
    if suffix == ".json":
        return _read_json(path, stats)
    return _read_csv(path, stats, delimiter="\t" if suffix == ".tsv" else ",")


def _read_jsonl(path: Path, stats: InputStats) -> Iterator[Any]:
    # Text mode with surrogateescape: a line with bad bytes is skipped and counted, the rest is read.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                stats.records += 1
                stats.skip("bad_encoding" if _has_surrogates(line) else "bad_json")


def _read_json(path: Path, stats: InputStats) -> Iterator[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"QA file {str(path)!r} is not valid UTF-8 (byte {exc.start}); re-encode it as UTF-8, "
            "or use JSON Lines, where bad lines are skipped"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"QA file {str(path)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(data, Mapping):
        for key in ("data", "rows", "records", "pairs"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise DataFileError(f"QA file {str(path)!r} must hold a JSON array of objects")
    yield from data


def _read_csv(path: Path, stats: InputStats, delimiter: str) -> Iterator[Any]:
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            for row in reader:
                if None in row:  # more cells than header names
                    row.pop(None)  # type: ignore[call-overload]
                if any(isinstance(v, str) and _has_surrogates(v) for v in row.values()):
                    stats.records += 1
                    stats.skip("bad_encoding")
                    continue
                yield row
        except csv.Error as exc:
            raise DataFileError(
                f"QA file {str(path)!r} is not valid CSV (line {reader.line_num}: {exc})"
            ) from None
