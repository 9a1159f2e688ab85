"""Offline fakes for testing code that uses deeppersona (yours and ours).

* :class:`FakeLLM`: an :class:`~deeppersona.llm.LLM` with scripted, computed or schema-generated
  replies and on-demand failures (invalid JSON, missing keys, rate limits, timeouts).
* :func:`fake_builder_llm`: a FakeLLM that also answers the taxonomy builder's prompts plausibly (what
  ``model="fake"`` resolves to everywhere); :func:`checked_items` reads the items of the builder's
  Check Node / Check Path requests, for a handler that judges them.
* :class:`HashEmbedder`: a deterministic :class:`~deeppersona.embeddings.Embedder` with no model to load.
* :class:`FakeChatServer`: an OpenAI-compatible chat endpoint on 127.0.0.1 that answers from a script
  (statuses, texts, finish reasons) or makes up JSON valid for the request's schema: for testing a
  backend, or a served set-up, offline.
* :class:`ChaosProxy` and :class:`LlamaCppServer`: fault injection (429, 5xx, timeouts, dropped
  connections, malformed and truncated replies) in front of a real OpenAI-compatible server on a
  loopback port, reached through LiteLLM as a user reaches vLLM.
"""

from __future__ import annotations

from ._builder_replies import checked_items, fake_builder_llm
from ._chaos import ChaosProxy, ChaosRates, ChaosStats, LlamaCppServer
from ._chat_server import FakeChatServer
from ._fake_llm import FakeLLM, FakeRequest
from ._hash_embedder import HashEmbedder
from ._schema_faker import fake_from_schema

__all__ = [
    "ChaosProxy",
    "ChaosRates",
    "ChaosStats",
    "FakeChatServer",
    "FakeLLM",
    "FakeRequest",
    "HashEmbedder",
    "LlamaCppServer",
    "checked_items",
    "fake_builder_llm",
    "fake_from_schema",
]
