"""Embedded GGUF models through llama.cpp.

``LiteLLMBackend("local/smollm2-135m")`` sends each request straight to its own :class:`LocalRuntime`
(no LiteLLM call, nothing registered with LiteLLM), which runs llama.cpp in a worker thread, one call
at a time per model (llama.cpp contexts are not thread-safe), so the event loop stays free.
Consecutive prompts that share a prefix reuse llama.cpp's KV cache for that prefix.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from .._cpu import cpu_flags
from ..errors import ConfigError, MissingDependencyError
from ._base import FieldCheck
from ._fields import generate_planned, reply_plan
from ._grammar import top_k_grammar_llama
from ._registry import ModelRegistry, ModelSpec

__all__ = ["PROVIDER", "LocalRuntime", "to_llama_response_format"]

logger = logging.getLogger(__name__)

PROVIDER = "local"
"""The model-name prefix of the embedded models (``local/<name>``)."""

TEXT_REPEAT_PENALTY = 1.1
"""llama.cpp's repetition penalty (over the last 64 tokens) for replies in prose; JSON replies keep 1.0 (a
penalty there would push keys and punctuation away)."""

_PASSTHROUGH = (
    "temperature",
    "max_tokens",
    "top_p",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
)


def to_llama_response_format(response_format: Any) -> dict[str, Any] | None:
    """Translate an OpenAI/LiteLLM ``response_format`` into llama.cpp's grammar-constrained form.

    ``{"type": "json_schema", "json_schema": {"schema": S}}`` becomes ``{"type": "json_object", "schema": S}``;
    ``{"type": "json_object"}`` stays; a pydantic model class becomes its schema; anything else is dropped.
    """
    if response_format is None:
        return None
    if isinstance(response_format, type):
        schema_fn = getattr(response_format, "model_json_schema", None)
        return {"type": "json_object", "schema": schema_fn()} if schema_fn else None
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema:
            _check_grammar(json.dumps(schema, sort_keys=True))
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if kind == "json_object":
        out = {"type": "json_object"}
        if "schema" in response_format:
            out["schema"] = response_format["schema"]
        return out
    return None


@functools.lru_cache(maxsize=256)
def _check_grammar(schema: str) -> bool:
    """Whether llama.cpp can turn ``schema`` into a grammar; warns once per schema when it cannot.

    llama-cpp-python falls back to plain JSON without a word when the conversion fails (an unsupported
    regex such as ``(?:...)`` in a ``pattern``): enums and lengths would then go unenforced unnoticed.
    """
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError:  # pragma: no cover - checked when the model loads
        return True
    try:
        json_schema_to_gbnf(schema)
    except Exception as exc:  # any failure means the same fallback
        logger.warning(
            "llama.cpp cannot turn this JSON schema into a grammar (%s: %s); the reply is constrained to "
            "plain JSON and checked against the schema afterwards",
            type(exc).__name__,
            str(exc)[:200],
        )
        return False
    return True


class _Loaded:
    def __init__(self, llama: Any, spec: ModelSpec) -> None:
        self.llama = llama
        self.spec = spec
        self.lock = threading.Lock()
        self.formatter = _gguf_formatter(llama)
        """The GGUF chat template as llama-cpp-python applies it, for replies generated field by field
        (``None`` for a model on another chat format: those replies go through llama.cpp whole)."""

    def prompt_tokens(self, messages: list[dict[str, Any]]) -> list[int]:
        """The chat prompt's tokens exactly as ``create_chat_completion`` makes them (so the KV cache of
        either kind of call serves the other)."""
        result = self.formatter(messages=messages)
        return list(
            self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        )


def _gguf_formatter(llama: Any) -> Any:
    if getattr(llama, "chat_format", None) != "chat_template.default" or getattr(llama, "chat_handler", None):
        return None
    template = (getattr(llama, "metadata", None) or {}).get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    model = llama._model
    eos, bos = llama.token_eos(), llama.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(eos) if eos != -1 else "",
        bos_token=model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


class LocalRuntime:
    """Loaded llama.cpp models of one backend: loading, serialised calls, explicit close.

    Args:
        registry: Where model names resolve to verified GGUF files.
        n_ctx: Context window (the model spec's when ``None``).
        n_threads: CPU threads (``os.cpu_count()`` when ``None``).
        verbose: Let llama.cpp log to stderr.
        use_extra_bufts: Let llama.cpp use extra CPU buffer types (AMX, weight repacking). ``None``
            decides automatically: off on CPUs that advertise AMX, whose AMX kernels crash in some
            virtual machines; the environment variable ``DEEPPERSONA_LLAMA_EXTRA_BUFTS=1``/``0`` overrides.
        field_by_field: Generate JSON replies to a flat object schema field by field, the keys and
            punctuation written as prompt (:mod:`deeppersona.llm._fields`); ``"records"`` also lists of flat
            records (the builder's extraction: 1.6x faster on the embedded model, and less accurate, see
            the builder docs); ``False`` leaves every reply to llama.cpp's whole-object grammar.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        verbose: bool = False,
        use_extra_bufts: bool | None = None,
        field_by_field: bool | Literal["records"] = True,
    ) -> None:
        self.registry = registry
        self.field_by_field = field_by_field
        self.use_extra_bufts = _auto_extra_bufts() if use_extra_bufts is None else use_extra_bufts
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.verbose = verbose
        self._models: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._closed = False

    def ensure_file(self, model: str) -> Path:
        """Verify (assembling first, if needed) the weights of ``model``; return the file."""
        return self.registry.path(model)

    def load(self, model: str) -> _Loaded:
        """Load ``model`` (once) and return it."""
        name = self.registry.get(model).name
        with self._lock:
            if self._closed:
                raise ConfigError("this local model runtime was closed; create a new backend")
            loaded = self._models.get(name)
            if loaded is not None:
                return loaded
            spec = self.registry.get(name)
            path = self.registry.path(name)
            # Busy-waiting OpenMP workers collapse throughput (10x and worse) when the cores are shared
            # with other work (torch embeddings, other processes); passive waiting costs little alone.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingDependencyError(
                    "embedded models need llama-cpp-python: pip install 'deeppersona[local]'"
                ) from exc
            started = time.perf_counter()
            with _model_params(use_extra_bufts=self.use_extra_bufts):
                # the grammar checks the top-k tokens, not the whole vocabulary (deeppersona.llm._grammar)
                llama = top_k_grammar_llama(Llama)(
                    model_path=str(path),
                    n_ctx=self.n_ctx or spec.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    chat_format=spec.chat_format,
                    verbose=self.verbose,
                )
            logger.info("loaded %s in %.1fs", name, time.perf_counter() - started)
            loaded = self._models[name] = _Loaded(llama, spec)
            return loaded

    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        field_check: FieldCheck | None = None,
    ) -> dict[str, Any]:
        """Run one chat completion (blocking; call it from a worker thread).

        ``field_check``: see :meth:`~deeppersona.llm.LLM.acomplete`; used where the reply is written field
        by field.

        Returns:
            llama.cpp's OpenAI-shaped completion dict.
        """
        loaded = self.load(model)
        kwargs: dict[str, Any] = {k: params[k] for k in _PASSTHROUGH if params.get(k) is not None}
        kwargs.setdefault("temperature", 0.7)
        fmt = to_llama_response_format(params.get("response_format"))
        if fmt is not None:
            kwargs["response_format"] = fmt
        else:
            # prose: a small model otherwise goes round in a loop until the token limit (the 1.5B model
            # twice in a row on one k=220 narrative: 640 tokens each, two and a half minutes on 2 cores)
            kwargs["repeat_penalty"] = TEXT_REPEAT_PENALTY
        ignored = sorted(set(params) - set(_PASSTHROUGH) - {"response_format"})
        if ignored:
            logger.debug("local/%s ignores parameters %s", loaded.spec.name, ignored)
        clean = [{"role": m.get("role", "user"), "content": m.get("content") or ""} for m in messages]
        schema = fmt.get("schema") if fmt is not None and self.field_by_field and loaded.formatter else None
        plan = reply_plan(schema, records=self.field_by_field == "records")
        with loaded.lock:
            try:
                if plan is not None:  # the keys written as prompt, only the values generated (._fields)
                    return generate_planned(
                        loaded.llama,
                        loaded.prompt_tokens(clean),
                        plan,
                        max_tokens=kwargs.get("max_tokens"),
                        seed=kwargs.get("seed"),
                        sampling=_sampling(kwargs),
                        field_check=field_check,
                    )
                result: dict[str, Any] = loaded.llama.create_chat_completion(messages=clean, **kwargs)
            except ValueError as exc:
                if "context window" not in str(exc):
                    raise
                raise _context_window_error(loaded, str(exc)) from exc
        return result

    def close(self) -> None:
        """Free every loaded model. Idempotent."""
        with self._lock:
            models, self._models = self._models, {}
            self._closed = True
        for loaded in models.values():
            with loaded.lock:
                close = getattr(loaded.llama, "close", None)
                if close is not None:
                    close()

    def __repr__(self) -> str:
        return f"LocalRuntime(loaded={sorted(self._models)})"


