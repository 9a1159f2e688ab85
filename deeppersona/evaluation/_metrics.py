"""Distribution distances between simulated and real survey answers.

Every metric compares the *full* samples as distributions (never index-aligned rows). Survey answers are
discrete, so each sample is first reduced to counts over a sorted support (the item's valid codes, or the
union of the observed values); all metrics are then exact functions of the two empirical distributions:

* ``ks``: the two-sample Kolmogorov–Smirnov statistic ``max |F_x - F_y|`` (equals
  :func:`scipy.stats.ks_2samp`'s statistic).
* ``wasserstein``: the Wasserstein-1 (earth mover's) distance on the answer scale, ``∫ |F_x - F_y|``
  (equals :func:`scipy.stats.wasserstein_distance`).
* ``wasserstein_norm``: ``wasserstein`` divided by the scale's range (``max - min``), so that a 1–10 item
  does not dominate an average with 1–4 items; it lies in ``[0, 1]``.
* ``js_divergence``: the Jensen–Shannon divergence between the two answer histograms in **nats**
  (natural log), bounded by ``ln 2 ≈ 0.693``; ``js_bits`` is the same in bits (bounded by 1).
* ``js_distance``: the Jensen–Shannon *distance*, the square root of ``js_divergence`` (what
  :func:`scipy.spatial.distance.jensenshannon` returns); bounded by ``sqrt(ln 2)``.
* ``mean_diff``: the absolute difference of the two means.

The ``*_from_counts`` core is vectorised over leading axes, which is what makes the bootstrap cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import EvaluationError

__all__ = [
    "METRICS",
    "compare_samples",
    "js_distance",
    "js_divergence",
    "ks_statistic",
    "mean_difference",
    "metrics_from_counts",
    "normalized_wasserstein",
    "wasserstein",
]

METRICS: tuple[str, ...] = (
    "ks",
    "wasserstein",
    "wasserstein_norm",
    "js_divergence",
    "js_bits",
    "js_distance",
    "mean_diff",
)
"""Names of the metrics :func:`compare_samples` returns, in report order."""

_LN2 = math.log(2.0)


def _clean(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise EvaluationError(f"sample {name!r} is empty (or only missing values); nothing to compare")
    return arr


def _support(
    x: NDArray[np.float64], y: NDArray[np.float64], support: ArrayLike | None
) -> NDArray[np.float64]:
    if support is None:
        return np.union1d(x, y)
    sup = np.unique(np.asarray(support, dtype=np.float64))
    outside = np.setdiff1d(np.union1d(x, y), sup)
    if outside.size:
        raise EvaluationError(
            f"values {outside[:5].tolist()} are not in the support {sup.tolist()}; "
            "drop invalid codes first (the survey loaders read them as missing)"
        )
    return sup


def _counts(x: NDArray[np.float64], sup: NDArray[np.float64]) -> NDArray[np.float64]:
    idx = np.searchsorted(sup, x)
    return np.bincount(idx, minlength=sup.size).astype(np.float64)


def metrics_from_counts(
    counts_x: ArrayLike,
    counts_y: ArrayLike,
    support: ArrayLike,
    *,
    scale: tuple[float, float] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Compute every metric from answer counts; vectorised over leading axes.

    Args:
        counts_x: Counts of sample x over ``support``, shape ``(..., K)``.
        counts_y: Counts of sample y over ``support``, broadcastable against ``counts_x``.
        support: The ``K`` sorted answer values the counts refer to.
        scale: ``(min, max)`` of the answer scale for ``wasserstein_norm``; the support's ends when ``None``.

    Returns:
        Metric name → array of the broadcast leading shape (see :data:`METRICS`).

    Raises:
        EvaluationError: A sample has no answers or the support is not sorted.
    """
    cx = np.asarray(counts_x, dtype=np.float64)
    cy = np.asarray(counts_y, dtype=np.float64)
    sup = np.asarray(support, dtype=np.float64)
    if sup.ndim != 1 or cx.shape[-1] != sup.size or cy.shape[-1] != sup.size:
        raise EvaluationError(
            f"counts of length {cx.shape[-1]}/{cy.shape[-1]} do not match a support of {sup.size}"
        )
    if sup.size > 1 and np.any(np.diff(sup) <= 0):
        raise EvaluationError("the support must be strictly increasing")
    nx = cx.sum(axis=-1, keepdims=True)
    ny = cy.sum(axis=-1, keepdims=True)
    if np.any(nx <= 0) or np.any(ny <= 0):
        raise EvaluationError("a sample has no answers; nothing to compare")
    # Dividing the integer cumulative counts (not summing divided probabilities) keeps the CDFs exact.
    fx = np.cumsum(cx, axis=-1) / nx
    fy = np.cumsum(cy, axis=-1) / ny
    gap = np.abs(fx - fy)
    ks = gap.max(axis=-1)
    w1 = (gap[..., :-1] * np.diff(sup)).sum(axis=-1) if sup.size > 1 else np.zeros(gap.shape[:-1])
    lo, hi = (float(sup[0]), float(sup[-1])) if scale is None else (float(scale[0]), float(scale[1]))
    width = hi - lo
    w1_norm = w1 / width if width > 0 else np.zeros_like(w1)
    p = cx / nx
    q = cy / ny
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    js = np.clip(0.5 * (kl_p + kl_q), 0.0, _LN2)
    mean_diff = np.abs((p * sup).sum(axis=-1) - (q * sup).sum(axis=-1))
    return {
        "ks": ks,
        "wasserstein": w1,
        "wasserstein_norm": w1_norm,
        "js_divergence": js,
        "js_bits": js / _LN2,
        "js_distance": np.sqrt(js),
        "mean_diff": mean_diff,
    }


