"""Generate deep personas with the fluent engine, checkpoint them to JSONL, and summarise the population.

Run: python examples/generate_population.py
     (uses the embedded local model; set DEEPPERSONA_EXAMPLES_FAST=1 for an instant offline dry run
     with deeppersona.testing.FakeLLM and HashEmbedder)
"""

from __future__ import annotations

import os
from pathlib import Path

from deeppersona.engine import PersonaEngine
from deeppersona.persona import Population

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"

if FAST:
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1), embedder=HashEmbedder())
    K, N = 60, 6
else:  # the embedded default model, offline; on a 2-core CPU keep k small for a quick look
    engine = PersonaEngine.from_taxonomy("default")
    K, N = 40, 2

# Every fluent call returns a new engine; nothing runs until a terminal call.
kenya = engine.cohort(country="Kenya").with_seed(7).with_options(progress=False)
nurse = kenya.anchor(age=34, occupation="nurse", sleep_quality="poor", bio="Works nights at a district hospital.")

# One persona: exactly K selected attributes, plus the core chain, plus the anchors (verbatim).
persona = nurse.generate(k=K)
print(persona)
print("strata:", persona.strata_counts(), "| LLM calls:", persona.usage.calls)
print("values:", persona.core.values_orientation if persona.core else None)
print("anchor kept:", persona.get("Physical and Health Characteristics > Sleep Health > Sleep Quality"))
print(persona.to_prompt(max_attributes=8)[:600], "...\n")

# A population, written one line per finished persona; rerunning resumes where it stopped.
out = Path("personas.jsonl")
report = kenya.generate_to(out, n=N, k=K)
print(report)
again = kenya.generate_to(out, n=N, k=K)
print("rerun:", again.written, "written,", again.skipped, "already there")

people = Population.from_jsonl(out)
stats = people.stats(engine.tree)
print("attributes per persona:", stats.attributes_per_persona)
print("root categories reached:", sum(v > 0 for v in stats.root_coverage.values()), "of", len(stats.root_coverage))
print("level-2 coverage:", round(stats.level_coverage.get(2, 0.0), 3))
print(people.to_pandas()[["name", "age", "gender", "city", "occupation", "n_attributes"]].to_string(index=False))
