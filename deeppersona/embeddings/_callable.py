"""Embedders over a plain function, and over LiteLLM's embedding API."""

from __future__ import annotations

import hashlib
import json
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, LLMRequestError
from ._base import Embedder, normalize_rows

__all__ = ["CallableEmbedder", "LiteLLMEmbedder"]


def _hash_code(code: types.CodeType, digest: Any) -> None:
    """Feed ``code``'s bytecode, names and constants (nested functions included) into ``digest``."""
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode("utf-8"))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _hash_code(const, digest)
        elif isinstance(const, frozenset):  # set order follows the salted string hash: sort it
            digest.update(repr(sorted(map(repr, const))).encode("utf-8"))
        else:
            digest.update(repr(const).encode("utf-8"))


_SCALAR = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` if it is immutable plain data (a scalar, or a tuple of them), else its type name.

    Type names carry no addresses, so identities stay stable across processes; mutable values (a list
    the function appends to) are left out so that the identity does not change as the function runs.
    """
    if isinstance(value, _SCALAR) or (
        isinstance(value, tuple) and all(isinstance(v, _SCALAR) for v in value)
    ):
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            return repr(value)
        return value
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def callable_identity(fn: Callable[..., Any]) -> dict[str, Any]:
    """What identifies an embedding function across processes: its qualified name, a digest of its code
    and the plain values it closes over (for a callable object: its class and plain attributes)."""
    target = getattr(fn, "__func__", fn)  # a bound method: its function
    code = getattr(target, "__code__", None)
    identity: dict[str, Any] = {
        "function": f"{getattr(target, '__module__', None)}.{getattr(target, '__qualname__', type(fn).__qualname__)}"
    }
    if isinstance(code, types.CodeType):
        digest = hashlib.sha256()
        _hash_code(code, digest)
        identity["code"] = digest.hexdigest()[:24]
        cells = getattr(target, "__closure__", None) or ()
        identity["closure"] = [_plain(cell.cell_contents) for cell in cells if _has_contents(cell)]
        identity["defaults"] = [_plain(v) for v in getattr(target, "__defaults__", None) or ()]
    else:
        identity["class"] = f"{type(fn).__module__}.{type(fn).__qualname__}"
        identity["settings"] = {
            k: _plain(v) for k, v in sorted(getattr(fn, "__dict__", {}).items()) if not k.startswith("_")
        }
    return identity


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


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

    def cache_config(self) -> dict[str, Any]:
        """The function's identity for :class:`~deeppersona.embeddings.EmbeddingCache` keys.

        Its qualified name, a digest of its code and the plain values it closes over; the cache also
        fingerprints the function's output on a probe text, so two functions named ``<lambda>`` never
        share cached vectors.
        """
        return {"name": self.name, **callable_identity(self.fn)}

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

    def cache_config(self) -> dict[str, Any]:
        """The model and the request settings that change the vectors (``dimensions``, ``api_base`` ...);
        credentials are left out of cache keys."""
        settings = {
            k: v if isinstance(v, (dict, list)) and _jsonable(v) else _plain(v)
            for k, v in sorted(self.litellm_kwargs.items())
            if not any(s in k.lower() for s in ("key", "token", "secret", "password", "header"))
        }
        return {"model": self.model, "settings": settings}

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
