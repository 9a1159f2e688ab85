"""Per-item and averaged comparison of a simulated answer table with the ground truth, with bootstrap CIs."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError
from ._bootstrap import bootstrap_counts, bootstrap_table_counts, percentile_interval
from ._metrics import METRICS, metrics_from_counts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AVERAGE", "REPLICATES", "Column", "average_row", "compare_tables", "respondent_groups"]

logger = logging.getLogger(__name__)

AVERAGE = "average"
"""The row label of the across-item average."""


@dataclass(frozen=True)
class Column:
    """One compared variable: an item (or a trait score) with its support and scale."""

    id: str
    support: np.ndarray
    scale: tuple[float, float]

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Support index of each value; ``-1`` for missing. Values off the support are an error."""
        vals = np.asarray(values, dtype=float)
        idx = np.full(vals.shape, -1, dtype=np.int64)
        ok = ~np.isnan(vals)
        pos = np.searchsorted(self.support, vals[ok])
        pos = np.clip(pos, 0, self.support.size - 1)
        match = np.isclose(self.support[pos], vals[ok], rtol=0, atol=1e-9)
        if not match.all():
            bad = vals[ok][~match][:5].tolist()
            raise EvaluationError(f"{self.id}: values {bad} are not valid answers {self.support.tolist()}")
        idx[ok] = pos
        return idx


REPLICATES = "_replicates"
"""Column of :func:`compare_tables`' output holding each item's bootstrap replicates (metric → array)."""


def _code_matrix(frame: pd.DataFrame, columns: Sequence[Column]) -> np.ndarray:
    return np.column_stack([c.codes(frame[c.id].to_numpy(dtype=float)) for c in columns])


def respondent_groups(frame: pd.DataFrame) -> np.ndarray | None:
    """The respondent of each row when ``frame`` is indexed by respondent (a level named ``respondent``).

    Simulated answer tables (:class:`~deeppersona.evaluation.SimulatedAnswers`) are indexed that way, so
    the repeats of one persona stay together in the bootstrap. ``None`` when every row is its own respondent.
    """
    if "respondent" not in frame.index.names:
        return None
    groups = frame.index.get_level_values("respondent")
    return None if groups.is_unique else groups.to_numpy()


def average_row(
    rows: Sequence[Mapping[str, Any]],
    replicates: Sequence[Mapping[str, np.ndarray] | None],
    include: Sequence[bool],
    level: float,
) -> dict[str, object]:
    """The across-item average of per-item result rows, with its bootstrap interval.

    The point estimate is the mean of the included items' metrics; the interval is the percentile interval
    of the mean of their replicates (replicate ``b`` of every item comes from the same resample of
    respondents, so the correlation between items is kept).

    Args:
        rows: Per-item rows with ``n_sim``, ``n_real`` and every metric of :data:`METRICS`.
        replicates: Per-item bootstrap replicates (metric → array), or ``None`` without a bootstrap.
        include: Which rows enter the average.
        level: Confidence level.

    Returns:
        The :data:`AVERAGE` row (NaN metrics when no row is included).
    """
    used = [i for i, ok in enumerate(include) if ok]
    avg: dict[str, object] = {"item": AVERAGE}
    if not used:
        avg.update({"n_sim": 0, "n_real": 0})
        avg.update({k: np.nan for m in METRICS for k in (m, f"{m}_lo", f"{m}_hi")})
        return avg
    avg["n_sim"] = int(np.mean([float(rows[i]["n_sim"]) for i in used]))
    avg["n_real"] = int(np.mean([float(rows[i]["n_real"]) for i in used]))
    reps = [replicates[i] for i in used]
    for m in METRICS:
        avg[m] = float(np.mean([float(rows[i][m]) for i in used]))
        if all(r is not None for r in reps):
            stacked = np.mean([r[m] for r in reps if r is not None], axis=0)
            avg[f"{m}_lo"], avg[f"{m}_hi"] = percentile_interval(stacked, level)
        else:
            avg[f"{m}_lo"] = avg[f"{m}_hi"] = np.nan
    return avg


