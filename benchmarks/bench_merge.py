"""Benchmark and calibrate the MERGE stage (paper Algorithm 1).

Usage::

    python benchmarks/bench_merge.py                      # 6,000 -> 60,000 paths, MiniLM embeddings
    python benchmarks/bench_merge.py --embedder hash      # deterministic hash embedder (no model)
    python benchmarks/bench_merge.py --sizes 6000 60000
    python benchmarks/bench_merge.py --calibrate          # similarity of labelled sibling pairs

The synthetic paths mimic extracted attribute paths: names are drawn from a Zipf-distributed pool of
"topic aspect" names ("Sleep Habits", "Music Preferences"...), 30% of occurrences in another spelling
(snake_case, CamelCase, lower case, plural or "-ing" variants), 70% of paths three levels deep.
The time reported is the whole merge, embedding included (every distinct name embedded once, cold).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

TOPICS = """sleep diet food music reading travel family health stress exercise career education finance
religion culture language fashion cooking gardening sports fitness work study parenting marriage friendship
dating technology gaming movies television news podcasts art photography writing dance theatre hiking camping
fishing cycling running swimming yoga meditation spirituality politics volunteering community neighbourhood
housing commute transport pets shopping spending saving investing debt insurance retirement medical dental
vision hearing mobility disability allergy medication therapy emotion anger anxiety confidence motivation
personality humour communication conflict leadership teamwork negotiation learning memory attention creativity
curiosity ambition discipline habit routine morning evening weekend holiday festival tradition heritage
identity ethnicity nationality migration citizenship gender sexuality age generation childhood adolescence
career_change job_search interview salary promotion management entrepreneurship business freelancing
internet social_media smartphone email privacy security volunteering charity environment climate recycling
energy water nature animals wildlife garden weather season music_instrument singing concert museum history
science mathematics philosophy ethics morality justice law rights tax budget luxury minimalism decoration
furniture cleaning laundry chores cooking_skill baking coffee tea alcohol smoking nutrition vitamin weight
skin hair beauty grooming clothing jewellery tattoo body posture pain injury recovery illness chronic
pregnancy fertility menstruation menopause aging death grief loss trauma resilience coping support
relationship partner sibling parent grandparent child cousin roommate colleague boss mentor neighbour""".split()  # noqa: SIM905

ASPECTS = """habits preferences history style goals level frequency routine skills knowledge experience
background status identity beliefs values attitudes interests concerns challenges needs patterns approach
choices quality schedule environment practices traditions expectations priorities motivation satisfaction
awareness literacy habits_change support network""".split()  # noqa: SIM905


def _variant(name: str, rng: np.random.Generator) -> str:
    words = name.split()
    kind = rng.integers(0, 6)
    if kind == 0:
        return "_".join(w.lower() for w in words)
    if kind == 1:
        return "".join(words)
    if kind == 2:
        return name.lower()
    if kind == 3:
        last = words[-1]
        words[-1] = last[:-1] if last.endswith("s") else last + "s"
        return " ".join(words)
    if kind == 4 and not words[0].endswith("ing"):
        words[0] = words[0] + ("ing" if not words[0].endswith("e") else "")
        return " ".join(words)
    return name


def synthetic_paths(n: int, seed: int = 0) -> list[tuple[str, ...]]:
    """Return ``n`` synthetic extracted paths (one entry per occurrence)."""
    from deeppersona.taxonomy import ROOT_CATEGORIES

    rng = np.random.default_rng(seed)
    topics = [t.replace("_", " ").title() for t in TOPICS]
    aspects = [a.replace("_", " ").title() for a in ASPECTS]
    pool = [f"{t} {a}" for t in topics for a in aspects]
    rng.shuffle(pool)
    ranks = np.arange(1, len(pool) + 1, dtype=np.float64)
    weights = ranks**-1.05
    weights /= weights.sum()
    level2 = [rng.choice(topics, 40, replace=False).tolist() for _ in ROOT_CATEGORIES]
    l2_weights = np.arange(1, 41, dtype=np.float64) ** -1.0
    l2_weights /= l2_weights.sum()
    roots = rng.integers(0, len(ROOT_CATEGORIES), n)
    l2 = rng.choice(40, n, p=l2_weights)
    l3 = rng.choice(len(pool), n, p=weights)
    deep = rng.random(n) < 0.7
    vary = rng.random((n, 2)) < 0.3
    out: list[tuple[str, ...]] = []
    for i in range(n):
        root = ROOT_CATEGORIES[roots[i]]
        second = level2[roots[i]][l2[i]]
        if vary[i, 0]:
            second = _variant(second, rng)
        if deep[i]:
            third = pool[l3[i]]
            if vary[i, 1]:
                third = _variant(third, rng)
            out.append((root, second, third))
        else:
            out.append((root, second))
    return out


class _Timed:
    """Wraps an embedder and adds up the seconds spent embedding."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __call__(self, texts: list[str]) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.encode(texts)  # type: ignore[attr-defined]
        self.seconds += time.perf_counter() - t
        return np.asarray(out)


