"""What each stage of a build did: counts in and out, and what was dropped and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._display import html_report, html_table
from ..llm import Usage
from ._records import AttributePath, PairRecord

if TYPE_CHECKING:
    from ..taxonomy import AttributeTree

__all__ = [
    "BuildResult",
    "ClassifyResult",
    "ExtractResult",
    "FilterResult",
    "MergeResult",
    "StageReport",
]


@dataclass
class StageReport:
    """Counts of one stage (shown as a one-row HTML table in a notebook).

    Attributes:
        stage: The stage name (``read``, ``classify``, ``extract``, ``filter``, ``merge``, ``format``...).
        n_in: Items that entered (pairs or paths, see ``unit``).
        n_out: Items that came out.
        unit: What was counted (``"pairs"``, ``"paths"``, ``"nodes"``).
        dropped: Items removed, by reason.
        notes: Other counts worth knowing (LLM calls, rewrites, reused checkpoint entries...).
        seconds: Wall time of the stage.
        usage: LLM usage of the stage.
    """

    stage: str
    n_in: int = 0
    n_out: int = 0
    unit: str = "paths"
    dropped: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-serialisable data."""
        return {
            "stage": self.stage,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "unit": self.unit,
            "dropped": dict(self.dropped.most_common()),
            "notes": dict(self.notes),
            "seconds": round(self.seconds, 3),
            "llm_calls": self.usage.calls,
            "tokens": self.usage.total_tokens,
        }

    def summary(self) -> str:
        """One line: ``filter: 120 -> 97 paths (dropped: digits 10, ...)``."""
        text = f"{self.stage}: {self.n_in} -> {self.n_out} {self.unit}"
        if self.dropped:
            text += " (dropped: " + ", ".join(f"{r} {n}" for r, n in self.dropped.most_common()) + ")"
        if self.usage.calls:
            text += f" [{self.usage.calls} LLM calls]"
        return text

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"StageReport({self.summary()}, {self.seconds:.1f} s)"

    def _repr_html_(self) -> str:
        return html_report("Stage report", self.stage, _reports_html([self]))


_STAGE_HEADER = ("stage", "in", "out", "unit", "dropped", "notes", "LLM calls", "seconds")


def _stage_cells(r: StageReport) -> tuple[str, str, str]:
    dropped = ", ".join(f"{k} {v}" for k, v in r.dropped.most_common()) or "-"
    notes = ", ".join(f"{k} {v}" for k, v in r.notes.items()) or "-"
    return dropped, notes, f"{r.seconds:.1f}"


def _reports_html(reports: list[StageReport]) -> str:
    rows = []
    for r in reports:
        dropped, notes, seconds = _stage_cells(r)
        rows.append([r.stage, r.n_in, r.n_out, r.unit, dropped, notes, r.usage.calls, seconds])
    return html_table(_STAGE_HEADER, rows, right={7})


def _reports_markdown(reports: list[StageReport]) -> str:
    lines = [
        "| stage | in | out | unit | dropped | notes | LLM calls | seconds |",
        "|---|---:|---:|---|---|---|---:|---:|",
    ]
    for r in reports:
        dropped, notes, seconds = _stage_cells(r)
        lines.append(
            f"| {r.stage} | {r.n_in} | {r.n_out} | {r.unit} | {dropped} | {notes} | {r.usage.calls} | {seconds} |"
        )
    return "\n".join(lines)


@dataclass
class ClassifyResult:
    """Output of :meth:`TaxonomyBuilder.classify`.

    Attributes:
        records: One record per pair (the paper's Figure 6 structure), in input order.
        report: The stage report.
    """

    records: list[PairRecord]
    report: StageReport

    def selected(
        self, labels: tuple[str, ...] = ("Personalizable", "Partially Personalizable")
    ) -> list[PairRecord]:
        """Records whose label is in ``labels``."""
        return [r for r in self.records if r.label in labels]

    @property
    def label_counts(self) -> Counter[str]:
        """How many pairs got each label (``"failed"`` for pairs that could not be classified)."""
        return Counter(r.label or "failed" for r in self.records)


@dataclass
class ExtractResult:
    """Output of :meth:`TaxonomyBuilder.extract`.

    Attributes:
        records: The pairs with their extracted paths.
        paths: Every extracted path, one entry per occurrence (duplicates kept: they count as votes).
        report: The stage report.
    """

    records: list[PairRecord]
    paths: list[AttributePath]
    report: StageReport


@dataclass
class FilterResult:
    """Output of :meth:`TaxonomyBuilder.filter`.

    Attributes:
        paths: The kept paths (rewritten and truncated where needed), one entry per input occurrence
            that survived.
        decisions: For each distinct input path, the path it became (``None`` when dropped) and why.
        report: The stage report.
    """

    paths: list[AttributePath]
    decisions: dict[AttributePath, tuple[AttributePath | None, str]]
    report: StageReport


@dataclass
class MergeResult:
    """Output of :meth:`TaxonomyBuilder.merge`.

    Attributes:
        paths: The distinct merged paths, most frequent first.
        counts: How many input occurrences each merged path (or one of its descendants) gathered.
        mapping: Each distinct input path -> the merged path it became.
        merged_names: For each level, canonical name -> the surface forms merged into it
            (only entries with more than one form).
        report: The stage report.
    """

    paths: list[AttributePath]
    counts: dict[AttributePath, int]
    mapping: dict[AttributePath, AttributePath]
    merged_names: dict[AttributePath, list[str]]
    report: StageReport


@dataclass
class BuildResult:
    """Output of :meth:`TaxonomyBuilder.build` and :meth:`TaxonomyBuilder.extend`.

    In a notebook the result shows as an HTML table of its stages.

    Attributes:
        tree: The attribute tree.
        stages: One report per stage, in order.
        records: The per-pair records (label, reason, extracted paths).
        path_counts: Support of each final path (occurrences across the QA pairs).
        usage: Total LLM usage of the build.
    """

    tree: AttributeTree
    stages: list[StageReport]
    records: list[PairRecord] = field(default_factory=list)
    path_counts: Mapping[AttributePath, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)

    def stage(self, name: str) -> StageReport:
        """Return the report of stage ``name`` (the last one when a stage ran twice, like ``filter``)."""
        for report in reversed(self.stages):
            if report.stage == name:
                return report
        raise KeyError(f"no stage named {name!r}; stages: {', '.join(r.stage for r in self.stages)}")

    def _summary(self) -> str:
        depth_counts = Counter(node.depth for node in self.tree)
        levels = ", ".join(f"level {d}: {n}" for d, n in sorted(depth_counts.items()))
        return (
            f"{len(self.tree)} nodes ({levels}); {len(self.records)} QA pairs; "
            f"{self.usage.calls} LLM calls, {self.usage.total_tokens} tokens"
        )

    def to_markdown(self) -> str:
        """Return the stage reports as a Markdown table, with a summary of the tree."""
        return f"**Taxonomy**: {self._summary()}.\n\n" + _reports_markdown(self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Return the reports and usage as plain data (the tree is saved with ``tree.save``)."""
        return {
            "stages": [r.to_dict() for r in self.stages],
            "usage": self.usage.model_dump(),
            "nodes": len(self.tree),
        }

    def __repr__(self) -> str:
        lines = [
            f"BuildResult(tree={len(self.tree)} nodes, pairs={len(self.records)}, llm_calls={self.usage.calls})"
        ]
        lines += [f"  {r.summary()}" for r in self.stages]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return html_report("Taxonomy build", self._summary(), _reports_html(self.stages))
