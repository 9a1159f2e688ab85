"""Benchmark: memory and time of resuming a large ``generate_to`` file (issue 12, item 4).

Builds a JSONL file of ``--lines`` finished personas in a temporary directory: one real FakeLLM persona at
``--k`` attributes (about 64 KB a line at k=220), copied with new indices and ids, so the file is exactly
what ``generate_to`` writes for that run. A child process then resumes it with the same engine
(``generate_to(path, n=lines, k=k)``: every persona is already done, so the resume is the whole work) and
reports:

- seconds of the resume (the scan of the file, plus the run's preparation);
- peak growth of the process's resident memory during the resume (``/proc/self/statm`` sampled every
  10 ms; ``ru_maxrss`` growth too);
- with tracemalloc (a second resume): the peak of Python allocations during the resume.

For comparison it prints what holding every parsed persona in memory (the scan before this change) would
take. Target: the resume stays within tens of MB at 100k lines.

Usage::

    python benchmarks/bench_resume.py                     # 100,000 lines at k=220 (about 6.4 GB of disk)
    python benchmarks/bench_resume.py --lines 10000 --k 50
    python benchmarks/bench_resume.py --no-tracemalloc    # the timed resume only
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deeppersona.engine import PersonaEngine, persona_id
from deeppersona.testing import FakeLLM, HashEmbedder

SEED = 3
MB = 1024 * 1024


def _engine() -> PersonaEngine:
    engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1), embedder=HashEmbedder())
    return engine.with_seed(SEED).with_options(progress=False, fsync=False)


def _rss() -> int:
    """Resident memory now, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _maxrss() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class _Sampler:
    """Samples the resident memory in a thread; ``peak`` is the highest value seen."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def build_file(path: Path, lines: int, k: int) -> tuple[int, int]:
    """Write ``lines`` copies of persona 0 (new index and id each); return (bytes per line, file bytes)."""
    persona = _engine().generate(k=k)
    text = persona.to_json()
    head = f'{{"id": "{persona.id}", "seed": {SEED}, "index": 0, '
    if not text.startswith(head):
        raise SystemExit(f"unexpected persona line layout: {text[:120]!r}")
    rest = text[len(head) :]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            fh.write(f'{{"id": "{persona_id(persona.provenance.run_id, i)}", "seed": {SEED}, "index": {i}, {rest}\n')
    return len(text.encode("utf-8")) + 1, path.stat().st_size


def held_per_persona(path: Path, sample: int = 300) -> float:
    """Bytes of Python objects one parsed persona line holds (what the old scan kept for every line)."""
    with path.open("rb") as fh:
        line = fh.readline()
    gc.collect()
    tracemalloc.start()
    kept = [json.loads(line) for _ in range(sample)]
    size = tracemalloc.get_traced_memory()[0] / sample
    tracemalloc.stop()
    del kept
    return size


def child(path: Path, lines: int, k: int, trace: bool) -> dict[str, Any]:
    """Resume ``path`` in this process and measure it."""
    engine = _engine()
    engine.generate(k=k)  # warm up: taxonomy, demographic tables, templates
    gc.collect()
    base_rss, base_max = _rss(), _maxrss()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    with _Sampler() as sampler:
        report = engine.generate_to(path, n=lines, k=k)
    seconds = time.perf_counter() - start
    peak_py = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    if report.skipped != lines or report.written != 0:
        raise SystemExit(f"the resume did not find every persona done: {report!r}")
    return {
        "seconds": seconds,
        "rss_growth": max(0, sampler.peak - base_rss),
        "maxrss_growth": max(0, _maxrss() - base_max),
        "tracemalloc_peak": peak_py,
    }


def _run_child(path: Path, lines: int, k: int, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(path), "--lines", str(lines), "--k", str(k)]
    if trace:
        cmd.append("--trace")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="persona lines in the file")
    parser.add_argument("--k", type=int, default=220, help="attributes per persona")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced (slower) resume")
    parser.add_argument(
        "--keep", type=Path, default=None, help="build the file in this directory and keep it"
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.lines, args.k, args.trace)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        folder = args.keep or Path(tmp)
        path = folder / "people.jsonl"
        start = time.perf_counter()
        line_bytes, size = build_file(path, args.lines, args.k)
        print(f"file: {args.lines:,} lines at k={args.k}, {size / 1e9:.2f} GB ({line_bytes / 1e3:.1f} KB a line), "
              f"built in {time.perf_counter() - start:.0f} s")  # fmt: skip
        held = held_per_persona(path)
        print(f"holding every parsed persona (the scan before this change): {held / 1e3:.0f} KB a line, "
              f"{held * args.lines / 1e9:.1f} GB for the file")  # fmt: skip
        timed = _run_child(path, args.lines, args.k, trace=False)
        print(f"resume: {timed['seconds']:.1f} s ({args.lines / timed['seconds']:,.0f} lines/s, "
              f"{size / MB / timed['seconds']:.0f} MB/s), all {args.lines:,} personas found done")  # fmt: skip
        print(f"peak RSS growth during the resume: {timed['rss_growth'] / MB:.1f} MB "
              f"(ru_maxrss growth {timed['maxrss_growth'] / MB:.1f} MB)")  # fmt: skip
        if not args.no_tracemalloc:
            traced = _run_child(path, args.lines, args.k, trace=True)
            print(f"peak Python allocations during the resume (tracemalloc): "
                  f"{traced['tracemalloc_peak'] / MB:.1f} MB ({traced['seconds']:.1f} s traced)")  # fmt: skip
        if args.keep is None:
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
