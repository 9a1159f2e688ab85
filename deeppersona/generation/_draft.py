"""The per-persona working state that the generation steps build up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..llm._base import Usage
from ..persona import AttributeValue, ConsistencyNote, CoreProfile
from ._schemas import FillItem

__all__ = ["PersonaDraft"]


@dataclass
class PersonaDraft:
    """One persona while it is being generated (private to that persona; never shared).

    The generation dialogue lives in :attr:`messages`: every step appends its request and the
    accepted answer, so each call is a strict extension of the previous one (which lets local models
    reuse their KV cache and hosted APIs their prompt cache).

    Attributes:
        demographics: Core demographic fields (anchors applied verbatim).
        anchors: Every anchor exactly as given.
        given: Anchored attributes: bound to a taxonomy path (stratum ``"anchor"``) or custom (``"custom"``).
        fixed_core: Anchored core-chain fields (``values_orientation``, ``interests`` ...).
        bio: The free-text biography anchor.
        sketch_facts: Facts an enriched sketch states ("Dislikes: alcohol", "Former occupation: grocery
            store owner"), shown to the core chain as fixed (see :mod:`deeppersona.generation._sketch`).
        seeds: Source of the per-call LLM seeds.
        core: The core chain once generated.
        attributes: Filled selected attributes, path → value.
        items: The attributes being filled, with their JSON keys.
        narrative: The narrative once written.
        notes: Repairs made by the consistency pass.
        warnings: Problems that did not stop generation (e.g. attributes left without a value).
        missing: Parts without a valid value after the re-asks (attribute path or core field → why);
            a persona with any is ``incomplete``.
        rejected: How many values were refused (and re-asked), by problem (``"trivial"``, ``"echo"`` ...).
        on_stage: Called with the name of each generation step as it starts (``"core"``, ``"fill 2/8"``,
            ``"re-ask 1"``, ``"consistency"``, ``"narrative"``), e.g. to show progress.
        messages: The generation dialogue so far.
        usage: LLM usage so far.
    """

    demographics: dict[str, Any]
    anchors: dict[str, Any] = field(default_factory=dict)
    given: dict[str, AttributeValue] = field(default_factory=dict)
    fixed_core: dict[str, Any] = field(default_factory=dict)
    bio: str | None = None
    sketch_facts: list[str] = field(default_factory=list)
    seeds: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    core: CoreProfile | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    items: list[FillItem] = field(default_factory=list)
    narrative: str = ""
    notes: list[ConsistencyNote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    on_stage: Callable[[str], None] | None = field(default=None, repr=False)
    messages: list[dict[str, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def stage(self, name: str) -> None:
        """Report that step ``name`` starts (see :attr:`on_stage`)."""
        if self.on_stage is not None:
            self.on_stage(name)

    def reject(self, problem: str) -> None:
        """Count one refused value."""
        self.rejected[problem] = self.rejected.get(problem, 0) + 1

    def next_seed(self) -> int:
        """The sampling seed of the next LLM call (reproducible per persona)."""
        return int(self.seeds.integers(0, 2**31 - 1))

    def all_attributes(self) -> dict[str, AttributeValue]:
        """Anchored attributes first, then the filled ones in selection order."""
        out = dict(self.given)
        order = [item.path for item in self.items]
        for path in order:
            if path in self.attributes and path not in out:
                out[path] = self.attributes[path]
        for path, attr in self.attributes.items():  # anything filled outside the selection order
            out.setdefault(path, attr)
        return out
