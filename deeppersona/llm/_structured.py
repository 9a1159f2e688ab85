"""Parse, validate, re-ask and retry: the call loop shared by every backend (fakes included).

A backend supplies one coroutine, ``send(messages) -> RawReply``, that performs a single request and
maps its failures onto :class:`TransientFailure` (worth retrying after a pause) or
:class:`~deeppersona.errors.LLMRequestError` (give up at once). :func:`structured_call` does the rest:
tolerant JSON extraction, pydantic validation, bounded re-asks that quote the validation error,
exponential backoff with jitter that honours ``Retry-After``, and usage accounting.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import ConfigError, LLMOutputError, LLMRequestError, LLMTransientError
from ._base import FieldCheck, LLMResponse, Message, Usage

__all__ = [
    "RawReply",
    "RetryPolicy",
    "TransientFailure",
    "estimate_tokens",
    "extract_json",
    "is_degenerate",
    "is_reask_message",
    "json_schema_for",
    "reask_message",
    "schema_instructions",
    "structured_call",
    "validate_reply",
]

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class TransientFailure(Exception):
    """A failure worth retrying after a pause (rate limit, timeout, 5xx, dropped connection).

    Args:
        message: What went wrong.
        retry_after: Seconds the server asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Request:
    """One request as a backend sends it (see :meth:`LLM.send`).

    Attributes:
        messages: The conversation to send, re-ask turns included.
        response_model: The type the reply must validate as (``None`` for text); a backend with
            structured output passes its JSON schema on (:func:`json_schema_for`).
        call_site: The caller's usage label (``"core"``, ``"fill"``, ``"judge"`` ...).
        temperature: Sampling temperature; ``None`` for the backend's default.
        max_tokens: Completion token limit; ``None`` for the backend's default.
        seed: A sampling seed, where the provider supports one.
        field_check: Called with each key and value of a JSON reply as it is written, by backends that
            write one value at a time (see :meth:`LLM.acomplete`); others ignore it.
        extra: What the backend's :meth:`LLM.prepare` worked out once per logical call (provider
            parameters, a response format ...), for its :meth:`LLM.send`.
    """

    messages: list[dict[str, str]]
    response_model: Any = None
    call_site: str = "default"
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    field_check: FieldCheck | None = field(default=None, compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RawReply:
    """The outcome of one request.

    Attributes:
        text: The reply text.
        prompt_tokens: Prompt tokens used.
        completion_tokens: Completion tokens used.
        cost_usd: Cost in US dollars, 0 when unknown.
        cached: Whether the reply came from a cache (no request was made).
        finish_reason: Why generation stopped, as the server said (``"stop"``, ``"length"`` when the
            token limit cut the reply off, ...); ``None`` when unknown.
        commit: Called once the reply validated (e.g. to store it in a cache).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    finish_reason: str | None = None
    commit: Callable[[], None] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        max_attempts: Replies asked for before giving up on invalid output (the first plus re-asks).
        max_retries: Retries of one request after transient failures.
        base_delay: First backoff delay in seconds; it doubles on each retry.
        max_delay: Cap of one computed backoff delay (a longer ``Retry-After`` is still honoured).
        jitter: Relative jitter: each delay is multiplied by a uniform factor in ``[1 - jitter, 1 + jitter]``.
    """

    max_attempts: int = 3
    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {self.max_retries}")
        if self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise ConfigError("base_delay and max_delay must be >= 0 and jitter within [0, 1]")

    def delay(self, retry: int, retry_after: float | None, rng: np.random.Generator) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        backoff = min(self.base_delay * (2.0**retry), self.max_delay)
        factor = 1.0 + self.jitter * (2.0 * float(rng.random()) - 1.0)
        wait = max(0.0, backoff * factor)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, float(retry_after))  # the server's word wins, even beyond max_delay
        return wait


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token) for backends that report none."""
    return max(1, (len(text) + 3) // 4) if text else 0


_CACHE_SIZE = 512


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _adapter(response_model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(response_model)


@functools.lru_cache(maxsize=1)
def _any_response() -> type[LLMResponse[Any]]:
    """``LLMResponse[Any]``, built once: pydantic may rebuild a parametrised generic on every subscript."""
    return LLMResponse[Any]


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_schema_json(response_model: Any) -> str:
    return json.dumps(_build_schema(response_model), ensure_ascii=False, separators=(",", ":"))


def _model_like(response_model: Any) -> bool:
    """Whether ``response_model`` is a class with pydantic's ``model_validate`` and ``model_json_schema``
    class methods (a ``BaseModel``, or a light type built per request that would cost a ``TypeAdapter``
    each time)."""
    return isinstance(response_model, type) and (
        issubclass(response_model, BaseModel)
        or (
            callable(getattr(response_model, "model_validate", None))
            and callable(getattr(response_model, "model_json_schema", None))
        )
    )


def _build_schema(response_model: Any) -> dict[str, Any]:
    if _model_like(response_model):
        schema: dict[str, Any] = response_model.model_json_schema()
        return schema
    try:
        return _adapter(response_model).json_schema()
    except Exception as exc:  # pydantic raises several error types for unsupported types
        raise ConfigError(f"cannot build a JSON schema for response model {response_model!r}: {exc}") from exc


def _schema_json(response_model: Any) -> str:
    """The compact JSON text of ``response_model``'s schema, cached per type (types are hashable)."""
    try:
        return _cached_schema_json(response_model)
    except TypeError:  # an unhashable type form (e.g. Annotated with unhashable metadata)
        return json.dumps(_build_schema(response_model), ensure_ascii=False, separators=(",", ":"))


