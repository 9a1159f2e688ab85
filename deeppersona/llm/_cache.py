"""An opt-in, cross-process response cache on disk (SQLite).

Replies can hold whatever the prompts held (sketches, biographies), so the cache is private to its user:
the file (and SQLite's ``-wal`` / ``-shm`` companions) is created ``0600``, in a directory created
``0700``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "cache_key"]

logger = logging.getLogger(__name__)

_FILE_MODE = 0o600
_DIR_MODE = 0o700

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL
)
"""


def cache_key(model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """A stable digest of everything that determines a reply: model, messages and parameters (seed included)."""
    payload = json.dumps(
        {"model": model, "messages": [dict(m) for m in messages], "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """Validated replies stored in one SQLite file, shared safely by threads and processes.

    Only replies that validated are stored, so a cached entry never needs a re-ask.

    Args:
        path: The SQLite file, or a directory to hold ``responses.sqlite``.
    """

    def __init__(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        if p.is_dir() or p.suffix == "":
            p = p / "responses.sqlite"
        _private_directory(p.parent)
        _private_file(p)
        self.path = p
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
        for suffix in ("-wal", "-shm"):  # SQLite copies the file's mode; tighten ones left by older versions
            companion = p.with_name(p.name + suffix)
            if companion.exists():
                _tighten(companion)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60.0, isolation_level=None)

    def get(self, key: str) -> tuple[str, int, int] | None:
        """Return ``(text, prompt_tokens, completion_tokens)`` stored under ``key``, or ``None``."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,)
            ).fetchone()
        finally:
            conn.close()
        return None if row is None else (str(row[0]), int(row[1]), int(row[2]))

    def put(
        self, key: str, model: str, text: str, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        """Store a reply under ``key`` (replacing any earlier one)."""
        conn = self._connect()
        try:
            conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, time.time(), text, int(prompt_tokens), int(completion_tokens)),
            )
        finally:
            conn.close()

    def __len__(self) -> int:
        conn = self._connect()
        try:
            return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        finally:
            conn.close()

    def clear(self) -> None:
        """Delete every stored reply."""
        conn = self._connect()
        try:
            conn.execute("DELETE FROM responses")
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"


def _tighten(path: Path) -> None:
    """Remove group and other permissions from an existing ``path`` if it has any."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(current & 0o700)
    except OSError as exc:
        logger.warning("could not make %s private (%s); its replies may be readable by others", path, exc)


def _private_directory(directory: Path) -> None:
    """Create ``directory`` (and missing parents) ``0700``; an existing directory is left as it is."""
    if directory.is_dir():
        return
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    for created in missing:  # mkdir's mode is filtered by the umask, and parents get the default mode
        created.chmod(_DIR_MODE)


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode ``0600`` (SQLite then initialises it), or tighten an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        _tighten(path)
        return
    try:
        if hasattr(os, "fchmod"):  # POSIX: exactly 0600, whatever the umask
            os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
