"""The embedding interface."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

__all__ = ["Embedder", "normalize_rows"]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as C-contiguous float32 with each row scaled to unit L2 norm (zero rows stay zero)."""
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class Embedder(abc.ABC):
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: A stable model name, used in cache keys.
        cheap: Whether encoding is cheap pure-Python work (then the engine embeds in the event loop's
            thread rather than handing off to a worker thread, which would cost more than it saves).
    """

    name: str = "unknown"
    cheap: bool = False

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``.

        Args:
            texts: The texts to embed.

        Returns:
            A ``(len(texts), dim)`` float32 array whose rows have unit L2 norm.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
