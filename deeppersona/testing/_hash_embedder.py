"""A deterministic, dependency-free embedder for tests and examples."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ..embeddings._base import Embedder, normalize_rows
from ..errors import ConfigError

__all__ = ["HashEmbedder", "canonical_words"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def canonical_words(text: str) -> list[str]:
    """Lower-case words of ``text``: camelCase, snake_case, kebab-case and spacing all split alike.

    Example:
        >>> canonical_words("SleepHabits") == canonical_words(" sleep_habits ") == ["sleep", "habits"]
        True
    """
    return [w for w in _NON_WORD.sub(" ", _CAMEL.sub(" ", text)).lower().split() if w]


class HashEmbedder(Embedder):
    """Embeds texts by hashing their canonical words and character trigrams into ``dim`` signed buckets.

    Texts with the same canonical words get identical vectors ("Sleep Habits", "sleep_habits"); texts
    sharing words or word pieces ("habit", "habits") get similar ones. Deterministic across runs,
    processes and platforms (BLAKE2 hashing, never Python's salted ``hash``).

    Args:
        dim: Vector dimension.
        ngram_weight: Weight of the character trigrams relative to whole words.

    Example:
        >>> emb = HashEmbedder()
        >>> v = emb.encode(["Sleep Habits", "sleep_habits", "Favourite Food"])
        >>> float(v[0] @ v[1]) > 0.99 > float(v[0] @ v[2])
        True
    """

    def __init__(self, dim: int = 64, ngram_weight: float = 0.5) -> None:
        if dim < 2:
            raise ConfigError(f"dim must be at least 2, got {dim}")
        self.dim = int(dim)
        self.ngram_weight = float(ngram_weight)
        self.name = f"hash-{self.dim}"
        self.cheap = True  # pure Python: no worker thread for it

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as ``(len(texts), dim)`` float32 rows of unit L2 norm."""
        if isinstance(texts, str):
            raise ConfigError("encode() takes a sequence of texts, not a single string; wrap it in a list")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = canonical_words(str(text))
            if not words:
                idx, sign = self._bucket("\x00empty")
                out[row, idx] = sign
                continue
            for word in words:
                idx, sign = self._bucket("w:" + word)
                out[row, idx] += sign
                padded = f"<{word}>"
                grams = [padded[i : i + 3] for i in range(max(1, len(padded) - 2))]
                share = self.ngram_weight / len(grams)
                for gram in grams:
                    idx, sign = self._bucket("g:" + gram)
                    out[row, idx] += sign * share
        return normalize_rows(out)

    def __repr__(self) -> str:
        return f"HashEmbedder(dim={self.dim})"
