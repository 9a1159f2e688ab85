"""``deeppersona generate`` and ``deeppersona enrich``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataFileError, DataFileNotFoundError
from ._args import (
    add_backend_options,
    backend_options,
    check_input_file,
    check_output_file,
    check_taxonomy_file,
    looks_like_path,
    model_name,
    non_negative_int,
    positive_int,
    read_utf8,
)

__all__ = ["read_sketches", "register"]

logger = logging.getLogger(__name__)

_SKETCH_SUFFIXES = (".txt", ".jsonl", ".ndjson", ".json")


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
    p.add_argument("-k", type=positive_int, default=220, help="attributes per persona (default 220)")
    p.add_argument("--anchor", "-a", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="an anchor every persona gets, e.g. age=34 or occupation=nurse (repeatable; JSON values)")  # fmt: skip
    p.add_argument("--cohort", "-c", action="append", type=_key_value, default=[], metavar="FIELD=VALUE",
                   help="a demographic constraint, e.g. country=Kenya or age_range=[25,40] (repeatable)")  # fmt: skip
    p.add_argument("--model", "-m", default=None, type=model_name,
                   help="LiteLLM model string (default: the embedded local model); 'fake' for an offline dry run")  # fmt: skip
    p.add_argument(
        "--embedder",
        default=None,
        help="embedding model (default: packaged MiniLM); 'hash' for a fast offline one",
    )
    p.add_argument("--taxonomy", default="default", help="taxonomy file (default: the packaged taxonomy)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=None,
        help="run seed (default: fresh, recorded in the output)",
    )
    p.add_argument(
        "--output", "-o", default=None, help="JSONL output file (resumable); default: print to stdout"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start the output file afresh instead of resuming (a resume needs the same run configuration)",
    )
    p.add_argument("--batch-size", type=positive_int, default=None, help="attributes per fill call")
    p.add_argument("--no-consistency", action="store_true", help="skip the consistency pass")
    p.add_argument("--no-narrative", action="store_true", help="skip the narrative")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--format", choices=("json", "nested"), default="json",
                   help="stdout format: the full persona (json) or Figure-7 nested JSON")  # fmt: skip
    add_backend_options(p)


def register(subparsers: Any) -> None:
    """Add the ``generate`` and ``enrich`` subcommands to ``subparsers``."""
    gen = subparsers.add_parser(
        "generate",
        help="generate deep personas",
        description="Generate n personas with k attributes each. With --output the run is checkpointed "
        "per persona and resumes where it stopped when rerun.",
    )
    gen.add_argument("-n", type=positive_int, default=1, help="number of personas (default 1)")
    gen.add_argument("--bio", default=None, help="a free-text biography anchor")
    _common(gen)
    gen.set_defaults(func=_run_generate)

    enr = subparsers.add_parser(
        "enrich",
        help="turn one-line persona sketches into deep personas",
        description="Enrich PersonaHub-style sketches: a file with one sketch per line (.txt), JSON "
        "objects per line (.jsonl, the text in --field) or a JSON list (.json); or sketch texts given "
        "with --text. An argument that looks like a file path but names no file is an error.",
    )
    enr.add_argument(
        "sketches",
        nargs="?",
        default=None,
        help="a .txt, .jsonl or .json file of sketches (a plain sentence is also taken as one sketch)",
    )
    enr.add_argument(
        "--text",
        "-t",
        action="append",
        default=None,
        metavar="SKETCH",
        help="a sketch given as text, e.g. --text 'A retired ferry captain in Mombasa.' (repeatable)",
    )
    enr.add_argument("--field", default="persona", help="JSONL field holding the sketch (default: persona)")
    _common(enr)
    enr.set_defaults(func=_run_enrich)


def _engine(args: argparse.Namespace) -> Any:
    from ..engine import PersonaEngine

    model: Any = args.model  # "fake" / "fake:7" and "hash" are resolved by name, like real backends
    embedder: Any = args.embedder
    check_taxonomy_file(args.taxonomy)
    engine = PersonaEngine.from_taxonomy(
        args.taxonomy, model=model, embedder=embedder, **backend_options(args)
    )
    anchors = dict(args.anchor)
    if getattr(args, "bio", None) is not None:
        anchors["bio"] = args.bio
    if anchors:
        engine = engine.anchor(anchors)
    if args.cohort:
        engine = engine.cohort(dict(args.cohort))
    if args.seed is not None:
        engine = engine.with_seed(args.seed)
    options: dict[str, Any] = {}
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
    check_output_file(args.output, "-o/--output", create_parents=False)
    engine = _engine(args)
    if args.output:
        return _report(engine.generate_to(args.output, n=args.n, k=args.k, overwrite=args.overwrite))
    population = engine.generate(k=args.k, n=args.n)
    _emit(args, population)
    for p in population.failures:
        print(f"persona {p.index} {p.status}: {p.failure}", file=sys.stderr)
    return 0 if not population.failures else 1


def read_sketches(source: str, field: str = "persona") -> list[str]:
    """Read sketches from a file, or take ``source`` as one sketch text when it is clearly not a path.

    Files: ``.txt`` (or no extension) holds one sketch per line; ``.jsonl`` / ``.ndjson`` one JSON object
    per line (the text in ``field``) or one JSON string per line; ``.json`` a JSON list of those (or JSON
    Lines). Blank lines are skipped.

    Raises:
        DataFileNotFoundError: ``source`` looks like a file path (an extension or a path separator, see
            :func:`~deeppersona.cli._args.looks_like_path`) but names no file.
        DataFileError: A directory, a file of another type, a file that is not UTF-8, a line that is not
            JSON or lacks ``field``, or a file without sketches.
        ConfigError: ``source`` is empty.
    """
    path = Path(source).expanduser()
    if "\n" not in source and _exists(path):
        return _read_sketch_file(check_input_file(path, "sketch file"), field)
    if looks_like_path(source):
        raise DataFileNotFoundError(
            f"sketch file {source!r} does not exist; check the path, or pass a sketch as text with --text"
        )
    if not source.strip():
        raise ConfigError("the sketch is empty; give a sketch file or a sketch text with --text")
    logger.info("%r names no file: enriching it as a sketch text", source)
    return [source]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a sentence too long to be a file name
        return False


def _read_sketch_file(path: Path, field: str) -> list[str]:
    suffix = path.suffix.lower()
    if suffix and suffix not in _SKETCH_SUFFIXES:
        raise DataFileError(
            f"sketch file {str(path)!r} has the unsupported type {suffix!r}; use .txt (one sketch per line), "
            ".jsonl (one JSON object per line, the text in --field) or .json"
        )
    text = read_utf8(path, "sketch file")
    if suffix == ".json":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # JSON Lines in a .json file
        if isinstance(whole, list):
            out = [_sketch_text(item, field, f"{path}: item {i}") for i, item in enumerate(whole, 1)]
            return _non_empty(out, path)
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if suffix in (".jsonl", ".ndjson", ".json"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(
                    f"{path}:{number}: not JSON ({exc}); write one JSON object per line"
                ) from None
            out.append(_sketch_text(item, field, f"{path}:{number}"))
        else:
            out.append(line.strip())
    return _non_empty(out, path)


def _sketch_text(item: Any, field: str, where: str) -> str:
    text = item.get(field) if isinstance(item, dict) else item
    if not isinstance(text, str):
        raise DataFileError(
            f"{where}: no text field {field!r}; set --field to the field that holds the sketch"
        )
    return text


def _non_empty(sketches: list[str], path: Path) -> list[str]:
    sketches = [s for s in sketches if s.strip()]
    if not sketches:
        raise DataFileError(f"sketch file {str(path)!r} holds no sketches")
    return sketches


def _sketches(args: argparse.Namespace) -> list[str]:
    """The sketches of ``enrich``: the positional file (or plain sentence), or the ``--text`` values."""
    if args.text is not None and args.sketches is not None:
        raise ConfigError("give sketches either as a file argument or with --text, not both")
    if args.text is not None:
        for i, text in enumerate(args.text):
            if not text.strip():
                raise ConfigError(f"--text number {i + 1} is empty; every sketch needs some text")
        return list(args.text)
    if args.sketches is None:
        raise ConfigError("no sketches given; pass a .txt/.jsonl file, or a sketch text with --text")
    return read_sketches(args.sketches, args.field)


def _run_enrich(args: argparse.Namespace) -> int:
    sketches = _sketches(args)
    check_output_file(args.output, "-o/--output", create_parents=False)
    engine = _engine(args)
    if args.output:
        return _report(engine.enrich_to(args.output, sketches, k=args.k, overwrite=args.overwrite))
    population = engine.enrich(sketches, k=args.k)
    _emit(args, population)
    for p in population.failures:
        print(f"persona {p.index} failed: {p.failure}", file=sys.stderr)
    return 0 if not population.failures else 1
