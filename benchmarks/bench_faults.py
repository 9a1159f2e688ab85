"""Fault-injection benchmark (issue 12): does a run lose, mis-flag or corrupt personas under faults?

Prints one table, ``scenario | tried | survived | lost | wrongly ok | fragments | duplicates | seconds``:

1. **30% transient errors** (429 with Retry-After, 500, 503, timeouts beyond the client timeout, dropped
   connections, 6% each) through the real path: ``LiteLLMBackend("openai/smollm2", api_base=...)`` →
   :class:`~deeppersona.testing.ChaosProxy` → llama.cpp's OpenAI-compatible server on smollm2-135m;
2. **30% malformed or truncated replies** (a malformed HTTP body, broken JSON content, content cut off
   with ``finish_reason="length"``), same path;
3. **server killed and restarted mid-run**: ``generate_to`` while the server is ``kill -9``-ed twice and
   restarted on its port, then reruns of ``generate_to`` for what was not written;
4. **20 ``kill -9`` of a ``generate_to`` subprocess** (FakeLLM) at random moments, each followed by a
   resume, then a resume with a changed configuration, which must be refused.

Columns: *tried* personas asked for; *survived* came back not killed by a fault (``ok``, or
``incomplete`` because smollm2's nonsense failed the value checks: the model's doing, flagged truthfully);
*lost* missing, or ``failed`` by a fault; *wrongly ok* ``ok`` while something is missing;
*fragments* stored values equal to the cut-off part of a truncated reply; *duplicates* lines written twice.
Personas are k=3 with the core chain anchored (smollm2 cannot write one that passes its checks) and
``persona_retries=1``.

Usage::

    python benchmarks/bench_faults.py            # n=8 per real-server scenario (about 15-30 min on 2 busy cores)
    python benchmarks/bench_faults.py --quick    # n=2, 5 kills (a few minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeppersona.engine import PersonaEngine
from deeppersona.llm import LiteLLMBackend
from deeppersona.llm._structured import RetryPolicy
from deeppersona.persona import Persona
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import ChaosProxy, ChaosRates, HashEmbedder, LlamaCppServer
from deeppersona.testing._chaos import FIXED_CORE, stored_texts, wrongly_ok

logger = logging.getLogger("bench_faults")

K = 3
CORE = FIXED_CORE


@dataclass
class Row:
    scenario: str
    tried: int
    survived: int
    lost: int
    wrongly_ok: int
    fragments: int | str = 0
    duplicates: int | str = 0
    seconds: float = 0.0
    note: str = ""


def backend(proxy: ChaosProxy, timeout: float, max_retries: int = 10) -> LiteLLMBackend:
    return LiteLLMBackend(
        "openai/smollm2",
        api_base=proxy.base_url,
        api_key="none",
        structured="json_schema",
        timeout=timeout,
        max_tokens=384,
        temperature=0.3,
        retry_policy=RetryPolicy(max_attempts=3, max_retries=max_retries, base_delay=0.2, max_delay=4.0),
        max_concurrency=1,
    )


def engine(tree: AttributeTree, llm: LiteLLMBackend) -> PersonaEngine:
    base = PersonaEngine.from_taxonomy(tree, model=llm, embedder=HashEmbedder()).anchor(CORE)
    return base.with_seed(7).with_options(
        consistency=False,
        narrative=False,
        progress=False,
        persona_retries=1,
        max_fill_retries=1,
        story_words="5-12",
        fsync=False,
    )


def in_memory(
    name: str, tree: AttributeTree, proxy: ChaosProxy, rates: ChaosRates, n: int, timeout: float
) -> Row:
    proxy.reset_stats()
    proxy.set_rates(rates)
    started = time.perf_counter()
    population = engine(tree, backend(proxy, timeout)).generate(k=K, n=n)
    seconds = time.perf_counter() - started
    proxy.set_rates(ChaosRates())
    personas = [*population, *population.failures]
    back = {p.index for p in personas}
    failed = [p for p in personas if p.status == "failed"]
    fragments = {f.strip() for f in proxy.stats.fragments}
    stored = [s for p in personas for s in stored_texts(p) if s in fragments]
    stats = proxy.stats
    note = f"{stats.requests} requests, {stats.injected} faults, {len(population)} ok"
    for p in failed:
        logger.info("%s: persona %d failed: %s", name, p.index, p.failure)
    return Row(
        name,
        n,
        survived=len(personas) - len(failed),
        lost=(n - len(back)) + len(failed),
        wrongly_ok=sum(wrongly_ok(p, K) for p in personas),
        fragments=len(stored),
        duplicates=len(personas) - len(back),
        seconds=seconds,
        note=note,
    )


def killed_server(tree: AttributeTree, server: LlamaCppServer, proxy: ChaosProxy, n: int, kills: int) -> Row:
    proxy.reset_stats()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "people.jsonl"
        llm = backend(proxy, timeout=120.0, max_retries=15)
        asyncio.run(llm.preflight())  # now, so that the kills land inside the run
        eng = engine(tree, llm)
        reports: list[Any] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                reports.append(eng.generate_to(out, n=n, k=K))
            except BaseException as exc:
                errors.append(exc)

        started = time.perf_counter()
        worker = threading.Thread(target=run)
        worker.start()
        for i in range(kills):  # kill after the first reply, then again a few replies later
            target = 2 + 4 * i  # the pre-flight probe was the first
            deadline = time.monotonic() + 600
            while proxy.stats.passed < target and worker.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not worker.is_alive():
                break
            server.kill()
            time.sleep(1.0)
            server.start()
        worker.join()
        if errors:
            raise errors[0]
        report = reports[0]
        reruns = 0
        while report.failures and reruns < 2:
            reruns += 1
            report = eng.generate_to(out, n=n, k=K)
        seconds = time.perf_counter() - started
        lines = [line for line in out.read_text().splitlines() if line.strip()]
        written = [Persona.model_validate_json(line) for line in lines]
    indices = [p.index for p in written]
    failed_by_fault = [i for i, reason in report.failures if "Error" in reason]
    accounted = set(indices) | {i for i, _ in report.failures}
    fragments = {f.strip() for f in proxy.stats.fragments}
    return Row(
        f"server killed x{server.starts - 1} and restarted mid-run",
        n,
        survived=len(set(indices)) + len(report.failures) - len(failed_by_fault),
        lost=(n - len(accounted)) + len(failed_by_fault),
        wrongly_ok=sum(wrongly_ok(p, K) for p in written),
        fragments=sum(1 for p in written for s in stored_texts(p) if s in fragments),
        duplicates=len(indices) - len(set(indices)),
        seconds=seconds,
        note=f"{proxy.stats.upstream_errors} requests met the dead server; {reruns} rerun(s); "
        f"{len(set(indices))} ok written",
    )


_CHILD = """
import sys
from deeppersona.engine import PersonaEngine
from deeppersona.testing import FakeLLM, HashEmbedder
engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1, latency=0.05, max_concurrency=4), embedder=HashEmbedder())
engine = engine.with_seed(3).with_options(progress=False)
if len(sys.argv) > 3:
    engine = engine.anchor(country=sys.argv[3])
