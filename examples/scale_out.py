"""Make personas in worker processes and on Ray Data: persona i is the same wherever it is made.

Run: python examples/scale_out.py
     (uses the embedded local model; set DEEPPERSONA_EXAMPLES_FAST=1 for an instant offline dry run
     with the package's fakes, given by name: model="fake", embedder="hash")
The Ray part needs the ray extra: pip install "deeppersona[ray]".
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from deeppersona import PersonaEngine, Population
from deeppersona.engine import PersonaPipeline

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"


def make(pipeline: PersonaPipeline, index: int) -> dict[str, Any]:
    """Run in a worker process: the pipeline arrives pickled and builds its own backends there."""
    return pipeline.run_sync(index).to_dict()


def main() -> None:
    if FAST:  # the fakes by name: they ship to workers like any named model
        engine = PersonaEngine.from_taxonomy("default", model="fake:1", embedder="hash")
        K, N = 30, 6
    else:  # the embedded model in every worker: each loads its own copy (memory!) and shares the cores
        engine = PersonaEngine.from_taxonomy("default")
        K, N = 20, 2
    kenya = engine.cohort(country="Kenya").with_seed(7).with_options(progress=False)
    pipeline = kenya.pipeline(k=K)  # validated here, before any LLM call
    print(pipeline)

    # 1. a process pool
    with ProcessPoolExecutor(2) as pool:
        made = Population.from_records(pool.map(make, [pipeline] * N, range(N)))
    print("process pool:", [p.id for p in made])
    here = kenya.generate(k=K, n=N)
    same = all(
        a.model_dump(exclude={"usage"}) == b.model_dump(exclude={"usage"})
        for a, b in zip(made, here, strict=True)
    )
    print("the same personas as one process:", same)

    # 2. Ray Data: an actor pool of pipelines, persona table rows out
    try:
        import ray
    except ImportError:
        print('Ray is not installed: pip install "deeppersona[ray]"')
        return
    from deeppersona.engine import map_personas

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        people = map_personas(ray.data.range(N), pipeline, actors=2, batch_size=2, num_cpus=0.5)
        on_ray = Population.from_records(people.take_all())
        print("Ray Data:", sorted(p.id for p in on_ray) == sorted(p.id for p in here), "same ids")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
