"""Embedders, nearest-neighbour helpers and the on-disk embedding cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from deeppersona.embeddings import (
    CallableEmbedder,
    Embedder,
    EmbeddingCache,
    LiteLLMEmbedder,
    SentenceTransformerEmbedder,
    VectorIndex,
    normalize_rows,
    resolve_embedder,
    similarity,
    top_k,
)
from deeppersona.embeddings._cache import PROBE_TEXT, embedder_config, embedder_fingerprint
from deeppersona.embeddings._st import packaged_minilm_path
from deeppersona.errors import ConfigError
from deeppersona.llm._cache import ResponseCache
from deeppersona.testing import HashEmbedder


def test_normalize_rows() -> None:
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32 and np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_callable_embedder_normalises_and_checks_shape() -> None:
    emb = CallableEmbedder(lambda texts: [[float(len(t)), 1.0] for t in texts], name="len")
    v = emb.encode(["a", "abcd"])
    assert v.shape == (2, 2) and np.allclose(np.linalg.norm(v, axis=1), 1)
    bad = CallableEmbedder(lambda texts: [[1.0, 2.0]])
    with pytest.raises(ConfigError, match="shape"):
        bad.encode(["a", "b"])


def test_resolve_embedder() -> None:
    h = HashEmbedder()
    assert resolve_embedder(h) is h
    assert isinstance(resolve_embedder(lambda texts: np.ones((len(texts), 3))), CallableEmbedder)
    assert isinstance(resolve_embedder(None), SentenceTransformerEmbedder)
    assert isinstance(resolve_embedder("all-MiniLM-L6-v2"), SentenceTransformerEmbedder)
    assert isinstance(resolve_embedder("hash-32"), HashEmbedder) and resolve_embedder("hash-32").encode(
        ["x"]
    ).shape == (1, 32)
    assert isinstance(resolve_embedder("text-embedding-3-small"), LiteLLMEmbedder)
    with pytest.raises(ConfigError):
        resolve_embedder(3.5)  # type: ignore[arg-type]


def test_unknown_sentence_transformer_needs_opt_in() -> None:
    with pytest.raises(ConfigError, match="allow_download"):
        SentenceTransformerEmbedder("someone/some-model").load()


@pytest.mark.parametrize("use_faiss", [True, False])
def test_vector_index_finds_nearest(use_faiss: bool) -> None:
    emb = HashEmbedder(dim=128)
    corpus = ["Sleep Quality", "Favourite Food", "Commute Mode", "sleep habits"]
    index = VectorIndex(emb.encode(corpus), use_faiss=use_faiss)
    scores, idx = index.search(emb.encode(["sleep_quality", "food favourite"]), k=2)
    assert idx.shape == (2, 2) and idx[0, 0] == 0 and idx[1, 0] == 1
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5) and scores[0, 0] >= scores[0, 1]
    assert index.search(emb.encode(["x"]), k=10)[1].shape == (1, 4)


def test_faiss_and_numpy_agree_and_top_k_similarity() -> None:
    rng = np.random.default_rng(0)
    corpus, queries = rng.normal(size=(50, 16)), rng.normal(size=(5, 16))
    s1, i1 = VectorIndex(corpus).search(queries, 5)
    s2, i2 = VectorIndex(corpus, use_faiss=False).search(queries, 5)
    assert np.array_equal(i1, i2) and np.allclose(s1, s2, atol=1e-5)
    _, i3 = top_k(queries, corpus, 5)
    assert np.array_equal(i1, i3)
    sims = similarity(queries, corpus)
    assert sims.shape == (5, 50) and np.allclose(np.take_along_axis(sims, i1, 1), s1, atol=1e-5)


def test_embedding_cache_computes_once(tmp_path: Path) -> None:
    calls: list[int] = []

    class Counting(Embedder):
        name = "counting"

        def encode(self, texts):  # type: ignore[no-untyped-def]
            if list(texts) != [PROBE_TEXT]:  # the cache fingerprints each embedder's output once
                calls.append(len(texts))
            return HashEmbedder().encode(texts)

    cache = EmbeddingCache(tmp_path)
    a = cache.get_or_compute("tree-abc", ["Health", "Sleep"], Counting())
    b = EmbeddingCache(tmp_path).get_or_compute("tree-abc", ["Health", "Sleep"], Counting())
    assert np.array_equal(a, b) and calls == [2]
    cache.get_or_compute("tree-def", ["Health", "Sleep"], Counting())  # another key
    cache.get_or_compute("tree-abc", ["Health"], Counting())  # other texts
    assert calls == [2, 2, 1]
    assert len(list(tmp_path.glob("*.npy"))) == 3


def test_packaged_minilm_is_found_offline() -> None:
    path = packaged_minilm_path()
    assert (path / "modules.json").is_file() and (path / "model.safetensors").is_file()


@pytest.mark.slow
def test_default_embedder_is_offline_minilm() -> None:
    emb = resolve_embedder(None)
    v = emb.encode(["Sleep quality", "How well someone sleeps", "Favourite programming language"])
    assert emb.name == "all-MiniLM-L6-v2"
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
    assert emb.encode([]).shape == (0, 384)


def test_vector_index_scores_are_every_similarity_in_storage_order() -> None:
    rng = np.random.default_rng(1)
    corpus, queries = rng.normal(size=(40, 16)), rng.normal(size=(3, 16))
    index = VectorIndex(corpus)
    scores = index.scores(queries)
    assert scores.shape == (3, 40) and scores.dtype == np.float32
    assert np.allclose(scores, similarity(queries, corpus), atol=1e-6)
    top, ids = index.search(queries, 40)
    assert np.allclose(np.take_along_axis(scores, ids, 1), top, atol=1e-5)
    with pytest.raises(ConfigError, match="dimension"):
        index.scores(rng.normal(size=(1, 8)))


def test_embedder_precision_is_checked_and_chosen_from_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.embeddings import _st

    with pytest.raises(ConfigError, match="precision"):
        SentenceTransformerEmbedder(precision="float16")  # type: ignore[arg-type]
    auto = SentenceTransformerEmbedder()
    monkeypatch.setattr(_st, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert auto._use_bf16("cpu") and not auto._use_bf16("cuda:0")
    monkeypatch.setattr(_st, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert not auto._use_bf16("cpu")  # emulated bfloat16 would be slower than float32
    monkeypatch.setattr(_st, "cpu_flags", lambda: None)  # /proc/cpuinfo unreadable (macOS, Windows)
    assert not auto._use_bf16("cpu")
    assert SentenceTransformerEmbedder(precision="bfloat16")._use_bf16("cuda:0")
    assert not SentenceTransformerEmbedder(precision="float32")._use_bf16("cpu")


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_one_text_is_embedded_like_a_batch(precision: str) -> None:
    emb = SentenceTransformerEmbedder(precision=precision)  # type: ignore[arg-type]
    texts = [
        "Sleep quality",
        "Age: 25; Gender: male; Lives in: Mexico City, Mexico " * 30,
    ]  # 2nd > 256 pieces
    batch = emb.encode(texts)
    one = np.vstack([emb.encode([t]) for t in texts])
    assert one.dtype == np.float32 and np.allclose(np.linalg.norm(one, axis=1), 1, atol=1e-5)
    # float32: the same vectors; bfloat16: padding in the batch shifts the rounding a little
    assert np.allclose(one, batch, atol=1e-5 if precision == "float32" else 5e-3)


def test_cpu_flags_reads_proc_cpuinfo_or_says_unknown() -> None:
    from deeppersona._cpu import cpu_flags

    flags = cpu_flags()
    assert flags is None or isinstance(flags, frozenset)
    if Path("/proc/cpuinfo").is_file():
        assert flags is not None


def test_embedding_cache_key_is_the_embedders_content_not_its_name(tmp_path: Path) -> None:
    """Two functions both named ``<lambda>``, or one embedder class with two settings, never share vectors."""
    cache = EmbeddingCache(tmp_path)
    texts = ["Health", "Sleep"]
    ones = CallableEmbedder(lambda t: np.ones((len(t), 3)))
    ramp = CallableEmbedder(lambda t: np.tile(np.arange(1.0, 4.0), (len(t), 1)))
    assert (
        ones.name
        == ramp.name
        == "test_embedding_cache_key_is_the_embedders_content_not_its_name.<locals>.<lambda>"
    )
    a = cache.get_or_compute("k", texts, ones)
    b = cache.get_or_compute("k", texts, ramp)
    assert np.allclose(a, ones.encode(texts)) and np.allclose(b, ramp.encode(texts)) and not np.allclose(a, b)

    h64, h64_words = HashEmbedder(64), HashEmbedder(64, ngram_weight=0.0)
    assert h64.name == h64_words.name
    c = cache.get_or_compute("k", texts, h64)
    d = cache.get_or_compute("k", texts, h64_words)
    assert np.allclose(c, h64.encode(texts)) and np.allclose(d, h64_words.encode(texts))
    assert len(list(tmp_path.glob("*.npy"))) == 4


def test_same_name_and_settings_but_other_output_is_told_apart(tmp_path: Path) -> None:
    """Configuration alone cannot see a changed model behind the same name: the probe fingerprint does."""

    class Remote(Embedder):
        name = "remote-model"

        def __init__(self, shift: float) -> None:
            self._shift = shift  # private: not part of the configuration

        def encode(self, texts):  # type: ignore[no-untyped-def]
            return normalize_rows(HashEmbedder().encode(texts) + self._shift)

    old, new = Remote(0.0), Remote(0.5)
    assert embedder_config(old) == embedder_config(new)
    assert embedder_fingerprint(old) != embedder_fingerprint(new)
    cache = EmbeddingCache(tmp_path)
    assert not np.allclose(cache.get_or_compute("k", ["a b"], old), cache.get_or_compute("k", ["a b"], new))


def test_equal_embedders_share_the_cache_across_objects(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return HashEmbedder().encode(texts)

    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute("k", ["Health", "Sleep"], CallableEmbedder(embed))
    cache.get_or_compute("k", ["Health", "Sleep"], CallableEmbedder(embed))
    assert calls == [1, 2, 1]  # probe, texts, probe of the second object; the texts come from the file
    assert embedder_fingerprint(HashEmbedder(32)) == embedder_fingerprint(HashEmbedder(32))


def test_embedder_config_leaves_out_secrets_and_batching() -> None:
    emb = LiteLLMEmbedder("text-embedding-3-small", batch_size=8, api_key="sk-secret", dimensions=256)
    config = embedder_config(emb)
    assert config["settings"] == {"model": "text-embedding-3-small", "settings": {"dimensions": 256}}
    assert "sk-secret" not in repr(config) and "batch_size" not in repr(config)
    st = embedder_config(SentenceTransformerEmbedder(precision="float32", batch_size=8, device="cpu"))
    assert st["settings"]["precision"] == "float32" and "batch_size" not in st["settings"]


def test_response_cache_file_is_private(tmp_path: Path) -> None:
    """The LLM response cache holds prompts' replies: created 0600 in a 0700 directory, even under a loose umask."""
    old = os.umask(0o022)
    try:
        cache = ResponseCache(tmp_path / "new" / "dir" / "replies.sqlite")
        cache.put("key", "m", "reply")
        existing = tmp_path / "loose.sqlite"
        existing.touch(mode=0o644)
        existing.chmod(0o644)
        ResponseCache(existing).put("key", "m", "reply")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    for directory in (tmp_path / "new", tmp_path / "new" / "dir"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for companion in cache.path.parent.glob("replies.sqlite-*"):
        assert stat.S_IMODE(companion.stat().st_mode) & 0o077 == 0, companion
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert cache.get("key") == ("reply", 0, 0)
