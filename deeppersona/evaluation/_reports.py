"""Report objects returned by the :class:`~deeppersona.evaluation.Evaluator`.

Each report keeps the raw results and renders them as a pandas table (``to_pandas``), a Markdown table
(``to_markdown``) and matplotlib figures saved to PNG. Figures are built with
:class:`matplotlib.figure.Figure` directly, so no global pyplot state is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError
from ._compare import AVERAGE, REPLICATES, Column, average_row
from ._metrics import METRICS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ._loaders import GroundTruth
    from ._simulate import SimulatedAnswers
    from ._surveys import Instrument

__all__ = ["IntrinsicReport", "PersonalizationReport", "SurveyReport", "markdown_table"]

DEFAULT_SURVEY_METRICS: tuple[str, ...] = (
    "ks",
    "wasserstein",
    "wasserstein_norm",
    "js_divergence",
    "mean_diff",
)

_METRIC_TITLES = {
    "ks": "KS",
    "wasserstein": "Wasserstein",
    "wasserstein_norm": "Wasserstein (norm.)",
    "js_divergence": "JS div. (nats)",
    "js_bits": "JS div. (bits)",
    "js_distance": "JS dist.",
    "mean_diff": "Mean diff.",
}


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(float(value)) else f"{float(value):.{digits}f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, *, digits: int = 3, index: bool = True) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table (no ``tabulate`` needed)."""
    df = frame.reset_index() if index and (frame.index.name or any(frame.index.names)) else frame
    header = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_fmt(v, digits) for v in row.tolist()) + " |")
    return "\n".join(lines)


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=120, bbox_inches="tight")
    return fig


