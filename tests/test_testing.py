"""deeppersona.testing: FakeLLM and HashEmbedder."""

from __future__ import annotations

import asyncio
import enum
from typing import Literal, Optional

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from deeppersona.errors import ConfigError, LLMOutputError, LLMTransientError
from deeppersona.llm import LLM
from deeppersona.testing import FakeLLM, FakeRequest, HashEmbedder
from deeppersona.testing._hash_embedder import canonical_words


class Mood(enum.Enum):
    CALM = "calm"
    TENSE = "tense"


class Story(BaseModel):
    title: str = Field(min_length=3, max_length=20)
    year: int = Field(ge=1950, le=2025)
    tags: list[str] = Field(min_length=1, max_length=3)


class Profile(BaseModel):
    name: str
    age: int = Field(ge=18, le=90)
    height_m: float = Field(gt=1.0, lt=2.2)
    smoker: bool
    kind: Literal["urban", "rural"]
    mood: Mood
    nickname: Optional[str] = None
    stories: list[Story] = Field(min_length=1, max_length=3)
    traits: dict[str, str]


MSG = [{"role": "user", "content": "Describe someone."}]


def test_fake_llm_is_an_llm_and_builds_valid_instances() -> None:
    fake = FakeLLM(seed=3)
    assert isinstance(fake, LLM)
    out = fake.complete(MSG, Profile).output
    assert isinstance(out, Profile)
    assert 18 <= out.age <= 90 and 1.0 < out.height_m < 2.2
    assert all(3 <= len(s.title) <= 20 and 1950 <= s.year <= 2025 for s in out.stories)
    assert out.name.strip()


def test_fake_llm_is_deterministic_in_seed_and_request() -> None:
    a = FakeLLM(seed=1).complete(MSG, Profile).output
    b = FakeLLM(seed=1).complete(MSG, Profile).output
    c = FakeLLM(seed=2).complete(MSG, Profile).output
    d = FakeLLM(seed=1).complete([{"role": "user", "content": "Someone else."}], Profile).output
    assert a == b
    assert a != c
    assert a != d


def test_text_reply_without_response_model() -> None:
    out = FakeLLM().complete(MSG).output
    assert isinstance(out, str) and len(out.split()) >= 3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lo=st.integers(-50, 50), span=st.integers(0, 30), n=st.integers(0, 4))
def test_generated_values_respect_constraints(seed: int, lo: int, span: int, n: int) -> None:
    class Box(BaseModel):
        value: int = Field(ge=lo, le=lo + span)
        items: list[int] = Field(min_length=n, max_length=n + 2)
        label: str = Field(min_length=n, max_length=n + 5)

    out = FakeLLM(seed=seed).complete(MSG, Box).output
    assert lo <= out.value <= lo + span
    assert n <= len(out.items) <= n + 2
    assert n <= len(out.label) <= n + 5


def test_scripted_replies_are_used_in_order_then_default() -> None:
    fake = FakeLLM(
        replies=['{"title": "abc", "year": 2000, "tags": ["x"]}', Story(title="def", year=2001, tags=["y"])]
    )
    assert fake.complete(MSG, Story).output.title == "abc"
    assert fake.complete(MSG, Story).output.title == "def"
    assert fake.remaining_replies == 0
    assert isinstance(fake.complete(MSG, Story).output, Story)  # falls back to generated values


def test_handler_sees_the_request_and_can_fall_through() -> None:
    seen: list[FakeRequest] = []

    def handler(request: FakeRequest) -> object:
        seen.append(request)
        if "scripted" in request.last_user_message:
            return {"title": "from handler", "year": 1999, "tags": ["h"]}
        return None

    fake = FakeLLM(handler=handler)
    out = fake.complete([{"role": "user", "content": "scripted please"}], Story, call_site="core", seed=5)
    assert out.output.title == "from handler"
    assert seen[0].call_site == "core" and seen[0].seed == 5 and seen[0].response_model is Story
    assert isinstance(fake.complete(MSG, Story).output, Story)
    assert len(fake.requests) == 2


def test_invalid_reply_is_reasked_with_the_error() -> None:
    fake = FakeLLM(replies=["not json at all", '{"title": "ok!", "year": 2010, "tags": ["a"]}'])
    response = fake.complete(MSG, Story)
    assert response.output.title == "ok!"
    assert response.usage.retries == 1
    assert len(fake.requests) == 2
    reask = fake.requests[1]
    assert reask.is_reask and "JSON" in reask.last_user_message
    assert reask.messages[-2]["content"] == "not json at all"


def test_output_error_keeps_attempts_and_last_raw() -> None:
    fake = FakeLLM(replies=['{"title": "x"}'] * 3, max_attempts=3)
    with pytest.raises(LLMOutputError) as info:
        fake.complete(MSG, Story)
    assert info.value.attempts == 3
    assert info.value.raw == '{"title": "x"}'
    assert len(info.value.errors) == 3 and "year" in info.value.errors[-1]
    assert fake.usage.total.failures == 1


def test_injected_failures_are_recovered_and_counted() -> None:
    fake = FakeLLM(
        seed=4,
        failures={"invalid_json": 0.1, "missing_keys": 0.1, "rate_limit": 0.1, "timeout": 0.1},
        max_attempts=6,
        max_retries=8,
    )
    for i in range(20):
        fake.complete([{"role": "user", "content": f"person {i}"}], Story)
    total = fake.usage.total
    assert total.calls == 20 and total.failures == 0
    assert total.retries == len(fake.requests) - 20 > 0


