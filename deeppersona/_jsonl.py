"""The one set of rules for append-only JSON Lines files: the engine's persona output, the builder's
checkpoint and every reader of them.

* A line is complete when it ends with a newline. A crash can leave at most one partial line, the last;
  readers skip it (:func:`iter_lines` marks it) and writers cut it off before appending
  (:func:`repair_tail`), so a new line is never glued to a torn one.
* Each record is written with one ``write`` of the whole line, flushed (and, when asked, ``fsync``-ed).
* Writers exclude each other: a long run holds a :class:`PathLock` for its whole life (one writer per
  file); short appends from several threads or processes take the file's own lock for each line
  (:func:`append_line`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

try:  # POSIX: flock (Windows falls back to the filelock package)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["PathLock", "append_line", "iter_lines", "repair_tail"]

logger = logging.getLogger(__name__)

_TAIL_BLOCK = 1 << 16
_LOCK_TRIES = 5


def repair_tail(fh: IO[bytes], name: str | os.PathLike[str] = "") -> int:
    """Cut a partial last line (left by an interrupted write) off a file open in ``r+b`` mode.

    Returns the file's length after the repair. The file is flushed and synced when it was cut.
    """
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return 0
    fh.seek(size - 1)
    if fh.read(1) == b"\n":  # the usual case, checked with one byte (every append asks)
        return size
    pos, end = size, 0
    while pos > 0:
        start = max(0, pos - _TAIL_BLOCK)
        fh.seek(start)
        block = fh.read(pos - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        pos = start
    if end < size:
        logger.warning("%s: removing a partial last line left by an interrupted write", name or "file")
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
    fh.seek(0, os.SEEK_END)
    return end


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line number, raw line, complete)`` for each non-blank line of ``path``, one at a time.

    ``complete`` is ``False`` only for a last line without its newline: a write that never finished,
    which callers skip (or report) rather than treat as a damaged file.
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if raw.strip():
                yield number, raw, raw.endswith(b"\n")


def append_line(path: str | os.PathLike[str], line: str, *, fsync: bool = False) -> None:
    """Append one record (``line``, without its newline) to ``path`` under the file's own lock.

    Safe from several threads and processes at once: each append locks the file (waiting for another
    writer's append to finish), cuts off a torn last line and writes the whole line in one ``write``.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        try:
            repair_tail(fh, p)
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class PathLock:
    """An exclusive, non-blocking lock on a lock file, which is removed on release.

    POSIX uses ``flock`` on the open lock file. Removing the file on release would let a process
    that opened it just before hold a lock on an orphaned file, so :meth:`acquire` checks that the
    locked file is still the one at the path and tries again otherwise. Other platforms use the
    ``filelock`` package and remove the file when they can.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._fallback: Any = None

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another holder has it.

        Raises:
            OSError: The lock file cannot be created (an unwritable directory ...).
        """
        if fcntl is None:  # pragma: no cover - Windows
            from filelock import FileLock, Timeout

            lock = FileLock(str(self.path))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False
            self._fallback = lock
            return True
        for _ in range(_LOCK_TRIES):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    return False
                raise
            try:
                held, current = os.fstat(fd), os.stat(self.path)
                same = (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return True
            os.close(fd)  # the previous holder removed the file after we opened it: try the new one
        return False

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.unlink(self.path)  # while still holding it (see the class docstring)
            except FileNotFoundError:
                pass
            finally:
                os.close(fd)  # closing the last descriptor releases the flock
        if self._fallback is not None:  # pragma: no cover - Windows
            lock, self._fallback = self._fallback, None
            lock.release()
            with contextlib.suppress(OSError):  # another process opened it meanwhile and takes it over
                os.remove(self.path)