@dataclass
class SurveyReport:
    """Distribution distances between simulated and real survey answers, per item and averaged.

    The ``average`` row of each method is the mean over the items that have answers on both sides, except
    items whose real data use another scale than the prompt (:attr:`SurveyItem.scale_mismatch
    <deeppersona.evaluation.SurveyItem.scale_mismatch>`, e.g. the paper's Q57): those keep their own row,
    are listed in :attr:`excluded` and :attr:`warnings`, and are left out of the average. Recode them
    (``Instrument.recoded()``, ``GroundTruth.recoded()`` or ``Evaluator(scale_mismatch="recode")``) to
    compare them on the real scale and average them.

    Attributes:
        instrument: The survey.
        ground_truth: The real answers.
        answers: Method name → simulated answers (the persona set first, then the baselines).
        table: Long table: ``method``, ``item`` (or trait; ``"average"`` last), ``n_sim``, ``n_real`` and
            every metric with its ``_lo``/``_hi`` bootstrap bounds.
        columns: The compared variables (items, or trait scores for Big Five).
        real_counts: Real counts per compared variable (for the histograms).
        level: Confidence level of the intervals.
        skipped: Baselines that could not run → why.
        items_report: For Big Five, the item-level report behind this trait-level one.
        sim_tables: Method → the simulated table that was compared (items, or trait scores).
        excluded: Item id → why it is left out of the average (set on creation).
    """

    instrument: Instrument
    ground_truth: GroundTruth
    answers: dict[str, SimulatedAnswers]
    table: pd.DataFrame
    columns: list[Column]
    real_counts: dict[str, np.ndarray]
    level: float = 0.95
    skipped: dict[str, str] = field(default_factory=dict)
    items_report: SurveyReport | None = None
    sim_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    excluded: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        replicates = self.table[REPLICATES].tolist() if REPLICATES in self.table.columns else None
        if replicates is not None:
            self.table = self.table.drop(columns=REPLICATES)
        compared = {c.id for c in self.columns}
        self.excluded = {
            it.id: f"the prompt offers codes {list(it.codes)} but the real data use {list(it.real_codes or ())}"
            for it in self.instrument.scale_mismatches
            if it.id in compared
        }
        if self.excluded:
            self.table = self._reaveraged(replicates)

    def _reaveraged(self, replicates: list[Any] | None) -> pd.DataFrame:
        """The table with each method's average recomputed without the :attr:`excluded` items."""
        import pandas as pd

        table = self.table.reset_index(drop=True)
        parts = []
        for method in dict.fromkeys(table["method"]):
            items = table[(table["method"] == method) & (table["item"] != AVERAGE)]
            rows = items.to_dict("records")
            reps = [replicates[i] for i in items.index] if replicates is not None else [None] * len(rows)
            include = [not math.isnan(float(r["ks"])) and str(r["item"]) not in self.excluded for r in rows]
            avg = average_row(rows, reps, include, self.level)
            avg["method"] = method
            parts += [items, pd.DataFrame([avg])[list(table.columns)]]
        return pd.concat(parts, ignore_index=True)

    @property
    def warnings(self) -> list[str]:
        """Caveats to read with the numbers: item notes, scale mismatches and recodings, one per item."""
        return self.instrument.warnings()

    @property
    def averaged_items(self) -> list[str]:
        """The compared items (or traits) that the ``average`` rows are computed from, when they have answers."""
        return [c.id for c in self.columns if c.id not in self.excluded]

    @property
    def methods(self) -> list[str]:
        """Method names in report order."""
        return list(dict.fromkeys(self.table["method"]))

    def to_pandas(self, *, ci: bool = True) -> pd.DataFrame:
        """The per-item table indexed by ``(method, item)``; bounds as ``<metric>_lo``/``_hi`` when ``ci``."""
        cols = ["n_sim", "n_real"] + [c for m in METRICS for c in ((m, f"{m}_lo", f"{m}_hi") if ci else (m,))]
        return self.table.set_index(["method", "item"])[cols]

    def averages(self) -> pd.DataFrame:
        """Across-item averages: one row per method, one column per metric."""
        avg = self.table[self.table["item"] == AVERAGE].set_index("method")
        return avg[list(METRICS)]

    def to_markdown(
        self, metrics: Sequence[str] = DEFAULT_SURVEY_METRICS, *, ci: bool = True, digits: int = 3
    ) -> str:
        """Per-item and average table, one block per method, with ``value [lo, hi]`` cells.

        JS divergence is in nats (natural log, bounded by ln 2 ≈ 0.693).
        """
        import pandas as pd

        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise EvaluationError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
        rows = []
        for _, r in self.table.iterrows():
            row: dict[str, Any] = {
                "method": r["method"],
                "item": f"{r['item']} (not averaged)" if r["item"] in self.excluded else r["item"],
                "n": f"{r['n_sim']}/{r['n_real']}",
            }
            for m in metrics:
                cell = _fmt(r[m], digits)
                if ci and not math.isnan(float(r[f"{m}_lo"])):
                    cell += f" [{_fmt(r[f'{m}_lo'], digits)}, {_fmt(r[f'{m}_hi'], digits)}]"
                row[_METRIC_TITLES[m]] = cell
            rows.append(row)
        where = self.ground_truth.country_name or "all rows"
        head = (
            f"**{self.instrument.title or self.instrument.name}: {where}.** Distances between simulated and real "
            f"answers (lower is better); n = simulated/real answers"
            + (f"; {int(self.level * 100)}% bootstrap intervals in brackets." if ci else ".")
        )
        out = [head, "", markdown_table(pd.DataFrame(rows), digits=digits, index=False)]
        if self.warnings:
            out += ["", "**Warnings**", ""] + [f"- {w}" for w in self.warnings]
        if self.skipped:
            out += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in self.skipped.items())]
        unparsed = {m: a.n_unparsed for m, a in self.answers.items() if a.n_unparsed}
        if unparsed:
            out += [
                "",
                "Text replies that could not be read as one answer code (ambiguous or unreadable; asked "
                "again): " + ", ".join(f"{k}: {v}" for k, v in unparsed.items()),
            ]
        missing = {m: a.n_missing for m, a in self.answers.items() if a.n_missing}
        if missing:
            out += [
                "",
                "Answers recorded as missing after retries: "
                + ", ".join(f"{k}: {v}" for k, v in missing.items()),
            ]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        where = self.ground_truth.country_name or "all rows"
        return (
            f"SurveyReport({self.instrument.name!r}, {where!r}, methods={self.methods}, "
            f"compared={len(self.columns)}, averaged={self.averaged_items}, warnings={self.warnings})"
        )

    def plot_histograms(
        self, path: str | Path | None = None, *, methods: Sequence[str] | None = None
    ) -> Figure:
        """Simulated against real answer distributions, one panel per item (bars side by side).

        Args:
            path: Save the figure to this PNG path when given.
            methods: Methods to draw (all when ``None``).

        Returns:
            The matplotlib figure.
        """
        from matplotlib.figure import Figure

        chosen = list(methods or self.methods)
        n = len(self.columns)
        ncols = min(3, n)
        nrows = math.ceil(n / ncols)
        fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        series = ["real", *chosen]
        width = 0.8 / len(series)
        for k, col in enumerate(self.columns):
            ax = axes[k // ncols][k % ncols]
            x = np.arange(col.support.size)
            real = self.real_counts[col.id]
            dists = [real / max(real.sum(), 1)]
            for m in chosen:
                sim = self.sim_tables[m][col.id].to_numpy(dtype=float)
                codes = col.codes(sim)
                c = np.bincount(codes[codes >= 0], minlength=col.support.size).astype(float)
                dists.append(c / max(c.sum(), 1))
            for s, (label, d) in enumerate(zip(series, dists, strict=True)):
                ax.bar(x + (s - (len(series) - 1) / 2) * width, d, width, label=label)
            step = max(1, col.support.size // 10)
            ax.set_xticks(x[::step], [f"{v:g}" for v in col.support[::step]])
            ax.set_title(col.id, fontsize=10)
            ax.set_ylabel("share")
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        axes[0][0].legend(fontsize=8)
        return _save(fig, path)

    def plot_metrics(
        self, path: str | Path | None = None, *, metrics: Sequence[str] = DEFAULT_SURVEY_METRICS
    ) -> Figure:
        """Average metrics per method as bars with bootstrap error bars."""
        from matplotlib.figure import Figure

        avg = self.table[self.table["item"] == AVERAGE].set_index("method")
        fig = Figure(figsize=(2.6 * len(metrics), 3.2), layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, m in zip(axes, metrics, strict=True):
            vals = avg[m].to_numpy(dtype=float)
            lo = np.nan_to_num(vals - avg[f"{m}_lo"].to_numpy(dtype=float))
            hi = np.nan_to_num(avg[f"{m}_hi"].to_numpy(dtype=float) - vals)
            ax.bar(
                range(len(vals)),
                vals,
                yerr=[np.maximum(lo, 0), np.maximum(hi, 0)],
                capsize=3,
                color=[f"C{i}" for i in range(len(vals))],
            )
            ax.set_xticks(range(len(vals)), list(avg.index), rotation=30, ha="right", fontsize=8)
            ax.set_title(_METRIC_TITLES[m], fontsize=10)
        return _save(fig, path)


@dataclass
class IntrinsicReport:
    """Intrinsic quality of one or more persona sets.

    Attributes:
        per_persona: One row per persona: ``set``, ``persona`` and a column per per-persona metric
            (``judge_attributes``, ``uniqueness``, ``actionability``, ``attributes``, ``words``).
        per_set: One row per set: the means of the per-persona metrics plus set-level metrics
            (``distinct_1``…, ``mean_pairwise_similarity``, ``mean_nn_similarity``, ``taxonomy_coverage``).
        marginals: Demographic marginals against the population tables (``set``, ``field``, ``category``,
            ``observed``, ``expected``), when available.
        notes: Metrics that could not be computed → why.
    """

    per_persona: pd.DataFrame
    per_set: pd.DataFrame
    marginals: pd.DataFrame | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        """The per-set summary (sets as rows)."""
        return self.per_set

    def to_markdown(self, *, digits: int = 3) -> str:
        """The per-set summary as Markdown (metrics as rows, sets as columns, like the paper's Table 1)."""
        out = ["**Intrinsic persona quality** (per-set means; similarities: lower = more diverse)", ""]
        out.append(markdown_table(self.per_set.T.rename_axis("metric"), digits=digits))
        if self.notes:
            out += ["", "Not computed: " + "; ".join(f"{k} ({v})" for k, v in self.notes.items())]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()

    def plot_metrics(self, path: str | Path | None = None, *, metrics: Sequence[str] | None = None) -> Figure:
        """Bars of each metric per persona set."""
        from matplotlib.figure import Figure

        cols = [c for c in (metrics or list(self.per_set.columns)) if self.per_set[c].notna().any()]
        fig = Figure(figsize=(2.6 * max(1, len(cols)), 3.2), layout="constrained")
        axes = fig.subplots(1, max(1, len(cols)), squeeze=False)[0]
        for ax, c in zip(axes, cols, strict=False):
            vals = self.per_set[c].to_numpy(dtype=float)
            ax.bar(range(len(vals)), vals, color=[f"C{i}" for i in range(len(vals))])
            ax.set_xticks(range(len(vals)), list(self.per_set.index), rotation=30, ha="right", fontsize=8)
            ax.set_title(c, fontsize=9)
        return _save(fig, path)


@dataclass
class PersonalizationReport:
    """LLM-personalization quality of two or more persona sets (paper §4.2 and Table 5).

    Attributes:
        scores: Long table of judge scores: ``set``, ``persona``, ``request``, ``creative``, ``metric``, ``score``.
        responses: ``set``, ``persona``, ``request``, ``response`` for every generated answer.
        battles: Pairwise judgements: ``dimension``, ``request``, ``a``, ``b``, ``winner`` (a set name or ``"tie"``).
        pairwise: Per ``dimension`` and ``set``: ``wins``, ``losses``, ``ties``, ``battles``, ``win_rate``, ``elo``.
        failures: Judge or responder calls that failed after retries (recorded, not fatal).
    """

    scores: pd.DataFrame
    responses: pd.DataFrame
    battles: pd.DataFrame | None = None
    pairwise: pd.DataFrame | None = None
    failures: int = 0

    def summary(self) -> pd.DataFrame:
        """Mean score per metric (rows, in rubric order) and persona set (columns), like Table 7."""
        order = list(dict.fromkeys(self.scores["metric"]))
        table = self.scores.pivot_table(index="metric", columns="set", values="score", aggfunc="mean")
        sets = list(dict.fromkeys(self.scores["set"]))
        table = table.reindex(index=order, columns=sets)
        table.loc["mean"] = table.mean(axis=0)
        return table

    def to_pandas(self) -> pd.DataFrame:
        """The :meth:`summary` table."""
        return self.summary()

    def to_markdown(self, *, digits: int = 3) -> str:
        """Mean scores per set and, when judged, win rates and Elo ratings per dimension."""
        out = ["**Personalization quality** (judge scores 1–5, higher is better)", ""]
        out.append(markdown_table(self.summary(), digits=digits))
        if self.pairwise is not None and len(self.pairwise):
            out += [
                "",
                "**Pairwise preferences** (ties are not battles; Elo averaged over seeded orders)",
                "",
            ]
            out.append(markdown_table(self.pairwise, digits=digits, index=False))
        if self.failures:
            out += ["", f"Calls that failed after retries (left out): {self.failures}"]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()

    def plot_metrics(self, path: str | Path | None = None) -> Figure:
        """Grouped bars: mean score per metric for each persona set."""
        from matplotlib.figure import Figure

        table = self.summary().drop(index="mean")
        fig = Figure(figsize=(max(6.0, 0.9 * len(table)), 3.6), layout="constrained")
        ax = fig.subplots()
        width = 0.8 / max(1, table.shape[1])
        x = np.arange(len(table))
        for s, col in enumerate(table.columns):
            ax.bar(
                x + (s - (table.shape[1] - 1) / 2) * width,
                table[col].to_numpy(dtype=float),
                width,
                label=str(col),
            )
        ax.set_xticks(x, list(table.index), rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 5.2)
        ax.set_ylabel("mean score")
        ax.legend(fontsize=8)
        return _save(fig, path)