def json_schema_for(response_model: Any) -> dict[str, Any]:
    """The JSON schema of ``response_model`` (a pydantic model class or any type pydantic can validate).

    The schema is built once per type and cached; each call returns a fresh copy that the caller may
    change.
    """
    result: dict[str, Any] = json.loads(_schema_json(response_model))
    return result


def schema_name(response_model: Any) -> str:
    """A short identifier for ``response_model`` (used as the schema name in requests)."""
    name = getattr(response_model, "__name__", None) or "Output"
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(name))[:64] or "Output"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _instructions_for_schema(schema: str) -> str:
    from ..prompts import render

    return render("llm_json_instructions", schema=schema)


def schema_instructions(response_model: Any) -> str:
    """The instructions that ask for JSON matching ``response_model``'s schema (rendered prompt text)."""
    return _instructions_for_schema(_schema_json(response_model))


def with_schema_instructions(messages: Sequence[Message], response_model: Any) -> list[dict[str, str]]:
    """Return ``messages`` with the schema instructions appended to the last user message.

    The system message and every earlier turn stay byte-identical, so successive calls of one
    dialogue (each extending the previous call's messages) share their whole prefix up to the
    newest user turn; llama.cpp's KV cache and providers' prompt caches reuse that prefix. When no
    user message exists, the instructions become a new user message at the end. A user message that
    already holds them (a template that places :func:`schema_instructions` before its variable part,
    so that many calls share one evaluated prefix) is left as it is.
    """
    out = [dict(m) for m in messages]
    text = schema_instructions(response_model)
    for m in reversed(out):
        if m.get("role") == "user":
            content = str(m.get("content") or "")
            if text in content:
                return out
            m["content"] = f"{content}\n\n{text}" if content.strip() else text
            return out
    return [*out, {"role": "user", "content": text}]


def reask_message(error: str, *, text: bool = False) -> str:
    """The user message that asks the model to fix its previous reply (``text``: the call wants plain
    text, not JSON, so the re-ask must not ask for a JSON object)."""
    from ..prompts import render

    return render("llm_reask", error=error, text=text).strip()


def is_reask_message(message: Mapping[str, str]) -> bool:
    """Whether ``message`` is a re-ask turn produced by :func:`reask_message`."""
    if message.get("role") != "user":
        return False
    content = str(message.get("content", ""))
    for text in (False, True):
        prefix, _, suffix = reask_message("\x00", text=text).partition("\x00")
        if content.startswith(prefix) and content.endswith(suffix):
            return True
    return False


