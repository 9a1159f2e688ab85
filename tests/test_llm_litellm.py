"""LiteLLMBackend: structured output, re-asks, retries, errors, concurrency, usage and the disk cache.

No test reaches the network: replies come from LiteLLM's ``mock_response`` or a patched
``litellm.acompletion`` that raises LiteLLM's own exception types.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from deeppersona.errors import (
    ConfigError,
    LLMConfigError,
    LLMOutputError,
    LLMRequestError,
    LLMTransientError,
)
from deeppersona.llm import LiteLLMBackend, Usage, resolve_llm
from deeppersona.llm._cache import ResponseCache
from deeppersona.llm._limits import RateLimiter
from deeppersona.llm._litellm import import_litellm
from deeppersona.llm._structured import RetryPolicy, extract_json, is_degenerate

litellm = import_litellm()

# litellm builds pydantic schemas of its own TypedDicts mid-call; pydantic warns about their ``ReadOnly``
# items. pyproject's filterwarnings turns warnings into errors, so ignore this one here.
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")

MSG = [{"role": "system", "content": "You describe cities."}, {"role": "user", "content": "Name a city."}]


class City(BaseModel):
    name: str
    population: int = Field(ge=0)


def _response(text: str, prompt_tokens: int = 11, completion_tokens: int = 7, finish: str = "stop") -> Any:
    return litellm.ModelResponse(
        model="gpt-4o-mini",
        choices=[{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )


class Script:
    """A stand-in for ``litellm.acompletion``: pops replies (text or exceptions), records calls."""

    def __init__(self, *items: Any, delay: float = 0.0) -> None:
        self.items = list(items)
        self.calls: list[dict[str, Any]] = []
        self.delay = delay
        self.active = 0
        self.max_active = 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            item = self.items.pop(0) if self.items else '{"name": "Default", "population": 1}'
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, tuple):  # (text, finish reason)
                return _response(item[0], finish=item[1])
            return _response(item)
        finally:
            self.active -= 1


def _http(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, headers=headers or {}, request=httpx.Request("POST", "https://api.example/v1")
    )


def _rate_limit(retry_after: str | None = None) -> Exception:
    headers = {"retry-after": retry_after} if retry_after else {}
    return litellm.RateLimitError(
        message="slow down", llm_provider="openai", model="gpt-4o-mini", response=_http(429, headers)
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return []


def _backend(
    script: Script | None, monkeypatch: pytest.MonkeyPatch, sleeps: list[float] | None = None, **kwargs: Any
) -> LiteLLMBackend:
    if script is not None:
        monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend("gpt-4o-mini", **kwargs)
    record = sleeps if sleeps is not None else []

    async def fake_sleep(seconds: float) -> None:
        record.append(seconds)

    llm._sleep = fake_sleep
    return llm


# -- mock_response: the real litellm path ------------------------------------------------------------


def test_mock_response_returns_a_validated_object() -> None:
    llm = LiteLLMBackend("gpt-4o-mini", mock_response='{"name": "Nairobi", "population": 4397073}')
    response = llm.complete(MSG, City)
    assert response.output == City(name="Nairobi", population=4397073)
    assert response.model == "gpt-4o-mini"
    assert response.usage.calls == 1 and response.usage.total_tokens > 0
    assert llm.usage.total.calls == 1


def test_mock_response_text_mode() -> None:
    llm = resolve_llm("gpt-4o-mini", mock_response="Hello there.")
    assert llm.complete(MSG).output == "Hello there."


# -- structured output mode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fmt", "schema_in_prompt"),
    [("gpt-4o-mini", "json_schema", False), ("some-unknown-provider/model-x", None, True)],
)
def test_structured_mode_follows_litellm_capabilities(
    model: str, fmt: str | None, schema_in_prompt: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script('{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    LiteLLMBackend(model).complete(MSG, City)
    sent = script.calls[0]
    assert (sent.get("response_format") or {}).get("type") == fmt
    if fmt == "json_schema":
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "population"]
    assert sent["messages"][0] == MSG[0]  # the system message is never changed
    last_user = sent["messages"][-1]["content"]
    assert last_user.startswith(MSG[-1]["content"])
    assert ('"population"' in last_user) is schema_in_prompt


def test_json_object_mode_puts_the_schema_in_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    LiteLLMBackend("gpt-4o-mini", structured="json_object").complete(MSG, City)
    assert script.calls[0]["response_format"] == {"type": "json_object"}
    assert script.calls[0]["messages"][0] == MSG[0]
    assert '"population"' in script.calls[0]["messages"][-1]["content"]


def test_json_object_schema_mode_sends_the_schema_for_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp's servers take the schema inside JSON mode and constrain decoding to it."""
    script = Script('{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    LiteLLMBackend("openai/smollm2", structured="json_object_schema", api_key="none").complete(MSG, City)
    fmt = script.calls[0]["response_format"]
    assert fmt["type"] == "json_object" and fmt["schema"]["required"] == ["name", "population"]
    assert '"population"' in script.calls[0]["messages"][-1]["content"]  # and in the prompt
    with pytest.raises(ConfigError, match="json_object_schema"):
        LiteLLMBackend("openai/smollm2", structured="grammar")


class Note(BaseModel):
    text: str


def _dialogue_requests(monkeypatch: pytest.MonkeyPatch, llm_model: str, **kwargs: Any) -> list[list[Any]]:
    """Run a three-call dialogue the way the engine does (each call extends the previous one)."""
    script = Script(
        '{"name": "Lima", "population": 10}', '{"text": "humid"}', '{"name": "Cusco", "population": 3}'
    )
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend(llm_model, **kwargs)
    convo: list[dict[str, str]] = [dict(m) for m in MSG]
    turns = ((City, "Describe its climate."), (Note, "Name another city."), (City, None))
    for model, question in turns:
        reply = llm.complete(convo, model)
        if question is not None:
            convo = [
                *convo,
                {"role": "assistant", "content": reply.raw},
                {"role": "user", "content": question},
            ]
    return [call["messages"] for call in script.calls]


@pytest.mark.parametrize("structured", ["json_object", "prompt"])
def test_successive_dialogue_calls_share_their_whole_prefix(
    structured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-call schema text goes into the newest user turn, never into earlier (shared) messages."""
    sent = _dialogue_requests(monkeypatch, "gpt-4o-mini", structured=structured)
    assert len(sent) == 3
    for previous, current in itertools.pairwise(sent):
        # everything before the previous call's newest user turn is sent again unchanged ...
        assert current[: len(previous) - 1] == previous[:-1]
        # ... and that turn itself is resent as the engine wrote it: the schema text was only a suffix
        shared_turn = current[len(previous) - 1]["content"]
        assert previous[-1]["content"].startswith(shared_turn)
        assert len(previous[-1]["content"]) > len(shared_turn)  # the schema was appended there
    assert all(call[0] == MSG[0] for call in sent)
    assert '"population"' in sent[2][-1]["content"] and '"text"' in sent[1][-1]["content"]


def test_schema_instructions_without_a_user_turn_become_a_user_message() -> None:
    from deeppersona.llm._structured import with_schema_instructions

    out = with_schema_instructions([{"role": "system", "content": "Be brief."}], City)
    assert out[0] == {"role": "system", "content": "Be brief."}
    assert out[1]["role"] == "user" and '"population"' in out[1]["content"]
    prefill = [*MSG, {"role": "assistant", "content": "{"}]
    out = with_schema_instructions(prefill, City)
    assert out[-1] == prefill[-1] and '"population"' in out[1]["content"]


def _dict_core_schema(cls: type, source: Any, handler: Any) -> Any:
    from pydantic_core import core_schema

    return core_schema.no_info_after_validator_function(
        cls, core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())
    )


def test_schemas_are_built_once_per_type_and_returned_as_copies() -> None:
    from deeppersona.llm import _structured

    first = _structured.json_schema_for(City)
    first["properties"].clear()  # callers may change their copy
    assert set(_structured.json_schema_for(City)["properties"]) == {"name", "population"}
    hits = _structured._cached_schema_json.cache_info().hits
    _structured.schema_instructions(City)
    assert _structured._cached_schema_json.cache_info().hits > hits
    # engine-style response models: a dict subclass made per request (classes are hashable)
    dynamic = type("Batch", (dict,), {"__get_pydantic_core_schema__": classmethod(_dict_core_schema)})
    assert _structured.json_schema_for(dynamic)["type"] == "object"
    assert _structured.validate_reply('{"a": 1}', dynamic) == {"a": 1}
    assert _structured._any_response() is _structured._any_response()


def test_params_and_kwargs_reach_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend(
        "gpt-4o-mini", temperature=0.3, max_tokens=50, api_base="http://localhost:1", timeout=9
    )
    llm.complete(MSG, City, seed=4, temperature=0.9)
    sent = script.calls[0]
    assert sent["temperature"] == 0.9 and sent["max_tokens"] == 50 and sent["seed"] == 4
    assert sent["api_base"] == "http://localhost:1" and sent["timeout"] == 9


# -- re-asks -----------------------------------------------------------------------------------------


def test_cut_off_reply_gets_more_room_unless_it_looped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply cut off by the limit is re-asked with twice the room; one that only went round in a loop
    is re-asked with the same room (a larger limit only buys a longer loop), saying so."""
    honest = '{"name": "Lima, the capital of Peru, a city of many districts along the Pacific coast'
    looped = '{"name": "' + "and the city and the river " * 80
    script = Script((honest, "length"), (looped, "length"), '{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend("gpt-4o-mini", max_tokens=100)
    assert llm.complete(MSG, City).output.name == "Lima"
    assert [c["max_tokens"] for c in script.calls] == [100, 200, 200]
    assert "loop" in script.calls[2]["messages"][-1]["content"]
    assert is_degenerate(looped) and not is_degenerate(honest)


def test_invalid_output_is_reasked_with_the_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('```json\n{"name": "Lima"}\n```', '{"name": "Lima", "population": 10}')
    llm = _backend(script, monkeypatch)
    response = llm.complete(MSG, City)
    assert response.output.population == 10
    assert response.usage.retries == 1 and response.usage.prompt_tokens == 22
    reask = script.calls[1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": '```json\n{"name": "Lima"}\n```'}
    assert "population" in reask[-1]["content"] and reask[-1]["role"] == "user"


def test_output_error_after_bounded_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script("no json here", "still none", "nothing")
    llm = _backend(script, monkeypatch, max_attempts=3)
    with pytest.raises(LLMOutputError) as info:
        llm.complete(MSG, City)
    assert info.value.attempts == 3 and info.value.raw == "nothing" and len(info.value.errors) == 3
    assert info.value.model == "gpt-4o-mini"
    assert len(script.calls) == 3
    total = llm.usage.total
    assert total.failures == 1 and total.retries == 2 and total.calls == 1


def test_tolerant_parsing() -> None:
    assert extract_json('Sure! Here it is:\n{"a": 1, "b": [1, 2]}\nHope that helps.') == {"a": 1, "b": [1, 2]}
    assert extract_json('```\n{"a": 1}\n```') == {"a": 1}
    assert extract_json("{'a': 1, 'b': 'x',}") == {"a": 1, "b": "x"}  # repaired
    with pytest.raises(ValueError):
        extract_json("no json at all")
    # a raw line break inside a string (smollm2 under a grammar) is a slip, kept as text
    assert extract_json('{"a": "one\ntwo", "b": [""]}') == {"a": "one\ntwo", "b": [""]}
    # objects in a row are no reply (the repair would make a list of them)
    with pytest.raises(ValueError, match="several JSON objects"):
        extract_json('{"a": 1}, {"b": 2}')


# -- transient failures --------------------------------------------------------------------------------


def test_backoff_on_transient_errors_honours_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    timeout = litellm.Timeout(message="too slow", model="gpt-4o-mini", llm_provider="openai")
    unavailable = litellm.ServiceUnavailableError(
        message="busy", llm_provider="openai", model="gpt-4o-mini", response=_http(503)
    )
    connection = litellm.APIConnectionError(message="reset", llm_provider="openai", model="gpt-4o-mini")
    internal = litellm.InternalServerError(message="oops", llm_provider="openai", model="gpt-4o-mini")
    script = Script(
        _rate_limit("7"), timeout, unavailable, connection, internal, '{"name": "A", "population": 1}'
    )
    sleeps: list[float] = []
    llm = _backend(script, monkeypatch, sleeps, max_retries=5)
    response = llm.complete(MSG, City)
    assert response.output.name == "A"
    assert response.usage.retries == 5
    assert len(sleeps) == 5
    assert sleeps[0] >= 7.0  # Retry-After honoured
    policy = RetryPolicy()
    for i, s in enumerate(sleeps[1:], start=1):  # exponential with jitter
        base = min(policy.base_delay * 2**i, policy.max_delay)
        assert base * (1 - policy.jitter) <= s <= base * (1 + policy.jitter)


def test_transient_errors_exhaust_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(*[_rate_limit() for _ in range(4)])
    llm = _backend(script, monkeypatch, max_retries=3)
    with pytest.raises(LLMTransientError) as info:
        llm.complete(MSG, City)
    assert info.value.attempts == 4 and len(script.calls) == 4
    assert llm.usage.total.failures == 1


@pytest.mark.parametrize(
    "exc",
    [
        litellm.AuthenticationError(message="bad key", llm_provider="openai", model="gpt-4o-mini"),
        litellm.BadRequestError(message="bad", model="gpt-4o-mini", llm_provider="openai"),
        litellm.ContextWindowExceededError(message="too long", model="gpt-4o-mini", llm_provider="openai"),
        litellm.NotFoundError(message="no model", model="gpt-4o-mini", llm_provider="openai"),
    ],
    ids=["auth", "bad-request", "context-window", "not-found"],
)
def test_non_retryable_errors_raise_at_once(exc: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(exc, '{"name": "never", "population": 1}')
    sleeps: list[float] = []
    llm = _backend(script, monkeypatch, sleeps)
    with pytest.raises(LLMRequestError) as info:
        llm.complete(MSG, City)
    assert len(script.calls) == 1 and not sleeps
    assert info.value.model == "gpt-4o-mini" and info.value.attempts == 1
    assert isinstance(info.value.__cause__, type(exc))
    if isinstance(exc, litellm.AuthenticationError):
        assert "API key" in str(info.value)
    if isinstance(exc, litellm.ContextWindowExceededError):
        assert "context window" in str(info.value)


# -- concurrency, rate limits, usage ---------------------------------------------------------------------


async def test_concurrency_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(delay=0.02)
    llm = _backend(script, monkeypatch, max_concurrency=3)
    results = await asyncio.gather(*(llm.acomplete(MSG, City) for _ in range(12)))
    assert len(results) == 12
    assert script.max_active == 3


async def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=100, clock=lambda: now[0], sleep=sleep)
    await limiter.acquire(10)
    await limiter.acquire(10)
    await limiter.acquire(10)  # third request in a minute waits
    assert waits == [60.0]
    await limiter.acquire(95)  # token budget: waits until earlier requests leave the window
    assert len(waits) == 2


def test_usage_totals_and_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(
        '{"name": "A", "population": 1}',
        "bad",
        '{"name": "B", "population": 2}',
        '{"name": "C", "population": 3}',
    )
    llm = _backend(script, monkeypatch)
    llm.complete(MSG, City, call_site="core")
    llm.complete(MSG, City, call_site="fill")
    llm.complete(MSG, City, call_site="fill")
    total = llm.usage.total
    assert (total.calls, total.retries, total.failures) == (3, 1, 0)
    assert total.prompt_tokens == 4 * 11 and total.completion_tokens == 4 * 7
    assert total.cost_usd > 0  # gpt-4o-mini has a known price in LiteLLM's local cost map
    sites = llm.usage.by_call_site()
    assert sites["core"].calls == 1 and sites["fill"].calls == 2
    assert sum(sites.values(), Usage()) == total


# -- disk cache ---------------------------------------------------------------------------------------


def test_cache_hit_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('{"name": "A", "population": 1}', '{"name": "B", "population": 2}')
    llm = _backend(script, monkeypatch, cache=tmp_path / "c")
    first = llm.complete(MSG, City, seed=1)
    second = llm.complete(MSG, City, seed=1)
    other_seed = llm.complete(MSG, City, seed=2)
    assert first.output == second.output != other_seed.output
    assert second.usage.cache_hits == 1 and len(script.calls) == 2


def test_invalid_replies_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script("bad", '{"name": "A", "population": 1}')
    llm = _backend(script, monkeypatch, cache=tmp_path)
    llm.complete(MSG, City)
    cache = ResponseCache(tmp_path)
    assert len(cache) == 1


def test_cache_hit_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "responses.sqlite"
    llm = LiteLLMBackend("gpt-4o-mini", cache=db, mock_response='{"name": "Quito", "population": 2800000}')
    assert llm.complete(MSG, City, seed=3).usage.cache_hits == 0
    child = textwrap.dedent(
        f"""
        import json, litellm
        from pydantic import BaseModel, Field
        from deeppersona.llm import LiteLLMBackend

        class City(BaseModel):
            name: str
            population: int = Field(ge=0)

        async def refuse(**kwargs):
            raise AssertionError("the cache should have answered")

        litellm.acompletion = refuse
        llm = LiteLLMBackend("gpt-4o-mini", cache={str(db)!r},
                             mock_response='{{"name": "Quito", "population": 2800000}}')
        r = llm.complete({MSG!r}, City, seed=3)
        print(json.dumps({{"name": r.output.name, "hits": r.usage.cache_hits}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"name": "Quito", "hits": 1}


# -- configuration -----------------------------------------------------------------------------------


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError):
        LiteLLMBackend("")
    with pytest.raises(ConfigError):
        LiteLLMBackend("gpt-4o-mini", max_concurrency=0)
    with pytest.raises(ConfigError):
        LiteLLMBackend("gpt-4o-mini", n_ctx=2048)
    with pytest.raises(ConfigError):
        LiteLLMBackend("local/no-such-model")
    with pytest.raises(ConfigError):
        resolve_llm(42)  # type: ignore[arg-type]


def test_resolve_llm() -> None:
    llm = LiteLLMBackend("gpt-4o-mini")
    assert resolve_llm(llm) is llm
    assert resolve_llm(None).model == "local/qwen2.5-coder-1.5b"
    assert resolve_llm("anthropic/claude-sonnet-4-5", max_concurrency=2).max_concurrency == 2  # type: ignore[attr-defined]


# -- fail fast on configuration (pre-flight), no retries of auth errors, quiet litellm -------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def chaos() -> Any:
    from deeppersona.testing import ChaosProxy

    # the upstream is a closed port: faults the proxy answers itself need no server behind it
    with ChaosProxy(f"http://127.0.0.1:{_closed_port()}", seed=1) as proxy:
        yield proxy


def test_preflight_refuses_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = LiteLLMBackend("gpt-4.1-mini")
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY") as info:
        asyncio.run(llm.preflight())
    assert isinstance(info.value, LLMRequestError) and info.value.model == "gpt-4.1-mini"
    # an OpenAI-compatible server needs a key too (the SDK refuses to send without one): "none" will do
    with pytest.raises(LLMConfigError, match="api_key="):
        asyncio.run(LiteLLMBackend("openai/m", api_base="http://127.0.0.1:1/v1").preflight())


def test_preflight_refuses_an_unknown_model() -> None:
    with pytest.raises(LLMConfigError, match="unknown model"):
        asyncio.run(LiteLLMBackend("gpt-4.1-minii").preflight())


def test_preflight_refuses_an_unreachable_api_base() -> None:
    port = _closed_port()
    llm = LiteLLMBackend("openai/m", api_base=f"http://127.0.0.1:{port}/v1", api_key="none")
    with pytest.raises(LLMConfigError, match=f"nothing answers at api_base .*:{port}"):
        asyncio.run(llm.preflight())


@pytest.mark.parametrize("status", [401, 403])
def test_preflight_and_calls_refuse_a_rejected_key_without_retrying(
    status: int, chaos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deeppersona.testing import ChaosRates

    if status == 403:  # the proxy answers 401; a 403 comes from the SDK's exception type
        exc = litellm.PermissionDeniedError(
            message="no access", llm_provider="openai", model="m", response=_http(403)
        )
        monkeypatch.setattr(litellm, "acompletion", Script(exc, exc))
    chaos.set_rates(ChaosRates(unauthorized=1.0))
    llm = LiteLLMBackend("openai/m", api_base=chaos.base_url, api_key="wrong", max_retries=5)
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    llm._sleep = record
    with pytest.raises(LLMConfigError, match=str(status)):
        asyncio.run(llm.preflight())
    with pytest.raises(LLMConfigError, match=str(status)) as info:
        llm.complete(MSG, City)
    assert info.value.attempts == 1 and not sleeps
    if status == 401:
        assert chaos.stats.requests == 2  # one probe, one call: never retried


def test_preflight_passes_and_is_remembered(chaos: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script("OK")
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend("openai/m", api_base=chaos.base_url, api_key="none", temperature=0.2)
    asyncio.run(llm.preflight())
    asyncio.run(llm.preflight())
    assert len(script.calls) == 1  # one probe, then remembered
    probe = script.calls[0]
    assert probe["max_tokens"] == 1 and probe["max_retries"] == 0 and probe["api_base"] == chaos.base_url
    assert llm.usage.total.calls == 0  # the probe is not a call of the run


def test_preflight_tolerates_transient_probe_failures(chaos: Any) -> None:
    from deeppersona.testing import ChaosRates

    chaos.set_rates(ChaosRates(unavailable=1.0))
    llm = LiteLLMBackend("openai/m", api_base=chaos.base_url, api_key="none")
    asyncio.run(llm.preflight())  # a busy server is the run's retries' business, not a configuration error


def test_preflight_skips_mock_responses() -> None:
    asyncio.run(LiteLLMBackend("gpt-4o-mini", mock_response="x").preflight())


def test_missing_key_at_call_time_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OpenAI SDK reports a missing key as a 500; it used to be retried for ~38 s."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = LiteLLMBackend("gpt-4.1-mini")
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    llm._sleep = record
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY") as info:
        llm.complete(MSG, City)
    assert info.value.attempts == 1 and not sleeps


def test_sdk_retries_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('{"name": "Lima", "population": 10}')
    monkeypatch.setattr(litellm, "acompletion", script)
    LiteLLMBackend("gpt-4o-mini").complete(MSG, City)
    assert script.calls[0]["max_retries"] == 0  # the retry policy is the only one


def test_failing_calls_print_no_litellm_banner(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], chaos: Any
) -> None:
    from deeppersona.testing import ChaosRates

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chaos.set_rates(ChaosRates(server_error=1.0))
    failing = [
        (LiteLLMBackend("gpt-4.1-mini"), LLMConfigError),
        (LiteLLMBackend("openai/m", api_base=chaos.base_url, api_key="x", max_retries=0), LLMTransientError),
        (LiteLLMBackend("no-such-provider-model"), LLMRequestError),
    ]
    for llm, error in failing:
        with pytest.raises(error):
            llm.complete(MSG, City)
    with pytest.raises(LLMConfigError):
        asyncio.run(LiteLLMBackend("gpt-4.1-minii").preflight())
    out, err = capfd.readouterr()
    for banner in ("Give Feedback", "Provider List", "LiteLLM.Info", "turn_on_debug"):
        assert banner not in out and banner not in err
    assert litellm.suppress_debug_info is True


def test_banners_stay_on_when_litellm_debugging_is_asked_for() -> None:
    code = (
        "import os; os.environ['LITELLM_LOG'] = 'DEBUG'\n"
        "from deeppersona.llm._litellm import import_litellm\n"
        "print(import_litellm().suppress_debug_info)"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "LITELLM_LOG"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_engine_run_fails_fast_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: refused before the run (pre-flight), or, where the engine does not call it, every persona
    fails on its first request; never ~40 s of retries."""
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import HashEmbedder

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = LiteLLMBackend("gpt-4.1-mini")
    engine = PersonaEngine.from_taxonomy("default", model=llm, embedder=HashEmbedder())
    engine = engine.with_seed(1).with_options(progress=False, persona_retries=0)
    started = time.perf_counter()
    try:
        population = engine.generate(k=3, n=2)
    except LLMConfigError:
        pass
    else:
        assert not list(population) and len(population.failures) == 2
        assert all("no API key" in (p.failure or "") for p in population.failures)
    assert time.perf_counter() - started < 30
    assert llm.usage.total.retries == 0


# -- optional parameters only where the provider takes them ---------------------------------------------

ANTHROPIC = "anthropic/claude-3-5-haiku-20241022"


def test_anthropic_requests_carry_no_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM refuses ``seed`` for Anthropic (UnsupportedParamsError on every call): it is left out."""
    script = Script('{"name": "Lima", "population": 10}', "OK")
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend(ANTHROPIC, temperature=0.4, max_tokens=64)
    llm.complete(MSG, City, seed=4)
    sent = script.calls[0]
    assert "seed" not in sent
    assert sent["temperature"] == 0.4 and sent["max_tokens"] == 64  # what Anthropic takes is still sent
    assert "seed" not in litellm.get_supported_openai_params(model=ANTHROPIC)  # why: LiteLLM says so


def test_optional_params_are_kept_where_supported_or_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(*['{"name": "Lima", "population": 10}'] * 3)
    monkeypatch.setattr(litellm, "acompletion", script)
    LiteLLMBackend("gpt-4o-mini").complete(MSG, City, seed=4)
    LiteLLMBackend(ANTHROPIC, allowed_openai_params=["seed"]).complete(MSG, City, seed=4)  # asked for
    LiteLLMBackend("some-unknown-provider/model-x").complete(MSG, City, seed=4)  # LiteLLM cannot tell
    assert [call.get("seed") for call in script.calls] == [4, 4, 4]


def test_a_left_out_seed_still_keys_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script('{"name": "A", "population": 1}', '{"name": "B", "population": 2}')
    monkeypatch.setattr(litellm, "acompletion", script)
    llm = LiteLLMBackend(ANTHROPIC, cache=tmp_path / "c")
    first, other = llm.complete(MSG, City, seed=1), llm.complete(MSG, City, seed=2)
    assert first.output != other.output and other.usage.cache_hits == 0 and len(script.calls) == 2
    assert llm.complete(MSG, City, seed=1).usage.cache_hits == 1


def test_the_probe_carries_only_supported_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    script = Script("OK")
    monkeypatch.setattr(litellm, "acompletion", script)
    asyncio.run(LiteLLMBackend(ANTHROPIC, drop_params=True).preflight())
    assert script.calls[0]["max_tokens"] == 1 and script.calls[0]["drop_params"] is True


# -- backend options: checked names, the same everywhere ------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurency": 4}, "did you mean 'max_concurrency'"),
        ({"rpm": 60}, "requests_per_minute="),
        ({"tpm": 1000}, "tokens_per_minute="),
        ({"num_retries": 3}, "max_retries="),
        ({"stream": True}, "set by deeppersona"),
        ({"api_bse": "http://127.0.0.1:1"}, "did you mean 'api_base'"),
    ],
)
def test_unknown_backend_options_are_refused(
    options: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script()
    monkeypatch.setattr(litellm, "acompletion", script)
    with pytest.raises(ConfigError, match=message):
        LiteLLMBackend("gpt-4o-mini", **options)
    with pytest.raises(ConfigError, match=message):
        resolve_llm("openai/m", **options)
    assert not script.calls


def test_provider_parameters_are_accepted() -> None:
    LiteLLMBackend("ollama/llama3.1", num_ctx=8192, keep_alive="5m")
    LiteLLMBackend("gemini/gemini-2.5-flash", top_k=40, safety_identifier="x")
    LiteLLMBackend("bedrock/anthropic.claude-3", aws_region_name="eu-west-1")
    LiteLLMBackend("hosted_vllm/m", api_base="http://127.0.0.1:1/v1", top_k=20, extra_body={"min_tokens": 2})
    LiteLLMBackend("gpt-4o-mini", drop_params=True, allowed_openai_params=["seed"], extra_headers={"x": "1"})


def test_engine_passes_backend_options_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import FakeLLM, HashEmbedder

    options: dict[str, Any] = {
        "api_base": "http://127.0.0.1:9/v1",
        "cache": tmp_path / "replies",
        "requests_per_minute": 60,
        "tokens_per_minute": 9000,
        "max_concurrency": 3,
        "timeout": 7.5,
        "drop_params": True,
    }
    engine = PersonaEngine.from_taxonomy("default", model="openai/m", embedder=HashEmbedder(), **options)
    backend = engine._resolve_llm()
    assert isinstance(backend, LiteLLMBackend) and backend.model == "openai/m"
    assert backend.max_concurrency == 3 and backend.timeout == 7.5
    assert (backend._limiter.rpm, backend._limiter.tpm) == (60, 9000)
    assert backend.cache is not None and backend.cache.path.parent == tmp_path / "replies"
    assert backend.litellm_kwargs == {"api_base": "http://127.0.0.1:9/v1", "drop_params": True}
    assert engine.anchor(age=30).with_seed(1)._resolve_llm() is backend  # derived engines share it
    assert engine.with_llm("openai/m")._resolve_llm() is not backend  # new model, no options
    assert engine.with_llm("openai/m", max_concurrency=2)._resolve_llm().max_concurrency == 2  # type: ignore[attr-defined]

    script = Script()
    monkeypatch.setattr(litellm, "acompletion", script)
    with pytest.raises(ConfigError, match="max_concurrency"):  # before any call
        PersonaEngine.from_taxonomy("default", model="openai/m", max_concurency=3)
    with pytest.raises(ConfigError, match="max_concurrency"):
        engine.with_llm("openai/m", max_concurency=3)
    with pytest.raises(ConfigError, match="LLM instance"):
        PersonaEngine.from_taxonomy("default", model=FakeLLM(), api_base="http://127.0.0.1:9/v1")
    assert not script.calls

    # a run sends them: mock_response skips the pre-flight; the patched acompletion answers
    run = PersonaEngine.from_taxonomy(
        "default",
        model="gpt-4o-mini",
        embedder=HashEmbedder(),
        mock_response="x",
        api_base="http://127.0.0.1:9/v1",
    )
    run.with_seed(1).with_options(progress=False, persona_retries=0).generate(k=2, n=1)
    assert script.calls and all(call["api_base"] == "http://127.0.0.1:9/v1" for call in script.calls)


def test_evaluator_passes_backend_options_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.evaluation import Evaluator
    from deeppersona.testing import FakeLLM

    ev = Evaluator(
        "openai/m",
        judge="anthropic/claude-sonnet-4-5",
        api_base="http://127.0.0.1:9/v1",
        max_concurrency=2,
        requests_per_minute=30,
        timeout=5,
        cache=tmp_path / "c",
    )
    assert ev.llm_options["api_base"] == "http://127.0.0.1:9/v1"
    for backend in (ev.llm, ev.judge_llm):
        assert isinstance(backend, LiteLLMBackend)
        assert backend.litellm_kwargs["api_base"] == "http://127.0.0.1:9/v1"
        assert backend.max_concurrency == 2 and backend.timeout == 5 and backend._limiter.rpm == 30
    assert ev.judge_llm.model == "anthropic/claude-sonnet-4-5" and ev.judge_llm is not ev.llm
    fake = FakeLLM()
    mixed = Evaluator(
        fake, judge="openai/m", max_concurrency=2
    )  # options go to the backend built from a name
    assert mixed.llm is fake and mixed.judge_llm.max_concurrency == 2  # type: ignore[attr-defined]

    script = Script()
    monkeypatch.setattr(litellm, "acompletion", script)
    with pytest.raises(ConfigError, match="did you mean 'timeout'"):
        Evaluator("openai/m", timeuot=5)
    with pytest.raises(ConfigError, match="LLM instances"):
        Evaluator(fake, api_base="http://127.0.0.1:9/v1")
    assert not script.calls


# -- pre-flight: a missing key fails fast, with the variable named, without retrying ---------------------


class _Counting:
    """``litellm.acompletion``, counted (the real function still runs: no key means no request)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        return await self.real(**kwargs)


def test_missing_key_fails_generate_fast_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import HashEmbedder

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    counting = _Counting(litellm.acompletion)
    monkeypatch.setattr(litellm, "acompletion", counting)
    engine = PersonaEngine.from_taxonomy("default", model="gpt-4.1-mini", embedder=HashEmbedder())
    started = time.perf_counter()
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY") as info:
        engine.with_seed(1).with_options(progress=False).generate(k=3, n=2)
    assert time.perf_counter() - started < 5
    assert info.value.model == "gpt-4.1-mini"
    assert counting.calls == 0  # refused by the pre-flight check, before any request


def test_missing_key_fails_a_survey_fast_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.evaluation import Evaluator, surveys

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    counting = _Counting(litellm.acompletion)
    monkeypatch.setattr(litellm, "acompletion", counting)
    truth = surveys.WVS7.subset(["Q46"]).from_arrays({"Q46": [1, 2, 3, 4] * 3})
    evaluator = Evaluator("gpt-4.1-mini", n_boot=0, max_concurrency=1)
    started = time.perf_counter()
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        evaluator.survey(["A nurse in Nairobi."], truth, baselines=False)  # one question
    assert time.perf_counter() - started < 5
    assert counting.calls == 0  # refused by the evaluator's pre-flight check, before any request
    assert evaluator.llm.usage.total.retries == 0


def test_unreachable_server_fails_a_survey_fast() -> None:
    """An api_base nothing answers on is refused by the evaluator's pre-flight, never retried as transient."""
    from deeppersona.evaluation import Evaluator, surveys

    truth = surveys.WVS7.subset(["Q46"]).from_arrays({"Q46": [1, 2, 3, 4] * 3})
    port = _closed_port()
    evaluator = Evaluator("openai/served", api_base=f"http://127.0.0.1:{port}/v1", api_key="none", n_boot=0)
    started = time.perf_counter()
    with pytest.raises(LLMConfigError, match="nothing answers"):
        evaluator.survey(["A nurse in Nairobi."], truth, baselines=False)
    assert time.perf_counter() - started < 5


def test_missing_key_is_reported_before_the_taxonomy_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline part of the pre-flight (model name, API key) runs before any costly preparation."""
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import HashEmbedder

    class Refusing(HashEmbedder):
        def encode(self, texts: Any) -> Any:
            raise AssertionError("the taxonomy was embedded before the key was checked")

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    engine = PersonaEngine.from_taxonomy("default", model="gpt-4.1-mini", embedder=Refusing())
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        engine.with_options(progress=False).generate(k=3)


def test_preflight_finds_no_ollama_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``ollama_chat/`` has no default address in LiteLLM: the pre-flight check uses Ollama's own."""
    port = _closed_port()
    monkeypatch.setenv("OLLAMA_API_BASE", f"http://127.0.0.1:{port}")
    for model in ("ollama/llama3.1", "ollama_chat/llama3.1"):
        started = time.perf_counter()
        with pytest.raises(LLMConfigError, match=f"nothing answers at api_base http://127.0.0.1:{port}"):
            asyncio.run(LiteLLMBackend(model).preflight())
        assert time.perf_counter() - started < 5
    assert "OLLAMA_API_BASE" not in caplog.text  # an address is not reported as a missing key


def test_litellm_fetches_no_remote_configuration() -> None:
    """The model-cost map and the Anthropic beta-header table come from LiteLLM's own copies; an explicit
    setting of either switch is left alone."""
    code = textwrap.dedent(
        """
        import os
        os.environ["LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS"] = "False"  # the user's choice wins
        from deeppersona.llm._litellm import import_litellm
        import_litellm()
        print(os.environ["LITELLM_LOCAL_MODEL_COST_MAP"], os.environ["LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS"])
        """
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("LITELLM_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "False"]


def test_anthropic_beta_headers_are_not_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm import anthropic_beta_headers_manager as manager

    def fetch(url: str) -> dict[str, Any]:
        raise AssertionError(f"fetched {url}")

    monkeypatch.setattr(manager.GetAnthropicBetaHeadersConfig, "fetch_remote_beta_headers_config", fetch)
    import_litellm()
    assert __import__("os").environ["LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS"] == "True"
    assert isinstance(manager.get_beta_headers_config("https://example.invalid/config.json"), dict)
