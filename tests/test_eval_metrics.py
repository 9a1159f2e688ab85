"""Distribution metrics against independent scipy computations, and bootstrap coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from deeppersona.errors import EvaluationError
from deeppersona.evaluation import (
    METRICS,
    bootstrap_ci,
    compare_samples,
    js_distance,
    js_divergence,
    ks_statistic,
    mean_difference,
    normalized_wasserstein,
    wasserstein,
)
from deeppersona.evaluation._bootstrap import (
    bootstrap_cluster_counts,
    bootstrap_table_counts,
    percentile_interval,
)
from deeppersona.evaluation._compare import REPLICATES, Column, compare_tables
from deeppersona.evaluation._metrics import metrics_from_counts


def _hist(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    support = np.union1d(x, y)
    return np.array([np.sum(x == s) for s in support]), np.array([np.sum(y == s) for s in support])


@pytest.mark.parametrize("trial", range(40))
def test_metrics_equal_scipy_on_random_samples(trial: int) -> None:
    rng = np.random.default_rng(trial)
    if trial % 4 == 0:  # continuous values: every value its own category
        x, y = rng.normal(size=rng.integers(1, 60)), rng.normal(0.5, 2.0, size=rng.integers(1, 80))
    else:
        x = rng.integers(1, 11, size=rng.integers(1, 300)).astype(float)
        y = rng.integers(1, 6, size=rng.integers(1, 300)).astype(float)
    m = compare_samples(x, y)
    p, q = _hist(x, y)
    assert m["ks"] == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-9)
    assert m["wasserstein"] == pytest.approx(stats.wasserstein_distance(x, y), abs=1e-9)
    assert m["js_distance"] == pytest.approx(jensenshannon(p, q), abs=1e-9)
    assert m["js_divergence"] == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-9)
    assert m["js_bits"] == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-9)
    assert m["mean_diff"] == pytest.approx(abs(x.mean() - y.mean()), abs=1e-9)
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    if hi > lo:
        assert m["wasserstein_norm"] == pytest.approx(stats.wasserstein_distance(x, y) / (hi - lo), abs=1e-9)


def test_single_metric_functions_match_compare_samples() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.integers(1, 5, 50), rng.integers(1, 5, 70)
    m = compare_samples(x, y)
    assert ks_statistic(x, y) == m["ks"]
    assert wasserstein(x, y) == m["wasserstein"]
    assert normalized_wasserstein(x, y, (1, 4)) == pytest.approx(m["wasserstein"] / 3)
    assert js_divergence(x, y) == m["js_divergence"]
    assert js_divergence(x, y, base=2) == pytest.approx(m["js_bits"])
    assert js_distance(x, y) == pytest.approx(math.sqrt(m["js_divergence"]))
    assert mean_difference(x, y) == pytest.approx(m["mean_diff"])


def test_support_adds_empty_categories_and_scale_normalises() -> None:
    # Declared codes that nobody used still widen the Wasserstein normalisation range.
    m = compare_samples([1, 1, 2], [2, 2, 2], support=[1, 2, 3, 4], scale=(1, 4))
    assert m["wasserstein"] == pytest.approx(2 / 3)
    assert m["wasserstein_norm"] == pytest.approx(2 / 9)
    with pytest.raises(EvaluationError, match="not in the support"):
        compare_samples([1, 5], [1, 2], support=[1, 2, 3, 4])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10), min_size=1, max_size=80))
def test_identical_samples_give_zero(values: list[int]) -> None:
    rng = np.random.default_rng(len(values))
    shuffled = rng.permutation(values)  # order must not matter: full distributions, not aligned rows
    m = compare_samples(values, shuffled)
    for name in METRICS:
        assert m[name] == pytest.approx(0.0, abs=1e-12), name


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=50), st.lists(st.integers(1, 6), min_size=1, max_size=50)
)
def test_bounds_and_symmetry(x: list[int], y: list[int]) -> None:
    m, r = compare_samples(x, y, support=range(1, 7)), compare_samples(y, x, support=range(1, 7))
    assert 0.0 <= m["js_divergence"] <= math.log(2) + 1e-12
    assert 0.0 <= m["js_bits"] <= 1.0 + 1e-12
    assert 0.0 <= m["ks"] <= 1.0
    assert 0.0 <= m["wasserstein_norm"] <= 1.0 + 1e-12
    for name in METRICS:
        assert m[name] == pytest.approx(r[name], abs=1e-12)


def test_disjoint_samples_reach_the_js_bound() -> None:
    m = compare_samples([1, 1, 1], [4, 4])
    assert m["js_divergence"] == pytest.approx(math.log(2))
    assert m["js_bits"] == pytest.approx(1.0)
    assert m["ks"] == 1.0


def test_missing_values_are_dropped_and_empty_samples_rejected() -> None:
    assert compare_samples([1, np.nan, 2], [1, 2])["ks"] == 0.0
    with pytest.raises(EvaluationError, match="empty"):
        compare_samples([np.nan], [1, 2])
    with pytest.raises(EvaluationError, match="no answers"):
        metrics_from_counts([0, 0], [1, 1], [1, 2])


def test_metrics_from_counts_is_vectorised() -> None:
    rng = np.random.default_rng(3)
    cx, cy = rng.integers(0, 20, size=(7, 5)) + 1, rng.integers(0, 20, size=(7, 5)) + 1
    batch = metrics_from_counts(cx, cy, np.arange(1, 6))
    for i in range(7):
        one = metrics_from_counts(cx[i], cy[i], np.arange(1, 6))
        for name in METRICS:
            assert batch[name][i] == pytest.approx(float(one[name]))


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 5, 300), rng.integers(2, 6, 400)
    a = bootstrap_ci(x, y, "mean_diff", seed=1)
    b = bootstrap_ci(x, y, "mean_diff", seed=1)
    assert a == b
    est, lo, hi = a
    assert lo <= est <= hi
    with pytest.raises(EvaluationError, match="unknown metric"):
        bootstrap_ci(x, y, "nope")


def test_bootstrap_coverage_is_near_nominal() -> None:
    """Percentile intervals of |mean difference| cover the true value at about 95%."""
    rng = np.random.default_rng(11)
    support = np.arange(1, 6, dtype=float)
    p = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    q = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
    truth = abs(p @ support - q @ support)
    n_sim, n_x, n_y, n_boot = 300, 150, 200, 400
    cx = rng.multinomial(n_x, p, size=n_sim).astype(float)
    cy = rng.multinomial(n_y, q, size=n_sim).astype(float)
    # All bootstrap replicates of all simulated datasets at once: (n_sim, n_boot, K).
    bx = np.stack([rng.multinomial(n_x, c / n_x, size=n_boot) for c in cx]).astype(float)
    by = np.stack([rng.multinomial(n_y, c / n_y, size=n_boot) for c in cy]).astype(float)
    reps = metrics_from_counts(bx, by, support)["mean_diff"]
    lo, hi = np.quantile(reps, 0.025, axis=1), np.quantile(reps, 0.975, axis=1)
    coverage = np.mean((lo <= truth) & (truth <= hi))
    assert 0.90 <= coverage <= 0.99, coverage


def test_row_bootstrap_keeps_totals_and_missing() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(-1, 3, size=(50, 2))
    out = bootstrap_table_counts(codes, [3, 3], 20, rng)
    assert [o.shape for o in out] == [(20, 3), (20, 3)]
    assert np.all(out[0].sum(axis=1) <= 50)
    assert percentile_interval([1.0, 2.0, 3.0], 0.5) == pytest.approx((1.5, 2.5))


@pytest.mark.parametrize("metric", ["mean_diff", "wasserstein"])
def test_public_bootstrap_ci_covers_the_truth_at_about_nominal_rate(metric: str) -> None:
    """``bootstrap_ci`` itself (not a re-implementation) covers the true distance about 95% of the time."""
    rng = np.random.default_rng(21)
    support = np.arange(1, 5, dtype=float)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.15, 0.25, 0.3, 0.3])  # q dominates p, so W1 = |mean difference|
    truth = metrics_from_counts(p, q, support)[metric]
    hits = 0
    n_sim = 200
    for _ in range(n_sim):
        x = rng.choice(support, size=120, p=p)
        y = rng.choice(support, size=160, p=q)
        _est, lo, hi = bootstrap_ci(x, y, metric, n_boot=300, seed=rng, support=support)
        hits += lo <= truth <= hi
    assert 0.88 <= hits / n_sim <= 0.99, hits / n_sim


# --- Cluster bootstrap by respondent (issue 16, item 5) -------------------------------------------------


def _row_bootstrap_reference(
    codes: np.ndarray, sizes: list[int], n_boot: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """The row bootstrap as it was before clusters: every row resampled on its own."""
    n = codes.shape[0]
    rows = rng.integers(0, n, size=(n_boot, n))
    out = []
    for j, k in enumerate(sizes):
        vals = codes[rows, j]
        out.append(np.stack([np.bincount(v[v >= 0], minlength=k) for v in vals]).astype(float))
    return out


def test_cluster_bootstrap_equals_row_bootstrap_with_one_row_per_respondent() -> None:
    codes = np.random.default_rng(4).integers(-1, 4, size=(60, 3))
    sizes = [4, 4, 4]
    ref = _row_bootstrap_reference(codes, sizes, 50, np.random.default_rng(9))
    rows = bootstrap_table_counts(codes, sizes, 50, np.random.default_rng(9))
    clusters = bootstrap_cluster_counts(codes, np.arange(60), sizes, 50, np.random.default_rng(9))
    for a, b, c in zip(ref, rows, clusters, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_cluster_bootstrap_keeps_all_rows_of_a_respondent() -> None:
    # Respondent r answers r % 4 on every one of its 3 repeats: every count is a multiple of 3.
    codes = (np.repeat(np.arange(20), 3) % 4)[:, None]
    out = bootstrap_cluster_counts(codes, np.repeat(np.arange(20), 3), [4], 200, np.random.default_rng(1))[0]
    assert out.shape == (200, 4)
    assert np.all(out.sum(axis=1) == 60) and np.all(out % 3 == 0)
    with pytest.raises(EvaluationError, match="one label per row"):
        bootstrap_cluster_counts(codes, np.arange(5), [4], 10, np.random.default_rng(1))


def _simulated(repeats: int, index: bool, seed: int = 0) -> pd.DataFrame:
    """40 respondents, each answering (almost) the same on every repeat."""
    rng = np.random.default_rng(seed)
    base = rng.integers(1, 5, size=(40, 2)).astype(float)
    values = np.repeat(base, repeats, axis=0)
    flip = rng.random(values.shape) < 0.05  # near-identical repeats
    values[flip] = rng.integers(1, 5, size=int(flip.sum()))
    respondent = np.repeat(np.arange(40), repeats)
    frame = pd.DataFrame(values, columns=["A", "B"])
    return frame.set_axis(pd.Index(respondent, name="respondent")) if index else frame


def _compare(sim: pd.DataFrame) -> pd.DataFrame:
    cols = [Column(c, np.arange(1.0, 5.0), (1.0, 4.0)) for c in ("A", "B")]
    real = pd.DataFrame(
        np.random.default_rng(7).integers(1, 5, size=(500, 2)).astype(float), columns=["A", "B"]
    )
    return compare_tables(sim, cols, real=real, n_boot=400, rng=np.random.default_rng(3)).set_index("item")


@pytest.mark.parametrize("metric", ["mean_diff", "wasserstein", "js_divergence", "ks"])
def test_repeats_widen_the_interval_only_through_clusters(metric: str) -> None:
    clustered = _compare(_simulated(5, index=True))
    as_rows = _compare(_simulated(5, index=False))  # the same table, each row taken as a respondent
    for item in ("A", "B", "average"):
        width_cluster = clustered.loc[item, f"{metric}_hi"] - clustered.loc[item, f"{metric}_lo"]
        width_rows = as_rows.loc[item, f"{metric}_hi"] - as_rows.loc[item, f"{metric}_lo"]
        assert width_cluster > 1.3 * width_rows, (item, width_cluster, width_rows)
        assert clustered.loc[item, metric] == as_rows.loc[item, metric]  # point estimates are unchanged
    # With one row per respondent, the respondent index changes nothing at all.
    single = _compare(_simulated(1, index=True))
    pd.testing.assert_frame_equal(
        single.drop(columns=REPLICATES), _compare(_simulated(1, index=False)).drop(columns=REPLICATES)
    )


def test_bootstrap_ci_with_groups() -> None:
    rng = np.random.default_rng(5)
    per_person = rng.integers(1, 5, 30).astype(float)
    x = np.repeat(per_person, 4)
    y = rng.integers(1, 5, 400).astype(float)
    groups = np.repeat(np.arange(30), 4)
    est, lo, hi = bootstrap_ci(x, y, "mean_diff", n_boot=500, seed=2)
    est_g, lo_g, hi_g = bootstrap_ci(x, y, "mean_diff", n_boot=500, seed=2, groups_x=groups)
    assert est == est_g and (hi_g - lo_g) > 1.3 * (hi - lo)
    singletons = bootstrap_ci(x, y, "mean_diff", n_boot=500, seed=2, groups_x=np.arange(120))
    assert singletons[0] == est and singletons[2] - singletons[1] == pytest.approx(hi - lo, rel=0.35)
    with pytest.raises(EvaluationError, match="labels for"):
        bootstrap_ci(x, y, groups_x=groups[:10])


def test_compare_tables_averages_the_chosen_items_only() -> None:
    sim = _simulated(1, index=False)
    cols = [Column(c, np.arange(1.0, 5.0), (1.0, 4.0)) for c in ("A", "B")]
    real = pd.DataFrame(
        np.random.default_rng(7).integers(1, 5, size=(500, 2)).astype(float), columns=["A", "B"]
    )
    table = compare_tables(sim, cols, real=real, n_boot=50, rng=np.random.default_rng(3), averaged={"B"})
    table = table.set_index("item")
    for m in ("ks", "ks_lo", "ks_hi", "mean_diff"):
        assert table.loc["average", m] == pytest.approx(table.loc["B", m])
