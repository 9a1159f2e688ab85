"""Benchmark of persona quality on a real model (issue 11): the quality report and seconds per persona.

Generates 12 personas: two from each of four country cohorts and one from each of four one-line sketches
(written for this benchmark), at ``k=60`` on the embedded default model, then prints
:meth:`Evaluator.quality <deeppersona.evaluation.Evaluator.quality>` for them with the issue's targets,
the statuses, and the seconds per persona. The same run on the package's FakeLLM is printed first for
reference (it shows what the report reads when every value is well-formed).

Usage::

    python benchmarks/bench_quality.py                       # FakeLLM, then the embedded model (about an hour on 2 cores)
    python benchmarks/bench_quality.py --fake-only           # the reference run alone (seconds)
    python benchmarks/bench_quality.py --model gpt-4.1-mini  # any LiteLLM model
    python benchmarks/bench_quality.py --out personas.jsonl  # also keep the real personas (for reading them)
    python benchmarks/bench_quality.py --out personas.jsonl --resume   # go on with a stopped run

A run with ``--out`` records its settings and a fingerprint of the package's code and data next to the
file (``personas.run.json``) and each persona's seconds (``personas.seconds.jsonl``). ``--resume`` goes
on with such a run, skipping the personas it already wrote, only when the settings and the code are
the same (otherwise it stops with the difference), so the figures still come from one run.

The personas are generated one at a time (concurrency 1, as a local model serves one dialogue at a time);
every figure comes from one run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from deeppersona import PersonaEngine
from deeppersona.evaluation import Evaluator, QualityReport
from deeppersona.llm import resolve_llm
from deeppersona.persona import Persona, Population

COHORTS = ("Kenya", "Germany", "India", "Brazil")
"""Four country cohorts, two personas each."""

SKETCHES = (
    "A retired bus driver in Porto who still plays the lottery every Saturday.",
    "A 24-year-old nursing student from Cebu who works night shifts at a call centre.",
    "A cotton farmer in Telangana in his fifties who distrusts the local cooperative bank.",
    "A single mother in Detroit who repairs phones for a living and hates social media.",
)
"""Four one-line sketches in the PersonaHub style, one persona each."""

TARGETS: dict[str, tuple[str, float]] = {
    "trivial_share": ("<=", 0.10),
    "one_word_share": ("<=", 0.15),
    "empty_share": ("<=", 0.0),
    "placeholder_share": ("<=", 0.0),
    "junk_share": ("<=", 0.0),
    "repeated_share": ("<=", 0.05),
    "echo_share": ("<=", 0.05),
    "sketch_copy_share": ("<=", 0.0),
    "core_complete_share": (">=", 1.0),
    "ok_but_incomplete": ("<=", 0.0),
}
"""The issue's targets, by summary figure."""


def generate(
    engine: PersonaEngine,
    k: int,
    per_cohort: int,
    out: Path | None = None,
    sketches: int = len(SKETCHES),
    cohorts: int = len(COHORTS),
    done: dict[int, tuple[Persona, float]] | None = None,
) -> tuple[list[Persona], list[float]]:
    """Generate the cohort and sketch personas one by one; return them with their wall times.

    Each persona is appended to ``out`` (JSONL) as soon as it is done, when given. Personas in ``done``
    (index → persona and seconds, from a resumed run) are taken as they are.
    """
    personas: list[Persona] = []
    seconds: list[float] = []
    done = done or {}
    for i, country in enumerate(COHORTS[:cohorts]):
        cohort = engine.cohort(country=country)
        for j in range(per_cohort):
            if i * per_cohort + j in done:
                persona, took = done[i * per_cohort + j]
                personas.append(persona)
                seconds.append(took)
                continue
            started = time.perf_counter()
            pop = cohort.generate(k=k, n=1, start=i * per_cohort + j)
            seconds.append(time.perf_counter() - started)
            personas.extend([*pop, *pop.failures])
            _progress(personas[-1], seconds[-1], out)
    for i, sketch in enumerate(SKETCHES[:sketches]):
        if 100 + i in done:
            persona, took = done[100 + i]
            personas.append(persona)
            seconds.append(took)
            continue
        started = time.perf_counter()
        pop = engine.enrich([sketch], k=k)
        seconds.append(time.perf_counter() - started)
        items = [*pop, *pop.failures] if isinstance(pop, Population) else [pop]
        personas.extend(p.model_copy(update={"index": 100 + i}) for p in items)
        _progress(personas[-1], seconds[-1], out)
    return personas, seconds


