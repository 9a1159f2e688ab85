"""Draw a population of core demographics from real tables and check it against them.

Run: python examples/demographics_population.py   (offline; a few seconds)
"""

from __future__ import annotations

import os

import numpy as np

from deeppersona.demographics import Cohort, DemographicSampler

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"
N = 2_000 if FAST else 20_000

sampler = DemographicSampler(year=2025, min_age=18, seed=7)

# 1. The world, weighted by population.
world = sampler.sample(N)
print(world.head(5).to_string(index=False))
print("\nTop countries:\n", world["country"].value_counts(normalize=True).head(5).round(3).to_string())

# 2. One of the paper's countries, with a cohort: young adult women in Kenya.
young = sampler.sample(200, seed=1, cohort=Cohort(country="Kenya", age_range=(18, 29), gender="female"))
print("\nKenya, women 18-29:\n", young[["age", "city", "occupation", "name"]].head(5).to_string(index=False))

# 3. One persona at a time, the way the engine uses it; anchors fix fields.
rng = np.random.default_rng(0)
print("\nAnchored draw:", sampler.draw(rng, anchors={"country": "India", "age": 34, "occupation": "nurse"}))

# 4. Compare the sample with the source tables, and plot it.
table = sampler.compare_marginals(world, top=5)
print("\nLargest |z| per variable:")
print(table.loc[table.groupby("variable")["z"].apply(lambda z: z.abs().idxmax())].to_string(index=False))
fig = sampler.plot_marginals(world)
fig.savefig("demographics_marginals.png")
print("\nSaved demographics_marginals.png")
