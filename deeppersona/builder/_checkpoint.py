"""An append-only JSON Lines checkpoint, so a long build resumes where it stopped."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .._jsonl import append_line, iter_lines

__all__ = ["Checkpoint"]

logger = logging.getLogger(__name__)


class Checkpoint:
    """Results keyed by ``(kind, key)``, appended to ``<directory>/<kind>.jsonl`` as they finish.

    Each line is ``{"key": ..., "fp": ..., "value": ...}``. On opening, earlier lines are read back;
    lines written under another configuration fingerprint (another model, other roots, other
    prompts) are ignored, and a torn last line left by a crash is skipped (and cut off before the next
    append: the rules of :mod:`deeppersona._jsonl`, shared with the engine's output). With ``directory=None``
    the checkpoint only lives in memory (still useful: nothing is asked twice within one run).

    Args:
        directory: Where the ``.jsonl`` files live, or ``None`` for memory only.
        fingerprint: The configuration fingerprint results must match to be reused.
    """

    def __init__(self, directory: str | os.PathLike[str] | None, fingerprint: str) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.fingerprint = fingerprint
        self._data: dict[str, dict[str, Any]] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def _file(self, kind: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{kind}.jsonl"

    def _load(self, kind: str) -> dict[str, Any]:
        if kind in self._loaded:
            return self._data.setdefault(kind, {})
        self._loaded.add(kind)
        table = self._data.setdefault(kind, {})
        path = self._file(kind)
        if path is None or not path.exists():
            return table
        stale = torn = 0
        for _, line, _complete in iter_lines(path):
            try:
                item = json.loads(line)
                key, fp, value = item["key"], item["fp"], item["value"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                torn += 1
                continue
            if fp != self.fingerprint:
                stale += 1
                continue
            table[key] = value
        if stale or torn:
            logger.info("checkpoint %s: ignored %d stale and %d unreadable lines", path, stale, torn)
        return table

    def get(self, kind: str, key: str) -> Any | None:
        """Return the stored value of ``key``, or ``None``."""
        with self._lock:
            return self._load(kind).get(key)

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, key = item
        with self._lock:
            return key in self._load(kind)

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` and append it to the kind's file (flushed at once)."""
        with self._lock:
            self._load(kind)[key] = value
            path = self._file(kind)
            if path is None:
                return
            line = json.dumps({"key": key, "fp": self.fingerprint, "value": value}, ensure_ascii=False)
            append_line(path, line)  # locked; a torn last line is cut off first, not glued to this one

    def __len__(self) -> int:
        with self._lock:
            return sum(len(t) for t in self._data.values())
