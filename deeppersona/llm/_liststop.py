"""Ending a list of records at the first record the caller refuses, under llama.cpp's whole-object grammar.

The builder's extraction reply is ``{"attributes": [{"root": ..., "category": ..., "attribute": ...,
"value": ...}, ...]}``. Under greedy-ish decoding the embedded model often goes on after the facts run
out, listing one fact under name after name or values the user never said; the builder drops those items
(on the whole gold set 197 of about 400 written), but the model spent most of each reply's time writing
them. :class:`ListStopper` is a llama.cpp logits processor that watches the reply as it is generated
and, once a record is complete and the caller's ``field_check`` refuses it, allows no token with a comma
until the list is closed: the grammar then leaves the model only ``]`` and ``}``. The refused record itself
stays in the reply, for the caller to drop as before; nothing after it is written.

A record is judged as soon as its last property's value is written, before its closing brace. A
token such as ``"},`` closes the value, the record and opens the next one at once; so while the last value
is being written, the record is also judged as it would stand if the value closed now, and if that would
be refused, such tokens are not allowed (the model closes the value, and then the list). A record that
passes meets no ban at all: the model writes the records it keeps exactly as it would unwatched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._fields import RecordPlan

__all__ = ["ListStopper", "token_sets"]

NEG_INF = -float("inf")


def token_sets(llama: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the vocabulary's tokens that hold a comma, and of those that hold ``}`` then ``,``.

    Worked out once per loaded model (the caller caches them): about a second for a 150k vocabulary.
    """
    commas: list[int] = []
    merged: list[int] = []
    for token in range(int(llama.n_vocab())):
        try:
            text = llama.detokenize([token]).decode("utf-8", errors="ignore")
        except Exception:  # a special or invalid token: it holds neither
            continue
        if "," in text:
            commas.append(token)
            brace = text.find("}")
            if brace != -1 and "," in text[brace:]:
                merged.append(token)
    return np.asarray(commas, dtype=np.intp), np.asarray(merged, dtype=np.intp)


class ListStopper:
    """A logits processor (``Llama.create_chat_completion(logits_processor=[...])``) for one reply.

    Args:
        llama: The loaded ``llama_cpp.Llama`` (to detokenize what has been generated).
        plan: The reply's :class:`~deeppersona.llm._fields.RecordPlan` (its list's key and the records'
            properties, in the order the grammar writes them).
        check: The caller's ``field_check``: called with the list's key and the records written so far
            (dicts), the last one new; a result other than ``None`` refuses that last record, and the list
            ends after it. It may be called more than once for one record (also while its last value is
            being written, with the value as it stands), so it must not keep state of its own.
        commas, merged: :func:`token_sets` of the model.
    """

    def __init__(
        self,
        llama: Any,
        plan: RecordPlan,
        check: Callable[[str, Any], Mapping[str, Any] | None],
        commas: np.ndarray,
        merged: np.ndarray,
    ) -> None:
        self.llama = llama
        self.key = plan.key
        self.last = plan.fields[-1][0] if plan.fields else None
        self.check = check
        self.commas = commas
        self.merged = merged
        self.refused: int | None = None  # which record (0-based) ended the list
        self._prompt: int | None = None
        self._bytes = bytearray()
        self._seen = 0  # generated tokens already detokenized
        self._records: list[dict[str, Any]] = []  # the records judged so far
        self._closing = False  # a refused record is complete: no comma until the list is closed

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt is None:  # the first call comes before the first generated token
            self._prompt = len(input_ids)
        new = [int(t) for t in input_ids[self._prompt + self._seen :]]
        if new:
            self._bytes += self.llama.detokenize(new)
            self._seen += len(new)
        if self._closing:
            scores[self.commas] = NEG_INF
            return scores
        state = _scan(self._bytes.decode("utf-8", errors="ignore"))
        for done in state.closed[len(self._records) :]:  # closed since the last step
            self._records.append(done)
            # refused once the list went on (a token that closed it and opened the next): the caller
            # drops it as before, and judges the next with it
            if self._refuses(self._records) and not state.list_went_on:
                return self._close(scores, len(self._records) - 1)
        if state.in_last_value(self.last) and state.in_string:
            # the value may end with the next token: were it refused as it stands, a token that closes
            # it and goes on to the next record at once ('"},') may not be the one
            would_be = state.record_if_closed_now()
            if would_be is not None and self._refuses([*self._records, would_be]):
                scores[self.merged] = NEG_INF
            return scores
        written = state.complete_record(self.last)  # the last value written, the brace not yet
        if written is not None and self._refuses([*self._records, written]):
            return self._close(scores, len(self._records))
        return scores

    def _close(self, scores: np.ndarray, refused: int) -> np.ndarray:
        """No comma from here on: the list closes after record ``refused`` (0-based)."""
        self.refused = refused
        self._closing = True
        scores[self.commas] = NEG_INF
        return scores

    def _refuses(self, records: list[dict[str, Any]]) -> bool:
        return self.check(self.key, list(records)) is not None


class _State:
    """Where a partly written ``{"key": [{...}, ...]}`` reply stands."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0
        self.in_string = False
        self.closed: list[dict[str, Any]] = []  # the records whose closing brace is written
        self.list_went_on = False  # a comma after the last closed record
        self.record_start: int | None = None  # index of the open record's "{"
        self.keys: list[str] = []  # the open record's keys so far
        self.expect_key = False

    def in_last_value(self, last: str | None) -> bool:
        """Whether the open record's last property's value is being written."""
        return (
            self.record_start is not None
            and bool(self.keys)
            and self.keys[-1] == last
            and not self.expect_key
        )

    def record_if_closed_now(self) -> dict[str, Any] | None:
        """The open record as it would be if the string being written closed now (its last value)."""
        if self.record_start is None or not self.in_string:
            return None
        return _record(self.text[self.record_start :] + '"}')

    def complete_record(self, last: str | None) -> dict[str, Any] | None:
        """The open record once its last property's value is written, before its closing brace."""
        if not self.in_last_value(last) or self.in_string:
            return None
        body = self.text[self.record_start :].rstrip()
        if not body.endswith(('"', "]")):
            return None  # a number or a literal may still be growing ("1" of "12")
        return _record(body + "}")


def _record(body: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _scan(text: str) -> _State:
    """The state of ``text``, a prefix of a ``{"key": [{...}, ...]}`` reply, scanned from its start."""
    state = _State(text)
    escape = False
    string_start = 0
    for i, ch in enumerate(text):
        if state.in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                state.in_string = False
                if state.depth == 3 and state.expect_key:
                    state.keys.append(text[string_start + 1 : i])
                    state.expect_key = False
            continue
        if ch == '"':
            state.in_string = True
            string_start = i
        elif ch in "{[":
            state.depth += 1
            if ch == "{" and state.depth == 3:
                state.record_start, state.keys, state.expect_key = i, [], True
        elif ch in "}]":
            if ch == "}" and state.depth == 3 and state.record_start is not None:
                record = _record(text[state.record_start : i + 1])
                if record is not None:
                    state.closed.append(record)
                    state.list_went_on = False
                state.record_start, state.keys = None, []
            state.depth -= 1
        elif ch == "," and state.depth == 3:
            state.expect_key = True
        elif ch == "," and state.depth == 2:
            state.list_went_on = True
    return state
