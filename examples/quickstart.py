"""Quick start: generate one deep persona offline, on the embedded local model.

Run it after the set-up command of the README::

    python examples/quickstart.py            # embedded qwen2.5-coder-1.5b, k=30: several minutes on 2 cores
    python examples/quickstart.py --k 220    # the paper's depth (slower on a CPU)
    python examples/quickstart.py --model gpt-4.1-mini --k 220   # any LiteLLM model

No API key and no network are needed for the default model. The persona is also written to
``quickstart.jsonl`` in the current directory.
"""

from __future__ import annotations

import argparse
import os
import textwrap

import deeppersona as dp
from deeppersona.persona._render import occupation_text

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"  # the test suite's offline fast mode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=30, help="attributes to sample beyond the core (default 30)")
    parser.add_argument("--model", default=None, help="LiteLLM model string (default: embedded local model)")
    parser.add_argument("--country", default="Kenya", help="country cohort (default Kenya)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    engine = dp.PersonaEngine.from_taxonomy("default", model=args.model)
    if FAST:
        from deeppersona.testing import FakeLLM, HashEmbedder

        engine = engine.with_llm(FakeLLM(seed=args.seed)).with_embedder(HashEmbedder())
    # progress on stderr from the first second: the model loads, then core, fill 1/2, ..., narrative
    engine = engine.cohort(country=args.country).with_seed(args.seed).with_options(progress=not FAST)

    persona = engine.generate(k=args.k)  # raises GenerationError if it could not be generated at all
    print(f"status: {persona.status}" + (f" ({persona.failure})" if not persona.ok else ""))
    for part, why in persona.missing.items():
        print(f"  missing {part}: {why}")

    demo = persona.demographics
    print(f"{persona.name or 'Persona'} ({persona.id})")
    job = occupation_text(demo)  # "crop farmworker"; the table title stays in demo["occupation"]
    print(f"  {demo.get('age')} years, {demo.get('gender')}, {job}")
    print(f"  {demo.get('city')}, {demo.get('region')}, {demo.get('country')}")
    if persona.core is not None:
        print(f"\nValues:   {persona.core.values_orientation}")
        print(f"Attitude: {persona.core.attitude}")
        print(f"Interests: {', '.join(persona.core.interests)}")
    print(f"\n{len(persona.selected)} sampled attributes (strata {persona.strata_counts()}), for example:")
    for path, value in list(persona.values().items())[:12]:
        print(f"  {path}: {value}")
    print("\nNarrative:")
    print(textwrap.indent(textwrap.fill(persona.narrative, 100), "  "))
    usage = persona.usage
    print(f"\n{usage.calls} LLM calls, {usage.total_tokens} tokens, model {persona.provenance.model}")

    dp.Population([persona]).to_jsonl("quickstart.jsonl")
    print("written to quickstart.jsonl")


if __name__ == "__main__":
    main()
