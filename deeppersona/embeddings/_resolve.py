"""Turn an embedder argument (an instance, a function, a name or nothing) into an :class:`Embedder`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._base import Embedder
from ._callable import CallableEmbedder, LiteLLMEmbedder
from ._st import _ALIASES, SentenceTransformerEmbedder

__all__ = ["resolve_embedder"]


def resolve_embedder(embedder: Embedder | Callable[[list[str]], Any] | str | Path | None = None) -> Embedder:
    """Return an :class:`Embedder` for ``embedder``.

    Args:
        embedder: An :class:`Embedder` (returned as is); any callable ``f(list[str]) -> array``;
            ``None`` or ``"all-MiniLM-L6-v2"`` for the offline default; a local sentence-transformers
            directory; ``"hash"`` / ``"hash-<dim>"`` for the deterministic test embedder; otherwise a
            LiteLLM embedding model string (``"text-embedding-3-small"``, ``"ollama/nomic-embed-text"``).

    Raises:
        ConfigError: ``embedder`` has an unsupported type, or is an empty name.
    """
    if isinstance(embedder, Embedder):
        return embedder
    if embedder is None:
        return SentenceTransformerEmbedder()
    if isinstance(embedder, Path):
        return SentenceTransformerEmbedder(embedder)
    if isinstance(embedder, str):
        name = embedder.strip()
        if not name:  # before the directory test: Path("") is the current directory
            raise ConfigError("embedder name must not be empty; give a model name, a directory or 'hash'")
        lowered = name.lower()
        if lowered in _ALIASES:
            return SentenceTransformerEmbedder()
        if lowered == "hash" or (lowered.startswith("hash-") and lowered[5:].isdigit()):
            from ..testing import HashEmbedder

            return HashEmbedder(int(lowered[5:]) if lowered != "hash" else 64)
        if Path(name).expanduser().is_dir():
            return SentenceTransformerEmbedder(name)
        return LiteLLMEmbedder(name)
    if callable(embedder):
        return CallableEmbedder(embedder)
    raise ConfigError(
        f"embedder must be an Embedder, a callable, a model name or None, got {type(embedder).__name__}"
    )
