"""generate_to: one line per finished persona; interrupted runs resume without loss or duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine
from deeppersona.errors import ConfigError, DataFileError
from deeppersona.persona import Population
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, FakeRequest, HashEmbedder


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


@pytest.fixture(scope="module")
def sampler() -> DemographicSampler:
    return DemographicSampler()


@pytest.fixture(autouse=True)
def _shared_sampler(sampler: DemographicSampler, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reuse one sampler (its tables take a moment to load) across this module's engines."""
    real = PersonaEngine.from_taxonomy.__func__  # type: ignore[attr-defined]

    def from_taxonomy(cls: type[PersonaEngine], *args: Any, **kwargs: Any) -> PersonaEngine:
        return real(cls, *args, **kwargs).with_sampler(sampler)

    monkeypatch.setattr(PersonaEngine, "from_taxonomy", classmethod(from_taxonomy))


def make(tree: AttributeTree, llm: Any = None, seed: int | None = 5) -> PersonaEngine:
    engine = PersonaEngine.from_taxonomy(tree, model=llm or FakeLLM(seed=1), embedder=HashEmbedder())
    engine = engine.with_options(concurrency=2, personas_in_flight=2, fsync=False, progress=False)
    return engine.with_seed(seed) if seed is not None else engine


def _indices(path: Path) -> list[int]:
    return [json.loads(line)["index"] for line in path.read_text().splitlines() if line.strip()]


def test_interrupted_run_resumes_without_loss_or_duplicates(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    calls = {"n": 0}

    def interrupt(req: FakeRequest) -> Any:
        calls["n"] += 1
        if calls["n"] == 30:  # a few personas in: simulate Ctrl-C in the middle of a run
            raise KeyboardInterrupt
        return None

    with pytest.raises(KeyboardInterrupt):
        make(tree, FakeLLM(seed=1, handler=interrupt)).generate_to(out, n=12, k=8)
    first = _indices(out)
    assert 0 < len(first) < 12 and len(set(first)) == len(first)

    llm = FakeLLM(seed=1)
    report = make(tree, llm).generate_to(out, n=12, k=8)
    final = _indices(out)
    assert sorted(final) == list(range(12))
    assert report.skipped == len(first) and report.written == 12 - len(first) and report.complete
    assert final[: len(first)] == first  # earlier lines untouched
    # the resumed personas equal an uninterrupted run's
    clean = tmp_path / "clean.jsonl"
    make(tree).generate_to(clean, n=12, k=8)
    by_index = {p.index: p.to_dict() for p in Population.from_jsonl(out)}
    assert by_index == {p.index: p.to_dict() for p in Population.from_jsonl(clean)}
    # a third run has nothing to do
    again = make(tree, FakeLLM()).generate_to(out, n=12, k=8)
    assert again.written == 0 and again.skipped == 12


def test_truncated_last_line_is_repaired(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    make(tree).generate_to(out, n=3, k=5)
    text = out.read_text()
    lines = text.splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # a write cut in the middle
    assert len(Population.from_jsonl(out)) == 2  # readers skip the partial line
    report = make(tree).generate_to(out, n=3, k=5)
    assert report.written == 1 and sorted(_indices(out)) == [0, 1, 2]
    assert out.read_text() == text


def test_resume_reuses_file_seed_and_rejects_mismatch(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    first = make(tree, seed=None).generate_to(out, n=2, k=5)
    second = make(tree, seed=None).generate_to(out, n=4, k=5)
    assert second.seed == first.seed and second.written == 2
    with pytest.raises(ConfigError, match="seed"):
        make(tree, seed=first.seed + 1).generate_to(out, n=5, k=5)
    with pytest.raises(ConfigError, match="k="):
        make(tree, seed=None).generate_to(out, n=5, k=6)
    fresh = make(tree, seed=99).generate_to(out, n=2, k=6, overwrite=True)
    assert fresh.written == 2 and len(_indices(out)) == 2


def test_failures_are_reported_not_written(tree: AttributeTree, tmp_path: Path) -> None:
    def handler(req: FakeRequest) -> Any:
        return "broken" if req.call_site == "core" else None

    out = tmp_path / "people.jsonl"
    report = make(tree, FakeLLM(seed=1, handler=handler, max_attempts=1)).generate_to(out, n=2, k=5)
    assert report.written == 0 and [i for i, _ in report.failures] == [0, 1] and not report.complete
    # 2 personas x (1 attempt + 2 persona retries)
    assert "LLMOutputError" in report.failures[0][1] and report.usage.failures == 6
    assert _indices(out) == []
    retry = make(tree).generate_to(out, n=2, k=5)  # a rerun retries the failed personas
    assert retry.written == 2 and sorted(_indices(out)) == [0, 1]


def test_not_a_persona_file(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "other.jsonl"
    out.write_text('{"hello": 1}\n')
    with pytest.raises(DataFileError):
        make(tree).generate_to(out, n=1, k=5)


_SCRIPT = """
import sys
from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine
from deeppersona.testing import FakeLLM, HashEmbedder
engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1, latency=0.02), embedder=HashEmbedder())
engine.with_seed(3).with_options(concurrency=2, progress=False).generate_to(sys.argv[1], n=int(sys.argv[2]), k=5)
"""


@pytest.mark.slow
def test_killed_process_resumes(tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(out), "40"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _indices(out) if out.exists() else []
    assert 0 < len(done) < 40
    subprocess.run([sys.executable, str(script), str(out), "40"], env=env, check=True)
    final = _indices(out)
    assert sorted(final) == list(range(40))


def test_resume_with_a_generator_seed_keeps_the_file_seed(tree: AttributeTree, tmp_path: Path) -> None:
    import numpy as np

    out = tmp_path / "people.jsonl"
    first = make(tree, seed=None).with_seed(np.random.default_rng(1)).generate_to(out, n=2, k=5)
    second = make(tree, seed=None).with_seed(np.random.default_rng(2)).generate_to(out, n=4, k=5)
    assert second.seed == first.seed and second.written == 2 and second.skipped == 2
    assert {p.seed for p in Population.from_jsonl(out)} == {first.seed}
    assert make(tree, seed=None).generate_to(out, n=5, k=5).written == 1  # still one run


def test_enrich_to_resumes_only_with_the_same_sketches(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "enriched.jsonl"
    sketches = ["A ferry captain in Mombasa.", "A retired teacher who keeps bees."]
    report = make(tree).enrich_to(out, sketches[:1], k=5)
    assert report.written == 1
    with pytest.raises(ConfigError, match="sketch"):
        make(tree).enrich_to(out, ["Someone else entirely.", *sketches[1:]], k=5)
    resumed = make(tree).enrich_to(out, sketches, k=5)
    assert resumed.skipped == 1 and resumed.written == 1
    assert [p.bio for p in sorted(Population.from_jsonl(out), key=lambda p: p.index)] == sketches
