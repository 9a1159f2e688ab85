"""PersonaPipeline: the picklable per-persona function; persona i is the same wherever it is made."""

from __future__ import annotations

import multiprocessing
import pickle
from typing import Any

import pytest

from deeppersona import PersonaEngine
from deeppersona.engine import PersonaPipeline
from deeppersona.errors import AnchorError, ConfigError
from deeppersona.persona import Persona
from deeppersona.testing import FakeLLM

SKETCHES = [
    "A retired grocery store owner from Colorado who hates alcohol.",
    "A nurse in Kisumu who sings in a choir.",
]


def _engine(model: Any = "fake:1") -> PersonaEngine:
    return (
        PersonaEngine.from_taxonomy("default", model=model, embedder="hash")
        .cohort(country="Kenya")
        .with_seed(5)
    )


def _same(a: Persona, b: Persona) -> bool:
    return a.model_dump(exclude={"usage"}) == b.model_dump(exclude={"usage"})


@pytest.fixture(scope="module")
def reference() -> list[Persona]:
    return list(_engine().generate(k=12, n=3))


def test_persona_i_is_the_engines_persona_i(reference: list[Persona]) -> None:
    pipeline = _engine().pipeline(k=12)
    assert (
        isinstance(pipeline, PersonaPipeline)
        and pipeline.seed == 5
        and repr(pipeline).startswith("deeppersona.")
    )
    assert _same(pipeline.run_sync(2), reference[2])
    batch = pipeline.run_batch_sync([1, 0])
    assert [p.index for p in batch] == [1, 0] and _same(batch[1], reference[0])
    assert pipeline.run_id == reference[0].provenance.run_id


def _run_in_child(blob: bytes, index: int) -> bytes:
    pipeline = pickle.loads(blob)
    return pickle.dumps(pipeline.run_sync(index).model_dump(exclude={"usage"}))


def test_a_pickled_pipeline_makes_the_same_persona_in_another_process(reference: list[Persona]) -> None:
    pipeline = _engine().pipeline(k=12)
    pipeline.run_sync(0)  # resolved backends and caches are not part of what is shipped
    blob = pickle.dumps(pipeline)
    assert len(blob) < 2_000_000
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        dumped = pickle.loads(pool.apply(_run_in_child, (blob, 1)))
    assert dumped == reference[1].model_dump(exclude={"usage"})


def test_an_llm_instance_ships_when_it_pickles(reference: list[Persona]) -> None:
    engine = _engine(FakeLLM(seed=1))
    copy = pickle.loads(pickle.dumps(engine.pipeline(k=12)))
    assert copy.run_sync(2).narrative and copy.engine._model is not engine._model


def test_enrichment_through_the_pipeline() -> None:
    engine = PersonaEngine.from_taxonomy("default", model="fake:1", embedder="hash").with_seed(5)
    enriched = list(engine.enrich(SKETCHES, k=10))
    made = engine.pipeline(k=10).run_batch_sync([0, 1], SKETCHES)
    assert all(_same(a, b) for a, b in zip(made, enriched, strict=True))
    assert made[0].anchors["bio"] == SKETCHES[0]


def test_bad_input_is_refused_before_any_call() -> None:
    llm = FakeLLM(seed=1)
    engine = PersonaEngine.from_taxonomy("default", model=llm, embedder="hash")
    with pytest.raises(ConfigError):
        engine.pipeline(k=0)
    with pytest.raises(ConfigError, match="seed"):
        engine.pipeline(k=5, seed=-1)
    pipeline = engine.pipeline(k=5)
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="non-negative integer"):
            pipeline.run_sync(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="asked twice"):
        pipeline.run_batch_sync([3, 3])
    with pytest.raises(ConfigError, match="2 sketches for 1 indices"):
        pipeline.run_batch_sync([0], SKETCHES)
    with pytest.raises(AnchorError):
        engine.anchor(bio="A painter.").pipeline(k=5).run_sync(0, SKETCHES[0])
    assert not llm.requests


def test_a_worker_with_another_configuration_refuses_to_run() -> None:
    state = _engine().pipeline(k=12).__getstate__()
    state["run_id"] = "r-000000000000"
    state["config"] = {**state["config"], "k": 99}
    other = PersonaPipeline.__new__(PersonaPipeline)
    other.__setstate__(state)
    with pytest.raises(ConfigError, match=r"is not the pipeline.s run r-000000000000.*k"):
        other.run_sync(0)
