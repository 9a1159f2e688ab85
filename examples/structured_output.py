"""A validated pydantic object from a language model: embedded, remote, or fake.

By default this runs the embedded Qwen2.5-Coder 1.5B through llama.cpp (no network, no key; extra
``local``). With DEEPPERSONA_EXAMPLES_FAST=1 (the test suite) it uses the deterministic offline FakeLLM;
the real llama.cpp path is tested by ``tests/test_local_model.py``. Set DEEPPERSONA_MODEL to any LiteLLM
model string (``gpt-4.1-mini``, ``local/smollm2-135m``...) to use another model.

    python examples/structured_output.py
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from deeppersona.llm import LLM, resolve_llm
from deeppersona.testing import FakeLLM


class Hobby(BaseModel):
    name: str = Field(max_length=60)
    years_practised: int = Field(ge=0, le=80)


class Sketch(BaseModel):
    first_name: str = Field(max_length=40)
    age: int = Field(ge=18, le=100)
    occupation: str = Field(max_length=60)
    hobbies: list[Hobby] = Field(min_length=1, max_length=3)


def pick_model() -> LLM:
    if os.environ.get("DEEPPERSONA_MODEL"):
        return resolve_llm(os.environ["DEEPPERSONA_MODEL"])
    if os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1":
        return FakeLLM(seed=7)
    return resolve_llm(None)  # the embedded default, local/qwen2.5-coder-1.5b


def main() -> None:
    llm = pick_model()
    messages = [
        {"role": "system", "content": "You write realistic, concise persona sketches as JSON."},
        {"role": "user", "content": "A nurse in Nairobi in her thirties who keeps bees."},
    ]
    try:
        response = llm.complete(messages, Sketch, temperature=0.3, seed=7)
    finally:
        llm.close()
    sketch = response.output
    print(f"model: {response.model}")
    print(sketch.model_dump_json(indent=2))
    print(f"usage: {llm.usage.total}")


if __name__ == "__main__":
    main()
