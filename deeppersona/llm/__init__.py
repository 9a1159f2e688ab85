"""Language-model backends: one async-first interface, validated structured outputs, usage accounting.

* :class:`LLM` — the interface every component talks to; :func:`resolve_llm` builds one from a name.
* :class:`LiteLLMBackend` — any model LiteLLM speaks to, plus the embedded ``local/...`` models.
* :class:`ModelRegistry` — the embedded GGUF models (packaged weights or your own files).

Importing this package imports neither litellm nor llama.cpp; they load on first use.
"""

from __future__ import annotations

from ._base import LLM, LLMResponse, Message, Usage, UsageTracker
from ._litellm import LiteLLMBackend
from ._registry import ModelRegistry, ModelSpec, default_registry
from ._resolve import DEFAULT_LOCAL_MODEL, preflight, resolve_llm
from ._structured import RetryPolicy

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "LLM",
    "LLMResponse",
    "LiteLLMBackend",
    "Message",
    "ModelRegistry",
    "ModelSpec",
    "RetryPolicy",
    "Usage",
    "UsageTracker",
    "default_registry",
    "preflight",
    "resolve_llm",
]
