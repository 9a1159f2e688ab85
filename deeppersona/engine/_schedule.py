"""Running a run's personas: progress bars and stage lines, selection off the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .._progress import make_bar, set_total
from ._run import _Job, _Run, planned_calls


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

    Stands in for the single persona's step bar where :meth:`PersonaEngine._one` and
    :func:`_stage_reporter` use one. The run bar counts personas, not steps, and redraws for stages at
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


def _stage_reporter(steps: Any) -> Callable[[str], None] | None:
    """Advance ``steps`` by one for each main step and show the current one (re-asks add to the total)."""
    if steps is None:
        return None
    started: list[str] = []

    def report(stage: str) -> None:
        if started and "re-ask" not in started[-1]:
            steps.update(1)
        if "re-ask" in stage:
            set_total(steps, steps.total + 1, refresh=False)
        started.append(stage)
        steps.set_postfix_str(stage, refresh=True)

    return report
