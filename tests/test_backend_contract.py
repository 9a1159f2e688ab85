"""The backend contract: the same tests pass for the built-in backends and for a custom one.

A backend implements ``send(request) -> RawReply``; the LLM base class validates, re-asks, retries and
counts usage. Each backend here answers from one script: through its own means (FakeLLM's replies) or a
fake OpenAI-compatible server on 127.0.0.1 (LiteLLMBackend, and the 30-line backend of
examples/custom_backend.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from deeppersona.errors import LLMOutputError, LLMRequestError
from deeppersona.llm import LLM, LiteLLMBackend, RawReply, RetryPolicy, TransientFailure
from deeppersona.testing import FakeChatServer, FakeLLM

Step = tuple[int, str, str]  # (HTTP status, text, finish reason)
FAST = RetryPolicy(max_attempts=3, max_retries=3, base_delay=0.0, max_delay=0.0)


def _custom_backend_class() -> type[LLM]:
    path = Path(__file__).resolve().parent.parent / "examples" / "custom_backend.py"
    spec = importlib.util.spec_from_file_location("custom_backend_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ChatEndpoint  # type: ignore[no-any-return]


@contextmanager
def _fake(script: Sequence[Step]) -> Iterator[LLM]:
    replies: list[Any] = []
    for status, text, finish in script:
        if status == 429 or status >= 500:
            replies.append(TransientFailure(f"HTTP {status}"))
        elif status != 200:
            replies.append(LLMRequestError(f"HTTP {status}"))
        else:
            replies.append(RawReply(text=text, finish_reason=finish))
    yield FakeLLM(replies=replies, max_attempts=3, max_retries=3)


@contextmanager
def _litellm(script: Sequence[Step]) -> Iterator[LLM]:
    with FakeChatServer(script) as server:
        yield LiteLLMBackend(
            "openai/fake", api_base=server.url, api_key="sk-test", retry_policy=FAST, structured="prompt"
        )


@contextmanager
def _custom(script: Sequence[Step]) -> Iterator[LLM]:
    with FakeChatServer(script) as server:
        llm = _custom_backend_class()(server.url, "fake")
        llm.policy = FAST  # type: ignore[attr-defined]
        yield llm


BACKENDS: dict[str, Callable[[Sequence[Step]], Any]] = {"fake": _fake, "litellm": _litellm, "custom": _custom}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Callable[[Sequence[Step]], Any]:
    return BACKENDS[request.param]


class Pet(BaseModel):
    name: str
    legs: int


ASK = [{"role": "user", "content": "Describe a pet."}]


def test_text_reply_and_usage(backend: Callable[[Sequence[Step]], Any]) -> None:
    with backend([(200, "A small grey cat.", "stop")]) as llm:
        response = llm.complete(ASK, call_site="probe")
        assert response.output == "A small grey cat." and isinstance(response.output, str)
        assert llm.usage.by_call_site()["probe"].calls == 1 and llm.usage.total.completion_tokens > 0


def test_invalid_output_is_reasked_then_validated(backend: Callable[[Sequence[Step]], Any]) -> None:
    script = [(200, "Sure! {name: Rex", "stop"), (200, '{"name": "Rex", "legs": 4}', "stop")]
    with backend(script) as llm:
        response = llm.complete(ASK, Pet)
        assert response.output == Pet(name="Rex", legs=4) and response.usage.retries == 1


def test_transient_failures_are_retried(backend: Callable[[Sequence[Step]], Any]) -> None:
    with backend([(429, "", "stop"), (503, "", "stop"), (200, '{"name": "Rex", "legs": 4}', "stop")]) as llm:
        assert llm.complete(ASK, Pet).output.legs == 4


def test_a_cut_off_reply_is_never_returned(backend: Callable[[Sequence[Step]], Any]) -> None:
    script = [(200, '{"name": "Rex", "legs": 4}', "length"), (200, '{"name": "Max", "legs": 3}', "stop")]
    with backend(script) as llm:
        assert llm.complete(ASK, Pet).output.name == "Max"  # the cut-off reply validated, yet was refused


def test_the_re_ask_of_a_text_call_asks_for_text_not_json() -> None:
    """A narrative cut off by the token limit was re-asked for "a single JSON object"; the embedded model
    then wrote its core chain as JSON again, the narrative was refused, and the persona was made anew."""
    looping = "He is always optimistic, and he is always optimistic, and he is always optimistic " * 8
    llm = FakeLLM(replies=[RawReply(text=looping, finish_reason="length"), "A clear portrait."])
    assert llm.complete(ASK).output == "A clear portrait."
    reask = llm.requests[1].messages[-1]["content"]
    assert "plain prose" in reask and "JSON object" not in reask and "different sentences" in reask
    json_llm = FakeLLM(
        replies=[RawReply(text='{"name": "Rex"', finish_reason="length"), {"name": "M", "legs": 3}]
    )
    json_llm.complete(ASK, Pet)
    assert "single JSON object" in json_llm.requests[1].messages[-1]["content"]


def test_permanent_failure_is_raised_not_retried(backend: Callable[[Sequence[Step]], Any]) -> None:
    with backend([(401, "", "stop"), (200, '{"name": "Rex", "legs": 4}', "stop")]) as llm:
        with pytest.raises(LLMRequestError):
            llm.complete(ASK, Pet)
        assert llm.usage.total.failures == 1


def test_output_that_never_validates_is_an_error(backend: Callable[[Sequence[Step]], Any]) -> None:
    with backend([(200, "no", "stop")] * 3) as llm:
        with pytest.raises(LLMOutputError) as info:
            llm.complete(ASK, Pet)
        assert info.value.attempts == 3


def test_a_backend_must_implement_send() -> None:
    with pytest.raises(TypeError, match="must implement send"):

        class Nothing(LLM):
            pass


def test_the_docs_show_the_backend_the_contract_tests_run() -> None:
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "llm.md").read_text(encoding="utf-8")
    start = page.index("class ChatEndpoint(LLM):")
    shown = page[start : page.index("```", start)].strip()
    assert shown in (root / "examples" / "custom_backend.py").read_text(encoding="utf-8")
    assert sum(1 for line in shown.splitlines() if line.strip()) <= 40  # about 30 lines of code
