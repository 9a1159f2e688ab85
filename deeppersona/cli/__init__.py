"""The ``deeppersona`` command line: ``generate``, ``enrich``, ``taxonomy`` and ``evaluate``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..errors import DeepPersonaError

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

# Each module exposes ``register(subparsers)``; subcommands set ``func(args) -> int`` as their default.
_COMMAND_MODULES = ("_generate", "_taxonomy", "_evaluate")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit with status 2), like every other error.

    Subcommand parsers are of the same class (``add_subparsers`` uses the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and where to find the usage, then exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (a multi-line message from a backend is joined)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__


def _os_error(exc: OSError) -> str:
    """A file-system error as "cannot use PATH: REASON" with a hint, never a traceback."""
    reason = exc.strerror or _one_line(exc)
    if exc.filename is not None:
        where = repr(os.fsdecode(exc.filename))
        if exc.filename2 is not None:
            where += f" or {os.fsdecode(exc.filename2)!r}"
        return f"cannot use {where}: {reason}; check the path and its permissions"
    return f"{reason}; check the paths given and their permissions"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand registered."""
    parser = _Parser(
        prog="deeppersona",
        description="Generate, enrich and evaluate deep synthetic personas.",
    )
    parser.add_argument("--version", action="version", version=f"deeppersona {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
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
    # User errors (bad values, unreadable or unwritable files) print one line and exit with status 1;
    # anything else is a bug and keeps its traceback.
    try:
        return int(func(args) or 0)
    except DeepPersonaError as exc:
        return _fail(_one_line(exc))
    except UnicodeDecodeError as exc:  # a data file read by a library routine that does not check itself
        return _fail(f"a file given is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8")
    except BrokenPipeError:  # the reader of stdout went away (``| head``): stop quietly
        _silence_stdout()
        return 1
    except OSError as exc:
        logger.debug("file-system error", exc_info=True)
        return _fail(_os_error(exc))
    except KeyboardInterrupt:
        print("deeppersona: interrupted (finished work is kept; rerun to resume)", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"deeppersona: error: {message}", file=sys.stderr)
    return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test capture)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
