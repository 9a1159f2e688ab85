"""Language-model backends: one async-first interface, validated structured outputs, usage accounting.

* :class:`LLM` — the interface every component talks to; :func:`resolve_llm` builds one from a name. A
  backend implements one method, :meth:`LLM.send` (a :class:`Request` in, a :class:`RawReply` out, or
  :class:`TransientFailure`); validation, re-asks, retries and usage are the base class's.
* :class:`LiteLLMBackend` — any model LiteLLM speaks to, plus the embedded ``local/...`` models.
* :class:`ModelRegistry` — the embedded GGUF models (packaged weights or your own files).

Importing this package imports neither litellm nor llama.cpp; they load on first use.
"""

from __future__ import annotations

from ._base import LLM, FieldCheck, LLMResponse, Message, Usage, UsageTracker
from ._litellm import LiteLLMBackend
from ._registry import ModelRegistry, ModelSpec, default_registry
from ._resolve import DEFAULT_LOCAL_MODEL, preflight, resolve_llm
from ._structured import RawReply, Request, RetryPolicy, TransientFailure, with_schema_instructions

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "FieldCheck",
    "LLM",
    "LLMResponse",
    "LiteLLMBackend",
    "Message",
    "ModelRegistry",
    "ModelSpec",
    "RawReply",
    "Request",
    "RetryPolicy",
    "TransientFailure",
    "Usage",
    "UsageTracker",
    "default_registry",
    "preflight",
    "resolve_llm",
    "with_schema_instructions",
]
