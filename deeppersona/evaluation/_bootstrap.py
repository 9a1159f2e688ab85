"""Vectorised, seeded bootstrap of the distribution metrics.

Resampling answers with replacement from a sample of ``n`` valid answers over ``K`` categories is the same
as drawing the ``K`` counts from a multinomial with the sample's proportions, so one call to
:meth:`numpy.random.Generator.multinomial` gives every replicate at once. When both samples are answer
tables (rows = respondents), :func:`bootstrap_table_counts` can instead resample whole rows, which keeps
the correlation between items and so gives honest intervals for the across-item average.

When a respondent contributes several rows (``repeats > 1``: the same persona asked again), the rows are not
independent draws: the unit of sampling is the respondent. :func:`bootstrap_table_counts` with ``groups``
is then a cluster bootstrap: each replicate draws as many respondents as there are, with replacement, and
keeps all the rows of every respondent drawn. Resampling rows instead would treat ``k`` near-identical
repeats as ``k`` independent answers and give intervals about ``sqrt(k)`` times too narrow. With one row
per respondent the two coincide exactly (same draws, same counts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import EvaluationError
from ._metrics import _clean, _counts, _support, metrics_from_counts

__all__ = [
    "bootstrap_ci",
    "bootstrap_cluster_counts",
    "bootstrap_counts",
    "bootstrap_table_counts",
    "percentile_interval",
]

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


def bootstrap_cluster_counts(
    codes: NDArray[np.int64],
    groups: ArrayLike,
    sizes: Sequence[int],
    n_boot: int,
    rng: np.random.Generator,
) -> list[NDArray[np.float64]]:
    """Cluster-bootstrap replicate counts: resample groups (respondents), keeping all rows of each.

    Each replicate draws ``G`` groups with replacement from the ``G`` groups present and adds up the
    answer counts of every row of every group drawn (a group drawn twice counts twice).

    Args:
        codes: ``(n, Q)`` category indices per row and item; ``-1`` marks a missing answer.
        groups: The group (respondent) of each of the ``n`` rows; any hashable labels.
        sizes: Number of categories of each of the ``Q`` items.
        n_boot: Number of replicates.
        rng: The random generator.

    Returns:
        One ``(n_boot, K_q)`` array of counts per item. With one row per group, in order, the replicates
        are exactly those of :func:`bootstrap_table_counts` without groups for the same generator state.
    """
    n, q = codes.shape
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise EvaluationError(f"groups must give one label per row ({n}), got shape {labels.shape}")
    if n == 0:
        raise EvaluationError("cannot bootstrap an empty answer table")
    _, member = np.unique(labels, return_inverse=True)
    member = member.ravel()
    g = int(member.max()) + 1
    # Per-group counts of each item: (G, K_q).
    per_group = []
    for j in range(q):
        col = codes[:, j]
        ok = col >= 0
        c = np.zeros((g, sizes[j]), dtype=np.float64)
        np.add.at(c, (member[ok], col[ok]), 1.0)
        per_group.append(c)
    out = [np.empty((n_boot, sizes[j]), dtype=np.float64) for j in range(q)]
    chunk = max(1, _ROW_RESAMPLE_LIMIT // g)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        picks = rng.integers(0, g, size=(stop - start, g))
        offsets = np.arange(stop - start)[:, None] * g
        times = np.bincount((offsets + picks).ravel(), minlength=(stop - start) * g).reshape(stop - start, g)
        weights = times.astype(np.float64)
        for j in range(q):
            out[j][start:stop] = weights @ per_group[j]
    return out


def bootstrap_table_counts(
    codes: NDArray[np.int64],
    sizes: Sequence[int],
    n_boot: int,
    rng: np.random.Generator,
    groups: ArrayLike | None = None,
) -> list[NDArray[np.float64]]:
    """Bootstrap replicate counts for every column of an answer table by resampling whole rows.

    Args:
        codes: ``(n, Q)`` category indices per respondent and item; ``-1`` marks a missing answer.
        sizes: Number of categories of each of the ``Q`` items.
        n_boot: Number of replicates.
        rng: The random generator.
        groups: The respondent of each row when respondents have several rows (repeats): then whole
            respondents are resampled (:func:`bootstrap_cluster_counts`). ``None``: every row is a
            respondent.

    Returns:
        One ``(n_boot, K_q)`` array of counts per item. Without ``groups``, falls back to independent
        multinomial draws per item when ``n_boot * n`` is too large to hold in memory (huge real samples,
        whose own sampling noise is then negligible anyway).
    """
    n, q = codes.shape
    if n == 0:
        raise EvaluationError("cannot bootstrap an empty answer table")
    if groups is not None:
        return bootstrap_cluster_counts(codes, groups, sizes, n_boot, rng)
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
    groups_x: ArrayLike | None = None,
    groups_y: ArrayLike | None = None,
) -> tuple[float, float, float]:
    """A metric between two samples with its percentile bootstrap confidence interval.

    Both samples are resampled independently (with replacement, full size) in every replicate; a sample
    with ``groups`` is resampled by group (a cluster bootstrap: respondents with all their repeats).

    Args:
        x: The first sample (NaN = missing, dropped).
        y: The second sample.
        metric: One of :data:`~deeppersona.evaluation.METRICS`.
        n_boot: Number of bootstrap replicates.
        level: Confidence level of the interval.
        seed: Seed or generator for the resampling.
        support: Valid answer codes; the union of observed values when ``None``.
        scale: ``(min, max)`` of the answer scale (for ``wasserstein_norm``).
        groups_x: The respondent of each value of ``x`` (same length as ``x``, before dropping NaN), for
            a cluster bootstrap of ``x``; ``None`` treats every value as its own respondent.
        groups_y: The same for ``y``.

    Returns:
        ``(estimate, low, high)``.

    Raises:
        EvaluationError: Unknown metric, an empty sample, or groups of the wrong length.
    """
    xs, ys = _clean(x, "x"), _clean(y, "y")
    sup = _support(xs, ys, support)
    cx, cy = _counts(xs, sup), _counts(ys, sup)
    point = metrics_from_counts(cx, cy, sup, scale=scale)
    if metric not in point:
        raise EvaluationError(f"unknown metric {metric!r}; choose from {sorted(point)}")
    rng = np.random.default_rng(seed)

    def replicate(
        raw: ArrayLike, counts: NDArray[np.float64], groups: ArrayLike | None
    ) -> NDArray[np.float64]:
        if groups is None:
            return bootstrap_counts(counts, n_boot, rng)
        values = np.asarray(raw, dtype=np.float64).ravel()
        labels = np.asarray(groups).ravel()
        if labels.size != values.size:
            raise EvaluationError(f"groups give {labels.size} labels for {values.size} values")
        keep = ~np.isnan(values)
        idx = np.searchsorted(sup, values[keep]).astype(np.int64)[:, None]
        return bootstrap_cluster_counts(idx, labels[keep], [sup.size], n_boot, rng)[0]

    reps = metrics_from_counts(replicate(x, cx, groups_x), replicate(y, cy, groups_y), sup, scale=scale)
    lo, hi = percentile_interval(reps[metric], level)
    return float(point[metric]), lo, hi
