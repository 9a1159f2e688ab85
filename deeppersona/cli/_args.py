"""Argument types and path checks shared by the subcommands.

Argument types raise :class:`argparse.ArgumentTypeError` (argparse turns it into a one-line usage error,
exit status 2). Path checks raise :class:`~deeppersona.errors.ConfigError` or
:class:`~deeppersona.errors.DataFileError` (one line, exit status 1) and run before any work starts, so a
long run never ends by failing to write its result.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataFileError, DataFileNotFoundError

__all__ = [
    "add_backend_options",
    "backend_options",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "check_taxonomy_file",
    "fake_seed",
    "fraction",
    "looks_like_path",
    "model_name",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "read_utf8",
]

logger = logging.getLogger(__name__)


def _integer(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argument type: a whole number of at least 1."""
    return _integer(text, 1, "a positive whole number")


def non_negative_int(text: str) -> int:
    """An argument type: a whole number of at least 0."""
    return _integer(text, 0, "a whole number >= 0")


def positive_float(text: str) -> float:
    """An argument type: a number greater than 0 (seconds, for instance)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    """An argument type: a cosine similarity in [-1, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [-1, 1], got {text!r}") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a cosine similarity in [-1, 1], got {text}")
    return value


def fake_seed(model: str | None) -> int | None:
    """The seed of an offline fake model (``fake`` → 0, ``fake:7`` → 7), or ``None`` for a real model."""
    if model is None or (model != "fake" and not model.startswith("fake:")):
        return None
    return int(model.partition(":")[2] or 0)


