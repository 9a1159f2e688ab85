"""Report objects returned by the :class:`~deeppersona.evaluation.Evaluator`.

Each report keeps the raw results and renders them as a pandas table (``to_pandas``), a Markdown table
(``to_markdown``), an HTML table in notebooks (``_repr_html_``) and matplotlib figures (``plot`` and
``plot_*``, each returning a :class:`matplotlib.figure.Figure`, optionally saved to a file). Figures are built
without pyplot, so no global state is touched, and multi-panel figures wrap to rows of at most four panels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._display import html_items, html_note, html_number, html_report, html_table
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
    from .._figure import save_figure

    save_figure(fig, path)
    return fig


def _check_metrics(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationError(f"unknown metrics {unknown}; choose from {list(METRICS)}")


@dataclass
class SurveyReport:
    """Distribution distances between simulated and real survey answers, per item and averaged.

    The ``average`` row of each method is the mean over the items that have answers on both sides, except
    items whose real data use another scale than the prompt (:attr:`SurveyItem.scale_mismatch
    <deeppersona.evaluation.SurveyItem.scale_mismatch>`, e.g. the paper's Q57): those keep their own row,
    are listed in :attr:`excluded` and :attr:`warnings`, and are left out of the average. Recode them
    (``Instrument.recoded()``, ``GroundTruth.recoded()`` or ``Evaluator(scale_mismatch="recode")``) to
    compare them on the real scale and average them.

    In a notebook the report shows as HTML tables (averages with intervals, KS per item, warnings);
    ``repr(report)`` is a one-line summary.

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

        _check_metrics(metrics)
        rows = []
        for _, r in self.table.iterrows():
            row: dict[str, Any] = {
                "method": r["method"],
                "item": self._item_label(r["item"]),
                "n": f"{r['n_sim']}/{r['n_real']}",
            }
            for m in metrics:
                row[_METRIC_TITLES[m]] = self._cell(r, m, ci=ci, digits=digits)
            rows.append(row)
        head = (
            f"**{self._title}.** Distances between simulated and real "
            f"answers (lower is better); n = simulated/real answers"
            + (f"; {int(self.level * 100)}% bootstrap intervals in brackets." if ci else ".")
        )
        out = [head, "", markdown_table(pd.DataFrame(rows), digits=digits, index=False)]
        if self.warnings:
            out += ["", "**Warnings**", ""] + [f"- {w}" for w in self.warnings]
        for label, text in self._footnotes():
            out += ["", f"{label}: {text}"]
        return "\n".join(out)

    @property
    def _title(self) -> str:
        return (
            f"{self.instrument.title or self.instrument.name}: {self.ground_truth.country_name or 'all rows'}"
        )

    def _item_label(self, item: Any) -> str:
        return f"{item} (not averaged)" if item in self.excluded else str(item)

    @staticmethod
    def _cell(row: Any, metric: str, *, ci: bool = True, digits: int = 3) -> str:
        """``value [lo, hi]`` of one metric in one table row (no bounds when they are NaN or ``ci`` is off)."""
        cell = _fmt(row[metric], digits)
        if ci and not math.isnan(float(row[f"{metric}_lo"])):
            cell += f" [{_fmt(row[f'{metric}_lo'], digits)}, {_fmt(row[f'{metric}_hi'], digits)}]"
        return cell

    def _footnotes(self) -> list[tuple[str, str]]:
        """``(label, text)`` lines under the table: skipped baselines, unreadable and missing answers."""
        notes = []
        if self.skipped:
            notes.append(("Skipped", "; ".join(f"{k} ({v})" for k, v in self.skipped.items())))
        unparsed = {m: a.n_unparsed for m, a in self.answers.items() if a.n_unparsed}
        if unparsed:
            notes.append(
                (
                    "Text replies that could not be read as one answer code (ambiguous or unreadable; asked "
                    "again)",
                    ", ".join(f"{k}: {v}" for k, v in unparsed.items()),
                )
            )
        missing = {m: a.n_missing for m, a in self.answers.items() if a.n_missing}
        if missing:
            notes.append(
                (
                    "Answers recorded as missing after retries",
                    ", ".join(f"{k}: {v}" for k, v in missing.items()),
                )
            )
        return notes

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        ks = ", ".join(f"{m} {_fmt(v, 3)}" for m, v in self.averages()["ks"].items())
        parts = [
            f"{self.instrument.name}, {self.ground_truth.country_name or 'all rows'}: {len(self.columns)} compared, "
            f"{len(self.averaged_items)} averaged",
            f"mean KS {ks}",
        ]
        if self.excluded:
            parts.append(f"{', '.join(self.excluded)} left out of the average")
        if self.skipped:
            parts.append(f"skipped {', '.join(self.skipped)}")
        if self.warnings:
            parts.append(
                f"{len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''} (see .warnings)"
            )
        return f"SurveyReport({'; '.join(parts)})"

    def _repr_html_(self) -> str:
        metrics = DEFAULT_SURVEY_METRICS
        avg = self.table[self.table["item"] == AVERAGE]
        averages = html_table(
            ["method", *(_METRIC_TITLES[m] for m in metrics)],
            ([r["method"], *(self._cell(r, m) for m in metrics)] for _, r in avg.iterrows()),
            right=range(1, len(metrics) + 1),
        )
        records = self.table[self.table["item"] != AVERAGE].to_dict("records")
        ks = {(r["method"], str(r["item"])): r["ks"] for r in records}
        n_real = {str(r["item"]): r["n_real"] for r in records}
        per_item = html_table(
            ["item", "n real", *(f"KS {m}" for m in self.methods)],
            [
                [
                    self._item_label(c.id),
                    n_real.get(c.id, 0),
                    *(ks.get((m, c.id), math.nan) for m in self.methods),
                ]
                for c in self.columns
            ],
        )
        return html_report(
            "Survey comparison",
            f"{self._title}; distances between simulated and real answers, lower is better; "
            f"{int(self.level * 100)}% bootstrap intervals in brackets",
            html_note(
                "Average",
                f"over {len(self.averaged_items)} items"
                + (f", without {', '.join(self.excluded)} (not averaged)" if self.excluded else ""),
            ),
            averages,
            html_note("Per item", "KS distance by method"),
            per_item,
            html_items("Warnings", self.warnings),
            *(html_note(label, text) for label, text in self._footnotes()),
        )

    def plot(self, path: str | Path | None = None) -> Figure:
        """The summary figure: the average metrics per method (the same as ``plot_metrics()``).

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).

        Returns:
            The matplotlib figure.
        """
        return self.plot_metrics(path)

    def plot_histograms(
        self, path: str | Path | None = None, *, methods: Sequence[str] | None = None
    ) -> Figure:
        """Simulated against real answer distributions, one panel per item (bars side by side).

        Panels wrap to rows of three.

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).
            methods: Methods to draw (all when ``None``).

        Returns:
            The matplotlib figure.

        Raises:
            EvaluationError: A method the report does not hold.
        """
        from .._figure import panel_grid

        chosen = list(methods or self.methods)
        unknown = [m for m in chosen if m not in self.sim_tables]
        if unknown:
            raise EvaluationError(f"unknown methods {unknown}; the report holds {list(self.sim_tables)}")
        fig, axes = panel_grid(len(self.columns), panel=(4.2, 3.0), max_columns=3)
        series = ["real", *chosen]
        width = 0.8 / len(series)
        for ax, col in zip(axes, self.columns, strict=False):
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
        if self.columns:
            axes[0].legend(fontsize=8)
        return _save(fig, path)

    def plot_metrics(
        self, path: str | Path | None = None, *, metrics: Sequence[str] = DEFAULT_SURVEY_METRICS
    ) -> Figure:
        """Average metrics per method as bars with bootstrap error bars, one panel per metric.

        Panels wrap to rows of four.

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).
            metrics: The metrics to draw (names from ``deeppersona.evaluation.METRICS``).

        Returns:
            The matplotlib figure.

        Raises:
            EvaluationError: An unknown metric.
        """
        from .._figure import panel_grid

        _check_metrics(metrics)
        avg = self.table[self.table["item"] == AVERAGE].set_index("method")
        fig, axes = panel_grid(len(metrics), panel=(2.6, 3.2))
        for ax, m in zip(axes, metrics, strict=False):
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

    In a notebook the report shows as an HTML table of metrics × sets.

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

    def _set_sizes(self) -> dict[str, int]:
        if "set" not in self.per_persona.columns:
            return {}
        return {str(k): int(v) for k, v in self.per_persona.groupby("set", sort=False).size().items()}

    def __repr__(self) -> str:
        sets = [str(s) for s in self.per_set.index]
        text = (
            f"IntrinsicReport(sets={sets}, personas={len(self.per_persona)}, metrics={self.per_set.shape[1]}"
        )
        return text + (f", not_computed={list(self.notes)})" if self.notes else ")")

    def _repr_html_(self) -> str:
        sets = [str(s) for s in self.per_set.index]
        table = html_table(
            ["metric", *sets],
            ([str(metric), *self.per_set[metric].tolist()] for metric in self.per_set.columns),
        )
        sizes = self._set_sizes()
        return html_report(
            "Intrinsic persona quality",
            "per-set means; similarities: lower = more diverse",
            table,
            html_note("Personas", ", ".join(f"{k} {v}" for k, v in sizes.items())) if sizes else "",
            html_note("Not computed", "; ".join(f"{k} ({v})" for k, v in self.notes.items()))
            if self.notes
            else "",
        )

    def plot(self, path: str | Path | None = None) -> Figure:
        """The summary figure: every metric per persona set (the same as ``plot_metrics()``).

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).

        Returns:
            The matplotlib figure.
        """
        return self.plot_metrics(path)

    def plot_metrics(self, path: str | Path | None = None, *, metrics: Sequence[str] | None = None) -> Figure:
        """Bars of each metric per persona set, one panel per metric.

        Panels wrap to rows of four, so the figure stays about 10 inches (1,000-1,250 pixels) wide however many
        metrics there are. Metrics with no value in any set are left out.

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).
            metrics: The metrics to draw (columns of ``per_set``; all when ``None``).

        Returns:
            The matplotlib figure.

        Raises:
            EvaluationError: A metric the report does not hold.
        """
        from .._figure import panel_grid

        chosen = list(metrics) if metrics is not None else list(self.per_set.columns)
        unknown = [c for c in chosen if c not in self.per_set.columns]
        if unknown:
            raise EvaluationError(f"unknown metrics {unknown}; the report holds {list(self.per_set.columns)}")
        cols = [c for c in chosen if self.per_set[c].notna().any()]
        fig, axes = panel_grid(len(cols), panel=(2.6, 2.8))
        if not cols:
            axes[0].set_axis_off()
            axes[0].text(0.5, 0.5, "no metric with a value", ha="center", va="center")
        for ax, c in zip(axes, cols, strict=False):
            vals = self.per_set[c].to_numpy(dtype=float)
            ax.bar(range(len(vals)), vals, color=[f"C{i}" for i in range(len(vals))])
            ax.set_xticks(range(len(vals)), list(self.per_set.index), rotation=30, ha="right", fontsize=8)
            ax.set_title(c, fontsize=9)
        return _save(fig, path)


@dataclass
class PersonalizationReport:
    """LLM-personalization quality of two or more persona sets (paper §4.2 and Table 5).

    In a notebook the report shows as HTML tables of the mean scores and the pairwise preferences.

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

    @property
    def _n_requests(self) -> int:
        return int(self.scores["request"].nunique()) if "request" in self.scores.columns else 0

    def __repr__(self) -> str:
        sets = [str(s) for s in dict.fromkeys(self.scores["set"])] if "set" in self.scores.columns else []
        means = self.summary().loc["mean"] if len(self.scores) else None
        parts = [
            f"sets={sets}",
            f"requests={self._n_requests}",
            f"responses={len(self.responses)}",
        ]
        if means is not None:
            parts.append("mean_score={" + ", ".join(f"{s!r}: {_fmt(means[s], 2)}" for s in sets) + "}")
        if self.battles is not None:
            parts.append(f"battles={len(self.battles)}")
        parts.append(f"failures={self.failures}")
        return f"PersonalizationReport({', '.join(parts)})"

    def _repr_html_(self) -> str:
        summary = self.summary() if len(self.scores) else None
        scores = (
            html_table(
                ["metric", *(str(c) for c in summary.columns)],
                ([str(metric), *row.tolist()] for metric, row in summary.iterrows()),
                digits=2,
            )
            if summary is not None
            else "<p>No scores.</p>"
        )
        parts = ["<p>Mean judge scores (1–5, higher is better)</p>", scores]
        if self.pairwise is not None and len(self.pairwise):
            parts += [
                "<p>Pairwise preferences (ties are not battles; Elo averaged over seeded orders)</p>",
                html_table(
                    ["dimension", "set", "wins", "losses", "ties", "win rate", "Elo"],
                    (
                        [
                            r["dimension"],
                            r["set"],
                            r["wins"],
                            r["losses"],
                            r["ties"],
                            r["win_rate"],
                            html_number(r["elo"], 0),
                        ]
                        for r in self.pairwise.to_dict("records")
                    ),
                    digits=2,
                    right={6},
                ),
            ]
        if self.failures:
            parts.append(html_note("Calls that failed after retries (left out)", str(self.failures)))
        return html_report(
            "Personalization quality",
            f"{len(self.responses)} responses to {self._n_requests} request{'' if self._n_requests == 1 else 's'}",
            *parts,
        )

    def plot(self, path: str | Path | None = None) -> Figure:
        """The summary figure: mean score per metric and persona set (the same as ``plot_metrics()``).

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).

        Returns:
            The matplotlib figure.
        """
        return self.plot_metrics(path)

    def plot_metrics(self, path: str | Path | None = None) -> Figure:
        """Grouped bars: mean score per metric for each persona set.

        Args:
            path: Also save the figure to this file (PNG at 120 dpi for a ``.png`` suffix).

        Returns:
            The matplotlib figure.
        """
        from .._figure import new_figure

        table = self.summary().drop(index="mean")
        fig = new_figure(min(16.0, max(6.0, 0.9 * len(table))), 3.6)
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
