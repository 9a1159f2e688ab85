"""Draws per second of DemographicSampler (vectorised sample() and per-persona draw()).

Run: python benchmarks/bench_demographics.py
"""

from __future__ import annotations

import time

import numpy as np

from deeppersona.demographics import Cohort, DemographicSampler


def rate(fn, repeats: int, per_call: int) -> float:
    fn()  # warm-up: load tables, build the plan
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return repeats * per_call / (time.perf_counter() - start)


def main() -> None:
    s = DemographicSampler(seed=0, names=False)
    named = DemographicSampler(seed=0, names=True)
    rng = np.random.default_rng(0)
    kenya = Cohort(country="Kenya")
    rows = [
        ("sample(20_000) world", rate(lambda: s.sample(20_000), 5, 20_000)),
        ("sample(20_000) Kenya", rate(lambda: s.sample(20_000, country="KEN"), 5, 20_000)),
        ("sample(20_000) world + names", rate(lambda: named.sample(20_000), 2, 20_000)),
        ("draw() Kenya", rate(lambda: s.draw(rng, kenya), 2_000, 1)),
        ("draw() world", rate(lambda: s.draw(rng), 2_000, 1)),
    ]
    for name, r in rows:
        print(f"{name:32s} {r:12,.0f} draws/s")


if __name__ == "__main__":
    main()