def compare_samples(
    x: ArrayLike,
    y: ArrayLike,
    *,
    support: ArrayLike | None = None,
    scale: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Every metric of :data:`METRICS` between two full samples (missing values, NaN, are dropped).

    Args:
        x: The first sample (e.g. simulated answers).
        y: The second sample (e.g. real answers).
        support: The valid answer codes; the union of observed values when ``None``.
        scale: ``(min, max)`` of the answer scale for ``wasserstein_norm``; the support's ends when ``None``.

    Returns:
        Metric name → value.

    Raises:
        EvaluationError: A sample is empty or holds a value outside ``support``.

    Example:
        >>> m = compare_samples([1, 2, 2], [2, 3, 3])
        >>> round(m["mean_diff"], 4), round(m["ks"], 4)
        (1.0, 0.6667)
    """
    xs, ys = _clean(x, "x"), _clean(y, "y")
    sup = _support(xs, ys, support)
    out = metrics_from_counts(_counts(xs, sup), _counts(ys, sup), sup, scale=scale)
    return {k: float(v) for k, v in out.items()}


def ks_statistic(x: ArrayLike, y: ArrayLike) -> float:
    """Two-sample Kolmogorov–Smirnov statistic, ``max |F_x - F_y|`` (NaN dropped)."""
    return compare_samples(x, y)["ks"]


def wasserstein(x: ArrayLike, y: ArrayLike) -> float:
    """Wasserstein-1 distance on the answer scale, ``∫ |F_x - F_y|`` (NaN dropped)."""
    return compare_samples(x, y)["wasserstein"]


def normalized_wasserstein(x: ArrayLike, y: ArrayLike, scale: tuple[float, float]) -> float:
    """Wasserstein-1 divided by the range of ``scale`` (``max - min``), in ``[0, 1]`` for on-scale answers."""
    return compare_samples(x, y, scale=scale)["wasserstein_norm"]


def js_divergence(
    x: ArrayLike, y: ArrayLike, *, support: Sequence[Any] | None = None, base: float | None = None
) -> float:
    """Jensen–Shannon divergence between the answer histograms of two samples.

    Args:
        x: The first sample.
        y: The second sample.
        support: The answer categories; the union of observed values when ``None``.
        base: Logarithm base; ``None`` means natural log (nats, bounded by ``ln 2``); ``2`` gives bits
            (bounded by 1).

    Returns:
        The divergence (not its square root; see :func:`js_distance`).
    """
    js = compare_samples(x, y, support=support)["js_divergence"]
    return js if base is None else js / math.log(base)


def js_distance(
    x: ArrayLike, y: ArrayLike, *, support: Sequence[Any] | None = None, base: float | None = None
) -> float:
    """Jensen–Shannon distance: the square root of :func:`js_divergence` with the same ``base``."""
    return math.sqrt(js_divergence(x, y, support=support, base=base))


def mean_difference(x: ArrayLike, y: ArrayLike) -> float:
    """Absolute difference of the two sample means (NaN dropped)."""
    return abs(float(_clean(x, "x").mean()) - float(_clean(y, "y").mean()))
