"""Vectorised, seeded bootstrap of the distribution metrics.

Resampling answers with replacement from a sample of ``n`` valid answers over ``K`` categories is the same
as drawing the ``K`` counts from a multinomial with the sample's proportions, so one call to
:meth:`numpy.random.Generator.multinomial` gives every replicate at once. When both samples are answer
tables (rows = respondents), :func:`bootstrap_table_counts` can instead resample whole rows, which keeps
the correlation between items and so gives honest intervals for the across-item average.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import EvaluationError
from ._metrics import _clean, _counts, _support, metrics_from_counts

__all__ = ["bootstrap_ci", "bootstrap_counts", "bootstrap_table_counts", "percentile_interval"]

_ROW_RESAMPLE_LIMIT = 20_000_000  # replicate × row cells beyond which rows are not resampled jointly


def bootstrap_counts(counts: ArrayLike, n_boot: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Draw ``n_boot`` bootstrap replicates of a histogram.

    Args:
        counts: Observed counts over the categories, shape ``(K,)``.
        n_boot: Number of replicates.
        rng: The random generator.

    Returns:
        Replicate counts, shape ``(n_boot, K)``; each row sums to the observed total.
    """
    c = np.asarray(counts, dtype=np.float64)
    total = round(c.sum())
    if total <= 0:
        raise EvaluationError("cannot bootstrap an empty histogram")
    return rng.multinomial(total, c / c.sum(), size=n_boot).astype(np.float64)


def bootstrap_table_counts(
    codes: NDArray[np.int64], sizes: Sequence[int], n_boot: int, rng: np.random.Generator
) -> list[NDArray[np.float64]]:
    """Bootstrap replicate counts for every column of an answer table by resampling whole rows.

    Args:
        codes: ``(n, Q)`` category indices per respondent and item; ``-1`` marks a missing answer.
        sizes: Number of categories of each of the ``Q`` items.
        n_boot: Number of replicates.
        rng: The random generator.

    Returns:
        One ``(n_boot, K_q)`` array of counts per item. Falls back to independent multinomial draws per
        item when ``n_boot * n`` is too large to hold in memory (huge real samples, whose own sampling
        noise is then negligible anyway).
    """
    n, q = codes.shape
    if n == 0:
        raise EvaluationError("cannot bootstrap an empty answer table")
    if n_boot * n > _ROW_RESAMPLE_LIMIT:
        out = []
        for j in range(q):
            col = codes[:, j]
            observed = np.bincount(col[col >= 0], minlength=sizes[j])
            out.append(
                bootstrap_counts(observed, n_boot, rng) if observed.sum() else np.zeros((n_boot, sizes[j]))
            )
        return out
    rows = rng.integers(0, n, size=(n_boot, n))
    offsets = np.arange(n_boot)[:, None]
    result = []
    for j in range(q):
        vals = codes[rows, j]
        valid = vals >= 0
        flat = (offsets * sizes[j] + vals)[valid]
        result.append(
            np.bincount(flat, minlength=n_boot * sizes[j]).reshape(n_boot, sizes[j]).astype(np.float64)
        )
    return result


def percentile_interval(replicates: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of ``replicates`` at confidence ``level``."""
    if not 0 < level < 1:
        raise EvaluationError(f"confidence level must be in (0, 1), got {level}")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_ci(
    x: ArrayLike,
    y: ArrayLike,
    metric: str = "ks",
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    support: ArrayLike | None = None,
    scale: tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """A metric between two samples with its percentile bootstrap confidence interval.

    Both samples are resampled independently (with replacement, full size) in every replicate.

    Args:
        x: The first sample (NaN = missing, dropped).
        y: The second sample.
        metric: One of :data:`~deeppersona.evaluation.METRICS`.
        n_boot: Number of bootstrap replicates.
        level: Confidence level of the interval.
        seed: Seed or generator for the resampling.
        support: Valid answer codes; the union of observed values when ``None``.
        scale: ``(min, max)`` of the answer scale (for ``wasserstein_norm``).

    Returns:
        ``(estimate, low, high)``.

    Raises:
        EvaluationError: Unknown metric or an empty sample.
    """
    xs, ys = _clean(x, "x"), _clean(y, "y")
    sup = _support(xs, ys, support)
    cx, cy = _counts(xs, sup), _counts(ys, sup)
    point = metrics_from_counts(cx, cy, sup, scale=scale)
    if metric not in point:
        raise EvaluationError(f"unknown metric {metric!r}; choose from {sorted(point)}")
    rng = np.random.default_rng(seed)
    reps = metrics_from_counts(
        bootstrap_counts(cx, n_boot, rng), bootstrap_counts(cy, n_boot, rng), sup, scale=scale
    )
    lo, hi = percentile_interval(reps[metric], level)
    return float(point[metric]), lo, hi
