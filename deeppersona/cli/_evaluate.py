"""``deeppersona evaluate survey|intrinsic|personalization|quality``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._args import (
    add_backend_options,
    backend_options,
    check_output_dir,
    check_output_file,
    check_taxonomy_file,
    model_name,
    non_negative_int,
    positive_int,
)

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _llm(name: str | None, seed: int) -> Any:
    """``fake`` (or ``fake:SEED``) gives the offline FakeLLM (dry runs); anything else goes to resolve_llm."""
    if name == "fake":
        return f"fake:{seed}"  # resolved by name, like a real backend
    return name


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a temperature in [0, 2], got {text!r}") from None
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"expected a temperature in [0, 2], got {text}")
    return value


def _check_outputs(args: argparse.Namespace) -> None:
    """Check every output path before the evaluation starts (it may take many LLM calls)."""
    check_output_file(args.out, "--out")
    check_output_file(args.csv, "--csv")
    check_output_dir(getattr(args, "plots", None), "--plots")


def _embedder(name: str | None) -> Any:
    if name == "none":
        return False
    return name  # "hash" is resolved by name, like a real embedder


def _write(text: str, out: str | None) -> None:
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")


def _write_csv(frame: Any, path: str | None, **options: Any) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, **options)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=None,
        type=model_name,
        help="LiteLLM model name; 'fake' for an offline dry run (default: embedded local model)",
    )
    p.add_argument("--judge", default=None, type=model_name, help="judge model (default: --model)")
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of calls, bootstrap and sampling (default 0)"
    )
    p.add_argument("--out", default=None, help="also write the Markdown report to this file")
    p.add_argument("--csv", default=None, help="write the report table to this CSV file")
    add_backend_options(p)


def _run_survey(args: argparse.Namespace) -> int:
    from ..evaluation import Evaluator, load_personas, surveys

    _check_outputs(args)
    instrument = surveys.IPIP50 if args.instrument == "ipip50" else surveys.WVS7
    truth = instrument.load(args.ground_truth, country=args.country)
    personas = load_personas(args.personas)
    if args.limit:
        personas = personas[: args.limit]
    ev = Evaluator(
        _llm(args.model, args.seed),
        seed=args.seed,
        **backend_options(args),
        repeats=args.repeats,
        temperature=args.temperature,
        n_boot=args.n_boot,
        scale_mismatch=args.scale_mismatch,
    )
    baselines: Any = not args.no_baselines
    if args.instrument == "ipip50":
        report = ev.big_five(personas, truth, baselines, name=args.name)
    else:
        report = ev.survey(personas, truth, baselines, name=args.name)
    for warning in report.warnings:  # also in the Markdown report; on stderr so they are not missed
        logger.warning("%s", warning)
    _write(report.to_markdown(), args.out)
    _write_csv(report.to_pandas(), args.csv)
    if args.plots:
        plots = Path(args.plots)
        report.plot_histograms(plots / "histograms.png")
        report.plot_metrics(plots / "metrics.png")
    return 0


def _named_sets(values: list[str]) -> dict[str, list[Any]]:
    from ..evaluation import load_personas

    sets: dict[str, list[Any]] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep:
            name, path = Path(v).stem, v
        if not name.strip() or not path.strip():
            raise ConfigError(f"a persona set is FILE or NAME=FILE with both parts given, got {v!r}")
        if name in sets:
            raise ConfigError(
                f"two persona sets are named {name!r}; name them apart with NAME=FILE (e.g. a={path})"
            )
        sets[name] = load_personas(path)
    return sets


def _run_intrinsic(args: argparse.Namespace) -> int:
    from ..evaluation import Evaluator

    _check_outputs(args)
    sets = _named_sets(args.personas)
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    ev = Evaluator(
        _llm(args.model, args.seed),
        _embedder(args.embedder),
        judge=_llm(args.judge, args.seed) if args.judge else None,
        seed=args.seed,
        **backend_options(args),
    )
    report = ev.intrinsic(
        sets,
        judge=not args.no_judge,
        similarity=args.embedder != "none",
        taxonomy="default" if args.taxonomy else None,
    )
    _write(report.to_markdown(), args.out)
    _write_csv(report.to_pandas(), args.csv)
    return 0


def _run_personalization(args: argparse.Namespace) -> int:
    from ..evaluation import Evaluator

    _check_outputs(args)
    sets = _named_sets(args.personas)
    ev = Evaluator(
        _llm(args.model, args.seed),
        judge=_llm(args.judge, args.seed) if args.judge else None,
        seed=args.seed,
        **backend_options(args),
    )
    requests = None
    if args.requests:
        from ..evaluation import PERSONALIZATION_REQUESTS

        requests = []
        for part in args.requests.split(","):
            number = part.strip()
            if not number.isdigit() or not 1 <= int(number) <= len(PERSONALIZATION_REQUESTS):
                raise ConfigError(
                    f"--requests takes request numbers 1-{len(PERSONALIZATION_REQUESTS)} separated by "
                    f"commas (e.g. 1,7,11), got {args.requests!r}"
                )
            requests.append(PERSONALIZATION_REQUESTS[int(number) - 1])
    report = ev.personalization(
        sets, requests=requests, max_personas=args.limit, pairwise=not args.no_pairwise
    )
    _write(report.to_markdown(), args.out)
    _write_csv(report.to_pandas(), args.csv)
    return 0


def _run_quality(args: argparse.Namespace) -> int:
    """``evaluate quality``: judge-free figures of one persona file; no model is loaded."""
    from ..evaluation import Evaluator

    _check_outputs(args)
    check_taxonomy_file(args.taxonomy)
    tree = None if args.taxonomy == "none" else args.taxonomy
    report = Evaluator().quality(
        args.personas, tree=tree, story_words=(args.story_words[0], args.story_words[1])
    )
    _write(report.to_json() if args.json else report.to_markdown(), args.out)
    _write_csv(report.to_pandas(per="value"), args.csv, index=False)
    return 0


def register(subparsers: Any) -> None:
    """Add ``evaluate`` and its subcommands: survey, intrinsic, personalization, quality."""
    evaluate = subparsers.add_parser(
        "evaluate",
        help="evaluate persona sets (survey fidelity, intrinsic, personalization, quality)",
        description="Evaluate persona sets as in the DeepPersona paper, section 4.",
    )
    sub = evaluate.add_subparsers(dest="evaluate_command", metavar="KIND")
    evaluate.set_defaults(func=lambda args: (evaluate.print_help(), 2)[1])

    s = sub.add_parser(
        "survey", help="simulate a survey and compare with real answers (WVS-7 or IPIP Big Five)"
    )
    s.add_argument("personas", help="JSONL file of personas (JSON objects or plain text lines)")
    s.add_argument(
        "ground_truth",
        help="official data file: WVS-7 CSV, or IPIP-FFM data-final.csv with --instrument ipip50",
    )
    s.add_argument("--country", required=True, help="country of the ground truth (ISO-2, ISO-3 or name)")
    s.add_argument(
        "--instrument", choices=("wvs7", "ipip50"), default="wvs7", help="survey instrument (default wvs7)"
    )
    s.add_argument("--repeats", type=positive_int, default=1, help="answers per persona and item (default 1)")
    s.add_argument("--temperature", type=_temperature, default=None, help="sampling temperature (0-2)")
    s.add_argument(
        "--n-boot",
        type=non_negative_int,
        default=1000,
        help="bootstrap replicates (default 1000; 0 = no intervals)",
    )
    s.add_argument(
        "--no-baselines", action="store_true", help="skip Cultural Prompting and the shallow persona"
    )
    s.add_argument(
        "--scale-mismatch",
        choices=("exclude", "recode"),
        default="exclude",
        help="items whose real data use another scale than the prompt (WVS Q57): leave them out of the "
        "average (default) or recode them onto the real scale with their documented mapping",
    )
    s.add_argument("--name", default="personas", help="name of the persona set in the report")
    s.add_argument("--limit", type=positive_int, default=None, help="use only the first N personas")
    s.add_argument("--plots", default=None, help="directory for histograms.png and metrics.png")
    _common(s)
    s.set_defaults(func=_run_survey)

    i = sub.add_parser("intrinsic", help="intrinsic quality: judge metrics, diversity, coverage")
    i.add_argument("personas", nargs="+", help="persona files, optionally named: NAME=FILE.jsonl")
    i.add_argument(
        "--embedder", default=None, help="embedding model; 'hash' (offline) or 'none' to skip similarity"
    )
    i.add_argument("--no-judge", action="store_true", help="skip the LLM-judge metrics")
    i.add_argument("--taxonomy", action="store_true", help="report coverage of the default taxonomy")
    i.add_argument(
        "--limit", type=positive_int, default=None, help="use only the first N personas of each set"
    )
    _common(i)
    i.set_defaults(func=_run_intrinsic)

    p = sub.add_parser("personalization", help="personalised responses judged on ten metrics; pairwise Elo")
    p.add_argument(
        "personas",
        nargs="+",
        help="persona files, optionally named: NAME=FILE.jsonl (two or more to compare)",
    )
    p.add_argument(
        "--requests", default=None, help="comma-separated request numbers 1-12 (default: all twelve)"
    )
    p.add_argument(
        "--limit", type=positive_int, default=None, help="at most N personas per set (seeded sample)"
    )
    p.add_argument("--no-pairwise", action="store_true", help="skip the pairwise preference judging")
    _common(p)
    p.set_defaults(func=_run_personalization)

    q = sub.add_parser(
        "quality",
        help="judge-free persona quality: shallow, repeated, junk values, core completeness, contradictions",
        description="Judge-free quality figures of a persona file (no model is used).",
    )
    q.add_argument("personas", help="JSONL file of serialised personas (what 'deeppersona generate' writes)")
    q.add_argument("--json", action="store_true", help="print the figures as JSON instead of Markdown")
    q.add_argument(
        "--story-words",
        type=positive_int,
        nargs=2,
        default=(60, 120),
        metavar=("LOW", "HIGH"),
        help="requested life-story length in words (default 60 120); a story passes with 0.75 x LOW",
    )
    q.add_argument(
        "--taxonomy",
        default="default",
        help="taxonomy file the personas were drawn from (default: the packaged one); "
        "'none' treats every string value as free text",
    )
    q.add_argument("--out", default=None, help="also write the report (Markdown, or JSON with --json) here")
    q.add_argument("--csv", default=None, help="write the per-value flags table to this CSV file")
    q.set_defaults(func=_run_quality)
