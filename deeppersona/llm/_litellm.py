"""The default backend: any model LiteLLM speaks to, plus the embedded ``local/...`` models."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlsplit

import numpy as np

from ..errors import ConfigError, LLMConfigError, LLMRequestError, MissingDependencyError
from ._base import LLM, FieldCheck
from ._cache import ResponseCache, cache_key
from ._limits import RateLimiter
from ._options import LOCAL_OPTIONS, check_backend_options
from ._structured import (
    RawReply,
    Request,
    RetryPolicy,
    TransientFailure,
    estimate_tokens,
    is_degenerate,
    json_schema_for,
    schema_name,
    with_schema_instructions,
)

if TYPE_CHECKING:
    from ._local import LocalRuntime
    from ._registry import ModelRegistry

__all__ = ["LiteLLMBackend", "import_litellm"]

logger = logging.getLogger(__name__)

_READONLY_WARNING = r".*is using the `ReadOnly` qualifier.*"

StructuredMode = Literal["auto", "json_schema", "json_object", "json_object_schema", "prompt"]


_quieted = False

_LOCAL_COPIES = ("LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS")
"""LiteLLM's switches from fetching its configuration over the network to the copies it ships."""


def import_litellm() -> Any:
    """Import litellm with its own network fetches switched off, and quiet.

    LiteLLM downloads its model-cost map when imported and a table of Anthropic beta headers on the first
    Anthropic call, from GitHub; deeppersona sets ``LITELLM_LOCAL_MODEL_COST_MAP=True`` and
    ``LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True`` (unless they are set already), so LiteLLM uses the
    copies it ships instead. To let LiteLLM fetch them again, set the variable to ``False`` before
    litellm is imported (the cost map) or before the first Anthropic call (the beta headers).

    LiteLLM prints "Give Feedback / Get Help" and "Provider List" banners (and debugging hints) to
    stdout on every failed call; they are switched off (``litellm.suppress_debug_info = True``,
    ``litellm.set_verbose = False``) the first time deeppersona imports it, unless debugging output
    was asked for with LiteLLM's own switch, the environment variable ``LITELLM_LOG`` (e.g.
    ``LITELLM_LOG=DEBUG``). Settings you make on ``litellm`` afterwards are left alone.

    Raises:
        MissingDependencyError: litellm is not installed.
    """
    global _quieted
    first = "litellm" not in sys.modules
    for variable in _LOCAL_COPIES:
        os.environ.setdefault(variable, "True")
    try:
        import litellm
    except ImportError as exc:  # pragma: no cover - litellm is a core dependency
        raise MissingDependencyError("litellm is required for model backends: pip install litellm") from exc
    # litellm builds pydantic schemas of TypedDicts with ``ReadOnly`` items lazily, mid-call; pydantic
    # then warns on every such type. The warning is about litellm's types, not the user's code.
    if first:
        warnings.filterwarnings("ignore", message=_READONLY_WARNING, category=UserWarning)
    if not _quieted:
        _quieted = True
        if not os.environ.get("LITELLM_LOG", "").strip():
            litellm.suppress_debug_info = True
            litellm.set_verbose = False
    return litellm


