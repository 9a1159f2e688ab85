"""The ``deeppersona`` command line: ``generate``, ``enrich``, ``taxonomy`` and ``evaluate``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import DeepPersonaError

__all__ = ["build_parser", "main"]

# Each module exposes ``register(subparsers)``; subcommands set ``func(args) -> int`` as their default.
_COMMAND_MODULES = ("_generate", "_taxonomy", "_evaluate")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="deeppersona",
        description="Generate, enrich and evaluate deep synthetic personas.",
    )
    parser.add_argument("--version", action="version", version=f"deeppersona {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a subcommand whose module is absent from this build
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except DeepPersonaError as exc:
        print(f"deeppersona: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deeppersona: interrupted (finished work is kept; rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
