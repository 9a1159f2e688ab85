"""Social-simulation evaluation (paper §4.3): personas and two baselines answer the WVS-7 questions.

The ground truth here is a *synthetic* file in the official WVS-7 CSV layout (the real data may not be
redistributed; download it from worldvaluessurvey.org and pass its path with ``--wvs``).

    python examples/evaluate_survey.py                 # 100 personas, offline FakeLLM
    python examples/evaluate_survey.py --local         # 5 personas, the embedded local model
    python examples/evaluate_survey.py --model gpt-4.1-mini --wvs WVS_Cross-National_Wave_7_csv_v6_0.csv

With ``DEEPPERSONA_EXAMPLES_FAST=1`` the FakeLLM is always used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from deeppersona.evaluation import Evaluator, surveys

FAST = os.environ.get("DEEPPERSONA_EXAMPLES_FAST") == "1"

OCCUPATIONS = [
    "nurse",
    "secondary-school teacher",
    "smallholder farmer",
    "matatu driver",
    "software developer",
    "market trader",
    "civil servant",
    "university student",
    "retired police officer",
    "tailor",
]
CITIES = ["Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret"]
TRAITS = [
    "devout and family-centred",
    "sceptical of politicians",
    "optimistic about technology",
    "worried about rising prices",
    "active in a community savings group",
    "a keen football fan",
]


def make_personas(n: int, seed: int = 0) -> list[dict[str, object]]:
    """Plain persona records (a narrative plus demographics), as PersonaHub-style sets would be."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        age = int(rng.integers(18, 75))
        gender = str(rng.choice(["female", "male"]))
        job, city = str(rng.choice(OCCUPATIONS)), str(rng.choice(CITIES))
        traits = ", ".join(rng.choice(TRAITS, size=2, replace=False))
        text = f"You are a {age}-year-old {gender} {job} living in {city}, Kenya. You are {traits}."
        out.append(
            {
                "id": f"p{i}",
                "narrative": text,
                "demographics": {
                    "age": age,
                    "gender": gender,
                    "occupation": job,
                    "city": city,
                    "country": "Kenya",
                },
            }
        )
    return out


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
    parser.add_argument("--local", action="store_true", help="use the embedded local model (5 personas)")
    parser.add_argument("--model", default=None, help="a LiteLLM model name instead of the fake model")
    parser.add_argument("--wvs", default=None, help="path of the real WVS-7 CSV (default: a synthetic file)")
    parser.add_argument("--country", default="KEN")
    parser.add_argument("-n", type=int, default=None, help="number of personas")
    parser.add_argument("--plots", default=None, help="directory for the PNG figures")
    args = parser.parse_args()

    if FAST or not (args.local or args.model):
        from deeppersona.testing import FakeLLM

        model, n, label = FakeLLM(seed=0), 100, "FakeLLM (offline)"
    else:
        model, n, label = (None, 5, "embedded local model") if args.local else (args.model, 100, args.model)
    n = args.n or n

    with tempfile.TemporaryDirectory() as tmp:
        wvs = Path(args.wvs) if args.wvs else write_synthetic_wvs(Path(tmp) / "synthetic_wvs7.csv")
        truth = surveys.load_wvs7(wvs, args.country)
        evaluator = Evaluator(model, seed=0, n_boot=0 if FAST else 1000, concurrency=4)
        report = evaluator.survey(make_personas(n), truth)
    print(
        f"model: {label}; personas: {n}; ground truth: {'synthetic ' if not args.wvs else ''}WVS-7, {truth.country_name}\n"
    )
    print(report.to_markdown())
    if args.plots:
        report.plot_histograms(Path(args.plots) / "wvs_histograms.png")
        report.plot_metrics(Path(args.plots) / "wvs_metrics.png")
        print(f"\nfigures written to {args.plots}")


if __name__ == "__main__":
    main()
