"""One run: the jobs (persona index, sketch), everything resolved for the run, and persona ids."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..llm._base import LLM
from ..persona import Provenance
from ..taxonomy import AttributeTree
from ._anchors import ResolvedAnchors
from ._options import EngineOptions

if TYPE_CHECKING:
    from ..demographics import Cohort, DemographicSampler
    from ..embeddings import Embedder
    from ..embeddings._batcher import EmbeddingBatcher
    from ..generation import ValueGenerator
    from ..selector import AttributeSelector


@dataclass(frozen=True)
class _Job:
    index: int
    sketch: str | None = None


@dataclass
class _Run:
    """Everything resolved and validated for one terminal call (read-only while it runs)."""

    tree: AttributeTree
    fingerprint: str
    llm: LLM
    embedder: Embedder
    selector: AttributeSelector
    sampler: DemographicSampler
    generator: ValueGenerator
    cohort: Cohort | None
    anchors: ResolvedAnchors
    seed: int
    k: int
    options: EngineOptions
    provenance: Provenance
    select_pool: ThreadPoolExecutor | None = None
    embed: EmbeddingBatcher | None = None  # profile embeddings of the personas in flight, batched
    circumstances: tuple[str, ...] = ()


def planned_calls(generator: ValueGenerator, k: int, options: EngineOptions, *, circumstances: bool) -> int:
    """LLM calls a persona takes without re-asks: core + circumstances (when the taxonomy has conditional
    attributes) + fill batches + consistency + narrative."""
    return (
        1 + int(circumstances) + generator.fill_calls(k) + int(options.consistency) + int(options.narrative)
    )


def persona_id(run_id: str, index: int, sketch: str | None = None) -> str:
    """The stable id of persona ``index`` of run ``run_id`` (see :attr:`Provenance.run_id`).

    The id is ``p-<run>-<index>``, where ``<run>`` is the run id's hash: a fingerprint of everything
    that shapes the run's personas (taxonomy, model, anchors, cohort, ``k``, seed, settings, library
    version; see :attr:`Provenance.run_config`). The same configuration gives the same ids, so a
    resumed run continues with the ids a fresh one would write, while a Kenya run and a Germany run
    with seed 7 never share an id. An enriched persona adds a hash of its sketch
    (``p-<run>-<index>-<sketch>``), as two sketch lists enriched with one configuration share
    the run id.

    Args:
        run_id: The run id (``"r-<hash>"``, as in :attr:`Provenance.run_id`).
        index: The persona's index in its run.
        sketch: The sketch an enriched persona was built from.

    Example:
        >>> persona_id("r-0123456789ab", 7)
        'p-0123456789ab-7'
    """
    text = str(run_id)
    run = text[2:] if text.startswith("r-") else text
    if not run or not all(c.isascii() and c.isalnum() for c in run):
        run = hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()
    pid = f"p-{run}-{int(index)}"
    if sketch is not None:
        pid += "-" + hashlib.blake2b(sketch.encode("utf-8"), digest_size=4).hexdigest()
    return pid