def compare_tables(
    simulated: pd.DataFrame,
    columns: Sequence[Column],
    *,
    real: pd.DataFrame | None = None,
    real_counts: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator,
    averaged: Collection[str] | None = None,
) -> pd.DataFrame:
    """Compare a simulated answer table with real answers, item by item and on average.

    Args:
        simulated: One row per simulated answer set, one column per ``Column.id``. When its index is named
            ``respondent`` (as :class:`~deeppersona.evaluation.SimulatedAnswers` tables are) and a
            respondent has several rows (repeats), the bootstrap resamples respondents with all their rows
            (a cluster bootstrap); otherwise rows.
        columns: The compared variables.
        real: Real answers with the same columns (preferred: rows are resampled jointly).
        real_counts: Real counts per column over its support (used when ``real`` is ``None``).
        n_boot: Bootstrap replicates (0 = no intervals).
        level: Confidence level.
        rng: Generator for the bootstrap.
        averaged: Ids of the columns that enter the average (all when ``None``).

    Returns:
        One row per column plus :data:`AVERAGE`; columns ``item``, ``n_sim``, ``n_real``, for every
        metric ``m`` of :data:`METRICS`: ``m``, ``m_lo``, ``m_hi``, and :data:`REPLICATES` (each item's
        bootstrap replicates, metric → array, or ``None``; reports drop it after use). Items without any
        simulated (or real) answer get NaN metrics and are left out of the average.
    """
    import pandas as pd

    if real is None and real_counts is None:
        raise EvaluationError("compare_tables needs real answers or real counts")
    sizes = [c.support.size for c in columns]
    sim_codes = _code_matrix(simulated, columns)
    sim_obs = [
        np.bincount(sim_codes[:, j][sim_codes[:, j] >= 0], minlength=sizes[j]).astype(float)
        for j in range(len(columns))
    ]
    if real is not None:
        real_codes = _code_matrix(real, columns)
        real_obs = [
            np.bincount(real_codes[:, j][real_codes[:, j] >= 0], minlength=sizes[j]).astype(float)
            for j in range(len(columns))
        ]
    else:
        assert real_counts is not None
        real_obs = [np.asarray(real_counts[c.id], dtype=float) for c in columns]
    usable = [bool(s.sum() > 0 and r.sum() > 0) for s, r in zip(sim_obs, real_obs, strict=True)]
    for c, ok, s in zip(columns, usable, sim_obs, strict=True):
        if not ok:
            logger.warning(
                "%s: no %s answers; its metrics are NaN and it is left out of the average",
                c.id,
                "simulated" if s.sum() == 0 else "real",
            )
    if not any(usable):
        raise EvaluationError("no item has both simulated and real answers; nothing to compare")

    if n_boot > 0:
        sim_boot = bootstrap_table_counts(sim_codes, sizes, n_boot, rng, groups=respondent_groups(simulated))
        if real is not None:
            real_boot = bootstrap_table_counts(real_codes, sizes, n_boot, rng, groups=respondent_groups(real))
        else:
            real_boot = [
                bootstrap_counts(r, n_boot, rng) if r.sum() > 0 else np.zeros((n_boot, r.size))
                for r in real_obs
            ]

    rows: list[dict[str, object]] = []
    replicates: list[dict[str, np.ndarray] | None] = []
    for j, c in enumerate(columns):
        row: dict[str, object] = {
            "item": c.id,
            "n_sim": int(sim_obs[j].sum()),
            "n_real": int(real_obs[j].sum()),
        }
        if not usable[j]:
            row.update({k: np.nan for m in METRICS for k in (m, f"{m}_lo", f"{m}_hi")})
            rows.append(row)
            replicates.append(None)
            continue
        point = metrics_from_counts(sim_obs[j], real_obs[j], c.support, scale=c.scale)
        reps = None
        if n_boot > 0:
            # Replicates with an empty side (all answers missing in a resample) carry no information.
            s_b, r_b = sim_boot[j], real_boot[j]
            ok = (s_b.sum(axis=1) > 0) & (r_b.sum(axis=1) > 0)
            s_b = np.where(ok[:, None], s_b, sim_obs[j])
            r_b = np.where(ok[:, None], r_b, real_obs[j])
            reps = metrics_from_counts(s_b, r_b, c.support, scale=c.scale)
        for m in METRICS:
            row[m] = float(point[m])
            if reps is not None:
                row[f"{m}_lo"], row[f"{m}_hi"] = percentile_interval(reps[m], level)
            else:
                row[f"{m}_lo"] = row[f"{m}_hi"] = np.nan
        rows.append(row)
        replicates.append(reps)
    include = [ok and (averaged is None or c.id in averaged) for ok, c in zip(usable, columns, strict=True)]
    avg = average_row(rows, replicates, include, level)
    table = pd.DataFrame([*rows, avg])
    table[REPLICATES] = pd.Series([*replicates, None], index=table.index, dtype=object)
    return table
