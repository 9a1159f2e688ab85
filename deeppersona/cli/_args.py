"""Argument types and path checks shared by the subcommands.

Argument types raise :class:`argparse.ArgumentTypeError` (argparse turns it into a one-line usage error,
exit status 2). Path checks raise :class:`~deeppersona.errors.ConfigError` or
:class:`~deeppersona.errors.DataFileError` (one line, exit status 1) and run before any work starts, so a
long run never ends by failing to write its result.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from ..errors import ConfigError, DataFileError, DataFileNotFoundError

__all__ = [
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "check_taxonomy_file",
    "fake_seed",
    "fraction",
    "looks_like_path",
    "model_name",
    "non_negative_int",
    "positive_int",
    "read_utf8",
]


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
