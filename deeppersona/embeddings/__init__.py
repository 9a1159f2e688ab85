"""Text embeddings: one small interface, an offline default, and nearest-neighbour helpers.

* :class:`Embedder` — ``encode(texts) -> float32 (n, dim)``, rows L2-normalised.
* :func:`resolve_embedder` — from an instance, any callable, a model name, or ``None`` (offline MiniLM).
* :class:`VectorIndex`, :func:`top_k`, :func:`similarity` — cosine search (faiss ``IndexFlatIP``).
* :class:`EmbeddingCache` — embeddings computed once per key (e.g. taxonomy fingerprint) and model.

Importing this package imports neither torch, sentence-transformers, faiss nor litellm.
"""

from __future__ import annotations

from ._base import Embedder, normalize_rows
from ._cache import EmbeddingCache
from ._callable import CallableEmbedder, LiteLLMEmbedder
from ._index import VectorIndex, similarity, top_k
from ._resolve import resolve_embedder
from ._st import DEFAULT_EMBEDDING_MODEL, SentenceTransformerEmbedder

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "CallableEmbedder",
    "Embedder",
    "EmbeddingCache",
    "LiteLLMEmbedder",
    "SentenceTransformerEmbedder",
    "VectorIndex",
    "normalize_rows",
    "resolve_embedder",
    "similarity",
    "top_k",
]
