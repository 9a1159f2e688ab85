"""Running a run's personas: how many at once, in which order they are yielded, progress bars and
stage lines, selection off the event loop (one persona's steps are :mod:`._steps`)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .._progress import make_bar
from ..embeddings._batcher import EmbeddingBatcher
from ..llm._resolve import preflight
from ._run import _Job, _Run, planned_calls
from ._steps import make_persona

if TYPE_CHECKING:
    from ..persona import Persona


async def run_jobs(run: _Run, jobs: Sequence[_Job]) -> AsyncIterator[Persona]:
    """Run ``jobs`` (the backend's ``max_concurrency`` bounds the LLM calls in flight); yield personas as
    they finish."""
    await preflight(run.llm)  # an unreachable server or a rejected key: one clear error, before any persona
    # one persona: a bar over its steps (core, fill 1/2, ...); several: a bar over the personas
    steps = _step_progress(run, jobs)
    bar = _progress(len(jobs), run.options.progress) if steps is None and len(jobs) != 1 else None
    shown = [-math.inf]  # when the run bar last showed a persona's stage (shared by its personas)
    in_flight = run.options.in_flight(int(getattr(run.llm, "max_concurrency", 1) or 1))
    pool = embed_pool = None
    if in_flight > 1 and _offload_selection(run):
        # embedding the profiles (tens of ms each with MiniLM on CPU) must not stall the event loop
        # while other personas' LLM calls wait for it; one worker keeps the selector's calls
        # sequential, and the embedding has a worker of its own: behind a batch being embedded, the
        # selections of the personas embedded just before waited, and the personas in flight moved
        # in lockstep (the CPU idle while a batch was embedded, then the embedder idle)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deeppersona-select")
        embed_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deeppersona-embed")
    embed = EmbeddingBatcher(run.embedder, executor=embed_pool) if in_flight > 1 else None
    run = dataclasses.replace(run, select_pool=pool, embed=embed)
    pending: set[asyncio.Task[Persona]] = set()
    todo = iter(jobs)
    try:
        while True:
            while len(pending) < in_flight:
                job = next(todo, None)
                if job is None:
                    break
                stages = steps if bar is None else _StageLine(bar, job.index, shown)
                pending.add(asyncio.ensure_future(make_persona(run, job, stages)))
            if not pending:
                break
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: t.result().index):
                persona = task.result()
                if bar is not None:
                    bar.update(1)
                yield persona
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for executor in (pool, embed_pool):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()
        if steps is not None:
            steps.close()


def _offload_selection(run: _Run) -> bool:
    """Whether to run the selector (and so the profile embedding) in a worker thread.

    ``options.select_in_thread``; when ``None``: yes, unless the embedder is known to be pure-Python cheap
    (then the thread hand-off and the GIL would cost more than they save).
    """
    setting = run.options.select_in_thread
    if setting is not None:
        return setting
    return not bool(getattr(run.embedder, "cheap", False))


def _progress(total: int, setting: bool | None) -> Any:
    """The run's bar over its personas (a single persona gets :func:`_step_progress` instead)."""
    if total < 2 and setting is None:
        return None
    return make_bar(total, "personas", unit="persona", setting=setting)


def _step_progress(run: _Run, jobs: Sequence[_Job]) -> Any:
    """A bar over the LLM steps of a single persona (core, each fill batch, consistency, narrative)."""
    if len(jobs) != 1 or run.options.progress is False:
        return None
    total = planned_calls(run.generator, run.k, run.options, circumstances=bool(run.circumstances))
    total += int(jobs[0].sketch is not None)
    bar = make_bar(total, f"persona {jobs[0].index}", unit="step", setting=run.options.progress)
    if bar is not None:
        bar.set_postfix_str("starting (loading the model)", refresh=True)
    return bar


class _StageLine:
    """Shows a persona's current stage on the bar of a several-persona run (``persona 3: fill 2/8``).

    Stands in for the single persona's step bar where :func:`~._steps.make_persona` and its stage
    reporter use one. The run bar counts personas, not steps, and redraws for stages at
    most twice a second across the run's personas (``last`` is shared by them).
    """

    total = 0  # a step total is a single persona's concern

    def __init__(self, bar: Any, index: int, last: list[float]) -> None:
        self._bar = bar
        self._index = index
        self._last = last

    def update(self, n: int = 1) -> None:
        """Steps are not counted on the run bar."""

    def reset(self) -> None:
        """Nothing to reset on the run bar."""

    def set_description(self, text: str) -> None:
        """Show ``text`` (a new attempt) as the current stage."""
        self._show(text)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Show ``text`` as this persona's current stage."""
        self._show(f"persona {self._index}: {text}")

    def _show(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=False)
        now = time.monotonic()
        if now - self._last[0] >= 0.5:
            self._last[0] = now
            self._bar.refresh()
