"""Embeddings cached on disk as ``.npy`` files, keyed by (your key, embedder identity, texts).

The embedder's identity is its configuration plus a fingerprint of its output on a fixed probe text
(:func:`embedder_fingerprint`), never its name alone: two different functions both named ``<lambda>``,
or one embedder class with two settings, get separate cache entries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._base import Embedder

__all__ = [
    "PROBE_TEXT",
    "EmbeddingCache",
    "default_embedding_cache_dir",
    "embedder_config",
    "embedder_fingerprint",
]

logger = logging.getLogger(__name__)

PROBE_TEXT = "Embedding cache probe: sleeps badly, bakes bread at dawn and lives in Nairobi, Kenya."
"""The fixed text whose embedding fingerprints an embedder's output (part of every cache key)."""

# Attributes that never change the vectors (batching), or must not reach a cache key even hashed (secrets).
_NOT_IDENTITY = frozenset({"batch_size", "device"})
_SECRET = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)
_PROBE_DECIMALS = 2  # coarse enough that float noise across devices and runs rarely changes the fingerprint

_memo_lock = threading.Lock()
_memo: weakref.WeakKeyDictionary[Embedder, tuple[str, str]] = weakref.WeakKeyDictionary()


def _jsonable(value: Any) -> Any | None:
    """``value`` as plain JSON data, or ``None`` when it is not (objects, functions, arrays)."""
    try:
        json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def _public_settings(obj: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The public, JSON-serialisable attributes of ``obj`` (secrets and ``skip`` left out)."""
    out: dict[str, Any] = {}
    for attr, value in sorted(getattr(obj, "__dict__", {}).items()):
        if attr.startswith("_") or attr in skip or _SECRET.search(attr):
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not (isinstance(k, str) and _SECRET.search(k))}
        plain = _jsonable(value)
        if plain is not None:
            out[attr] = plain
    return out


def embedder_config(embedder: Embedder) -> dict[str, Any]:
    """What configures ``embedder``, as plain JSON data: its class, its name and its settings.

    An embedder may define ``cache_config() -> dict`` to say this itself; otherwise its public,
    JSON-serialisable attributes are used (``batch_size``, ``device`` and anything that looks like a
    secret, such as ``api_key``, are left out).
    """
    cls = type(embedder)
    config: dict[str, Any] = {"class": f"{cls.__module__}.{cls.__qualname__}", "name": str(embedder.name)}
    own = getattr(embedder, "cache_config", None)
    if callable(own):
        config["settings"] = _jsonable(own())
    else:
        config["settings"] = _public_settings(embedder, _NOT_IDENTITY)
    return config


def embedder_fingerprint(embedder: Embedder) -> str:
    """A digest of ``embedder``'s configuration and of its output on :data:`PROBE_TEXT`.

    The probe is embedded once per embedder object (and again only if its configuration changes), so the
    first cache lookup of a process costs one extra one-text encode. The probe vector is rounded to
    two decimals before hashing, so float noise rarely matters; when it does, the cost is one recompute.
    """
    config = json.dumps(embedder_config(embedder), sort_keys=True, ensure_ascii=False)
    try:
        with _memo_lock:
            memo = _memo.get(embedder)
        if memo is not None and memo[0] == config:
            return memo[1]
    except TypeError:  # an unhashable or not weak-referenceable embedder: no memo
        memo = None
    probe = np.asarray(embedder.encode([PROBE_TEXT]), dtype=np.float64)
    rounded = np.rint(probe * 10**_PROBE_DECIMALS).astype(np.int64) + 0  # + 0: no negative zero
    digest = hashlib.sha256(config.encode("utf-8"))
    digest.update(repr(probe.shape).encode("ascii"))
    digest.update(rounded.tobytes())
    fingerprint = digest.hexdigest()[:32]
    try:
        with _memo_lock:
            _memo[embedder] = (config, fingerprint)
    except TypeError:
        pass
    return fingerprint


def default_embedding_cache_dir() -> Path:
    """``$DEEPPERSONA_CACHE_DIR/embeddings``, else the user cache directory's ``embeddings`` folder."""
    from .._paths import cache_dir

    return cache_dir("embeddings")


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
        """The file that holds the embeddings of ``texts`` by ``embedder`` under ``key``.

        The file name hashes ``key``, the embedder's :func:`embedder_fingerprint` (its configuration and
        its output on a probe text) and the texts; the readable prefix holds the key and embedder name.
        """
        digest = hashlib.sha256()
        for part in (key, embedder_fingerprint(embedder), *texts):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{key}-{embedder.name}")[:80]
        return self.directory / f"{safe}-{digest.hexdigest()[:24]}.npy"

    def get_or_compute(self, key: str, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
        """Load the cached embeddings of ``texts``, or compute, store and return them.

        Args:
            key: What the texts belong to (e.g. a taxonomy fingerprint).
            texts: The texts, in order.
            embedder: The embedder; its configuration and its output on a probe text are part of the
                key (see :func:`embedder_fingerprint`), so embedders that share a name never share
                vectors.

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