def run_benchmark(sizes: Sequence[int], embedder_name: str, threshold: float | None) -> None:
    from deeppersona.builder import DEFAULT_MERGE_THRESHOLD, TaxonomyBuilder
    from deeppersona.embeddings import resolve_embedder
    from deeppersona.testing import FakeLLM

    embedder = resolve_embedder(None if embedder_name == "minilm" else embedder_name)
    t0 = time.perf_counter()
    embedder.encode(["warm up"])  # load the model outside the timings
    print(
        f"embedder: {embedder.name} (loaded in {time.perf_counter() - t0:.1f}s); cpu cores: {os.cpu_count()}"
    )
    thr = DEFAULT_MERGE_THRESHOLD if threshold is None else threshold
    print(f"merge threshold: {thr}")
    print(
        f"{'paths':>7} {'distinct':>8} {'names':>7} {'embed s':>8} {'cluster s':>9} {'total s':>8} {'leaves out':>10}"
    )
    base: tuple[int, float] | None = None
    for n in sizes:
        paths = synthetic_paths(n)
        timed = _Timed(embedder)
        builder = TaxonomyBuilder(llm=FakeLLM(), embedder=timed, merge_threshold=thr)
        t = time.perf_counter()
        result = builder.merge(paths)
        total = time.perf_counter() - t
        notes = result.report.notes
        print(
            f"{n:>7} {notes['distinct_paths']:>8} {notes['names_embedded']:>7} {timed.seconds:>8.2f} "
            f"{total - timed.seconds:>9.2f} {total:>8.2f} {len(result.paths):>10}"
        )
        if base is None:
            base = (n, total)
    if base is not None and len(sizes) > 1:
        n0, t0_ = base
        ratio = total / t0_ if t0_ else float("nan")
        print(f"scaling {n0} -> {sizes[-1]} paths ({sizes[-1] / n0:.0f}x): time x{ratio:.1f}")


SAME = [
    ("Sleep Habits", "Sleeping Habits"),
    ("Sleep Habits", "sleep_habits"),
    ("Sleep Habits", "SleepHabits"),
    ("Dietary Preferences", "Diet Preferences"),
    ("Food Preferences", "Dietary Preferences"),
    ("Exercise Habits", "Workout Habits"),
    ("Exercise Routine", "Workout Routine"),
    ("Hobbies", "Hobby"),
    ("Musical Preferences", "Music Preferences"),
    ("Work Experience", "Professional Experience"),
    ("Educational Background", "Education Background"),
    ("Communication Style", "Communication Styles"),
    ("Sleep Schedule", "Sleeping Schedule"),
    ("Travel Preferences", "Travel Preference"),
    ("Coping Strategies", "Coping Mechanisms"),
    ("Religious Beliefs", "Religious Belief"),
    ("Career Goals", "Career Aspirations"),
    ("Physical Activity", "Physical Activities"),
    ("Stress Management", "Managing Stress"),
    ("Parenting Style", "Parenting Approach"),
    ("Personality Traits", "Personality Characteristics"),
    ("Country of Residence", "Residence Country"),
    ("Family Structure", "Family Composition"),
    ("Job Role", "Job Title"),
    ("Native Language", "Mother Tongue"),
]
DIFFERENT = [
    ("Sleep Habits", "Diet"),
    ("Sleep Habits", "Eating Habits"),
    ("Music Preferences", "Food Preferences"),
    ("Reading Habits", "Spending Habits"),
    ("Work Experience", "Travel Experience"),
    ("Physical Health", "Mental Health"),
    ("Native Language", "Programming Languages"),
    ("Career Goals", "Fitness Goals"),
    ("Sleep Quality", "Sleep Schedule"),
    ("Family Structure", "Family Traditions"),
    ("Learning Style", "Communication Style"),
    ("Job Role", "Job Satisfaction"),
    ("Religious Beliefs", "Political Beliefs"),
    ("Dietary Preferences", "Dietary Restrictions"),
    ("Age", "Gender"),
    ("Exercise Habits", "Smoking Habits"),
    ("Travel Preferences", "Travel Budget"),
    ("Income Level", "Education Level"),
    ("Country of Residence", "Country of Origin"),
]


def run_calibration(embedder_name: str) -> None:
    from deeppersona.builder import DEFAULT_MERGE_THRESHOLD
    from deeppersona.embeddings import resolve_embedder
    from deeppersona.taxonomy import canonical_key

    embedder = resolve_embedder(None if embedder_name == "minilm" else embedder_name)
    texts = sorted({canonical_key(t) for pair in SAME + DIFFERENT for t in pair})
    vec = dict(zip(texts, embedder.encode(texts), strict=True))

    def sim(a: str, b: str) -> float:
        return float(np.dot(vec[canonical_key(a)], vec[canonical_key(b)]))

    same = sorted(((sim(a, b), a, b) for a, b in SAME), reverse=True)
    diff = sorted(((sim(a, b), a, b) for a, b in DIFFERENT), reverse=True)
    print(
        f"embedder: {embedder.name}; names are embedded as canonical keys ('sleep_habits' -> 'sleep habits')"
    )
    print("\nshould merge:")
    for s, a, b in same:
        print(f"  {s:.3f}  {a} / {b}")
    print("\nshould stay apart:")
    for s, a, b in diff:
        print(f"  {s:.3f}  {a} / {b}")
    print("\nthreshold  merged(should)  merged(should not)  F1")
    for thr in np.arange(0.60, 0.96, 0.02):
        tp = sum(s >= thr for s, _, _ in same)
        fp = sum(s >= thr for s, _, _ in diff)
        fn = len(same) - tp
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        print(f"  {thr:.2f}      {tp:>2}/{len(same)}            {fp:>2}/{len(diff)}            {f1:.2f}")
    print(f"\ndefault threshold: {DEFAULT_MERGE_THRESHOLD}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6_000, 15_000, 30_000, 60_000])
    parser.add_argument("--embedder", default="minilm", help="'minilm' (default), 'hash' or 'hash-<dim>'")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--calibrate", action="store_true", help="print the calibration table instead")
    args = parser.parse_args(argv)
    if args.calibrate:
        run_calibration(args.embedder)
    else:
        run_benchmark(args.sizes, args.embedder, args.threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
