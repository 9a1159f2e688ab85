"""Enrich PersonaHub-style one-line sketches into deep personas (the sketch is kept verbatim as the bio).

Run: python examples/enrich_sketches.py
     (embedded local model; DEEPPERSONA_EXAMPLES_FAST=1 for an offline dry run with the fakes)
"""

from __future__ import annotations

import json
import os

from deeppersona.engine import PersonaEngine

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"

SKETCHES = [
    "A night-shift pharmacist in Lagos studying for an MBA.",
    "A retired ferry captain from Bergen who restores wooden boats.",
    "A 19-year-old competitive chess player in Chennai.",
]

if FAST:
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=2), embedder=HashEmbedder())
    K = 30
else:
    engine = PersonaEngine.from_taxonomy("default")
    K = 30

engine = engine.with_seed(3).with_options(progress=False)
people = engine.enrich(SKETCHES, k=K)  # one extra call per sketch extracts its facts as anchors
for p in people:
    print(f"{p.bio!r} ->", p)
    for warning in p.warnings:
        print("   note:", warning)
print(json.dumps(people[0].to_nested(), ensure_ascii=False)[:700], "...")
print("failed:", [(p.index, p.failure) for p in people.failures])
