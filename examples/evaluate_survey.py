"""Social-simulation evaluation (paper §4.3): deep personas and two baselines answer the WVS-7 questions.

The personas are generated with the engine for the survey's country (a cohort), then each answers every
question with its ``to_prompt()`` as the system prompt; Cultural Prompting and a demographics-only shallow
persona (built from the same personas' demographics) answer too. The ground truth here is a *synthetic* file in
the official WVS-7 CSV layout (the real data may not be redistributed; download it from
worldvaluessurvey.org and pass its path with ``--wvs``).

    python examples/evaluate_survey.py                      # 20 personas, offline FakeLLM (a dry run)
    python examples/evaluate_survey.py --local -n 3 -k 20   # the embedded local model (slow on a CPU)
    python examples/evaluate_survey.py --model gpt-4.1-mini --wvs WVS_Cross-National_Wave_7_csv_v6_0.csv
    python examples/evaluate_survey.py --model gpt-4.1-mini --personas kenya.jsonl   # personas made earlier
                                                            # (deeppersona generate / engine.generate_to)

With ``DEEPPERSONA_EXAMPLES_FAST=1`` the FakeLLM and the hash embedder are always used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deeppersona.engine import PersonaEngine
from deeppersona.evaluation import Evaluator, surveys
from deeppersona.persona import Population

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"


def make_personas(model: Any, embedder: Any, country: str, n: int, k: int) -> Population:
    """Generate ``n`` deep personas with ``k`` attributes each, living in ``country``."""
    engine = PersonaEngine.from_taxonomy("default", model=model, embedder=embedder)
    return engine.cohort(country=country).with_seed(0).with_options(progress=False).generate(k=k, n=n)


def write_synthetic_wvs(path: Path, seed: int = 0) -> Path:
    """A synthetic stand-in for the WVS-7 CSV: KEN and USA rows, negative codes for missing answers."""
    rng = np.random.default_rng(seed)
    shares = {
        "Q45": [0.7, 0.2, 0.1],
        "Q46": [0.45, 0.4, 0.1, 0.05],
        "Q57": [0.1, 0.9, 0.0, 0.0],
        "Q184": [0.6, 0.1, 0.08, 0.05, 0.07, 0.03, 0.03, 0.02, 0.01, 0.01],
        "Q218": [0.15, 0.45, 0.4],
        "Q254": [0.75, 0.2, 0.04, 0.01],
    }
    frames = []
    for country, n in (("KEN", 1200), ("USA", 800)):
        data: dict[str, object] = {"B_COUNTRY_ALPHA": [country] * n}
        for item in surveys.WVS7:
            answers = rng.choice(item.codes, size=n, p=shares[item.id])
            answers[rng.random(n) < 0.03] = -1  # don't know
            data[item.id] = answers
        frames.append(pd.DataFrame(data))
    pd.concat(frames).to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--local", action="store_true", help="use the embedded local model")
    parser.add_argument("--model", default=None, help="a LiteLLM model name instead of the fake model")
    parser.add_argument("--personas", default=None, help="evaluate this JSONL file of personas instead")
    parser.add_argument("--wvs", default=None, help="path of the real WVS-7 CSV (default: a synthetic file)")
    parser.add_argument("--country", default="KEN", help="country of the ground truth and of the personas")
    parser.add_argument("-n", type=int, default=None, help="number of personas to generate")
    parser.add_argument("-k", type=int, default=None, help="attributes per generated persona")
    parser.add_argument("--plots", default=None, help="directory for the PNG figures")
    args = parser.parse_args()

    if FAST or not (args.local or args.model):
        from deeppersona.testing import FakeLLM, HashEmbedder

        model, embedder, n, k, label = FakeLLM(seed=0), HashEmbedder(), 20, 30, "FakeLLM (offline)"
    elif args.local:
        model, embedder, n, k, label = None, None, 3, 20, "embedded local model"
    else:
        model, embedder, n, k, label = args.model, None, 20, 100, args.model
    n, k = args.n or n, args.k or k

    if args.personas:
        people = Population.from_jsonl(args.personas)
    else:
        people = make_personas(model, embedder, args.country, n, k)
    print(f"{len(people)} personas, e.g. {people[0]}")

    with tempfile.TemporaryDirectory() as tmp:
        wvs = Path(args.wvs) if args.wvs else write_synthetic_wvs(Path(tmp) / "synthetic_wvs7.csv")
        truth = surveys.load_wvs7(wvs, args.country)
        evaluator = Evaluator(model, seed=0, n_boot=0 if FAST else 1000)
        report = evaluator.survey(people, truth, name="deeppersona")
    synthetic = "synthetic " if not args.wvs else ""
    print(f"model: {label}; ground truth: {synthetic}WVS-7, {truth.country_name}\n")
    print(report.to_markdown())
    if args.plots:
        report.plot_histograms(Path(args.plots) / "wvs_histograms.png")
        report.plot_metrics(Path(args.plots) / "wvs_metrics.png")
        print(f"\nfigures written to {args.plots}")


if __name__ == "__main__":
    main()
