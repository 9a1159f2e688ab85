"""Embeddings cached on disk as ``.npy`` files, keyed by (your key, embedder name, texts)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._base import Embedder

__all__ = ["EmbeddingCache", "default_embedding_cache_dir"]

logger = logging.getLogger(__name__)


def default_embedding_cache_dir() -> Path:
    """``$DEEPPERSONA_CACHE_DIR/embeddings``, else the user cache directory's ``embeddings`` folder."""
    env = os.environ.get("DEEPPERSONA_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "embeddings"
    import platformdirs

    return Path(platformdirs.user_cache_dir("deeppersona", appauthor=False)) / "embeddings"


class EmbeddingCache:
    """Computes embeddings once and reuses them across runs and processes.

    Typical key: a taxonomy fingerprint, so node embeddings are computed once per (taxonomy, model).

    Args:
        directory: Where ``.npy`` files go (:func:`default_embedding_cache_dir` when ``None``).

    Example:
        >>> from deeppersona.testing import HashEmbedder
        >>> import tempfile
        >>> cache = EmbeddingCache(tempfile.mkdtemp())
        >>> cache.get_or_compute("tree-v1", ["Health", "Sleep"], HashEmbedder()).shape
        (2, 64)
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = (
            Path(directory).expanduser() if directory is not None else default_embedding_cache_dir()
        )

    def path_for(self, key: str, texts: Sequence[str], embedder: Embedder) -> Path:
        """The file that holds the embeddings of ``texts`` by ``embedder`` under ``key``."""
        digest = hashlib.sha256()
        for part in (key, embedder.name, *texts):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{key}-{embedder.name}")[:80]
        return self.directory / f"{safe}-{digest.hexdigest()[:24]}.npy"

    def get_or_compute(self, key: str, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
        """Load the cached embeddings of ``texts``, or compute, store and return them.

        Args:
            key: What the texts belong to (e.g. a taxonomy fingerprint).
            texts: The texts, in order.
            embedder: The embedder; its ``name`` is part of the key.

        Returns:
            ``(len(texts), dim)`` float32 rows.
        """
        from filelock import FileLock

        path = self.path_for(key, list(texts), embedder)
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                logger.warning("unreadable embedding cache file %s; recomputing", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            if path.is_file():
                try:
                    return np.load(path, allow_pickle=False)
                except (OSError, ValueError):
                    pass
            vectors = np.ascontiguousarray(embedder.encode(list(texts)), dtype=np.float32)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.save(fh, vectors, allow_pickle=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return vectors

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"
