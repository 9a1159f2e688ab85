"""Timing of the distribution metrics and the vectorised bootstrap (run: python benchmarks/bench_metrics.py)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from deeppersona.evaluation import compare_samples
from deeppersona.evaluation._compare import Column, compare_tables


def main() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 11, 100_000), rng.integers(1, 11, 1_000_000)
    t = time.perf_counter()
    compare_samples(x, y, support=range(1, 11))
    print(f"compare_samples, 100k vs 1M answers: {1000 * (time.perf_counter() - t):.1f} ms")
    cols = [Column(f"Q{i}", np.arange(1.0, 5.0), (1.0, 4.0)) for i in range(6)]
    sim = pd.DataFrame({c.id: rng.integers(1, 5, 100).astype(float) for c in cols})
    real = pd.DataFrame({c.id: rng.integers(1, 5, 3000).astype(float) for c in cols})
    t = time.perf_counter()
    compare_tables(sim, cols, real=real, n_boot=1000, rng=rng)
    print(f"6 items, 100 vs 3000 respondents, 1000 row-bootstrap replicates: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