class LiteLLMBackend(LLM):
    """An :class:`LLM` over ``litellm.acompletion``: OpenAI, Anthropic, Gemini, Ollama, vLLM... or ``local/...``.

    Structured output uses the provider's JSON-schema mode where LiteLLM says it is supported, else
    JSON mode with the schema in the prompt. Replies are parsed tolerantly and validated; an invalid
    reply is re-asked with the validation error (``max_attempts`` replies in all). Rate limits,
    timeouts, 5xx and connection errors back off exponentially with jitter, honouring
    ``Retry-After`` (``max_retries`` retries; the provider SDK's own hidden retries are switched off, so
    this policy is the only one); authentication (401/403),
    missing credentials, bad-request, not-found and context-window errors raise
    :class:`~deeppersona.errors.LLMRequestError` (:class:`~deeppersona.errors.LLMConfigError` for the
    configuration ones) at once. :meth:`preflight` checks the configuration before a run.

    Optional parameters go only where the provider takes them: ``seed``, ``temperature`` and
    ``max_tokens`` are left out of a request when LiteLLM lists the model's parameters
    (``litellm.get_supported_openai_params``) and they are not among them (Anthropic takes no ``seed``);
    ``allowed_openai_params=[...]`` sends them anyway, and ``drop_params=True`` lets LiteLLM drop the
    unsupported ones among your own ``**litellm_kwargs`` too. Option names are checked when the backend is
    built: a name that is neither an option below nor a request parameter LiteLLM knows raises
    :class:`~deeppersona.errors.ConfigError`.

    Args:
        model: A LiteLLM model string (``"gpt-4.1-mini"``, ``"ollama/llama3.1"``) or ``"local/<name>"``
            for an embedded model of ``registry``.
        max_concurrency: Requests in flight at once (per event loop), the one concurrency setting of a
            run (see :class:`~deeppersona.llm.LLM`); ``None``: 8, or 1 for an embedded ``local/...`` model
            (one dialogue at a time keeps its KV cache warm; the CPU has no room for a second).
        max_attempts: Replies asked for before :class:`~deeppersona.errors.LLMOutputError`.
        max_retries: Retries of one request after transient failures.
        requests_per_minute: Optional request-rate limit.
        tokens_per_minute: Optional token-rate limit (estimated from the prompt and ``max_tokens``).
        cache: ``None``/``False`` for no cache; ``True`` for the user cache directory; or a path
            (a SQLite file or a directory). Keyed by model, messages, parameters and seed.
        timeout: Seconds before one request counts as timed out (a transient failure).
        temperature: Default sampling temperature.
        max_tokens: Default completion token limit (embedded ``local/...`` models: 2,048 when ``None``, see
            ``LOCAL_MAX_TOKENS``; a reply cut off by the limit is re-asked with twice the room).
        structured: ``"auto"``, or force ``"json_schema"``, ``"json_object"``, ``"json_object_schema"``
            (JSON mode with the schema as ``response_format["schema"]``: llama.cpp's servers then constrain
            decoding to it) or ``"prompt"`` (schema in the prompt only).
        registry: The local-model registry for ``local/...`` models (packaged defaults when ``None``).
        retry_policy: Full control of attempts and backoff (overrides ``max_attempts``/``max_retries``).
        **litellm_kwargs: Passed to every ``litellm.acompletion`` call (``api_base``, ``api_key``,
            ``mock_response``, ``top_p``, ``drop_params``...; a field of an OpenAI-compatible server that
            LiteLLM does not know goes in ``extra_body={...}``). For local models: ``n_ctx``, ``n_threads``, ``verbose``, ``use_extra_bufts``, ``field_by_field``.

    Raises:
        ConfigError: An option is unknown or has an impossible value (before any call).

    Example:
        >>> from pydantic import BaseModel
        >>> class City(BaseModel):
        ...     name: str
        >>> llm = LiteLLMBackend("gpt-4.1-mini", mock_response='{"name": "Nairobi"}')
        >>> llm.complete([{"role": "user", "content": "Name a city."}], City).output
        City(name='Nairobi')
    """

    def __init__(
        self,
        model: str,
        *,
        max_concurrency: int | None = None,
        max_attempts: int = 3,
        max_retries: int = 5,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        cache: bool | str | Path | ResponseCache | None = None,
        timeout: float = 600.0,
        temperature: float | None = None,
        max_tokens: int | None = None,
        structured: StructuredMode = "auto",
        registry: ModelRegistry | None = None,
        retry_policy: RetryPolicy | None = None,
        **litellm_kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a non-empty LiteLLM model string, got {model!r}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if structured not in get_args(StructuredMode):
            raise ConfigError(
                f"structured must be one of {', '.join(get_args(StructuredMode))}, got {structured!r}"
            )
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        self.model = model.strip()
        self.is_local = self.model.startswith("local/")
        self.max_concurrency = (
            int(max_concurrency) if max_concurrency is not None else (1 if self.is_local else 8)
        )
        self.timeout = float(timeout)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.structured = structured
        self.policy = retry_policy or RetryPolicy(max_attempts=max_attempts, max_retries=max_retries)
        check_backend_options(self.model, litellm_kwargs)
        self.litellm_kwargs = dict(litellm_kwargs)
        self._local_options = {
            k: self.litellm_kwargs.pop(k) for k in LOCAL_OPTIONS if k in self.litellm_kwargs
        }
        if not self.is_local and self._local_options:
            raise ConfigError(f"{sorted(self._local_options)} only apply to local/... models")
        self.registry = registry
        if self.is_local:
            from ._registry import ModelRegistry

            self.registry = registry if registry is not None else ModelRegistry()
            self.registry.get(self.model)  # fail early on unknown names
        self.cache = _make_cache(cache)
        self._limiter = RateLimiter(requests_per_minute, tokens_per_minute)
        self._rng = np.random.default_rng()
        self._runtime: LocalRuntime | None = None
        self._mode: str | None = None if structured == "auto" else structured
        self._sleep = asyncio.sleep
        self._preflight_passed = False
        self._supported: frozenset[str] | None = None
        self._supported_known = False
        self._dropped: set[str] = set()

    # -- public -----------------------------------------------------------------------------------------

    async def prepare(self, request: Request) -> Request:
        """Work out the provider parameters once per logical call: temperature, token limit (a limit
        always for local models), seed, the response format for structured output (and the schema in
        the prompt where the provider does not enforce it), the local runtime."""
        litellm = import_litellm()
        params: dict[str, Any] = dict(self.litellm_kwargs)
        if not self.is_local:
            params["max_retries"] = 0  # the SDK's own retries would multiply ours and hide them from usage
        temp = request.temperature if request.temperature is not None else self.temperature
        if temp is not None:
            params["temperature"] = temp
        limit = request.max_tokens if request.max_tokens is not None else self.max_tokens
        if limit is None and self.is_local:
            # a small model under a grammar can run away (a string that never closes): without a limit it
            # would write until the context is full, for an hour on a CPU; a cut-off reply is re-asked
            limit = LOCAL_MAX_TOKENS
        if limit is not None:
            params["max_tokens"] = limit
        if request.seed is not None:
            params["seed"] = request.seed
        convo: list[dict[str, str]] = [dict(m) for m in request.messages]
        response_model = request.response_model
        if response_model is not None and response_model is not str:
            mode = self._structured_mode(litellm)
            schema = json_schema_for(response_model)
            if mode == "json_schema":
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": schema_name(response_model), "schema": schema, "strict": False},
                }
            elif mode == "json_object":
                params["response_format"] = {"type": "json_object"}
            elif mode == "json_object_schema":
                params["response_format"] = {"type": "json_object", "schema": schema}
            # under a grammar the schema is enforced, but a small model still reads it as guidance; a
            # response model whose prompt already lists every key with its type (``prompt_lists_keys``,
            # the fill batches) is spared the repetition: about a thousand tokens per fill batch
            listed = bool(getattr(response_model, "prompt_lists_keys", False))
            if mode != "json_schema" or (self.is_local and not listed):
                convo = with_schema_instructions(convo, response_model)
        if self.is_local:
            await self._local_runtime()  # verified weights (integrity errors before the first call)
        cache_params = {k: v for k, v in params.items() if k not in _NOT_CACHE_KEYS}
        extra = {"params": params, "cache_params": cache_params}
        return dataclasses.replace(request, messages=convo, max_tokens=limit, extra=extra)

    async def send(self, request: Request) -> RawReply:
        """Send one request through LiteLLM (the cache and the rate limiter apply; ``max_concurrency`` is
        applied by :meth:`acomplete`, around each send)."""
        if "params" not in request.extra:  # called directly, not through acomplete
            request = await self.prepare(request)
        params = dict(request.extra["params"])
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens  # raised by more_room after a cut-off reply
        return await self._send(
            import_litellm(),
            request.messages,
            params,
            dict(request.extra["cache_params"]),
            field_check=request.field_check,
        )

    def more_room(self, request: Request, text: str) -> Request | None:
        """A reply cut off by the token limit: the re-ask may write twice as much, unless the reply only
        went round in a loop (more room buys a longer loop)."""
        if is_degenerate(text):
            return None
        current = int(request.max_tokens or 0)
        return dataclasses.replace(
            request, max_tokens=min(_MAX_TOKENS_CAP, 2 * current if current else _MAX_TOKENS_CAP // 2)
        )

    async def _sync_call_finished(self) -> None:
        # litellm schedules logging tasks on the loop of each call; complete() runs on a private loop
        await _flush_litellm_logging()

    async def aclose(self) -> None:
        """Unload local models (if any). Idempotent."""
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await asyncio.to_thread(runtime.close)

    async def preflight(self, *, probe: bool = True) -> None:
        """Check, before a run, that this backend can work at all; raise at once when it cannot.

        In order: a ``local/...`` model's weights are installed and intact; LiteLLM knows the model's
        provider (``"gpt-4.1-minii"`` is refused: name the provider, ``"openai/..."``); the provider's
        API key is set (``OPENAI_API_KEY`` ... or ``api_key=``) for providers that authenticate with a
        key; the server accepts connections (an explicit ``api_base``; for Ollama ``OLLAMA_API_BASE`` or
        ``http://localhost:11434``; another provider's default address when it is this machine, within
        10 s); and, when ``probe``, one request of a single
        token is answered: a rejected key (401/403) or an unknown model (404) is refused. Transient
        failures of the probe (429, 5xx, timeouts) and odd replies are only logged: the run's retries
        deal with them. The probe is not counted in :attr:`usage`; it is skipped for local models and
        with ``mock_response``. Once passed, later calls return at once.

        The engine calls this before a run starts; call it yourself before long jobs of your own.

        Raises:
            LLMConfigError: The configuration cannot work; the message says what to fix.
            MissingDependencyError: A local model's weights are not installed.
            ModelIntegrityError: A local model's weights are damaged.
        """
        if self._preflight_passed:
            return
        if self.is_local:
            await self._local_runtime()
            self._preflight_passed = True
            return
        litellm = import_litellm()
        if "mock_response" in self.litellm_kwargs:
            self._preflight_passed = True
            return
        api_base, provider, default_base = self._checked_config(litellm)
        base = api_base or _implicit_base(str(provider), default_base)
        if base:
            await self._check_reachable(str(base))
        if probe:
            await self._probe(litellm)
        self._preflight_passed = True

    def check_config(self) -> None:
        """The quick, offline part of :meth:`preflight`: LiteLLM knows the model's provider and the
        provider's API key is set. No connection is made; the engine calls this before any costly
        preparation (embedding the taxonomy), so a missing key is reported at once.

        Raises:
            LLMConfigError: An unknown model or a missing API key.
        """
        if self.is_local or self._preflight_passed or "mock_response" in self.litellm_kwargs:
            return
        self._checked_config(import_litellm())

    def _checked_config(self, litellm: Any) -> tuple[Any, Any, Any]:
        """Check the provider and credentials; return ``(api_base, provider, provider's default base)``."""
        api_base = self.litellm_kwargs.get("api_base") or self.litellm_kwargs.get("base_url")
        try:
            _, provider, _, default_base = litellm.get_llm_provider(model=self.model, api_base=api_base)
        except Exception as exc:  # litellm raises BadRequestError for names it cannot place
            raise LLMConfigError(
                f"{self.model}: unknown model: LiteLLM cannot tell which provider serves it. Check the "
                "spelling, or name the provider: 'openai/<model>' (with api_base= for an OpenAI-compatible "
                "server such as vLLM or llama.cpp), 'ollama/<model>', 'anthropic/<model>' ...",
                model=self.model,
                error_type=type(exc).__name__,
            ) from None
        self._check_credentials(litellm, str(provider), api_base)
        return api_base, provider, default_base

    # -- internals --------------------------------------------------------------------------------------

    def _check_credentials(self, litellm: Any, provider: str, api_base: Any) -> None:
        if self.litellm_kwargs.get("api_key"):
            return
        try:
            env = litellm.validate_environment(model=self.model, api_base=api_base)
        except Exception:  # providers litellm cannot validate
            logger.debug("%s: litellm could not validate the environment", self.model, exc_info=True)
            return
        # an address variable (OLLAMA_API_BASE) is no credential: the address is checked on its own
        missing = [k for k in env.get("missing_keys") or [] if not str(k).endswith(_ADDRESS_VARIABLES)]
        if not missing or env.get("keys_in_environment"):
            return
        message = (
            f"{self.model}: no API key: set {' or '.join(missing)}, or pass api_key= "
            '("none" for a local server that needs none)'
        )
        if provider in _KEY_PROVIDERS:
            raise LLMConfigError(message, model=self.model, error_type="MissingCredentials")
        # providers with other ways to authenticate (cloud roles, ADC, profiles): say it, do not refuse
        logger.warning("%s (if %s authenticates another way, ignore this)", message, provider)

    async def _check_reachable(self, api_base: str) -> None:
        parts = urlsplit(api_base if "://" in api_base else f"http://{api_base}")
        host = parts.hostname
        if not host:
            raise LLMConfigError(f"{self.model}: api_base {api_base!r} names no host", model=self.model)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise LLMConfigError(f"{self.model}: api_base {api_base!r}: {exc}", model=self.model) from None
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=min(self.timeout, _CONNECT_TIMEOUT)
            )
        except (OSError, asyncio.TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise LLMConfigError(
                f"{self.model}: nothing answers at api_base {api_base} ({reason}); start the server, or "
                "fix api_base (host and port)",
                model=self.model,
                error_type=type(exc).__name__,
            ) from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def _probe(self, litellm: Any) -> None:
        params = dict(self.litellm_kwargs)
        params.update(max_retries=0, max_tokens=1)
        try:
            await litellm.acompletion(
                model=self.model,
                messages=[{"role": "user", "content": "Reply with OK."}],
                timeout=min(self.timeout, _PROBE_TIMEOUT),
                **self._supported_only(litellm, params),
            )
        except Exception as exc:
            mapped = _map_error(litellm, exc, self.model)
            if isinstance(mapped, LLMConfigError):
                raise mapped from exc
            logger.info("%s: the pre-flight request failed (%s); the run goes ahead", self.model, mapped)

    def _structured_mode(self, litellm: Any) -> str:
        if self._mode is not None:
            return self._mode
        if self.is_local:
            mode = "json_schema"
        else:
            try:
                if litellm.supports_response_schema(model=self.model):
                    mode = "json_schema"
                elif "response_format" in (litellm.get_supported_openai_params(model=self.model) or []):
                    mode = "json_object"
                else:
                    mode = "prompt"
            except Exception:  # unknown model names make litellm raise
                mode = "prompt"
        logger.debug("%s: structured output mode %s", self.model, mode)
        self._mode = mode
        return mode

    def _supported_only(self, litellm: Any, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` without the optional ones deeppersona adds that the provider does not take.

        ``seed``, ``temperature`` and ``max_tokens`` are left out when LiteLLM's
        ``get_supported_openai_params`` lists the model's parameters and they are not among them (LiteLLM
        refuses ``seed`` for Anthropic, for instance); names in the ``allowed_openai_params`` option are
        always sent. Nothing is left out when LiteLLM does not know the model (an OpenAI-compatible
        server's own name, an embedded model): the server then decides.
        """
        supported = self._supported_params(litellm)
        if supported is None:
            return params
        keep = set(self.litellm_kwargs.get("allowed_openai_params") or ())
        drop = [k for k in _OPTIONAL_PARAMS if k in params and k not in supported and k not in keep]
        if not drop:
            return params
        for name in drop:
            if name not in self._dropped:
                self._dropped.add(name)
                logger.info("%s: the provider does not take %r; it is left out of requests", self.model, name)
        return {k: v for k, v in params.items() if k not in drop}

    def _supported_params(self, litellm: Any) -> frozenset[str] | None:
        """The request parameters LiteLLM maps for this model, or ``None`` when it does not know."""
        if self._supported_known:
            return self._supported
        supported: frozenset[str] | None = None
        if not self.is_local:
            provider = self.litellm_kwargs.get("custom_llm_provider")
            try:
                names = litellm.get_supported_openai_params(model=self.model, custom_llm_provider=provider)
            except Exception:  # litellm raises for models it cannot place
                names = None
            supported = frozenset(names) if names else None
        self._supported, self._supported_known = supported, True
        return supported

    async def _local_runtime(self) -> LocalRuntime:
        if self._runtime is None:
            from ._local import LocalRuntime

            assert self.registry is not None
            self._runtime = LocalRuntime(self.registry, **self._local_options)
        # verify (and assemble) the weights here so integrity errors surface unwrapped
        await asyncio.to_thread(self._runtime.ensure_file, self.model)
        return self._runtime

    async def _send(
        self,
        litellm: Any,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        cache_params: dict[str, Any],
        *,
        field_check: FieldCheck | None = None,
    ) -> RawReply:
        if field_check is not None and self.is_local:  # a reply written under checks is another reply
            cache_params = {**cache_params, "field_check": True}
        key = cache_key(self.model, messages, cache_params) if self.cache is not None else ""
        if self.cache is not None:
            hit = await asyncio.to_thread(self.cache.get, key)
            if hit is not None:
                return RawReply(text=hit[0], cached=True)
        prompt_estimate = sum(estimate_tokens(str(m.get("content", ""))) for m in messages)
        await self._limiter.acquire(prompt_estimate + int(params.get("max_tokens") or 0))
        started = time.perf_counter()
        if self.is_local:  # llama.cpp in a worker thread, straight from this backend (no LiteLLM call)
            runtime = await self._local_runtime()
            result = await asyncio.to_thread(
                runtime.complete, self.model, messages, params, field_check=field_check
            )
            choice = (result.get("choices") or [{}])[0]
            text = str((choice.get("message") or {}).get("content") or "")
            usage: Any = result.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0) or prompt_estimate
            completion_tokens = int(usage.get("completion_tokens") or 0) or estimate_tokens(text)
            cost, finish = 0.0, choice.get("finish_reason") or "stop"
        else:
            try:
                response = await litellm.acompletion(
                    model=self.model,
                    messages=messages,
                    timeout=self.timeout,
                    **self._supported_only(litellm, params),
                )
            except Exception as exc:
                raise _map_error(litellm, exc, self.model) from exc
            text = _reply_text(response)
            usage = getattr(response, "usage", None)
            prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) or prompt_estimate
            completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0) or estimate_tokens(text)
            cost, finish = _cost(litellm, response), _finish_reason(response)
        logger.debug("%s: reply in %.2fs", self.model, time.perf_counter() - started)
        cache = self.cache

        def commit() -> None:
            if cache is not None:
                cache.put(key, self.model, text, prompt_tokens, completion_tokens)

        return RawReply(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            finish_reason=finish,
            commit=commit if cache is not None else None,
        )


_CONNECT_TIMEOUT = 10.0
"""Seconds the pre-flight check waits for a TCP connection to ``api_base``."""

_PROBE_TIMEOUT = 60.0
"""Seconds the pre-flight request may take (at most the backend's ``timeout``)."""

_KEY_PROVIDERS = frozenset(
    {
        "openai", "text-completion-openai", "anthropic", "gemini", "mistral", "codestral", "groq",
        "cohere", "cohere_chat", "together_ai", "deepseek", "fireworks_ai", "openrouter", "xai",
        "perplexity", "deepinfra", "cerebras", "ai21", "ai21_chat", "nvidia_nim", "anyscale",
    }
)  # fmt: skip
"""Providers that authenticate with an API key only: a missing key is refused before a run."""


_ADDRESS_VARIABLES = ("_API_BASE", "_BASE_URL")
"""Endings of the environment variables LiteLLM lists as "missing keys" that only name an address."""


def _implicit_base(provider: str, default_base: Any) -> str | None:
    """The address a model without ``api_base`` is served at, when it is a server the user runs.

    Ollama: ``OLLAMA_API_BASE``, else ``http://localhost:11434`` (as LiteLLM does; for ``ollama_chat/``
    LiteLLM reports no default). Other providers: their default address when it is this machine.
    """
    if provider in ("ollama", "ollama_chat"):
        return os.environ.get("OLLAMA_API_BASE") or (str(default_base) if default_base else _OLLAMA_BASE)
    return str(default_base) if _is_loopback_url(default_base) else None


_OLLAMA_BASE = "http://localhost:11434"


def _is_loopback_url(url: Any) -> bool:
    """Whether ``url`` points at this machine (a local server's default address, as for Ollama)."""
    if not isinstance(url, str) or not url:
        return False
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


_OPTIONAL_PARAMS = ("seed", "temperature", "max_tokens")
"""Parameters deeppersona adds to requests on its own; left out where the provider does not take them."""

_NOT_CACHE_KEYS = ("api_key", "deeppersona_runtime", "max_retries")
"""Request parameters that do not change the reply (left out of cache keys)."""

_MAX_TOKENS_CAP = 8192
"""The most completion tokens a re-ask after a truncated reply asks for."""

LOCAL_MAX_TOKENS = 2048
"""Completion token limit of embedded-model calls when none is given (a k=30 fill reply takes about 600, a core
chain with three stories about 800); a reply cut off by it is re-asked with twice the room."""


def _finish_reason(response: Any) -> str | None:
    """The first choice's finish reason (``"stop"``, ``"length"`` ...), when the response says."""
    try:
        reason = response.choices[0].finish_reason
    except (AttributeError, IndexError, TypeError):
        return None
    return str(reason) if reason else None


async def _flush_litellm_logging() -> None:
    """Let litellm's background logging finish before a short-lived event loop (``complete()``) ends."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    except ImportError:  # pragma: no cover - older litellm has no logging worker
        return
    try:
        await asyncio.wait_for(GLOBAL_LOGGING_WORKER.flush(), timeout=5.0)
    except Exception:  # logging must never break a call
        logger.debug("could not flush litellm's logging worker", exc_info=True)


def _make_cache(cache: bool | str | Path | ResponseCache | None) -> ResponseCache | None:
    if cache is None or cache is False:
        return None
    if isinstance(cache, ResponseCache):
        return cache
    if cache is True:
        from ._registry import default_cache_dir

        return ResponseCache(default_cache_dir().parent / "responses")
    if isinstance(cache, (str, Path)):
        return ResponseCache(cache)
    raise ConfigError(f"cache must be None, True, a path or a ResponseCache, got {cache!r}")


def _reply_text(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


def _cost(litellm: Any, response: Any) -> float:
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # litellm raises when a model has no known price
        return 0.0


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_MISSING_KEY = ("missing credentials", "api_key client option must be set", "no api key provided")
"""Phrases of the errors SDKs raise, before any request, when no API key is configured."""


def _map_error(litellm: Any, exc: Exception, model: str) -> Exception:
    """Classify an exception from ``litellm.acompletion``: transient, or a clear request error.

    Configuration failures (no key, a rejected key, an unknown model) become
    :class:`~deeppersona.errors.LLMConfigError`, never a transient failure: retrying cannot fix them.
    The OpenAI SDK reports a missing key as a ``500``; it is recognised by its message.
    """
    if isinstance(exc, (LLMRequestError, TransientFailure)):
        return exc
    text = str(exc).lower()
    if any(phrase in text for phrase in _MISSING_KEY):
        return LLMConfigError(
            f"{model}: no API key: {_key_hint(litellm, model)}; ({exc})",
            model=model,
            error_type=type(exc).__name__,
        )
    config: list[tuple[Any, str]] = [
        (
            getattr(litellm, "AuthenticationError", None),
            "authentication failed (401): the key was rejected; check the API key (e.g. OPENAI_API_KEY) "
            "or pass api_key=",
        ),
        (
            getattr(litellm, "PermissionDeniedError", None),
            "permission denied (403) for this model or key; check the key's access to the model",
        ),
        (
            getattr(litellm, "NotFoundError", None),
            "the model or endpoint was not found; check the model name and api_base",
        ),
    ]
    for cls, hint in config:
        if cls is not None and isinstance(exc, cls):
            return LLMConfigError(f"{model}: {hint}: {exc}", model=model, error_type=type(exc).__name__)
    fatal: list[tuple[Any, str]] = [
        (
            getattr(litellm, "ContextWindowExceededError", None),
            "the prompt exceeds the model's context window; "
            "shorten it (fewer attributes per batch) or use a model with a longer context",
        ),
        (getattr(litellm, "ContentPolicyViolationError", None), "the provider refused the content"),
        (getattr(litellm, "BadRequestError", None), "the provider rejected the request"),
        (getattr(litellm, "UnsupportedParamsError", None), "a parameter is not supported by this model"),
    ]
    for cls, hint in fatal:
        if cls is not None and isinstance(exc, cls):
            return LLMRequestError(f"{model}: {hint}: {exc}", model=model, error_type=type(exc).__name__)
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return LLMConfigError(
            f"{model}: authentication failed ({status}); check the API key or pass api_key=: {exc}",
            model=model,
            error_type=type(exc).__name__,
        )
    transient_names = (
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "BadGatewayError",
    )
    transient = tuple(getattr(litellm, n) for n in transient_names if getattr(litellm, n, None) is not None)
    if isinstance(exc, (*transient, asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return TransientFailure(f"{type(exc).__name__}: {exc}", retry_after=_retry_after(exc))
    if isinstance(status, int) and (status >= 500 or status in (408, 409, 429)):
        return TransientFailure(f"{type(exc).__name__} ({status}): {exc}", retry_after=_retry_after(exc))
    return LLMRequestError(
        f"{model}: request failed: {type(exc).__name__}: {exc}", model=model, error_type=type(exc).__name__
    )


def _key_hint(litellm: Any, model: str) -> str:
    """``set OPENAI_API_KEY or pass api_key=`` with the variables LiteLLM expects for ``model``."""
    try:
        missing = list(litellm.validate_environment(model=model).get("missing_keys") or [])
    except Exception:  # unknown providers make litellm raise
        missing = []
    where = f"set {' or '.join(missing)}" if missing else "set the provider's API key variable"
    return f'{where}, or pass api_key= ("none" for a local server that needs none)'
