"""Append-only JSONL output that survives crashes: one line per finished persona."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, DataFileError
from ..llm._base import Usage
from ..persona import Persona

__all__ = ["JsonlCheckpoint", "RunReport"]

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What a :meth:`PersonaEngine.generate_to` run did.

    Attributes:
        path: The output file.
        requested: How many personas the file should hold in the end.
        written: Personas written by this run.
        skipped: Personas already in the file (from an earlier, interrupted run).
        failures: ``(index, reason)`` of personas that failed in this run (not written; a rerun retries them).
        usage: LLM usage of this run.
        seed: The run seed (recorded in every line; a resumed run reuses it).
    """

    path: Path
    requested: int
    written: int = 0
    skipped: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    seed: int = 0

    @property
    def complete(self) -> bool:
        """Whether the file now holds every requested persona."""
        return self.written + self.skipped >= self.requested

    def __repr__(self) -> str:
        return (
            f"RunReport(path={str(self.path)!r}, requested={self.requested}, written={self.written}, "
            f"skipped={self.skipped}, failed={len(self.failures)})"
        )


class JsonlCheckpoint:
    """A JSONL file of personas that can be appended to safely and resumed.

    Each persona is written as one complete line with a single ``write`` followed by ``flush`` and
    ``fsync``, so a crash leaves at most one partial last line; :meth:`scan` cuts it off. A file lock
    keeps two processes from writing the same file.

    Args:
        path: The JSONL file.
        fsync: Force each line to disk (slower, but nothing finished is lost on power failure).
    """

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fh: IO[bytes] | None = None
        self._lock: Any = None

    def scan(self) -> dict[int, dict[str, Any]]:
        """Return index → persona dict for the finished personas in the file, repairing a partial last line.

        Raises:
            DataFileError: A complete line is not a persona (the file is not a deeppersona output).
        """
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning("%s: removing a partial last line left by an interrupted write", self.path)
            with self.path.open("r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        done: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(data[:end].split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                index = int(item["index"])
                item["seed"] = int(item["seed"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DataFileError(
                    f"{self.path}:{number} is not a deeppersona persona line ({exc}); "
                    "write to a new file or pass overwrite=True"
                ) from exc
            if item.get("status", "ok") == "ok":
                done.setdefault(index, item)
        return done

    def open(self) -> None:
        """Take the file lock and open the file for appending."""
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise ConfigError(
                f"{self.path} is being written by another process; wait for it or use another file"
            ) from None
        self._lock = lock
        self._fh = self.path.open("ab")

    def truncate(self) -> None:
        """Empty the file (for ``overwrite=True``)."""
        if self._fh is not None:
            self._fh.truncate(0)
        else:
            self.path.write_bytes(b"")

    def append(self, persona: Persona) -> None:
        """Write one persona as one line, durably."""
        if self._fh is None:
            raise RuntimeError("JsonlCheckpoint.append() before open()")
        self._fh.write((persona.to_json() + "\n").encode("utf-8"))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file and release the lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> JsonlCheckpoint:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