def _sampling(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``Llama.generate`` arguments for the chat-completion arguments ``kwargs`` (llama-cpp-python's own
    chat-completion defaults for the rest)."""
    return {
        "temp": kwargs.get("temperature", 0.7),
        "top_p": kwargs.get("top_p", 0.95),
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.0,
        "presence_penalty": kwargs.get("presence_penalty", 0.0),
        "frequency_penalty": kwargs.get("frequency_penalty", 0.0),
    }


def _context_window_error(loaded: _Loaded, detail: str) -> Exception:
    """A request error (not retried) for a prompt longer than the loaded context."""
    from ..errors import LLMRequestError

    n_ctx = loaded.llama.n_ctx()
    return LLMRequestError(
        f"local/{loaded.spec.name}: the prompt exceeds the model's context window: {detail}. The model was "
        f"loaded with n_ctx={n_ctx}; pass a larger n_ctx (e.g. LiteLLMBackend('local/{loaded.spec.name}', "
        f"n_ctx={2 * n_ctx})) or send shorter prompts",
        model=f"local/{loaded.spec.name}",
        error_type="ContextWindowExceededError",
    )


_PARAMS_LOCK = threading.Lock()  # guards the brief swap of llama_cpp's default-params factory


def _auto_extra_bufts() -> bool:
    env = os.environ.get("DEEPPERSONA_LLAMA_EXTRA_BUFTS")
    if env is not None:
        return env.strip().lower() in ("1", "true", "yes", "on")
    flags = cpu_flags()
    return flags is None or "amx_tile" not in flags


@contextlib.contextmanager
def _model_params(*, use_extra_bufts: bool) -> Iterator[None]:
    """Load models with ``use_extra_bufts`` set (``Llama`` has no argument for it)."""
    if use_extra_bufts:
        yield
        return
    import llama_cpp.llama_cpp as capi

    with _PARAMS_LOCK:
        original = capi.llama_model_default_params

        def patched() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        capi.llama_model_default_params = patched
        try:
            yield
        finally:
            capi.llama_model_default_params = original