def test_transient_failures_exhaust_retries() -> None:
    fake = FakeLLM(failures={"rate_limit": 1.0}, max_retries=2)
    with pytest.raises(LLMTransientError):
        fake.complete(MSG, Story)
    assert len(fake.requests) == 3


def test_handler_exception_reply_is_raised() -> None:
    fake = FakeLLM(replies=[ValueError("boom")])
    with pytest.raises(ValueError, match="boom"):
        fake.complete(MSG, Story)


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        FakeLLM(failures={"explode": 0.5})
    with pytest.raises(ConfigError):
        FakeLLM(failures={"timeout": 2.0})


async def test_latency_is_async_and_usage_is_tracked_per_call_site() -> None:
    fake = FakeLLM(latency=0.05, max_concurrency=10)
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(fake.acomplete(MSG, Story, call_site="fill") for _ in range(10)))
    await fake.acomplete(MSG, call_site="narrate")
    assert asyncio.get_running_loop().time() - started < 0.4
    assert fake.max_active == 10
    bounded = FakeLLM(latency=0.01)  # the default max_concurrency, 8, bounds the requests in flight
    await asyncio.gather(*(bounded.acomplete(MSG, Story) for _ in range(20)))
    assert bounded.max_active == 8
    sites = fake.usage.by_call_site()
    assert sites["fill"].calls == 10 and sites["narrate"].calls == 1
    assert fake.usage.total.prompt_tokens > 0 and fake.usage.total.completion_tokens > 0


def test_complete_works_inside_a_running_loop() -> None:
    async def inner() -> Story:
        return FakeLLM().complete(MSG, Story).output

    assert isinstance(asyncio.run(inner()), Story)


# -- HashEmbedder -----------------------------------------------------------------------------------


def test_canonical_words() -> None:
    assert (
        canonical_words("SleepHabits") == canonical_words(" sleep_habits ") == canonical_words("Sleep-Habits")
    )


def test_hash_embedder_shape_norm_and_similarity() -> None:
    emb = HashEmbedder(dim=64)
    v = emb.encode(["Sleep Habits", "sleep_habits", "Sleep habit", "Favourite food", ""])
    assert v.shape == (5, 64) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) == pytest.approx(1.0, abs=1e-6)
    assert float(v[0] @ v[2]) > float(v[0] @ v[3])
    assert np.array_equal(HashEmbedder(64).encode(["abc"]), HashEmbedder(64).encode(["abc"]))


def test_hash_embedder_rejects_a_bare_string() -> None:
    with pytest.raises(ConfigError):
        HashEmbedder().encode("oops")  # type: ignore[arg-type]


def test_unsatisfiable_schema_asks_for_a_handler() -> None:
    class Code(BaseModel):
        code: str = Field(pattern=r"^[a-z]+-\d{2}$")

    with pytest.raises(ConfigError, match="handler"):
        FakeLLM().complete(MSG, Code)
    fake = FakeLLM(handler=lambda request: {"code": "abc-12"})
    assert fake.complete(MSG, Code).output.code == "abc-12"


def test_common_types_and_simple_patterns_are_generated() -> None:
    import datetime
    import decimal
    import uuid

    class Node(BaseModel):
        name: str
        children: list[Node] = []

    class Many(BaseModel):
        pair: tuple[int, str]
        unique: set[str]
        day: datetime.date
        moment: datetime.datetime
        ident: uuid.UUID
        amount: decimal.Decimal
        either: int | str
        counts: dict[str, int]
        tree: Node
        level: Literal[1, 2, 3]
        iso3: str = Field(pattern=r"^[A-Z]{3}$")
        half: float = Field(multiple_of=0.5, ge=0, le=10)

    for seed in range(5):
        assert isinstance(FakeLLM(seed=seed).complete(MSG, Many).output, Many)


def test_fakes_are_resolved_by_name_like_real_backends() -> None:
    from deeppersona.embeddings import resolve_embedder
    from deeppersona.llm import resolve_llm

    fake = resolve_llm("fake:7")
    assert (
        isinstance(fake, FakeLLM) and fake.seed == 7 and fake.handler is not None
    )  # answers builder prompts
    assert resolve_llm(" fake ").seed == 0
    assert isinstance(resolve_embedder("hash"), HashEmbedder)
    with pytest.raises(ConfigError, match="whole-number seed"):
        resolve_llm("fake:x")
    with pytest.raises(ConfigError, match="no backend options but max_concurrency; got temperature"):
        resolve_llm("fake", temperature=0.2)


def test_production_code_names_the_fakes_only_in_the_resolvers() -> None:
    """Test doubles live in deeppersona.testing; the package reaches them only by name ('fake', 'hash')."""
    import re
    from pathlib import Path

    import deeppersona

    root = Path(deeppersona.__file__).parent
    importing = re.compile(r"^\s*(from\s+(\.\.|deeppersona\.)testing\b|import\s+deeppersona\.testing)", re.M)
    found = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.parts[len(root.parts)] != "testing" and importing.search(path.read_text(encoding="utf-8"))
    )
    assert found == ["embeddings/_resolve.py", "llm/_resolve.py"]