def extract_json(text: str) -> Any:
    """Parse the JSON value in a model reply, tolerating code fences, surrounding prose and small syntax slips.

    Raises:
        ValueError: No JSON value could be recovered.
    """
    candidates: list[str] = []
    fenced = _FENCE.search(text)
    if fenced:
        candidates.append(fenced.group(1).strip())
    stripped = text.strip()
    candidates.append(stripped)
    starts = [i for i in (stripped.find("{"), stripped.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        closer = "}" if stripped[start] == "{" else "]"
        end = stripped.rfind(closer)
        if end > start:
            candidates.append(stripped[start : end + 1])
        candidates.append(stripped[start:])
    for candidate in candidates:
        try:
            # strict=False: a raw line break inside a string (a small model's usual slip) is kept as text
            return json.loads(candidate, strict=False)
        except (json.JSONDecodeError, ValueError):
            continue
    if starts:
        # Repair small slips (a trailing comma, single quotes) inside a complete value only: a value that
        # never closes was cut off, and "repairing" it would store its fragments ("Conf" for "Conformist").
        start = min(starts)
        closer = "}" if stripped[start] == "{" else "]"
        end = stripped.rfind(closer)
        if end <= start or _unclosed(stripped[start : end + 1]):
            raise ValueError("the reply was cut off before its JSON ended")
        import json_repair

        repaired = json_repair.loads(stripped[start : end + 1])
        if closer == "}" and isinstance(repaired, list):  # several objects, or one split into fragments
            raise ValueError("the reply holds several JSON objects, not one")
        if isinstance(repaired, (dict, list)) and repaired:
            return repaired
    raise ValueError("the reply contains no JSON object")


def _unclosed(text: str) -> bool:
    """Whether ``text`` opens more brackets than it closes, or ends inside a string (strings respected)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth > 0 or in_string


def is_degenerate(text: str, *, tail: int = 2000, ratio: float = 0.15) -> bool:
    """Whether ``text`` ends in a loop: its last ``tail`` characters compress to under ``ratio`` of their size.

    Prose and JSON of distinct values compress to about 0.3-0.5 of their size; a small model that repeats
    the same phrase until the token limit compresses to well under 0.1. A cut-off reply of that kind needs
    a fresh try, not more room: a larger limit only buys a longer loop (minutes on a CPU).
    """
    end = str(text)[-tail:].encode("utf-8")
    if len(end) < 400:
        return False
    return len(zlib.compress(end, 6)) < ratio * len(end)


def _was_cut_off(reply: RawReply) -> bool:
    """Whether ``reply`` stopped at the token limit or ends inside its JSON value."""
    if reply.finish_reason == "length":
        return True
    text = reply.text.strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return bool(starts) and _unclosed(text[min(starts) :])


def validate_reply(text: str, response_model: Any) -> Any:
    """Parse ``text`` and validate it as ``response_model``.

    Returns:
        The validated instance, or the stripped text when ``response_model`` is ``None`` or ``str``.

    Raises:
        ValueError: The reply is empty, holds no JSON, or fails validation (the message says why).
    """
    if response_model is None or response_model is str:
        if not text or not text.strip():
            raise ValueError("the reply is empty")
        return text.strip()
    try:
        data = extract_json(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; reply with a JSON object only") from None
    try:
        if _model_like(response_model):
            return response_model.model_validate(data)
        return _adapter(response_model).validate_python(data)
    except ValidationError as exc:
        raise ValueError(_describe_validation_error(exc)) from None


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "the JSON does not match the schema: " + "; ".join(parts)


Send = Callable[[list[dict[str, str]]], Awaitable[RawReply]]

_CUT_OFF_TURN = "(reply cut off at the length limit)"
"""What the re-ask conversation shows in place of a reply cut off by the token limit."""


async def structured_call(
    send: Send,
    messages: Sequence[Message],
    response_model: Any,
    *,
    model: str,
    policy: RetryPolicy,
    rng: np.random.Generator | Callable[[], np.random.Generator],
    record: Callable[[Usage], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
    on_truncated: Callable[[str], None] | None = None,
) -> LLMResponse[Any]:
    """Run one logical call: send, parse, validate, re-ask on invalid output, retry transient failures.

    Args:
        send: Performs one request with the given messages.
        messages: The conversation to send.
        response_model: The type the reply must validate as; ``None`` for text.
        model: The model name (for errors and the response).
        policy: Attempt and retry bounds and backoff.
        rng: Jitter source, or a function that makes one: called at the first retry only (a
            generator per call cost more than the rest of a fast backend's call plumbing).
        record: Receives the call's usage once it ends, successfully or not.
        sleep: The sleep coroutine (``asyncio.sleep`` unless replaced, e.g. in tests).
        on_truncated: Called with the cut-off text when a reply was cut off by the token limit (finish
            reason ``"length"``), before the re-ask: a backend gives the next request more room there
            unless the text only went round in a loop (:func:`is_degenerate`). A truncated reply is
            never parsed, nor shown back to the model in the re-ask, so none of its fragments can be
            stored or copied.

    Returns:
        The validated response with the usage of every request it took.

    Raises:
        LLMOutputError: ``policy.max_attempts`` replies failed to validate.
        LLMTransientError: A request kept failing transiently after ``policy.max_retries`` retries.
        LLMRequestError: A non-retryable failure.
    """
    do_sleep = sleep if sleep is not None else asyncio.sleep
    convo = [dict(m) for m in messages]
    usage = Usage(calls=1)
    requests = 0
    errors: list[str] = []
    last_raw: str | None = None
    succeeded = False
    try:
        for attempt in range(1, policy.max_attempts + 1):
            retry = 0
            while True:
                requests += 1
                try:
                    reply = await send(convo)
                    break
                except TransientFailure as exc:
                    if retry >= policy.max_retries:
                        raise LLMTransientError(
                            f"{model}: giving up after {retry + 1} tries on a transient failure: {exc}. "
                            "Lower the concurrency or the request rate, or raise max_retries.",
                            model=model,
                            attempts=requests,
                        ) from exc
                    if not isinstance(rng, np.random.Generator):
                        rng = rng()
                    wait = policy.delay(retry, exc.retry_after, rng)
                    logger.info("%s: transient failure (%s); retrying in %.2fs", model, exc, wait)
                    retry += 1
                    await do_sleep(wait)
            usage = usage + Usage(
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                cost_usd=reply.cost_usd,
                cache_hits=int(reply.cached),
            )
            last_raw = reply.text
            try:
                if reply.finish_reason == "length":
                    if on_truncated is not None:
                        on_truncated(reply.text)
                    if is_degenerate(reply.text):
                        raise ValueError(
                            "the reply went round in a loop, repeating the same words until the length "
                            "limit cut it off; reply again with short, different "
                            + ("sentences" if response_model is None else "values")
                        )
                    raise ValueError(
                        "the reply was cut off at the length limit before it was complete; "
                        "reply again, more concisely"
                    )
                output = validate_reply(reply.text, response_model)
            except ValueError as exc:
                errors.append(str(exc))
                logger.info(
                    "%s: attempt %d/%d gave invalid output: %s", model, attempt, policy.max_attempts, exc
                )
                # a cut-off reply is not shown back: small models copy its fragments ("Conf") as answers
                shown = _CUT_OFF_TURN if _was_cut_off(reply) else reply.text
                convo = [
                    *convo,
                    {"role": "assistant", "content": shown},
                    {"role": "user", "content": reask_message(str(exc), text=response_model is None)},
                ]
                continue
            if reply.commit is not None:
                reply.commit()
            succeeded = True
            final = usage.model_copy(update={"retries": requests - 1})
            return _any_response()(output=output, raw=reply.text, usage=final, model=model)
        raise LLMOutputError(
            f"{model}: no valid reply after {policy.max_attempts} attempts; last error: {errors[-1]}. "
            "Try a stronger model, a simpler response model, or more attempts (max_attempts).",
            model=model,
            attempts=policy.max_attempts,
            raw=last_raw,
            errors=errors,
        )
    except LLMRequestError as exc:
        if not exc.attempts:
            exc.attempts = requests
        raise
    finally:
        usage = usage.model_copy(update={"retries": max(0, requests - 1), "failures": 0 if succeeded else 1})
        if record is not None:
            record(usage)


def coerce_reply_text(reply: Any) -> str:
    """Turn a scripted reply (text, mapping, list or pydantic instance) into reply text."""
    if isinstance(reply, str):
        return reply
    if isinstance(reply, BaseModel):
        return reply.model_dump_json()
    if isinstance(reply, (Mapping, list, tuple)):
        return json.dumps(reply, ensure_ascii=False, default=str)
    raise ConfigError(f"a reply must be a str, dict, list or pydantic model, got {type(reply).__name__}")
