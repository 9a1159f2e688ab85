"""Personas in the data ecosystem: Parquet, pandas, Hugging Face datasets, enrich() over table rows.

Run: python examples/data_ecosystem.py
     (uses the embedded local model; set DEEPPERSONA_EXAMPLES_FAST=1 for an instant offline dry run
     with deeppersona.testing.FakeLLM and HashEmbedder). Needs the extras: pip install 'deeppersona[datasets]'
     (pyarrow and datasets). Files go to ./data_ecosystem_out/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from deeppersona.engine import PersonaEngine
from deeppersona.errors import DuplicatePersonaError
from deeppersona.evaluation import load_personas
from deeppersona.persona import Population

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"

if FAST:
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1), embedder=HashEmbedder())
    K, N = 30, 3
else:  # the embedded default model, offline; on a 2-core CPU keep k and n small for a quick look
    engine = PersonaEngine.from_taxonomy("default")
    K, N = 20, 1

engine = engine.with_seed(7).with_options(progress=False)
out = Path("data_ecosystem_out")
out.mkdir(exist_ok=True)

# 1. Ids include a fingerprint of the run configuration: same seed, other country, other ids.
kenya = engine.cohort(country="Kenya").generate(k=K, n=N)
germany = engine.cohort(country="Germany").generate(k=K, n=N)
print("kenya ids:  ", [p.id for p in kenya])
print("germany ids:", [p.id for p in germany])
people = kenya + germany  # concatenation refuses repeated ids ...
try:
    _ = people + kenya
except DuplicatePersonaError as exc:
    print("refused:", len(exc.ids), "repeated ids")
people = Population.concat([people, kenya], duplicates="drop")  # ... or drops them on request
print(people)

# 2. Parquet, Arrow and pandas: every field of every persona, values kept as JSON text with a kind.
path = people.to_parquet(out / "people.parquet")
back = Population.from_parquet(path)
print("parquet round trip equal:", back == people)
frame = pd.read_parquet(path)
print(frame[["id", "seed", "index", "status"]].head(3).to_string(index=False))
first = frame.iloc[0]
print("demographics:", json.loads(first["demographics"]))
print("first attributes:", [(a["key"], a["kind"], a["value"]) for a in first["attributes"][:3]])
print("from pandas equal:", Population.from_pandas(frame) == people)
long = people.attributes_frame(json_values=True)  # long format, Arrow-safe
long.to_parquet(out / "attributes.parquet")
print("attribute kinds:", long["kind"].value_counts().to_dict())

# 3. Hugging Face datasets: export, filter, read back.
dataset = people.to_hf_dataset()
print(dataset)
kenyan = dataset.filter(lambda row: json.loads(row["demographics"])["country"] == "Kenya")
print("Kenyan rows:", len(Population.from_hf_dataset(kenyan)))

# 4. enrich() over rows: dicts, a DataFrame or a datasets.Dataset (the column is `field`).
sketches = pd.DataFrame(
    {
        "persona": [
            "A night-shift pharmacist in Lagos studying for an MBA.",
            "A retired ferry captain from Bergen who restores wooden boats.",
        ],
        "source": ["hub", "hub"],
    }
)
enriched = engine.enrich(sketches, k=K, field="persona")
for p in enriched:
    print(f"{p.bio!r} -> {p.id}")

# 5. The evaluator's loader takes in-memory sets as well as files.
print("load_personas:", len(load_personas(people)), len(load_personas(frame)), len(load_personas(path)))

# 6. Notebook output: stats render as HTML tables, plots are matplotlib Figures.
stats = people.stats(engine.tree)
print("stats html:", len(stats._repr_html_()), "characters")
fig = people.plot_marginal("country", path=out / "countries.png")
print("figure:", type(fig).__name__, "saved to", out / "countries.png")