engine.generate_to(sys.argv[1], n=int(sys.argv[2]), k=5)
"""


def killed_writer(n: int, kills: int, seed: int = 0) -> Row:
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out, script = Path(tmp) / "people.jsonl", Path(tmp) / "run.py"
        script.write_text(_CHILD)
        command = [sys.executable, str(script), str(out), str(n)]
        done_kills = 0
        for _ in range(kills):
            before = len(out.read_bytes().splitlines()) if out.exists() else 0
            if before >= n:
                break
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120  # let it write a line or a few, then kill it at a random moment
            while time.monotonic() < deadline and proc.poll() is None:
                lines = len(out.read_bytes().splitlines()) if out.exists() else 0
                if lines > before:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                done_kills += 1
            proc.wait()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        refused = subprocess.run(
            [*command, "Japan"], env=env, capture_output=True, text=True, check=False
        )  # a resume with other anchors
        changed_refused = refused.returncode != 0 and "ConfigError" in refused.stderr
        raw = out.read_bytes().splitlines()
    records = []
    corrupt = 0
    for line in raw:
        try:
            records.append(json.loads(line))
        except ValueError:
            corrupt += 1
    indices = [r["index"] for r in records]
    return Row(
        f"{done_kills} kill -9 of generate_to + resumes (FakeLLM)",
        n,
        survived=len(set(indices)),
        lost=n - len(set(indices) & set(range(n))),
        wrongly_ok=sum(r.get("status") == "ok" and bool(r.get("missing")) for r in records),
        fragments="-",
        duplicates=len(indices) - len(set(indices)) + corrupt,
        seconds=time.perf_counter() - started,
        note=f"changed-configuration resume {'refused' if changed_refused else 'NOT refused'}",
    )


def print_table(rows: list[Row]) -> None:
    head = [
        "scenario",
        "tried",
        "survived",
        "lost",
        "wrongly ok",
        "fragments",
        "duplicates",
        "seconds",
        "note",
    ]
    cells = [
        [
            r.scenario,
            r.tried,
            r.survived,
            r.lost,
            r.wrongly_ok,
            r.fragments,
            r.duplicates,
            f"{r.seconds:.0f}",
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *cells, strict=True)]

    def line(values: list[Any]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print(line(row))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="n=2 per real-server scenario, 5 kills")
    parser.add_argument("--n", type=int, default=None, help="personas per real-server scenario")
    parser.add_argument("--kills", type=int, default=None, help="kill -9 of the generate_to subprocess")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault draws")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="client timeout (s); timeouts cost this much"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="progress and failures on stderr")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    for name in ("LiteLLM", "httpx", "openai", "faiss"):  # their chatter is not this benchmark's
        logging.getLogger(name).setLevel(logging.WARNING)
    n = args.n or (2 if args.quick else 8)
    kills = args.kills or (5 if args.quick else 20)
    if not LlamaCppServer.available():
        raise SystemExit("needs the llama.cpp server: pip install 'llama-cpp-python[server]'")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    tree = AttributeTree.default()
    rows: list[Row] = []
    with (
        LlamaCppServer("smollm2-135m", n_threads=1) as server,
        ChaosProxy(server.url, seed=args.seed, retry_after=1.0, timeout_delay=args.timeout + 5) as proxy,
    ):
        logger.warning("server %s, proxy %s", server.url, proxy.url)
        rows.append(
            in_memory(
                "30% transient (429/500/503/timeout/drop)",
                tree,
                proxy,
                ChaosRates.transient(0.3),
                n,
                args.timeout,
            )
        )
        logger.warning("transient done")
        bad = ChaosRates(malformed_body=0.1, malformed_json=0.1, truncated=0.1)
        rows.append(in_memory("30% malformed or truncated replies", tree, proxy, bad, n, args.timeout))
        logger.warning("bad replies done")
        rows.append(killed_server(tree, server, proxy, n, kills=2))
        logger.warning("server kills done")
    rows.append(killed_writer(10 * kills, kills, seed=args.seed))
    print_table(rows)


if __name__ == "__main__":
    main()
