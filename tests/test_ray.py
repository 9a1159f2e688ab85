"""Scale-out on a local Ray instance: the personas are those of the single-process run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pytest

from deeppersona import PersonaEngine, Population
from deeppersona.engine import map_personas, written_indices
from deeppersona.errors import ConfigError, DataFileNotFoundError

ray = pytest.importorskip("ray")

SKETCHES = [
    "A retired grocery store owner from Colorado who hates alcohol.",
    "A nurse in Kisumu who sings in a choir.",
]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def _engine() -> PersonaEngine:
    return (
        PersonaEngine.from_taxonomy("default", model="fake:1", embedder="hash")
        .cohort(country="Kenya")
        .with_seed(5)
    )


def _dumped(people: Any) -> dict[int, dict[str, Any]]:
    return {p.index: p.model_dump(exclude={"usage"}) for p in people}


def test_fifty_personas_on_two_actors_are_the_single_process_ones(local_ray: Any, tmp_path: Path) -> None:
    engine = _engine()
    reference = engine.generate(k=10, n=50)
    people = map_personas(
        local_ray.data.range(50), engine.pipeline(k=10), actors=2, batch_size=6, num_cpus=0.5
    )
    out = tmp_path / "personas"
    people.write_parquet(str(out))  # Ray Data's own writer, in the persona table schema
    rows = Population.from_arrow(pads.dataset(str(out), format="parquet").to_table())
    assert len(rows) == 50 and _dumped(rows) == _dumped(reference)
    # a stopped job goes on with what is missing
    assert written_indices(out) == set(range(50))
    rest = map_personas(
        local_ray.data.range(60), engine.pipeline(k=10), actors=1, num_cpus=0.5, skip=written_indices(out)
    )
    assert sorted(r["index"] for r in rest.take_all()) == list(range(50, 60))


def test_sketches_are_enriched_by_row_index(local_ray: Any) -> None:
    engine = PersonaEngine.from_taxonomy("default", model="fake:1", embedder="hash").with_seed(5)
    rows = local_ray.data.from_items([{"id": i, "persona": s} for i, s in enumerate(SKETCHES)])
    made = Population.from_records(
        map_personas(rows, engine.pipeline(k=8), sketch_column="persona", num_cpus=0.5).take_all()
    )
    assert _dumped(made) == _dumped(engine.enrich(SKETCHES, k=8))


def test_bad_arguments(local_ray: Any, tmp_path: Path) -> None:
    pipeline = _engine().pipeline(k=5)
    data = local_ray.data.range(3)
    with pytest.raises(ConfigError, match="no column 'index'"):
        map_personas(data, pipeline, index_column="index")
    with pytest.raises(ConfigError, match="actors"):
        map_personas(data, pipeline, actors=0)
    with pytest.raises(ConfigError, match="PersonaPipeline"):
        map_personas(data, _engine())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"ray\.data\.Dataset"):
        map_personas([0, 1], pipeline)  # type: ignore[arg-type]
    with pytest.raises(DataFileNotFoundError):
        written_indices(tmp_path / "nothing")
