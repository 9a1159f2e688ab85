"""Facts about the CPU that choose fast paths (read when a model loads, never at import)."""

from __future__ import annotations

__all__ = ["cpu_flags"]


def cpu_flags() -> frozenset[str] | None:
    """The CPU feature flags listed in ``/proc/cpuinfo``, or ``None`` where that file cannot be read.

    ``None`` (macOS, Windows, sandboxes) means "unknown": callers fall back to their portable choice.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        return None
    return frozenset()
