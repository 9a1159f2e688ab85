"""Judge-free persona quality: are the values deep, specific, varied and coherent? (no model needed)

The report counts bare-word values ("High", "Yes"), one-word values, empty / placeholder / junk values,
values repeated within a persona or echoing their attribute's name or copying the sketch, checks the core
chain (a values phrase, an attitude sentence, stories at length, interests), anchors and sketch facts
kept, rule-based contradictions (a retired 30-year-old, a single person with a partner's job ...) and how
many attributes the narrative reflects.

    python examples/quality_report.py                           # FakeLLM personas + one shallow persona
    python examples/quality_report.py --personas kenya.jsonl    # a file you generated before
    python examples/quality_report.py --local -n 2 -k 30        # the embedded local model (minutes on a CPU)
    python examples/quality_report.py --plot quality.png        # also save the figure

The same report from the command line: ``deeppersona evaluate quality personas.jsonl`` (``--json`` for the
figures as JSON).
"""

from __future__ import annotations

import argparse
import os

from deeppersona.engine import PersonaEngine
from deeppersona.evaluation import Evaluator
from deeppersona.persona import AttributeValue, CoreProfile, Persona, Population

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"


def shallow_persona() -> Persona:
    """A persona with the faults a small model tends to make, to show what the report catches."""

    def value(path: str, text: str) -> AttributeValue:
        return AttributeValue(value=text, stratum="near", path=tuple(path.split(" > ")))

    paths = {
        "Psychological and Cognitive Aspects > Personality Traits > Orderliness": "High",
        "Lifestyle and Daily Routine > Sleep Patterns > Napping": "Yes",
        "Relationships and Social Networks > Loss and Bereavement > Grief Process": "never had grief process",
        "Demographic Information > Ethnicity and Ancestry > Diaspora Identity": "Kenyan",
        "Demographic Information > Marital and Partnership Status > Marital Status": "Single",
        "Relationships and Social Networks > Romantic Partnership > Partner Background": "a nurse from Eldoret",
    }
    return Persona(
        id="shallow",
        seed=0,
        demographics={"country": "Kenya", "age": 49, "gender": "male", "life_stage": "employed"},
        core=CoreProfile(
            values_orientation="Neutral",
            attitude="Optimistic",
            attitude_details="He works hard.",
            coping_mechanism="He talks to friends and prays.",
            life_stories=["", "He moved to Nakuru."],
            interests=["farming", "{"],
        ),
        attributes={path: value(path, text) for path, text in paths.items()},
        narrative="He is a farmer. He is single and has a partner who is a nurse.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--personas", default=None, help="a JSONL file of personas to assess")
    parser.add_argument("--local", action="store_true", help="generate with the embedded local model")
    parser.add_argument("-n", type=int, default=4, help="personas to generate (default 4)")
    parser.add_argument("-k", type=int, default=30, help="attributes per persona (default 30)")
    parser.add_argument("--plot", default=None, help="save the figure to this PNG file")
    args = parser.parse_args()

    if args.personas:
        personas = Population.from_jsonl(args.personas)
    else:
        if args.local and not FAST:
            engine = PersonaEngine.from_taxonomy("default")
        else:
            from deeppersona.testing import FakeLLM, HashEmbedder

            engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1), embedder=HashEmbedder())
        engine = engine.cohort(country="Kenya").with_seed(7).with_options(progress=False)
        generated = engine.generate(k=args.k, n=args.n)
        personas = Population([*generated, *generated.failures, shallow_persona()])

    report = Evaluator().quality(personas)  # no model: every figure is computed from the personas
    print(report.to_markdown())
    print()
    print(repr(report))
    values = report.to_pandas(per="value")
    flagged = values[(values["problem"] != "") | (values["contradiction"] != "")]
    print(f"\n{len(flagged)} flagged values (first 10):")
    print(
        flagged[["persona_id", "name", "value", "problem", "contradiction"]].head(10).to_string(index=False)
    )
    per_persona = report.to_pandas(per="persona")
    print("\nPersonas with a contradiction:")
    for row in per_persona[per_persona["contradictions"] != ""].itertuples():
        print(f"  {row.id}: {row.contradictions}")
    if args.plot:
        report.plot(args.plot)
        print("figure saved to", args.plot)


if __name__ == "__main__":
    main()
