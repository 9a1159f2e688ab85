"""``deeppersona taxonomy build | stats | plot | validate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._args import (
    check_output_dir,
    check_output_file,
    check_taxonomy_file,
    fake_seed,
    fraction,
    model_name,
    positive_int,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``taxonomy`` command and its subcommands to ``subparsers``."""
    parser = subparsers.add_parser(
        "taxonomy",
        help="build, inspect, plot and validate attribute taxonomies",
        description="Build an attribute taxonomy from QA data, or inspect, plot and validate one.",
    )
    sub = parser.add_subparsers(dest="taxonomy_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    build = sub.add_parser(
        "build",
        help="build (or extend) a taxonomy from QA pairs",
        description="Run the taxonomy pipeline (classify, extract, filter, merge, filter, format) on QA pairs.",
    )
    build.add_argument(
        "input",
        help="QA pairs: a .jsonl, .json or .csv file ('sample' for the bundled sample, 'conversations' for "
        "the bundled real conversation turns)",
    )
    build.add_argument(
        "-o", "--output", default="tree.json", help="where to write the tree (default: tree.json)"
    )
    build.add_argument(
        "--model",
        default=None,
        type=model_name,
        help="LiteLLM model string (default: the embedded local model); 'fake' for an offline dry run",
    )
    build.add_argument("--embedder", default=None, help="embedding model (default: the offline MiniLM)")
    build.add_argument(
        "--fields",
        default="question,answer",
        help="question and answer field names (default: question,answer)",
    )
    build.add_argument("--limit", type=positive_int, default=None, help="use only the first N pairs")
    build.add_argument("--max-concurrency", "--concurrency", dest="max_concurrency", type=positive_int,
                       default=None, metavar="N",
                       help="LLM calls in flight (default: 8; 1 for local/... models)")  # fmt: skip
    build.add_argument("--checkpoint-dir", default=None, help="resumable checkpoint directory")
    build.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="cache LLM replies in DIR ('user': the user cache directory)",
    )
    build.add_argument("--merge-threshold", type=fraction, default=None, help="sibling merge similarity")
    build.add_argument("--root-threshold", type=fraction, default=None, help="root alignment similarity")
    build.add_argument("--confirm-merges", action="store_true", help="confirm merges with the LLM")
    build.add_argument(
        "--no-llm-checks", action="store_true", help="skip the LLM Check Node / Check Path calls"
    )
    build.add_argument(
        "--extend", default=None, metavar="TREE", help="extend this tree instead of starting anew"
    )
    build.add_argument("--report", default=None, help="also write the stage report as Markdown")
    build.add_argument("--records", default=None, help="also write per-pair records (JSON Lines)")
    build.add_argument(
        "--one-call", action="store_true", help="classify and extract each pair in one call (half the calls)"
    )
    build.add_argument(
        "--vocabulary",
        choices=("default", "none"),
        default="default",
        help="category names shown under each root while extracting: the default tree's, or none",
    )
    build.add_argument(
        "--suggestions",
        type=int,
        default=12,
        help="the vocabulary's attribute paths nearest each pair shown as names to reuse (0: none)",
    )
    build.add_argument(
        "--snap",
        type=_snap,
        default="default",
        help="cosine similarity at which an extracted name becomes the nearest vocabulary path "
        "(default: the builder's DEFAULT_SNAP; 'none' keeps every name as extracted)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=_build)

    stats = sub.add_parser("stats", help="print node, leaf and per-root counts of a tree")
    stats.add_argument("tree", help="a tree JSON file, or 'default'")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=_stats)

    plot = sub.add_parser("plot", help="draw a sunburst of a tree")
    plot.add_argument("tree", help="a tree JSON file, or 'default'")
    plot.add_argument("-o", "--output", default="taxonomy.html", help=".html (interactive) or .png/.svg/.pdf")
    plot.add_argument(
        "--levels", type=positive_int, default=2, help="levels drawn in the HTML plot (default: 2)"
    )
    plot.add_argument("--title", default=None, help="plot title")
    plot.set_defaults(func=_plot)

    validate = sub.add_parser("validate", help="check a tree; exit status 1 when it has problems")
    validate.add_argument("tree", help="a tree JSON file, or 'default'")
    validate.add_argument("--style", action="store_true", help="also check naming style and near-duplicates")
    validate.set_defaults(func=_validate)


