"""Scale-out on Ray Data: a ``Dataset`` of persona indices (or sketches) in, a ``Dataset`` of personas out.

Each Ray actor holds one :class:`~deeppersona.engine.PersonaPipeline` (so one backend, one loaded
embedder and one selector index per actor) and turns a batch of rows into a batch of persona-table rows
(the schema of :meth:`Population.to_arrow <deeppersona.persona.Population.to_arrow>`). Persona ``i`` is
drawn from ``(run seed, i)`` exactly as on one machine, so the result does not depend on how the rows
are split or on the number of actors. Needs the ``ray`` extra (``pip install "deeppersona[ray]"``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    import pyarrow
    import ray.data

    from ._pipeline import PersonaPipeline

__all__ = ["map_personas", "written_indices"]


def _ray_data() -> Any:
    try:
        import ray.data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            'Ray Data is not installed; pip install "deeppersona[ray]" (ray[data])'
        ) from exc
    return ray.data


class _PersonaActor:
    """A Ray Data callable class: one pipeline per actor, a batch of rows in, persona rows out."""

    def __init__(self, pipeline: PersonaPipeline, index_column: str, sketch_column: str | None) -> None:
        self.pipeline = pipeline
        self.index_column = index_column
        self.sketch_column = sketch_column

    def __call__(self, batch: dict[str, Any]) -> pyarrow.Table:
        from ..persona._table import to_table

        indices = [int(i) for i in batch[self.index_column]]
        sketches = None
        if self.sketch_column is not None:
            sketches = [None if s is None else str(s) for s in batch[self.sketch_column]]
        personas = self.pipeline.run_batch_sync(indices, sketches)
        return to_table(personas)


def map_personas(
    dataset: ray.data.Dataset,
    pipeline: PersonaPipeline,
    *,
    index_column: str = "id",
    sketch_column: str | None = None,
    actors: int = 2,
    batch_size: int = 8,
    num_cpus: float = 1,
    skip: Collection[int] = (),
) -> ray.data.Dataset:
    """Turn a Ray ``Dataset`` of persona indices (or of sketches) into a ``Dataset`` of personas.

    Rows are mapped with ``map_batches`` over a pool of ``actors`` actors, each holding one copy of
    ``pipeline``. The output rows follow the persona table schema (``id``, ``index``, ``status``,
    ``attributes`` ...); write them with Ray Data's own writers (``write_parquet``, ``write_json``) and
    read them back with :meth:`Population.from_parquet <deeppersona.persona.Population.from_parquet>`
    or :meth:`Population.from_arrow <deeppersona.persona.Population.from_arrow>`. Incomplete and failed
    personas are rows too: their ``status`` says so.

    Args:
        dataset: Rows with an integer ``index_column`` (``ray.data.range(n)`` gives ``"id"``) and, to
            enrich, a ``sketch_column`` of one-line sketches.
        pipeline: From :meth:`PersonaEngine.pipeline`; give its engine the model and embedder by name
            (``model="gpt-4.1-mini"``, ``"hosted_vllm/..."`` with ``api_base=...``) so that each actor
            builds its own backend.
        index_column: The column holding each row's persona index (its seed is ``(run seed, index)``).
        sketch_column: The column holding sketches to enrich, or ``None``.
        actors: Actors in the pool (each makes personas one batch at a time; within a batch the
            backend's ``max_concurrency`` bounds the LLM calls in flight).
        batch_size: Rows per batch sent to an actor.
        num_cpus: CPUs Ray reserves per actor. Ray Data's reads need CPUs too: on a machine with
            ``n`` CPUs, ``actors * num_cpus`` must stay below ``n`` or the job waits forever for a
            read (use ``num_cpus=0.5`` for one actor per core; an actor that only waits on a remote
            LLM needs little CPU).
        skip: Persona indices to leave out (those already written: see :func:`written_indices`).

    Returns:
        The lazy ``Dataset`` of personas (nothing runs until it is consumed or written).

    Raises:
        ConfigError: A bad argument, or a column the dataset does not have.
        MissingDependencyError: Ray Data is not installed.

    Example:
        >>> import ray
        >>> pipeline = engine.pipeline(k=220)  # doctest: +SKIP
        >>> people = map_personas(ray.data.range(10_000), pipeline, actors=8)  # doctest: +SKIP
        >>> people.write_parquet("s3://bucket/personas/")  # doctest: +SKIP
    """
    data = _ray_data()
    from ._pipeline import PersonaPipeline

    if not isinstance(pipeline, PersonaPipeline):
        raise ConfigError(
            f"pipeline must be a PersonaPipeline (engine.pipeline(k)), got {type(pipeline).__name__}"
        )
    for name, value in (("actors", actors), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(dataset, data.Dataset):
        raise ConfigError(f"dataset must be a ray.data.Dataset, got {type(dataset).__name__}")
    columns = dataset.columns(fetch_if_missing=True) or []
    for column in (index_column, sketch_column):
        if column is not None and column not in columns:
            raise ConfigError(f"the dataset has no column {column!r}; its columns: {', '.join(columns)}")
    if skip:
        from ray.data.expressions import col

        dataset = dataset.filter(expr=col(index_column).not_in(sorted({int(i) for i in skip})))
    return dataset.map_batches(
        _PersonaActor,
        fn_constructor_args=(pipeline, index_column, sketch_column),
        batch_size=batch_size,
        batch_format="numpy",
        compute=data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
    )


def written_indices(path: str | Path | Iterable[str | Path]) -> set[int]:
    """The indices of the ``ok`` personas in Parquet output written earlier (a folder, or files), so that a
    stopped job goes on with ``map_personas(..., skip=written_indices(out))`` and writes the rest to a
    new folder. Incomplete and failed personas are not counted: the rerun makes them again.

    Raises:
        DataFileNotFoundError: The path does not exist.
    """
    from ..errors import DataFileNotFoundError

    try:
        import pyarrow.dataset as pads
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError('pyarrow is not installed; pip install "deeppersona[parquet]"') from exc
    sources = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    done: set[int] = set()
    for source in sources:
        if not source.exists():
            raise DataFileNotFoundError(f"no persona output at {str(source)!r}")
        table = pads.dataset(str(source), format="parquet").to_table(columns=["index", "status"])
        for index, status in zip(
            table.column("index").to_pylist(), table.column("status").to_pylist(), strict=True
        ):
            if status == "ok" and index is not None:
                done.add(int(index))
    return done