def _progress(persona: Persona, seconds: float, out: Path | None) -> None:
    if out is not None:
        with out.open("a", encoding="utf-8") as fh:
            fh.write(persona.to_json() + "\n")
        with _sidecar(out, ".seconds.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"index": persona.index, "seconds": round(seconds, 1)}) + "\n")
    dem = persona.demographics
    print(
        f"  persona {persona.index}: {persona.status:<10} {seconds:6.1f}s  "
        f"{dem.get('age')} {dem.get('gender')} {dem.get('city')}, {dem.get('country')}"
        + (f"  ({persona.failure})" if not persona.ok else ""),
        file=sys.stderr,
        flush=True,
    )


def _sidecar(out: Path, suffix: str) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def code_fingerprint() -> str:
    """A hash of the package's code, prompts and data: a resumed run must run the very same code."""
    import hashlib

    import deeppersona

    root = Path(deeppersona.__file__).parent
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*")):
        if file.is_file() and file.suffix in {".py", ".jinja", ".json", ".csv", ".gz", ".tsv"}:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def resume_state(out: Path, settings: dict[str, object]) -> dict[int, tuple[Persona, float]]:
    """The personas a stopped run already wrote, after checking it is the same run."""
    run_file = _sidecar(out, ".run.json")
    if not run_file.exists() or not out.exists():
        raise SystemExit(f"--resume: no run to resume at {out} (missing {run_file.name} or the file itself)")
    recorded = json.loads(run_file.read_text(encoding="utf-8"))
    different = {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}
    if different:
        raise SystemExit(f"--resume: not the same run; recorded vs now: {different}")
    seconds_file = _sidecar(out, ".seconds.jsonl")
    took = {}
    if seconds_file.exists():
        for line in seconds_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                took[int(row["index"])] = float(row["seconds"])
    done: dict[int, tuple[Persona, float]] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        if line.strip():
            persona = Persona.model_validate_json(line)
            done[persona.index] = (persona, took.get(persona.index, float("nan")))
    return done


def report(title: str, personas: list[Persona], seconds: list[float]) -> QualityReport:
    """Print the quality report, the targets and the timing of one run."""
    quality = Evaluator().quality(personas)
    statuses: dict[str, int] = {}
    for p in personas:
        statuses[p.status] = statuses.get(p.status, 0) + 1
    print(f"\n## {title}\n")
    print(f"personas: {len(personas)}, statuses: {statuses}")
    print(
        f"seconds per persona: mean {sum(seconds) / len(seconds):.1f}, "
        f"min {min(seconds):.1f}, max {max(seconds):.1f}, total {sum(seconds):.0f}"
    )
    calls = sum(p.usage.calls for p in personas)
    print(f"LLM calls: {calls} ({calls / len(personas):.1f} per persona)\n")
    print(quality.to_markdown())
    print("\n| target | figure | value | met |\n|---|---|---|---|")
    for name, (op, limit) in TARGETS.items():
        value = quality.summary.get(name)
        if value is None:
            print(f"| {op} {limit:g} | {name} | n/a | ? |")
            continue
        met = value <= limit if op == "<=" else value >= limit
        print(f"| {op} {limit:g} | {name} | {value:.3f} | {'yes' if met else 'NO'} |")
    return quality


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=60, help="attributes per persona (default 60)")
    parser.add_argument("--per-cohort", type=int, default=2, help="personas per country cohort (default 2)")
    parser.add_argument("--model", default=None, help="LiteLLM model string (default: the embedded model)")
    parser.add_argument("--fake-only", action="store_true", help="only the FakeLLM reference run")
    parser.add_argument("--cohorts", type=int, default=len(COHORTS), help="how many of the 4 cohorts")
    parser.add_argument("--sketches", type=int, default=len(SKETCHES), help="how many of the 4 sketches")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--persona-retries",
        type=int,
        default=2,
        help="whole-persona attempts after an incomplete one (default 2)",
    )
    parser.add_argument("--out", type=Path, help="write the real-model personas to this JSONL file")
    parser.add_argument("--resume", action="store_true", help="go on with the stopped run written to --out")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of an embedded model (default: all cores; 1 runs far better beside other work)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.resume and args.out is None:
        parser.error("--resume needs --out (the file of the run to go on with)")
    settings = {
        "k": args.k, "per_cohort": args.per_cohort, "model": args.model, "cohorts": args.cohorts,
        "sketches": args.sketches, "seed": args.seed, "persona_retries": args.persona_retries,
        "code": code_fingerprint(),
    }  # fmt: skip
    done = resume_state(args.out, settings) if args.resume else {}

    from deeppersona.testing import FakeLLM, HashEmbedder

    options = {"n_threads": args.threads} if args.threads else {}
    model = resolve_llm(args.model, **options) if options else args.model
    base = PersonaEngine.from_taxonomy("default", model=model).with_seed(args.seed)
    base = base.with_options(progress=False, persona_retries=args.persona_retries)
    fake = base.with_llm(FakeLLM(seed=args.seed, max_concurrency=1)).with_embedder(HashEmbedder())
    personas, seconds = generate(fake, args.k, args.per_cohort, None, args.sketches, args.cohorts)
    report(f"FakeLLM (reference), k={args.k}", personas, seconds)
    if args.fake_only:
        return
    if args.out is not None and not args.resume:
        args.out.write_text("", encoding="utf-8")
        _sidecar(args.out, ".seconds.jsonl").write_text("", encoding="utf-8")
        _sidecar(args.out, ".run.json").write_text(json.dumps(settings, indent=1), encoding="utf-8")
    if done:
        print(f"resuming: {len(done)} personas already written", file=sys.stderr)
    personas, seconds = generate(base, args.k, args.per_cohort, args.out, args.sketches, args.cohorts, done)
    name = args.model or "embedded default model"
    report(f"{name}, k={args.k}", personas, seconds)


if __name__ == "__main__":
    main()
