"""Simulated survey answers: each respondent answers each item, constrained to the item's valid codes.

A respondent is a system prompt (a persona's ``to_prompt()``, the Cultural Prompting sentence, or a
demographics-only sketch). Each item is asked as its own conversation with a structured output whose
``answer`` field is a ``Literal`` of the valid codes. A reply that never validates is read as text
(``"My answer is 2"``, ``"Somewhat agree"``; see :func:`~deeppersona.evaluation._surveys.read_likert`); a
reply that is ambiguous or unreadable is counted in :attr:`SimulatedAnswers.unparsed` and the question is
asked again (``retries`` times, with a new seed); an answer still missing is recorded as NaN and counted in
:attr:`SimulatedAnswers.failures`.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError, LLMOutputError, LLMTransientError
from ._surveys import Instrument, SurveyItem

if TYPE_CHECKING:
    import pandas as pd

    from ..llm import LLM

__all__ = ["SimulatedAnswers", "asimulate", "call_seed"]

logger = logging.getLogger(__name__)


def call_seed(seed: int, *parts: object) -> int:
    """A reproducible 31-bit seed for one call, independent of scheduling order."""
    words = [int(seed) & 0xFFFFFFFF] + [
        p & 0xFFFFFFFF if isinstance(p, int) else zlib.crc32(str(p).encode("utf-8")) for p in parts
    ]
    return int(np.random.SeedSequence(words).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass
class SimulatedAnswers:
    """Answers of one method (a persona set or a baseline) to an instrument.

    Attributes:
        method: The method's name (``"personas"``, ``"cultural_prompting"``, ``"shallow_persona"`` …).
        responses: One row per respondent × repeat, one float column per item id (NaN = missing), indexed
            by the respondent (index name ``"respondent"``), so that the bootstrap resamples respondents
            with all their repeats.
        respondent: The respondent index of each row.
        repeat: The repeat index of each row.
        failures: Item id → answers recorded as missing after every retry.
        retried: Item id → questions that needed more than one attempt.
        unparsed: Item id → replies whose text could not be read as exactly one code (ambiguous or
            unreadable); each was asked again.
    """

    method: str
    responses: pd.DataFrame
    respondent: np.ndarray
    repeat: np.ndarray
    failures: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)
    unparsed: dict[str, int] = field(default_factory=dict)

    @property
    def n_missing(self) -> int:
        """Total answers recorded as missing."""
        return int(sum(self.failures.values()))

    @property
    def n_unparsed(self) -> int:
        """Total replies whose text could not be read as one code."""
        return int(sum(self.unparsed.values()))


async def _ask(
    llm: LLM,
    system: str,
    item: SurveyItem,
    model: type[Any],
    *,
    seed: int,
    retries: int,
    temperature: float | None,
    call_site: str,
) -> tuple[int | None, int, int]:
    """One question: ``(code or None, attempts used after the first, replies whose text was unreadable)``."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": item.prompt}]
    unparsed = 0
    for attempt in range(retries + 1):
        text: str | None = None
        try:
            resp = await llm.acomplete(
                messages, model, call_site=call_site, temperature=temperature, seed=seed + attempt
            )
            code = item.parse(getattr(resp.output, "answer", resp.output))
            if code is None:
                text = resp.raw
        except LLMOutputError as exc:
            code, text = None, exc.raw or ""
        except LLMTransientError as exc:
            logger.warning("item %s: transient LLM failure after retries (%s)", item.id, exc)
            code = None
        if text is not None:  # the structured answer failed: read the reply as text
            reading = item.read(text)
            code = reading.code
            if code is None:
                unparsed += 1
                logger.debug("item %s: %s reply %r", item.id, reading.status, text[:200])
        if code is not None:
            return code, attempt, unparsed
    return None, retries, unparsed


async def asimulate(
    llm: LLM,
    systems: Sequence[str],
    instrument: Instrument,
    *,
    method: str,
    repeats: int = 1,
    seed: int = 0,
    retries: int = 2,
    temperature: float | None = None,
    call_site: str = "survey",
    progress: Any = None,
) -> SimulatedAnswers:
    """Ask every respondent every item ``repeats`` times.

    Args:
        llm: The backend.
        systems: One system prompt per respondent.
        instrument: The survey.
        method: Name recorded in the result (and mixed into the per-call seeds).
        repeats: Answers per respondent and item (each a separate sample of the distribution).
        seed: Base seed; call seeds derive from it, the method, respondent, repeat and item.
        retries: Extra attempts after an unusable answer, before recording it as missing.
        temperature: Sampling temperature (backend default when ``None``).
        call_site: Usage-accounting label.
        progress: A progress bar (see :mod:`deeppersona._progress`) advanced by one per question
            answered (retries included), or ``None``.

    Returns:
        The :class:`SimulatedAnswers`.

    Raises:
        EvaluationError: No respondents, or ``repeats`` below 1.
    """
    import pandas as pd

    if not systems:
        raise EvaluationError(f"{method}: no respondents to simulate")
    if repeats < 1:
        raise EvaluationError(f"repeats must be >= 1, got {repeats}")
    models = {it.id: it.answer_model() for it in instrument}
    n_rows = len(systems) * repeats
    out = np.full((n_rows, len(instrument)), np.nan)
    failures = dict.fromkeys(instrument.ids, 0)
    retried = dict.fromkeys(instrument.ids, 0)
    unparsed = dict.fromkeys(instrument.ids, 0)
    if progress is not None:
        progress.set_postfix_str(method, refresh=True)

    async def one(i: int, r: int, j: int, item: SurveyItem) -> None:
        code, attempts, unreadable = await _ask(
            llm,
            systems[i],
            item,
            models[item.id],
            seed=call_seed(seed, method, i, r, item.id),
            retries=retries,
            temperature=temperature,
            call_site=call_site,
        )
        row = i * repeats + r
        if code is None:
            failures[item.id] += 1
        else:
            out[row, j] = code
        if attempts:
            retried[item.id] += 1
        unparsed[item.id] += unreadable
        if progress is not None:
            progress.update(1)

    await asyncio.gather(
        *(
            one(i, r, j, item)
            for i in range(len(systems))
            for r in range(repeats)
            for j, item in enumerate(instrument)
        )
    )
    if any(failures.values()):
        logger.warning(
            "%s: %d answers recorded as missing after retries: %s", method, sum(failures.values()), failures
        )
    respondent = np.repeat(np.arange(len(systems)), repeats)
    repeat = np.tile(np.arange(repeats), len(systems))
    frame = pd.DataFrame(out, columns=instrument.ids, index=pd.Index(respondent, name="respondent"))
    return SimulatedAnswers(method, frame, respondent, repeat, failures, retried, unparsed)