def _snap(text: str) -> float | str | None:
    """``--snap``: a number, ``none`` or ``default`` (checked by the builder)."""
    if text.lower() in ("none", "default"):
        return None if text.lower() == "none" else "default"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or 'none': {text!r}") from None


def _load_tree(spec: str) -> Any:
    from ..taxonomy import AttributeTree

    check_taxonomy_file(spec)
    return AttributeTree.default() if spec == "default" else AttributeTree.load(spec)


def _resolve_model(name: str | None) -> Any:
    return name  # "fake" / "fake:7" (the offline fake with plausible builder replies) resolves by name


def _build(args: argparse.Namespace) -> int:
    from ..builder import TaxonomyBuilder, conversations_path, sample_qa_path

    fields = [f.strip() for f in args.fields.split(",")]
    if args.input == "conversations":  # turns without answers
        fields = ["text", ""]
    if len(fields) != 2 or not fields[0]:
        raise ConfigError(f"--fields takes QUESTION,ANSWER (answer may be empty), got {args.fields!r}")
    # every path is checked before the (long) build starts, so that it never ends failing to write
    check_output_file(args.output, "-o/--output")
    check_output_file(args.report, "--report")
    check_output_file(args.records, "--records")
    check_output_dir(args.checkpoint_dir, "--checkpoint-dir")
    if args.cache not in (None, "user"):
        check_output_dir(args.cache, "--cache")
    if args.extend:
        check_taxonomy_file(args.extend, "--extend taxonomy file")
    options: dict[str, Any] = {}
    if args.merge_threshold is not None:
        options["merge_threshold"] = args.merge_threshold
    if args.root_threshold is not None:
        options["root_threshold"] = args.root_threshold
    if args.cache is not None and fake_seed(args.model) is None:
        options["cache"] = True if args.cache == "user" else args.cache
    base = _load_tree(args.extend) if args.extend else None
    builder = TaxonomyBuilder(
        llm=_resolve_model(args.model),
        embedder=args.embedder,
        roots=tuple(r.name for r in base.roots) if base is not None else TaxonomyBuilder().roots,
        confirm_merges_with_llm=args.confirm_merges,
        max_concurrency=args.max_concurrency,
        checkpoint_dir=args.checkpoint_dir,
        fields=(fields[0], fields[1] or None),
        llm_checks=not args.no_llm_checks,
        one_call=args.one_call,
        suggestions=args.suggestions,
        **({} if args.snap == "default" else {"snap": args.snap}),
        vocabulary=base
        if base is not None and args.vocabulary == "default"
        else (None if args.vocabulary == "none" else "default"),
        progress=not args.quiet and sys.stderr.isatty(),
        **options,
    )
    named = {"sample": sample_qa_path, "conversations": conversations_path}
    source = named[args.input]() if args.input in named else args.input
    if base is not None:
        result = builder.extend(base, source, limit=args.limit)
    else:
        result = builder.build(source, limit=args.limit)
    out = result.tree.save(args.output)
    print(result.to_markdown())
    print(f"\nwrote {len(result.tree)} nodes to {out}")
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(result.to_markdown() + "\n", encoding="utf-8")
    if args.records:
        Path(args.records).parent.mkdir(parents=True, exist_ok=True)
        with Path(args.records).open("w", encoding="utf-8") as fh:
            for record in result.records:
                fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    return 0


def _stats(args: argparse.Namespace) -> int:
    stats = _load_tree(args.tree).stats()
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(stats)
    return 0


def _plot(args: argparse.Namespace) -> int:
    check_output_file(args.output, "-o/--output")
    tree = _load_tree(args.tree)
    tree.plot_sunburst(args.output, levels=args.levels, title=args.title)
    print(f"wrote {args.output}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    tree = _load_tree(args.tree)
    problems = tree.validate(style=args.style)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {args.tree}", file=sys.stderr)
        return 1
    print(f"{args.tree}: OK ({len(tree)} nodes)")
    return 0