def model_name(text: str) -> str:
    """An argument type: a LiteLLM model string, or ``fake`` / ``fake:SEED`` for the offline fake."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("the model name is empty; give a LiteLLM model string or 'fake'")
    if name.startswith("fake:"):
        seed = name.partition(":")[2]
        if not seed.isdigit():
            raise argparse.ArgumentTypeError(
                f"the offline fake model takes a whole-number seed: 'fake' or 'fake:7', got {text!r}"
            )
    return name


_SEPARATORS = re.compile(r"[\\/]")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")


def looks_like_path(text: str) -> bool:
    """Whether ``text`` reads as a file path rather than free text.

    A path starts with ``/``, ``./``, ``../``, ``~/`` or a drive letter, or its last component has no
    spaces and ends in an extension (``sketches.txt``, ``data/missing.csv``), or it has a path separator
    and no spaces at all (``data/sketches``). Sketch texts ("A nurse/midwife in Lagos.", "Works at
    example.com as a tester") have spaces around or inside their last component.
    """
    stripped = text.strip()
    if not stripped or "\n" in stripped:
        return False
    if stripped.startswith(("/", "./", "../", "~/", ".\\", "..\\")) or re.match(r"^[A-Za-z]:[\\/]", stripped):
        return True
    last = _SEPARATORS.split(stripped)[-1]
    if _EXTENSION.search(last) and not any(c.isspace() for c in last):
        return True
    return bool(_SEPARATORS.search(stripped)) and not any(c.isspace() for c in stripped)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long to be a path
        return False


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")


def check_output_file(
    path: str | os.PathLike[str] | None, option: str, *, create_parents: bool = True
) -> None:
    """Check that ``path`` can be written as a file, before any work starts.

    Args:
        path: The file (``None``: nothing to check).
        option: How the user named it (``"-o/--output"``), for the message.
        create_parents: Whether the command creates missing directories; otherwise they must exist.

    Raises:
        ConfigError: The path is a directory, lies under a file, its directory is missing (when not
            created) or it cannot be written (with the OS reason).
    """
    if path is None:
        return
    target = Path(path).expanduser()
    if not str(path).strip():
        raise ConfigError(f"{option} is empty; give a file name such as out.jsonl")
    if target.is_dir():
        raise ConfigError(
            f"{option} {str(path)!r} is a directory; give a file name inside it, such as out.jsonl"
        )
    base = _existing_ancestor(target)
    if not base.is_dir():
        raise ConfigError(
            f"{option} {str(path)!r} lies under {str(base)!r}, which is a file; choose another path"
        )
    if not create_parents and base != target.parent:
        raise ConfigError(
            f"the directory of {option} {str(path)!r} does not exist; create {str(target.parent)!r} first"
        )
    _check_writable(target if target.exists() else base, f"{option} {str(path)!r}")


def check_output_dir(path: str | os.PathLike[str] | None, option: str) -> None:
    """Check that ``path`` is, or can be created as, a writable directory.

    Raises:
        ConfigError: The path is a file, lies under a file, or cannot be written (with the OS reason).
    """
    if path is None:
        return
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a file, not a directory; give a directory path")
    base = target if target.is_dir() else _existing_ancestor(target)
    if not base.is_dir():
        raise ConfigError(
            f"{option} {str(path)!r} lies under {str(base)!r}, which is a file; choose another path"
        )
    _check_writable(base, f"{option} {str(path)!r}")


def _can_write(path: Path) -> bool:
    """Whether this process may write ``path`` (a file, or a directory to create files in)."""
    return os.access(path, os.W_OK)


def _check_writable(existing: Path, what: str) -> None:
    if not _can_write(existing):
        reason = os.strerror(13)  # EACCES: "Permission denied"
        raise ConfigError(
            f"cannot write {what}: {str(existing)!r} is not writable ({reason}); choose a path you can write to"
        )


def check_input_file(path: str | os.PathLike[str], what: str) -> Path:
    """Check that ``path`` names an existing, readable file.

    Raises:
        DataFileNotFoundError: It does not exist.
        DataFileError: It is a directory or cannot be read.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise DataFileError(f"{what} {str(path)!r} is a directory; give a file")
    if not _is_file(target):
        raise DataFileNotFoundError(f"{what} {str(path)!r} does not exist; check the path")
    if not os.access(target, os.R_OK):
        raise DataFileError(f"cannot read {what} {str(path)!r} ({os.strerror(13)})")
    return target


def read_utf8(path: Path, what: str) -> str:
    """Read ``path`` as UTF-8 text (a byte-order mark is dropped).

    Raises:
        DataFileError: The file is not UTF-8 or cannot be read (with the OS reason).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read {what} {str(path)!r} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{what} {str(path)!r} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} near offset "
            f"{exc.start}); save it as UTF-8"
        ) from None


def check_taxonomy_file(spec: str | None, what: str = "taxonomy file") -> None:
    """Check a taxonomy argument: ``default`` / ``none`` / ``None``, or a readable UTF-8 file.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: It is a directory, unreadable or not UTF-8.
    """
    if spec is None or spec in ("default", "none"):
        return
    read_utf8(check_input_file(spec, what), what)


_BACKEND_FLAGS = (
    ("api_base", "--api-base"),
    ("cache", "--cache"),
    ("rpm", "--rpm"),
    ("tpm", "--tpm"),
    ("max_concurrency", "--max-concurrency"),
    ("timeout", "--timeout"),
)
"""Backend flags: their ``argparse`` destination and how the user wrote them."""


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Add the model backend's flags (the options of ``PersonaEngine.from_taxonomy`` and ``Evaluator``).

    ``--api-base`` → ``api_base``, ``--cache`` → ``cache``, ``--rpm`` → ``requests_per_minute``, ``--tpm``
    → ``tokens_per_minute``, ``--max-concurrency`` → ``max_concurrency``, ``--timeout`` → ``timeout``.
    """
    group = parser.add_argument_group("model backend (LiteLLM models and local/... models)")
    group.add_argument("--api-base", default=None, metavar="URL",
                       help="the server's base URL, e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp")  # fmt: skip
    group.add_argument("--cache", default=None, metavar="DIR",
                       help="cache validated replies in DIR ('user': the user cache directory)")  # fmt: skip
    group.add_argument(
        "--rpm", type=positive_int, default=None, metavar="N", help="at most N requests a minute"
    )
    group.add_argument("--tpm", type=positive_int, default=None, metavar="N",
                       help="at most N tokens a minute (estimated before each request)")  # fmt: skip
    group.add_argument("--max-concurrency", "--concurrency", dest="max_concurrency", type=positive_int,
                       default=None, metavar="N",
                       help="LLM requests in flight at once, the run's one concurrency setting "
                            "(default 8; 1 for local/... models)")  # fmt: skip
    group.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                       help="seconds before a request counts as timed out and is retried (default 600)")  # fmt: skip


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given with :func:`add_backend_options`'s flags, as keyword arguments.

    With the offline ``fake`` model they are ignored (with a warning), so that a command line can be
    dry-run as it is; all but ``--max-concurrency``, which every backend has.

    Raises:
        ConfigError: ``--api-base`` is empty, or ``--cache`` names a path that cannot be a directory.
    """
    given = {dest: getattr(args, dest, None) for dest, _ in _BACKEND_FLAGS}
    given = {dest: value for dest, value in given.items() if value is not None}
    if not given:
        return {}
    if (
        fake_seed(getattr(args, "model", None)) is not None
    ):  # the fake's one backend setting is max_concurrency
        flags = [flag for dest, flag in _BACKEND_FLAGS if dest in given and dest != "max_concurrency"]
        if flags:
            logger.warning("%s: ignored with the offline fake model", ", ".join(flags))
        return {"max_concurrency": given["max_concurrency"]} if "max_concurrency" in given else {}
    options: dict[str, Any] = {}
    if "api_base" in given:
        if not str(given["api_base"]).strip():
            raise ConfigError("--api-base is empty; give the server's URL, e.g. http://127.0.0.1:8000/v1")
        options["api_base"] = str(given["api_base"]).strip()
    if "cache" in given:
        if given["cache"] == "user":
            options["cache"] = True
        else:
            check_output_dir(given["cache"], "--cache")
            options["cache"] = given["cache"]
    if "rpm" in given:
        options["requests_per_minute"] = given["rpm"]
    if "tpm" in given:
        options["tokens_per_minute"] = given["tpm"]
    if "max_concurrency" in given:
        options["max_concurrency"] = given["max_concurrency"]
    if "timeout" in given:
        options["timeout"] = given["timeout"]
    return options
