"""The one LLM interface every component talks to.

Async first: :meth:`LLM.acomplete` is the primitive; :meth:`LLM.complete` wraps it for synchronous
code (it also works inside Jupyter's running event loop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._async import run_sync

if TYPE_CHECKING:
    from ._structured import RawReply, Request

__all__ = ["LLM", "FieldCheck", "LLMResponse", "Message", "Usage", "UsageTracker"]

Message = Mapping[str, str]
"""A chat message: a mapping with ``"role"`` (system, user or assistant) and ``"content"``."""

FieldCheck = Callable[[str, Any], "Mapping[str, Any] | None"]
"""``(key, value) -> JSON schema | None``: see ``field_check`` of :meth:`LLM.acomplete`."""

T = TypeVar("T")


class Usage(BaseModel):
    """Counts and cost of LLM calls. Instances add up with ``+``."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields})

    def __radd__(self, other: object) -> Usage:
        if other == 0:  # so that sum() works
            return self
        if isinstance(other, Usage):
            return other + self
        return NotImplemented


class LLMResponse(BaseModel, Generic[T]):
    """The result of one logical LLM call (retries and re-asks included).

    Attributes:
        output: The validated pydantic instance, or the text when no response model was asked for.
        raw: The raw text of the final reply.
        usage: What this call cost, retries included.
        model: The model that answered.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    output: T
    raw: str = ""
    usage: Usage = Field(default_factory=Usage)
    model: str = ""


class UsageTracker:
    """Thread-safe running totals of :class:`Usage`, overall and per call site."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = Usage()
        self._by_site: dict[str, Usage] = {}

    def record(self, usage: Usage, call_site: str = "default") -> None:
        """Add ``usage`` to the totals of ``call_site`` and of the run."""
        with self._lock:
            self._total = self._total + usage
            self._by_site[call_site] = self._by_site.get(call_site, Usage()) + usage

    @property
    def total(self) -> Usage:
        """Totals over every call so far."""
        with self._lock:
            return self._total.model_copy()

    def by_call_site(self) -> dict[str, Usage]:
        """Totals per call site (a copy)."""
        with self._lock:
            return {k: v.model_copy() for k, v in self._by_site.items()}

    def reset(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._total = Usage()
            self._by_site = {}

    def __repr__(self) -> str:
        t = self.total
        return (
            f"UsageTracker(calls={t.calls}, retries={t.retries}, failures={t.failures}, "
            f"tokens={t.total_tokens}, cost_usd={t.cost_usd:.4f})"
        )


class LLM:
    """A chat model that returns text or validated pydantic objects.

    **Writing a backend** takes one method: :meth:`send`, which sends one :class:`Request` and returns
    the raw reply (a :class:`RawReply`: text, finish reason, token counts) or raises
    :class:`TransientFailure` (worth retrying: a rate limit, a timeout, a 5xx) or an
    :class:`~deeppersona.errors.LLMRequestError` (not worth retrying). Everything else is done here,
    once, for every backend: JSON parsing and validation against the response model, re-asks that
    quote the validation error, retries with backoff, a reply cut off by the token limit never stored,
    and usage accounting per call site. Optionally override :meth:`prepare` (work done once per logical
    call, e.g. provider parameters) and :meth:`more_room` (the request after a cut-off reply).

    Every call either returns a valid output or raises an :class:`~deeppersona.errors.LLMError`; it
    never returns silently empty data. Wrappers (a rate limiter, a logger) may override
    :meth:`acomplete` instead and delegate; such a wrapper should copy the wrapped backend's
    :attr:`max_concurrency`, which the engine reads to decide how many personas to work on at once.

    **Concurrency** is the backend's one setting: at most :attr:`max_concurrency` requests of this
    backend are sent at once (per event loop), whoever makes them: the engine's personas, the
    evaluator's judges, the builder's stages. The engine works on ``4 * max_concurrency`` personas at
    a time so that the slots stay busy (one at a time when it is 1, so that a local model sees one
    dialogue after another and reuses its KV cache).

    Attributes:
        model: The model name (for provenance and cache keys).
        max_concurrency: Requests sent at once (per event loop; re-asks and retries take a slot each).
        policy: Attempt and retry bounds (a :class:`~deeppersona.llm.RetryPolicy`; the default when unset).
    """

    model: str = "unknown"
    max_concurrency: int = 8

    def __init__(self) -> None:
        self._usage = UsageTracker()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.send is LLM.send and cls.acomplete is LLM.acomplete:
            raise TypeError(f"{cls.__name__} must implement send(request) (or override acomplete)")

    def __getstate__(self) -> dict[str, Any]:
        """A copy for another process counts its own usage (it starts at zero) and has its own slots."""
        state = dict(self.__dict__)
        state.pop("_usage", None)
        state.pop("_slots", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._usage = UsageTracker()

    @property
    def usage(self) -> UsageTracker:
        """Run totals and per-call-site usage of this backend."""
        tracker = getattr(self, "_usage", None)
        if tracker is None:  # a subclass forgot super().__init__()
            tracker = self._usage = UsageTracker()
        return tracker

    # -- the contract a backend implements -----------------------------------------------------------

    async def send(self, request: Request) -> RawReply:
        """Send one request and return the raw reply; the one method a backend must implement.

        Raises:
            TransientFailure: A failure worth retrying after a pause (with ``retry_after`` when the
                server said how long).
            LLMRequestError: A failure not worth retrying (a rejected key, an unknown model ...).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement send(request)")

    async def prepare(self, request: Request) -> Request:
        """The request to send for one logical call (its re-asks add turns to its messages).

        Called once per :meth:`acomplete`; the default sends ``request`` as it is. A backend puts what it
        works out once (provider parameters, a response format, schema instructions in the messages)
        into the returned request (``dataclasses.replace(request, extra={...})``).
        """
        return request

    def more_room(self, request: Request, text: str) -> Request | None:
        """The request to send after a reply cut off by the token limit (``text``), or ``None`` to send
        the same one. The default keeps the request; a backend may raise ``max_tokens``."""
        return None

    # -- the call ------------------------------------------------------------------------------------

    @overload
    async def acomplete(
        self,
        messages: Sequence[Message],
        response_model: type[T],
        *,
        call_site: str = ...,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        seed: int | None = ...,
        field_check: FieldCheck | None = ...,
    ) -> LLMResponse[T]: ...

    @overload
    async def acomplete(
        self,
        messages: Sequence[Message],
        response_model: None = ...,
        *,
        call_site: str = ...,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        seed: int | None = ...,
        field_check: FieldCheck | None = ...,
    ) -> LLMResponse[str]: ...

    async def acomplete(
        self,
        messages: Sequence[Message],
        response_model: type[T] | None = None,
        *,
        call_site: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        field_check: FieldCheck | None = None,
    ) -> LLMResponse[Any]:
        """Send ``messages`` and return the reply, validated.

        Args:
            messages: The chat messages.
            response_model: A pydantic model class (or any type pydantic validates) the reply must
                validate against; ``None`` for text.
            call_site: A label for usage accounting (``"core"``, ``"fill"``, ``"judge"``...).
            temperature: Sampling temperature; the backend default when ``None``.
            max_tokens: Completion token limit; the backend default when ``None``.
            seed: A sampling seed where the provider supports one.
            field_check: For a backend that writes a JSON reply one value at a time (the embedded
                model, :mod:`deeppersona.llm._fields`): called with each key and its parsed value as soon
                as the value is written; returning a JSON schema has that value sampled once more under
                it, ``None`` keeps it. Other backends ignore it: a caller's checks of the whole reply
                decide in every case.

        Returns:
            An :class:`LLMResponse` whose ``output`` is an instance of ``response_model`` (or text).

        Raises:
            ConfigError: ``messages`` is empty.
            LLMOutputError: The replies never validated.
            LLMTransientError: Retries ran out on transient failures.
            LLMRequestError: A non-retryable failure.
        """
        from ..errors import ConfigError
        from ._structured import Request, RetryPolicy, structured_call

        if not messages:
            raise ConfigError("messages must not be empty")
        first = Request(
            messages=[dict(m) for m in messages],
            response_model=response_model,
            call_site=call_site,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            field_check=field_check,
        )
        current = await self.prepare(first)

        async def send(convo: list[dict[str, str]]) -> RawReply:
            async with self._slot():
                return await self.send(dataclasses.replace(current, messages=convo))

        def on_truncated(text: str) -> None:
            nonlocal current
            current = self.more_room(current, text) or current

        return await structured_call(
            send,
            current.messages,
            response_model,
            model=self.model,
            policy=getattr(self, "policy", None) or RetryPolicy(),
            rng=self._retry_rng,
            record=lambda usage: self.usage.record(usage, call_site),
            sleep=getattr(self, "_sleep", None),
            on_truncated=on_truncated,
        )

    def _slot(self) -> asyncio.Semaphore:
        """This event loop's semaphore of :attr:`max_concurrency` slots (``complete()`` runs each call on
        a loop of its own; a semaphore belongs to one loop)."""
        loop = asyncio.get_running_loop()
        slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] | None
        slots = self.__dict__.get("_slots")
        if slots is None:
            slots = self.__dict__["_slots"] = weakref.WeakKeyDictionary()
        slot = slots.get(loop)
        if slot is None:
            limit = int(self.max_concurrency)
            if limit < 1:
                from ..errors import ConfigError

                raise ConfigError(f"{type(self).__name__}.max_concurrency must be at least 1, got {limit}")
            slot = slots[loop] = asyncio.Semaphore(limit)
        return slot

    def _retry_rng(self) -> np.random.Generator:
        """The source of retry jitter (a backend's own generator when it keeps one)."""
        rng = getattr(self, "_rng", None)
        return rng if isinstance(rng, np.random.Generator) else np.random.default_rng()

    def complete(
        self,
        messages: Sequence[Message],
        response_model: type[T] | None = None,
        *,
        call_site: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        field_check: FieldCheck | None = None,
    ) -> LLMResponse[Any]:
        """Synchronous :meth:`acomplete`; safe inside a running event loop."""

        async def run() -> LLMResponse[Any]:
            try:
                return await self.acomplete(
                    messages,
                    response_model,
                    call_site=call_site,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    seed=seed,
                    field_check=field_check,
                )
            finally:
                await self._sync_call_finished()

        return run_sync(run())

    async def _sync_call_finished(self) -> None:
        """Hook run at the end of every :meth:`complete` call, on that call's own event loop."""

    async def aclose(self) -> None:
        """Release resources (loaded models, HTTP clients). Idempotent."""

    def close(self) -> None:
        """Synchronous :meth:`aclose`."""
        run_sync(self.aclose())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"
