"""A deterministic, offline :class:`~deeppersona.llm.LLM` for tests and examples."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..llm._base import LLM
from ..llm._structured import (
    RawReply,
    Request,
    RetryPolicy,
    TransientFailure,
    coerce_reply_text,
    estimate_tokens,
    is_reask_message,
    json_schema_for,
    validate_reply,
)
from ._schema_faker import fake_from_schema, fake_sentence

__all__ = ["FakeLLM", "FakeRequest"]

_FAILURE_KINDS = ("invalid_json", "missing_keys", "truncated", "rate_limit", "timeout")


@dataclass(frozen=True)
class FakeRequest:
    """One request that reached a :class:`FakeLLM` (re-asks and retries are separate requests).

    Attributes:
        messages: The messages sent, re-ask turns included.
        response_model: The requested output type, or ``None`` for text.
        call_site: The caller's usage label.
        temperature: The requested temperature.
        max_tokens: The requested completion limit.
        seed: The requested sampling seed.
        index: Position of this request among all requests the fake received (0-based).
    """

    messages: tuple[Mapping[str, str], ...]
    response_model: Any
    call_site: str = "default"
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The text of every message joined by blank lines."""
        return "\n\n".join(str(m.get("content", "")) for m in self.messages)

    @property
    def last_user_message(self) -> str:
        """The content of the last user message ('' if none)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return str(m.get("content", ""))
        return ""

    @property
    def is_reask(self) -> bool:
        """Whether this request asks to fix an earlier invalid reply."""
        return bool(self.messages) and is_reask_message(self.messages[-1])


Handler = Callable[[FakeRequest], Any]


class FakeLLM(LLM):
    """An offline LLM whose replies are scripted, computed, or generated from the response schema.

    Each request is answered by, in order of precedence: the next unused entry of ``replies``; else
    ``handler(request)`` (return ``None`` to fall through); else a value built from the response
    model's JSON schema, deterministically from ``seed`` and the request, that validates. Replies pass
    through the same parse / validate / re-ask / retry loop as the real backends, so injected failures
    exercise real recovery paths (with zero backoff delay by default).

    Args:
        seed: Seed of every generated value and injected failure.
        replies: Scripted replies (text, dict, list, pydantic instance, a :class:`~deeppersona.llm.RawReply`
            to set the finish reason, or an exception to raise), used in order.
        handler: A function of the :class:`FakeRequest` returning a reply (or ``None`` to fall through).
        failures: Failure rates in ``[0, 1]`` by kind: ``"invalid_json"``, ``"missing_keys"`` (a required
            key dropped), ``"truncated"`` (the reply cut off with finish reason ``"length"``),
            ``"rate_limit"`` and ``"timeout"`` (transient, retried).
        latency: Seconds each request takes (``asyncio.sleep``, so concurrency is real).
        model: The model name reported in responses.
        max_concurrency: Requests answered at once (per event loop), as for a real backend.
        max_attempts: Replies asked for before :class:`~deeppersona.errors.LLMOutputError`.
        max_retries: Retries after a transient failure before :class:`~deeppersona.errors.LLMTransientError`.
        retry_delay: Base backoff delay in seconds (0 keeps tests fast).

    Attributes:
        requests: Every request received, in order.

    Example:
        >>> from pydantic import BaseModel
        >>> class Pet(BaseModel):
        ...     name: str
        ...     legs: int
        >>> fake = FakeLLM(seed=1)
        >>> pet = fake.complete([{"role": "user", "content": "Describe a pet."}], Pet).output
        >>> isinstance(pet, Pet)
        True
    """

    def __init__(
        self,
        seed: int = 0,
        replies: Sequence[Any] | None = None,
        handler: Handler | None = None,
        failures: Mapping[str, float] | None = None,
        latency: float = 0.0,
        *,
        model: str = "fake",
        max_concurrency: int = 8,
        max_attempts: int = 3,
        max_retries: int = 5,
        retry_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.seed = int(seed)
        self.handler = handler
        self.latency = float(latency)
        self.failures = dict(failures or {})
        unknown = set(self.failures) - set(_FAILURE_KINDS)
        if unknown:
            raise ConfigError(
                f"unknown failure kinds {sorted(unknown)}; use any of {', '.join(_FAILURE_KINDS)}"
            )
        for kind, rate in self.failures.items():
            if not 0.0 <= float(rate) <= 1.0:
                raise ConfigError(f"failure rate {kind}={rate} must lie within [0, 1]")
        if self.latency < 0:
            raise ConfigError(f"latency must be >= 0, got {latency}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.max_concurrency = int(max_concurrency)
        self.policy = RetryPolicy(
            max_attempts=max_attempts, max_retries=max_retries, base_delay=retry_delay, max_delay=retry_delay
        )
        self.requests: list[FakeRequest] = []
        self._replies = list(replies or [])
        self._lock = threading.Lock()
        self._active = 0
        self.max_active = 0
        """The largest number of requests that were in flight at once."""

    def __getstate__(self) -> dict[str, Any]:
        """A copy for another process (a worker, a Ray actor): the configuration and unused replies; its
        request log starts empty."""
        state = super().__getstate__()
        state.pop("_lock", None)
        state["requests"] = []
        state["max_active"] = 0
        state["_active"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lock = threading.Lock()

    @property
    def remaining_replies(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._replies)

    async def send(self, request: Request) -> RawReply:
        """Answer one request (see the class docstring for where the reply comes from)."""
        with self._lock:
            fake = FakeRequest(
                messages=tuple(request.messages),
                response_model=request.response_model,
                call_site=request.call_site,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                seed=request.seed,
                index=len(self.requests),
            )
            self.requests.append(fake)
            self._active += 1
            self.max_active = max(self.max_active, self._active)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            text, finish = self._answer(fake)
        finally:
            with self._lock:
                self._active -= 1
        prompt_text = "".join(str(m.get("content", "")) for m in request.messages)
        return RawReply(
            text=text,
            prompt_tokens=estimate_tokens(prompt_text) + 4 * len(request.messages),
            completion_tokens=estimate_tokens(text),
            finish_reason=finish,
        )

    def _retry_rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, 7])  # deterministic jitter

    # -- reply production ---------------------------------------------------------------------------

    def _answer(self, request: FakeRequest) -> tuple[str, str]:
        """The reply text and its finish reason (``"length"`` for an injected truncation)."""
        failure = self._draw_failure(request)
        if failure == "rate_limit":
            raise TransientFailure("fake rate limit (injected)", retry_after=0.0)
        if failure == "timeout":
            raise TransientFailure("fake timeout (injected)")
        text = self._reply_text(request)
        if isinstance(text, RawReply):  # a scripted raw reply: its text and finish reason, as given
            return text.text, text.finish_reason or "stop"
        if failure == "invalid_json" and request.response_model not in (None, str):
            return "Sure! Here is the JSON you asked for: {" + text[:20], "stop"
        if failure == "missing_keys" and request.response_model not in (None, str):
            return self._drop_required_key(text, request.response_model), "stop"
        if failure == "truncated":  # cut off by the token limit, as a real server reports it
            return text[: max(1, int(len(text) * 0.6))], "length"
        return text, "stop"

    def _draw_failure(self, request: FakeRequest) -> str | None:
        if not self.failures:
            return None
        rng = np.random.default_rng([self.seed, request.index, 11])
        for kind in _FAILURE_KINDS:
            rate = float(self.failures.get(kind, 0.0))
            if rate and rng.random() < rate:
                return kind
        return None

    def _reply_text(self, request: FakeRequest) -> str | RawReply:
        reply: Any = None
        with self._lock:
            if self._replies:
                reply = self._replies.pop(0)
        if reply is None and self.handler is not None:
            reply = self.handler(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, RawReply):
            return reply
        if reply is not None:
            return coerce_reply_text(reply)
        return self._generate(request)

    def _generate(self, request: FakeRequest) -> str:
        digest = hashlib.blake2b(digest_size=8)
        # Re-ask turns are excluded so a repaired reply matches what the first attempt would have been.
        base_messages = _strip_reask(request.messages)
        digest.update(json.dumps(base_messages, sort_keys=True, default=str).encode())
        digest.update(repr(getattr(request.response_model, "__name__", request.response_model)).encode())
        key = int.from_bytes(digest.digest(), "little")
        rng = np.random.default_rng([self.seed, key])
        if request.response_model is None or request.response_model is str:
            return fake_text(request.last_user_message, rng)
        schema = json_schema_for(request.response_model)
        error = ""
        for _ in range(20):
            text = json.dumps(fake_from_schema(schema, rng), ensure_ascii=False)
            try:
                validate_reply(text, request.response_model)
            except ValueError as exc:
                error = str(exc)
                continue
            return text
        name = getattr(request.response_model, "__name__", repr(request.response_model))
        raise ConfigError(
            f"FakeLLM cannot generate a valid {name} from its schema ({error}); "
            "answer such requests with FakeLLM(handler=...) or replies=[...]"
        )

    @staticmethod
    def _drop_required_key(text: str, response_model: Any) -> str:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return text
        required = json_schema_for(response_model).get("required", [])
        if isinstance(data, dict) and required:
            data.pop(required[0], None)
        return json.dumps(data, ensure_ascii=False)


_WORD_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)\s+words")


def fake_text(prompt: str, rng: np.random.Generator) -> str:
    """A made-up prose reply to ``prompt``: as many words as it asks for ("60-120 words"), as a real
    model should, else a short sentence."""
    asked = _WORD_RANGE.search(prompt)
    if asked:
        lo, hi = int(asked.group(1)), int(asked.group(2))
        return f"{fake_sentence(rng, lo, max(lo, hi))}."
    return f"{fake_sentence(rng, 6, 14)}."


def _strip_reask(messages: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    end = len(messages)
    while end >= 2 and is_reask_message(messages[end - 1]) and messages[end - 2].get("role") == "assistant":
        end -= 2
    return [m if isinstance(m, dict) else dict(m) for m in messages[:end]]
