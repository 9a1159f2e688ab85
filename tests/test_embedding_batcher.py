"""The micro-batcher that embeds the profiles of the personas in flight together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deeppersona.embeddings import Embedder
from deeppersona.embeddings._batcher import EmbeddingBatcher
from deeppersona.engine import PersonaEngine
from deeppersona.errors import ConfigError
from deeppersona.selector import SelectionContext
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder


class Recording(Embedder):
    """A HashEmbedder that records the size of every encode call."""

    name = "recording-hash"
    cheap = True

    def __init__(self, fail: bool = False) -> None:
        self.inner = HashEmbedder()
        self.sizes: list[int] = []
        self.fail = fail

    def cache_config(self) -> dict[str, str]:
        return {"inner": self.inner.name}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.sizes.append(len(texts))
        if self.fail:
            raise RuntimeError("embedding server down")
        return self.inner.encode(texts)


async def test_requests_of_one_turn_share_a_call_and_get_their_own_rows() -> None:
    emb = Recording()
    batcher = EmbeddingBatcher(emb)
    texts = [f"person {i} likes fishing" for i in range(10)]
    rows = await asyncio.gather(*(batcher.encode(t) for t in texts))
    assert emb.sizes == [10]
    np.testing.assert_array_equal(np.vstack(rows), HashEmbedder().encode(texts))
    assert (batcher.calls, batcher.texts) == (1, 10)


async def test_one_request_at_a_time_is_one_call_each() -> None:
    emb = Recording()
    batcher = EmbeddingBatcher(emb)
    for i in range(3):
        await batcher.encode(f"text {i}")
    assert emb.sizes == [1, 1, 1]


async def test_max_batch_splits_and_requests_during_a_batch_wait_for_the_next() -> None:
    emb = Recording()
    with ThreadPoolExecutor(max_workers=1) as pool:
        batcher = EmbeddingBatcher(emb, executor=pool, max_batch=4)
        first = [asyncio.ensure_future(batcher.encode(f"a {i}")) for i in range(6)]
        await asyncio.sleep(0)  # the worker has taken the first batch of 4 into the thread
        await asyncio.sleep(0)
        late = [asyncio.ensure_future(batcher.encode(f"b {i}")) for i in range(3)]
        await asyncio.gather(*first, *late)
    assert sum(emb.sizes) == 9
    assert max(emb.sizes) <= 4
    assert emb.sizes[0] == 4
    assert len(emb.sizes) < 9  # batched, not one call per text


async def test_an_embedder_error_reaches_every_waiter_and_the_batcher_goes_on() -> None:
    emb = Recording(fail=True)
    batcher = EmbeddingBatcher(emb)
    results = await asyncio.gather(*(batcher.encode(str(i)) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    emb.fail = False
    assert (await batcher.encode("again")).shape == (HashEmbedder().dim,)


async def test_a_cancelled_waiter_does_not_disturb_the_others() -> None:
    emb = Recording()
    batcher = EmbeddingBatcher(emb)
    a = asyncio.ensure_future(batcher.encode("a"))
    b = asyncio.ensure_future(batcher.encode("b"))
    a.cancel()
    row = await b
    np.testing.assert_array_equal(row, HashEmbedder().encode(["b"])[0])
    assert emb.sizes == [1]  # the cancelled text was not embedded


async def test_a_wrong_shape_is_a_config_error() -> None:
    class Short(Recording):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            return self.inner.encode(list(texts)[:1])

    batcher = EmbeddingBatcher(Short())
    with pytest.raises(ConfigError, match="returned shape"):
        await asyncio.gather(batcher.encode("x"), batcher.encode("y"))
    with pytest.raises(ConfigError):
        EmbeddingBatcher(Recording(), max_batch=0)


def test_the_context_uses_the_given_profile_embedding_and_else_encodes() -> None:
    tree = AttributeTree.default()
    emb = Recording()
    given = SelectionContext(tree, profile="p", embedder=emb, profile_embedding=np.ones(4, dtype=np.float32))
    assert given.profile_vector().shape == (1, 4)
    assert emb.sizes == []
    plain = SelectionContext(tree, profile="", embedder=emb)
    np.testing.assert_array_equal(plain.profile_vector(), HashEmbedder().encode(["a person"]))
    with pytest.raises(ConfigError):
        SelectionContext(tree).profile_vector()


def test_the_engine_embeds_personas_in_flight_together_and_makes_the_same_personas() -> None:
    tree = AttributeTree.default()

    def run(concurrency: int) -> tuple[list[dict[str, object]], list[int]]:
        emb = Recording()
        engine = (
            PersonaEngine.from_taxonomy(tree, model=FakeLLM(seed=3, max_concurrency=concurrency), embedder=emb)
            .with_seed(4)
            .with_options(progress=False, consistency=False, narrative=False)
        )
        engine.generate(k=12, n=1, start=100)  # the candidate embeddings and the fingerprint probe
        emb.sizes.clear()
        pop = engine.generate(k=12, n=8)
        return [p.attributes for p in pop], list(emb.sizes)

    one, sizes_one = run(1)
    many, sizes_many = run(8)
    assert one == many
    assert sizes_one == [1] * 8  # one profile at a time
    assert sum(sizes_many) == 8 and len(sizes_many) < 8  # profiles of personas in flight shared calls
