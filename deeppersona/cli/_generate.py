"""``deeppersona generate`` and ``deeppersona enrich``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataFileError, DataFileNotFoundError

__all__ = ["register"]


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, default=220, help="attributes per persona (default 220)")
    p.add_argument("--anchor", "-a", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="an anchor every persona gets, e.g. age=34 or occupation=nurse (repeatable; JSON values)")  # fmt: skip
    p.add_argument("--cohort", "-c", action="append", type=_key_value, default=[], metavar="FIELD=VALUE",
                   help="a demographic constraint, e.g. country=Kenya or age_range=[25,40] (repeatable)")  # fmt: skip
    p.add_argument("--model", "-m", default=None,
                   help="LiteLLM model string (default: the embedded local model); 'fake' for an offline dry run")  # fmt: skip
    p.add_argument(
        "--embedder",
        default=None,
        help="embedding model (default: packaged MiniLM); 'hash' for a fast offline one",
    )
    p.add_argument("--taxonomy", default="default", help="taxonomy file (default: the packaged taxonomy)")
    p.add_argument("--seed", type=int, default=None, help="run seed (default: fresh, recorded in the output)")
    p.add_argument(
        "--output", "-o", default=None, help="JSONL output file (resumable); default: print to stdout"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start the output file afresh instead of resuming"
    )
    p.add_argument(
        "--concurrency", type=int, default=None, help="LLM calls in flight at once, across personas"
    )
    p.add_argument("--batch-size", type=int, default=None, help="attributes per fill call")
    p.add_argument("--no-consistency", action="store_true", help="skip the consistency pass")
    p.add_argument("--no-narrative", action="store_true", help="skip the narrative")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--format", choices=("json", "nested"), default="json",
                   help="stdout format: the full persona (json) or Figure-7 nested JSON")  # fmt: skip


def register(subparsers: Any) -> None:
    """Add the ``generate`` and ``enrich`` subcommands to ``subparsers``."""
    gen = subparsers.add_parser(
        "generate",
        help="generate deep personas",
        description="Generate n personas with k attributes each. With --output the run is checkpointed "
        "per persona and resumes where it stopped when rerun.",
    )
    gen.add_argument("-n", type=int, default=1, help="number of personas (default 1)")
    gen.add_argument("--bio", default=None, help="a free-text biography anchor")
    _common(gen)
    gen.set_defaults(func=_run_generate)

    enr = subparsers.add_parser(
        "enrich",
        help="turn one-line persona sketches into deep personas",
        description="Enrich PersonaHub-style sketches: a sketch given as text, or a file with one sketch "
        "per line (.txt) or JSON objects per line (.jsonl, the text in --field).",
    )
    enr.add_argument("sketches", help="a sketch text, or a .txt/.jsonl file of sketches")
    enr.add_argument("--field", default="persona", help="JSONL field holding the sketch (default: persona)")
    _common(enr)
    enr.set_defaults(func=_run_enrich)


def _engine(args: argparse.Namespace) -> Any:
    from ..engine import PersonaEngine

    model: Any = args.model
    if model is not None and (model == "fake" or model.startswith("fake:")):
        from ..testing import FakeLLM

        model = FakeLLM(seed=int(model.partition(":")[2] or 0))
    embedder: Any = args.embedder
    if embedder == "hash":
        from ..testing import HashEmbedder

        embedder = HashEmbedder()
    engine = PersonaEngine.from_taxonomy(args.taxonomy, model=model, embedder=embedder)
    anchors = dict(args.anchor)
    if getattr(args, "bio", None):
        anchors["bio"] = args.bio
    if anchors:
        engine = engine.anchor(anchors)
    if args.cohort:
        engine = engine.cohort(dict(args.cohort))
    if args.seed is not None:
        engine = engine.with_seed(args.seed)
    options: dict[str, Any] = {}
    if args.concurrency is not None:
        options["concurrency"] = args.concurrency
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.no_consistency:
        options["consistency"] = False
    if args.no_narrative:
        options["narrative"] = False
    if args.no_progress:
        options["progress"] = False
    return engine.with_options(**options) if options else engine


def _emit(args: argparse.Namespace, personas: Any) -> None:
    for p in personas:
        data = p.to_nested() if args.format == "nested" else p.to_dict()
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _report(report: Any) -> int:
    print(
        f"{report.path}: {report.written} written, {report.skipped} already there, "
        f"{len(report.failures)} not complete, to be retried by a rerun "
        f"(seed {report.seed}; {report.usage.calls} LLM calls)",
        file=sys.stderr,
    )
    for index, reason in report.failures[:10]:
        print(f"  persona {index}: {reason}", file=sys.stderr)
    return 0 if report.complete else 1


def _run_generate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.output:
        return _report(engine.generate_to(args.output, n=args.n, k=args.k, overwrite=args.overwrite))
    population = engine.generate(k=args.k, n=args.n)
    _emit(args, population)
    for p in population.failures:
        print(f"persona {p.index} {p.status}: {p.failure}", file=sys.stderr)
    return 0 if not population.failures else 1


def read_sketches(source: str, field: str = "persona") -> list[str]:
    """Read sketches from a text, a ``.txt`` file (one per line) or a ``.jsonl`` file (``field`` of each object)."""
    path = Path(source)
    if path.suffix in (".txt", ".jsonl", ".json") or path.is_file():
        if not path.is_file():
            raise DataFileNotFoundError(f"sketch file {source!r} does not exist")
        out = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            if path.suffix in (".jsonl", ".json"):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFileError(f"{path}:{number}: not JSON ({exc})") from None
                text = item.get(field) if isinstance(item, dict) else item
                if not isinstance(text, str):
                    raise DataFileError(f"{path}:{number}: no text field {field!r}; set --field")
                out.append(text)
            else:
                out.append(line.strip())
        if not out:
            raise DataFileError(f"sketch file {source!r} holds no sketches")
        return out
    if not source.strip():
        raise ConfigError("the sketch is empty")
    return [source]


def _run_enrich(args: argparse.Namespace) -> int:
    sketches = read_sketches(args.sketches, args.field)
    engine = _engine(args)
    if args.output:
        return _report(engine.enrich_to(args.output, sketches, k=args.k, overwrite=args.overwrite))
    population = engine.enrich(sketches, k=args.k)
    _emit(args, population)
    for p in population.failures:
        print(f"persona {p.index} failed: {p.failure}", file=sys.stderr)
    return 0 if not population.failures else 1
