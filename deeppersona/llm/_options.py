"""Backend options: the names ``resolve_llm``, the engine, the evaluator and the CLI accept.

The same keyword arguments reach :class:`~deeppersona.llm.LiteLLMBackend` from every entry point
(``PersonaEngine.from_taxonomy(..., **llm_options)``, ``Evaluator(..., **llm_options)``,
``resolve_llm(model, **kwargs)``). Their *names* are checked here, before any call, so that a typo
(``max_concurency=4``) is refused at once instead of reaching the provider as an unknown request field.

A name is accepted when it is one of the backend's own options (:data:`BACKEND_OPTIONS`), an embedded
model's option (:data:`LOCAL_OPTIONS`), or a request parameter LiteLLM knows: an argument of
``litellm.acompletion``, one of LiteLLM's own parameters, a parameter the model's provider takes
(``num_ctx`` for Ollama, ``top_k`` for Gemini ...), a common sampling field (``top_k``, ``min_p``,
``repetition_penalty``) or a cloud credential (``aws_*``, ``vertex_*`` ...). Any other field of an
OpenAI-compatible server (vLLM, SGLang, llama.cpp) goes in ``extra_body={...}``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

__all__ = ["BACKEND_OPTIONS", "LOCAL_OPTIONS", "check_backend_options"]

logger = logging.getLogger(__name__)

BACKEND_OPTIONS: frozenset[str] = frozenset(
    {
        "max_concurrency", "max_attempts", "max_retries", "requests_per_minute", "tokens_per_minute",
        "cache", "timeout", "temperature", "max_tokens", "structured", "registry", "retry_policy",
    }
)  # fmt: skip
"""The options :class:`~deeppersona.llm.LiteLLMBackend` handles itself (its named keyword arguments)."""

LOCAL_OPTIONS: frozenset[str] = frozenset(
    {"n_ctx", "n_threads", "verbose", "use_extra_bufts", "field_by_field"}
)
"""Options of embedded ``local/...`` models only."""

_RENAMED: dict[str, str] = {
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "max_parallel_requests": "max_concurrency",
    "num_retries": "max_retries",
    "request_timeout": "timeout",
    "caching": "cache",
}
"""LiteLLM (router) names that ``acompletion`` would ignore or apply a second time: the backend's own
option does the job (the CLI's ``--rpm``/``--tpm`` map to ``requests_per_minute``/``tokens_per_minute``)."""

_RESERVED = frozenset({"model", "messages", "stream"})
"""Request fields the backend sets itself."""

_COMMON = frozenset(
    {
        "api_base", "base_url", "api_key", "api_version", "organization", "extra_headers", "extra_body",
        "top_p", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "user", "mock_response",
        "drop_params", "allowed_openai_params", "custom_llm_provider", "reasoning_effort", "thinking",
        "metadata", "seed",
        # sampling and server fields that LiteLLM forwards (in ``extra_body`` to OpenAI-compatible servers
        # such as vLLM, SGLang or llama.cpp; as its own field to Ollama)
        "top_k", "min_p", "repetition_penalty", "keep_alive",
    }
)  # fmt: skip
"""LiteLLM request parameters accepted without importing litellm (the common ones)."""

_CLOUD_PREFIXES = ("aws_", "vertex_", "azure_", "watsonx_", "bedrock_")
"""Credential and location parameters of cloud providers (``aws_region_name``, ``vertex_project`` ...)."""


def check_backend_options(model: str | None, options: Mapping[str, Any]) -> None:
    """Refuse option names that no backend of ``model`` understands, before any call.

    Args:
        model: The model string the options are for (``None``: the embedded default model).
        options: The keyword arguments meant for :class:`~deeppersona.llm.LiteLLMBackend`.

    Raises:
        ConfigError: An option name is unknown, reserved, or LiteLLM's name for one of the backend's own
            options; the message names it and what to use instead.
    """
    for name in options:
        if not isinstance(name, str):
            raise ConfigError(f"backend option names must be strings, got {name!r}")
        if name in _RENAMED:
            raise ConfigError(
                f"backend option {name!r}: use {_RENAMED[name]}= (deeppersona applies it itself; "
                f"LiteLLM's {name!r} would be ignored or applied twice)"
            )
        if name in _RESERVED:
            raise ConfigError(f"backend option {name!r} is set by deeppersona on every request; remove it")
    unknown = [
        name
        for name in options
        if name not in BACKEND_OPTIONS and name not in LOCAL_OPTIONS and name not in _COMMON
        and not name.startswith(_CLOUD_PREFIXES)
    ]  # fmt: skip
    if not unknown:
        return
    known = _litellm_names(model or "")
    unknown = [name for name in unknown if name not in known]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, sorted(BACKEND_OPTIONS | LOCAL_OPTIONS | _COMMON | known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"unknown backend option {name!r}{hint} for model {model!r}. deeppersona's options: "
        f"{', '.join(sorted(BACKEND_OPTIONS))}; LiteLLM request parameters (api_base, api_key, top_p ...) "
        "pass through to the provider; put a field of an OpenAI-compatible server that LiteLLM does not "
        "know in extra_body={...}"
    )


@functools.lru_cache(maxsize=64)
def _litellm_names(model: str) -> frozenset[str]:
    """Request parameter names LiteLLM accepts for ``model`` (generic ones, and its provider's)."""
    from ._litellm import import_litellm

    litellm = import_litellm()
    names: set[str] = set()
    try:
        names |= {
            p
            for p, spec in inspect.signature(litellm.acompletion).parameters.items()
            if spec.kind is not inspect.Parameter.VAR_KEYWORD
        }
    except (TypeError, ValueError):  # pragma: no cover - a wrapped acompletion without a signature
        logger.debug("could not read litellm.acompletion's signature", exc_info=True)
    try:
        from litellm.types.utils import all_litellm_params

        names |= set(all_litellm_params)
    except ImportError:  # pragma: no cover - moved in another litellm version
        logger.debug("litellm.types.utils.all_litellm_params is missing", exc_info=True)
    cloud = getattr(litellm, "common_cloud_provider_auth_params", None)
    if isinstance(cloud, dict):
        names |= set(cloud.get("params") or ())
    if model and not model.startswith("local/"):
        names |= _provider_names(litellm, model)
    return frozenset(names - _RESERVED - set(_RENAMED))


def _provider_names(litellm: Any, model: str) -> set[str]:
    """The OpenAI-style parameters LiteLLM maps for ``model`` and its provider config's own fields."""
    names: set[str] = set()
    try:
        names |= set(litellm.get_supported_openai_params(model=model) or ())
    except Exception:  # litellm raises for models it cannot place
        return names
    try:
        from litellm.types.utils import LlmProviders
        from litellm.utils import ProviderConfigManager

        _, provider, _, _ = litellm.get_llm_provider(model=model)
        config = ProviderConfigManager.get_provider_chat_config(model=model, provider=LlmProviders(provider))
        if config is not None:
            names |= {
                p
                for p, spec in inspect.signature(type(config).__init__).parameters.items()
                if p != "self"
                and spec.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            }
    except Exception:  # a provider without a chat config, or another litellm layout
        logger.debug("%s: could not read the provider's parameters", model, exc_info=True)
    return names
