"""The per-persona function of one engine configuration, picklable so it can be shipped to workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._async import run_sync
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..persona import Persona
    from ._engine import PersonaEngine
    from ._run import _Run

__all__ = ["PersonaPipeline"]


class PersonaPipeline:
    """What makes persona ``i`` of one run: ``await pipeline.run(i)`` (or ``pipeline.run_sync(i)``).

    Made by :meth:`PersonaEngine.pipeline`, which validates everything first (bad anchors, an unknown
    model, impossible cohorts raise there, before any LLM call). The pipeline holds only configuration:
    the engine, ``k``, the run seed and the run id. Backends (the LLM, the embedder, the selector's
    index) are created on first use in the process that runs it, so a pipeline pickles and can be
    shipped to worker processes or Ray actors. Persona ``i`` depends only on ``(run seed, i)`` (and the
    sketch, for enrichment), so it is the same persona wherever it is made; a worker whose library
    version, taxonomy or data give another run configuration refuses to run
    (:class:`~deeppersona.errors.ConfigError`) rather than make different personas under the same id.

    To ship a pipeline, give the engine its model and embedder by name (``model="gpt-4.1-mini"``,
    ``embedder="hash"``) or as picklable objects; each worker then creates its own backend.

    Attributes:
        k: Attributes per persona.
        seed: The run seed (persona ``i`` is drawn from ``(seed, i)``).
        run_id: The run's id (:attr:`~deeppersona.persona.Provenance.run_id`).

    Example:
        >>> pipeline = engine.pipeline(k=60)  # doctest: +SKIP
        >>> persona = pipeline.run_sync(7)  # the same as engine.generate(k=60, n=8)[7]  # doctest: +SKIP
    """

    def __init__(self, engine: PersonaEngine, k: int, *, seed: int | None = None) -> None:
        run = engine._prepare(k, seed=seed)
        self.engine = engine
        self.k = run.k
        self.seed = run.seed
        self.run_id = run.provenance.run_id
        self._config = dict(run.provenance.run_config or {})
        self._run: _Run | None = _quiet(run)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "k": self.k,
            "seed": self.seed,
            "run_id": self.run_id,
            "config": self._config,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.engine = state["engine"]
        self.k = state["k"]
        self.seed = state["seed"]
        self.run_id = state["run_id"]
        self._config = state["config"]
        self._run = None

    def __repr__(self) -> str:
        return f"deeppersona.PersonaPipeline(k={self.k}, seed={self.seed}, run_id={self.run_id!r})"

    def _resolved(self) -> _Run:
        if self._run is None:
            run = self.engine._prepare(self.k, seed=self.seed)
            if run.provenance.run_id != self.run_id:
                from ._runconfig import _config_differences

                diff = _config_differences(self._config, run.provenance.run_config or {})
                raise ConfigError(
                    f"this worker's run {run.provenance.run_id} is not the pipeline's run {self.run_id} "
                    f"(another library version, taxonomy or data here?){': ' + '; '.join(diff) if diff else ''}"
                )
            self._run = _quiet(run)
        return self._run

    async def run(self, index: int, sketch: str | None = None) -> Persona:
        """Make persona ``index`` (enriching ``sketch`` when given), with the engine's persona retries.

        Raises:
            ConfigError: ``index`` is not a non-negative integer, a sketch is given to an engine with a
                ``bio`` anchor or is over the size limit, or this process gives another run (see above).
            LLMConfigError: The backend's pre-flight check failed.
        """
        return (await self.run_batch([index], None if sketch is None else [sketch]))[0]

    def run_sync(self, index: int, sketch: str | None = None) -> Persona:
        """Synchronous :meth:`run` (works inside a running event loop too, e.g. in a notebook)."""
        return run_sync(self.run(index, sketch))

    async def run_batch(
        self, indices: Sequence[int], sketches: Sequence[str | None] | None = None
    ) -> list[Persona]:
        """Make several personas at once (the backend's ``max_concurrency`` bounds the LLM calls in flight),
        returned in the order of ``indices``.

        Args:
            indices: Persona indices.
            sketches: One sketch (or ``None``) per index, to enrich.
        """
        from ._inputs import _check_sketches
        from ._run import _Job
        from ._schedule import run_jobs

        jobs = _jobs(indices, sketches)
        if any(job_sketch is not None for _, job_sketch in jobs):
            self.engine._check_enrich_anchors()
            _check_sketches([s for _, s in jobs if s is not None], self.engine.options.max_sketch_chars)
        run = self._resolved()  # the engine's pre-flight check of the backend runs once per backend
        made = {p.index: p async for p in run_jobs(run, [_Job(i, s) for i, s in jobs])}
        return [made[i] for i, _ in jobs]

    def run_batch_sync(
        self, indices: Sequence[int], sketches: Sequence[str | None] | None = None
    ) -> list[Persona]:
        """Synchronous :meth:`run_batch`."""
        return run_sync(self.run_batch(indices, sketches))


def _quiet(run: _Run) -> _Run:
    """``run`` without progress bars: a pipeline runs inside someone else's loop or a worker."""
    import dataclasses

    return dataclasses.replace(run, options=run.options.replace(progress=False))


def _jobs(indices: Sequence[int], sketches: Sequence[str | None] | None) -> list[tuple[int, str | None]]:
    out: list[tuple[int, str | None]] = []
    given = list(sketches) if sketches is not None else [None] * len(indices)
    if len(given) != len(indices):
        raise ConfigError(f"{len(given)} sketches for {len(indices)} indices; give one (or None) per index")
    seen: set[int] = set()
    for index, sketch in zip(indices, given, strict=True):
        if isinstance(index, bool) or not hasattr(index, "__index__") or int(index) < 0:
            raise ConfigError(f"a persona index is a non-negative integer, got {index!r}")
        if int(index) in seen:
            raise ConfigError(f"persona index {int(index)} is asked twice")
        seen.add(int(index))
        out.append((int(index), sketch))
    return out
