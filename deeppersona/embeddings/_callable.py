"""Embedders over a plain function, and over LiteLLM's embedding API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, LLMRequestError
from ._base import Embedder, normalize_rows

__all__ = ["CallableEmbedder", "LiteLLMEmbedder"]


class CallableEmbedder(Embedder):
    """Wraps any ``f(list[str]) -> array-like`` as an :class:`Embedder` (rows are L2-normalised for you).

    Args:
        fn: The embedding function.
        name: A stable name for cache keys (defaults to the function's qualified name).
    """

    def __init__(self, fn: Callable[[list[str]], Any], name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` with the function and normalise the rows."""
        if isinstance(texts, str):
            raise ConfigError("encode() takes a sequence of texts, not a single string; wrap it in a list")
        result = np.asarray(self.fn(list(texts)), dtype=np.float32)
        if len(texts) == 0:
            return result.reshape(0, result.shape[-1] if result.ndim == 2 else 0).astype(np.float32)
        if result.ndim != 2 or result.shape[0] != len(texts):
            raise ConfigError(
                f"embedding function {self.name!r} returned shape {result.shape}; expected ({len(texts)}, dim)"
            )
        return normalize_rows(result)


class LiteLLMEmbedder(Embedder):
    """Embeds through ``litellm.embedding`` (OpenAI, Cohere, Voyage, a local Ollama...).

    Args:
        model: A LiteLLM embedding model string, e.g. ``"text-embedding-3-small"``.
        batch_size: Texts per request.
        **litellm_kwargs: Passed to ``litellm.embedding`` (``api_base``, ``api_key``, ``dimensions``...).
    """

    def __init__(self, model: str, *, batch_size: int = 256, **litellm_kwargs: Any) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model must be a LiteLLM embedding model string, got {model!r}")
        self.model = model
        self.name = model
        self.batch_size = int(batch_size)
        self.litellm_kwargs = litellm_kwargs
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches and normalise the rows."""
        from ..llm._litellm import import_litellm

        if isinstance(texts, str):
            raise ConfigError("encode() takes a sequence of texts, not a single string; wrap it in a list")
        litellm = import_litellm()
        rows: list[list[float]] = []
        items = list(texts)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            try:
                response = litellm.embedding(model=self.model, input=batch, **self.litellm_kwargs)
            except Exception as exc:
                raise LLMRequestError(
                    f"{self.model}: embedding request failed: {exc}", model=self.model
                ) from exc
            data = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
            rows.extend(d["embedding"] if isinstance(d, dict) else d.embedding for d in data)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(np.asarray(rows, dtype=np.float32))
