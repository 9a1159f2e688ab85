"""Append-only JSONL output that survives crashes: one line per finished persona.

A resume reads the file line by line and keeps only what it needs (the finished indices, the seeds,
``k``, the first recorded run configuration and, for ``enrich_to``, which bios differ from their
sketches), never the personas themselves: a 100k-line file resumes in tens of MB.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._display import html_items, html_report, html_table
from .._jsonl import PathLock, iter_lines, repair_tail
from ..errors import ConfigError, DataFileError
from ..llm._base import Usage
from ..persona import Persona

__all__ = ["JsonlCheckpoint", "ResumeState", "RunReport"]

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What a :meth:`PersonaEngine.generate_to` run did.

    In a notebook the report shows as a small HTML table with the first failures.

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

    def _repr_html_(self) -> str:
        usage = self.usage
        table = html_table(
            ["requested", "written", "skipped (already there)", "failed", "LLM calls", "tokens", "seed"],
            [
                [
                    self.requested,
                    self.written,
                    self.skipped,
                    len(self.failures),
                    usage.calls,
                    usage.total_tokens,
                    self.seed,
                ]
            ],
        )
        state = "complete" if self.complete else "incomplete: a rerun retries the missing personas"
        shown = [f"#{index}: {reason}" for index, reason in self.failures[:10]]
        if len(self.failures) > 10:
            shown.append(f"… {len(self.failures) - 10} more in .failures")
        return html_report(
            "Run report", f"{self.path}; {state}", table, html_items("Failed personas (not written)", shown)
        )


@dataclass
class ResumeState:
    """What :meth:`JsonlCheckpoint.scan` learned from an output file (never the personas themselves).

    Attributes:
        done: Indices of the ``ok`` personas in the file (incomplete and failed lines are not done).
        lines: Persona lines read (any status).
        seeds: The run seeds found in the lines.
        ks: The ``k`` values recorded in the lines' provenance.
        run_config: The run configuration of the first line that records one (``None`` when no line
            does: a file written before run configurations were recorded).
        run_ids: The distinct run ids of the lines that record one.
        legacy: Lines without a recorded run configuration.
        bio_mismatches: Indices of ``ok`` personas whose ``anchors["bio"]`` differs from the bio expected
            for that index (see ``bios`` of :meth:`JsonlCheckpoint.scan`; at most 20 are listed).
    """

    done: set[int] = field(default_factory=set)
    lines: int = 0
    seeds: set[int] = field(default_factory=set)
    ks: set[int] = field(default_factory=set)
    run_config: dict[str, Any] | None = None
    run_ids: set[str] = field(default_factory=set)
    legacy: int = 0
    bio_mismatches: list[int] = field(default_factory=list)

    @property
    def seed(self) -> int | None:
        """The file's seed when all its lines share one, else ``None``."""
        return next(iter(self.seeds)) if len(self.seeds) == 1 else None


class JsonlCheckpoint:
    """A JSONL file of personas that can be appended to safely and resumed.

    Each persona is written as one complete line with a single ``write`` followed by ``flush`` and
    ``fsync``, so a crash leaves at most one partial last line; :meth:`scan` cuts it off. A lock file
    next to the real file (symbolic links resolved, so two paths to one file share it) keeps two
    writers, processes or threads, from writing the same file; it is removed when the file is closed.

    Args:
        path: The JSONL file.
        fsync: Force each line to disk (slower, but nothing finished is lost on power failure).
    """

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fh: IO[bytes] | None = None
        self._lock: PathLock | None = None

    @property
    def real_path(self) -> Path:
        """The file's resolved path (symbolic links followed)."""
        return Path(os.path.realpath(self.path))

    @property
    def lock_path(self) -> Path:
        """The lock file: the resolved path plus ``.lock``."""
        real = self.real_path
        return real.with_name(real.name + ".lock")

    def scan(
        self,
        *,
        bios: Mapping[int, str] | None = None,
        on_config: Callable[[dict[str, Any]], None] | None = None,
    ) -> ResumeState:
        """Read the file line by line for a resume, repairing a partial last line.

        Only what a resume needs is kept (see :class:`ResumeState`), so memory does not grow with the
        size of the personas.

        Args:
            bios: The bio each index must have (``enrich_to``: the sketches); indices whose ``ok``
                persona has another bio are listed in ``bio_mismatches``.
            on_config: Called with the first recorded run configuration as soon as it is read, so a
                resume of another run can be refused (by raising) without reading the whole file.

        Raises:
            DataFileError: A complete line is not a persona (the file is not a deeppersona output).
        """
        state = ResumeState()
        if not self.path.exists():
            return state
        self._repair_tail()
        for number, line, _ in iter_lines(self.path):  # one line at a time: memory stays flat
            known = state.run_config is not None
            self._read_line(state, number, line, bios)
            if on_config is not None and not known and state.run_config is not None:
                on_config(state.run_config)
        return state

    def _read_line(
        self, state: ResumeState, number: int, line: bytes, bios: Mapping[int, str] | None
    ) -> None:
        try:
            item = json.loads(line)
            index = int(item["index"])
            seed = int(item["seed"])
            status = item.get("status", "ok")
            provenance = item.get("provenance") or {}
            if not isinstance(provenance, dict):
                raise TypeError("provenance is not an object")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataFileError(
                f"{self.path}:{number} is not a deeppersona persona line ({exc}); "
                "write to a new file or pass overwrite=True"
            ) from exc
        state.lines += 1
        state.seeds.add(seed)
        k = provenance.get("k")
        if isinstance(k, int) and not isinstance(k, bool) and k > 0:
            state.ks.add(k)
        config = provenance.get("run_config")
        if isinstance(config, dict) and config:
            state.run_ids.add(str(provenance.get("run_id") or ""))
            if state.run_config is None:
                state.run_config = config
        else:
            state.legacy += 1
        if status != "ok":
            return
        state.done.add(index)
        if bios is not None and index in bios and len(state.bio_mismatches) < 20:
            anchors = item.get("anchors")
            bio = anchors.get("bio") if isinstance(anchors, dict) else None
            if bio != bios[index]:
                state.bio_mismatches.append(index)

    def _repair_tail(self) -> int:
        """Cut off a partial last line (left by an interrupted write); return the file's length after."""
        with self.path.open("r+b") as fh:
            return repair_tail(fh, self.path)

    def open(self) -> None:
        """Take the file lock and open the file for appending.

        Raises:
            ConfigError: Another writer holds the lock, or the file or its lock cannot be created.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = PathLock(self.lock_path)
        try:
            acquired = lock.acquire()
        except OSError as exc:
            raise ConfigError(
                f"cannot create the lock file {str(self.lock_path)!r} ({exc.strerror or exc}); "
                "write to a directory you can write to"
            ) from None
        if not acquired:
            raise ConfigError(
                f"{self.path} is being written by another process; wait for it or use another file"
            )
        try:
            self._fh = self.path.open("ab")
        except OSError as exc:
            lock.release()
            raise ConfigError(f"cannot open {str(self.path)!r} for writing ({exc.strerror or exc})") from None
        self._lock = lock

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
        """Close the file, release the lock and remove the lock file."""
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
