"""generate_to: one line per finished persona; interrupted runs resume without loss or duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine
from deeppersona.engine._checkpoint import JsonlCheckpoint
from deeppersona.errors import ConfigError, DataFileError, DemographicsError
from deeppersona.generation import FillReply
from deeppersona.persona import Population
from deeppersona.selector import StratifiedSelector
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
    engine = engine.with_options(personas_in_flight=2, fsync=False, progress=False)
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
    with pytest.raises(ConfigError, match=r"\bk: 5 in the file, 6 now"):
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
engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1, latency=0.02, max_concurrency=2), embedder=HashEmbedder())
engine.with_seed(3).with_options(progress=False).generate_to(sys.argv[1], n=int(sys.argv[2]), k=5)
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


# ---------------------------------------------------------------- resume only the same run
def _kenya(tree: AttributeTree, llm: Any = None) -> PersonaEngine:
    return make(tree, llm).cohort(country="Kenya")


def _named(llm: FakeLLM, model: str) -> FakeLLM:
    llm.model = model
    return llm


_CHANGES: dict[str, tuple[Callable[[AttributeTree, Any], PersonaEngine], int, str]] = {
    # name: (engine with one change, k, the field the error must name)
    "cohort": (lambda t, llm: _kenya(t, llm).cohort(country="Japan"), 5,
               r"cohort\.country: 'Kenya' in the file, 'Japan' now"),
    "anchors": (lambda t, llm: _kenya(t, llm).anchor(occupation="airline pilot"), 5,
                r"anchors\.occupation: absent in the file, 'airline pilot' now"),
    "model": (lambda t, llm: _kenya(t, _named(llm, "gpt-4.1-mini")), 5,
              r"model: 'fake' in the file, 'gpt-4.1-mini' now"),
    "k": (lambda t, llm: _kenya(t, llm), 6, r"\bk: 5 in the file, 6 now"),
    "selector": (lambda t, llm: _kenya(t, llm).with_selector(StratifiedSelector(sparsity=0.25)), 5,
                 r"selector\.settings\.sparsity: 0\.5 in the file, 0\.25 now"),
    "generator": (lambda t, llm: _kenya(t, llm).with_options(batch_size=2, temperature=0.3), 5,
                  r"generator\.batch_size: 32 in the file, 2 now; generator\.temperature: None in the file"),
    "options": (lambda t, llm: _kenya(t, llm).with_options(narrative=False), 5,
                r"options\.narrative: True in the file, False now"),
}  # fmt: skip


@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_resume_with_another_configuration_is_refused(
    tree: AttributeTree, tmp_path: Path, change: str
) -> None:
    out = tmp_path / "people.jsonl"
    assert _kenya(tree).generate_to(out, n=2, k=5).written == 2
    before = out.read_bytes()
    build, k, named = _CHANGES[change]
    llm = FakeLLM(seed=1)
    engine = build(tree, llm)
    with pytest.raises(ConfigError, match=named) as caught:
        engine.generate_to(out, n=4, k=k)
    assert "overwrite" in str(caught.value)
    assert llm.requests == [] and out.read_bytes() == before  # refused before any LLM call or write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.jsonl"]  # no lock file left
    fresh = build(tree, llm).generate_to(out, n=2, k=k, overwrite=True)  # overwrite starts afresh
    assert fresh.written == 2 and fresh.skipped == 0 and len(_indices(out)) == 2


def test_a_resume_names_every_differing_field(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    _kenya(tree).generate_to(out, n=1, k=5)
    with out.open("a") as fh:
        fh.write('{"not": "a persona"}\n')  # never read: the first line's configuration refuses the resume
    changed = _kenya(tree, FakeLLM(seed=1, model="other")).cohort(country="Japan").anchor(age=40)
    with pytest.raises(ConfigError) as caught:
        changed.generate_to(out, n=2, k=5)
    message = str(caught.value)
    for field in ("model: 'fake' in the file, 'other' now", "cohort.country", "anchors.age"):
        assert field in message


def test_speed_and_durability_settings_do_not_block_a_resume(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    _kenya(tree).generate_to(out, n=2, k=5)
    other = _kenya(tree).with_options(
        personas_in_flight=1, fsync=True, progress=None, select_in_thread=True, persona_retries=4,
    )  # fmt: skip
    report = other.generate_to(out, n=4, k=5)
    assert report.skipped == 2 and report.written == 2
    clean = tmp_path / "clean.jsonl"
    _kenya(tree).generate_to(clean, n=4, k=5)
    assert out.read_text() == clean.read_text()  # the same run, line for line


def test_the_run_configuration_is_recorded(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    engine = _kenya(tree).anchor(occupation="nurse").with_templates({})
    engine.generate_to(out, n=2, k=5)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    provenance = [line["provenance"] for line in lines]
    assert len({p["run_id"] for p in provenance}) == 1 and provenance[0]["run_id"].startswith("r-")
    config = provenance[0]["run_config"]
    assert config["cohort"] == {"country": "Kenya"} and config["anchors"] == {"occupation": "nurse"}
    assert (config["model"], config["k"], config["seed"]) == ("fake", 5, 5)
    assert config["taxonomy"] == tree.fingerprint() and config["generator"]["templates"] is None
    assert config["selector"]["class"].endswith("StratifiedSelector")
    assert {"personas_in_flight", "fsync", "progress"}.isdisjoint(config["options"])
    # personas of generate() record it too, and the same engine gives the same id
    assert engine.generate(k=5).provenance.run_id == provenance[0]["run_id"]


def test_a_file_mixing_two_runs_is_refused(tree: AttributeTree, tmp_path: Path) -> None:
    kenya, japan = tmp_path / "kenya.jsonl", tmp_path / "japan.jsonl"
    _kenya(tree).generate_to(kenya, n=1, k=5)
    _kenya(tree).cohort(country="Japan").generate_to(japan, n=2, k=5)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(kenya.read_text() + japan.read_text().splitlines(keepends=True)[1])
    with pytest.raises(DataFileError, match="several runs"):
        _kenya(tree).generate_to(mixed, n=3, k=5)


def _strip_run_config(path: Path) -> None:
    """Make ``path`` look like a file written before run configurations were recorded."""
    lines = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        item["provenance"].pop("run_config")
        item["provenance"].pop("run_id")
        lines.append(json.dumps(item) + "\n")
    path.write_text("".join(lines))


def test_a_file_without_run_configuration_resumes_on_seed_and_k(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "old.jsonl"
    _kenya(tree).generate_to(out, n=2, k=5)
    _strip_run_config(out)
    with pytest.raises(ConfigError, match="k="):
        _kenya(tree).generate_to(out, n=4, k=6)
    with pytest.raises(ConfigError, match="seed 5, this engine has seed 6"):
        make(tree, seed=6).cohort(country="Kenya").generate_to(out, n=4, k=5)
    # as before run configurations were recorded: seed and k only (here a changed cohort goes through)
    report = make(tree, seed=None).cohort(country="Japan").generate_to(out, n=3, k=5)
    assert report.seed == 5 and report.written == 1 and sorted(_indices(out)) == [0, 1, 2]
    # the new line records its configuration, which later resumes must match
    with pytest.raises(ConfigError, match=r"cohort\.country: 'Japan' in the file, 'Kenya' now"):
        _kenya(tree).generate_to(out, n=4, k=5)
    assert make(tree, seed=None).cohort(country="Japan").generate_to(out, n=4, k=5).written == 1


# ---------------------------------------------------------------- files and locks
def test_the_lock_follows_symlinks(tree: AttributeTree, tmp_path: Path) -> None:
    real = tmp_path / "data" / "people.jsonl"
    real.parent.mkdir()
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    assert (
        JsonlCheckpoint(link).lock_path
        == JsonlCheckpoint(real).lock_path
        == real.parent / "people.jsonl.lock"
    )
    started, release = threading.Event(), threading.Event()

    def hold(req: FakeRequest) -> Any:
        started.set()
        release.wait(30)
        return None

    outcome: dict[str, Any] = {}

    def first_writer() -> None:
        try:
            outcome["report"] = make(tree, FakeLLM(seed=1, handler=hold)).generate_to(real, n=3, k=5)
        except BaseException as exc:  # pragma: no cover - reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=first_writer)
    thread.start()
    try:
        assert started.wait(60)
        llm = FakeLLM(seed=1)
        with pytest.raises(ConfigError, match="being written by another process"):
            make(tree, llm).generate_to(link, n=3, k=5)
        assert llm.requests == []
    finally:
        release.set()
        thread.join(60)
    assert "error" not in outcome and outcome["report"].written == 3
    assert sorted(_indices(real)) == [0, 1, 2]  # no duplicates
    assert sorted(p.name for p in real.parent.iterdir()) == ["people.jsonl"]  # the lock file is gone
    assert make(tree).generate_to(link, n=4, k=5).written == 1  # a resume through the link


def test_a_held_lock_refuses_a_second_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    with JsonlCheckpoint(out):
        assert (tmp_path / "people.jsonl.lock").exists()
        with pytest.raises(ConfigError, match="being written by another process"):
            JsonlCheckpoint(out).open()
    assert not (tmp_path / "people.jsonl.lock").exists()
    with JsonlCheckpoint(out):  # taken again after release
        pass


def test_the_lock_file_is_removed_on_every_exit(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    make(tree).generate_to(out, n=2, k=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.jsonl"]

    def interrupt(req: FakeRequest) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make(tree, FakeLLM(seed=1, handler=interrupt)).generate_to(out, n=4, k=5)
    with pytest.raises(ConfigError):
        make(tree).generate_to(out, n=4, k=6)  # refused resume
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.jsonl"]


def test_a_stale_lock_file_from_a_killed_writer_is_taken_over(tree: AttributeTree, tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    (tmp_path / "people.jsonl.lock").write_text("12345\n")  # left by kill -9 (its flock died with it)
    assert make(tree).generate_to(out, n=1, k=5).written == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.jsonl"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda e, d: e.generate_to(d / "out.jsonl", n=2, k=0), ConfigError),
        (lambda e, d: e.generate_to(d, n=2, k=5), ConfigError),
        (lambda e, d: e.generate_to(d / "out.jsonl", n=0, k=5), ConfigError),
        (lambda e, d: e.generate_to(d / "out.jsonl", n=2, k=100_000), ConfigError),  # k > the taxonomy
        (lambda e, d: e.enrich_to(d / "out.jsonl", [], k=5), Exception),
        (lambda e, d: e.cohort(age_range=(20, 30)).anchor(age=70).generate_to(d / "out.jsonl", n=1, k=5),
         DemographicsError),
    ],
    ids=["k=0", "directory", "n=0", "k-too-large", "no-sketches", "impossible-anchors"],
)  # fmt: skip
def test_bad_arguments_create_no_file(tree: AttributeTree, tmp_path: Path, call: Any, error: type) -> None:
    llm = FakeLLM(seed=1)
    with pytest.raises(error):
        call(make(tree, llm), tmp_path)
    assert llm.requests == [] and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- failed and incomplete personas
@pytest.mark.parametrize("kind", ["failed", "incomplete"])
def test_a_rerun_regenerates_exactly_the_personas_not_ok(
    tree: AttributeTree, tmp_path: Path, kind: str
) -> None:
    clean = tmp_path / "clean.jsonl"
    make(tree).generate_to(clean, n=4, k=5)
    reference = {p.index: p for p in Population.from_jsonl(clean)}
    name = reference[2].demographics["name"]

    def spoil(req: FakeRequest) -> Any:  # only persona 2's prompts carry its name
        if name not in req.prompt:
            return None
        if kind == "failed" and req.call_site == "core":
            return "not json at all"
        model = req.response_model
        if kind == "incomplete" and isinstance(model, type) and issubclass(model, FillReply):
            return {key: "" for key in model.json_schema["properties"]}  # every value refused
        return None

    out = tmp_path / "people.jsonl"
    spoiled = make(tree, FakeLLM(seed=1, handler=spoil, max_attempts=1)).with_options(persona_retries=0)
    first = spoiled.generate_to(out, n=4, k=5)
    assert [i for i, _ in first.failures] == [2] and first.written == 3 and not first.complete
    assert ("LLMOutputError" if kind == "failed" else "without a valid value") in first.failures[0][1]
    assert sorted(_indices(out)) == [0, 1, 3]  # only ok personas are written
    before = out.read_text()
    rerun = make(tree).generate_to(out, n=4, k=5)
    assert rerun.written == 1 and rerun.skipped == 3 and rerun.complete
    assert out.read_text().startswith(before) and _indices(out)[3:] == [2]  # exactly index 2 was added
    redone = {p.index: p for p in Population.from_jsonl(out)}
    assert redone[2].to_dict() == reference[2].to_dict()  # the persona an undisturbed run writes
