"""PersonaEngine with the shipped fakes: depth, strata, anchors, reproducibility, bad input, failures."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deeppersona.demographics import Cohort, DemographicSampler
from deeppersona.engine import EngineOptions, PersonaEngine
from deeppersona.errors import AnchorError, ConfigError, DemographicsError, GenerationError, TaxonomyError
from deeppersona.generation import ConsistencyReport, FillReply, SketchFacts
from deeppersona.persona import Persona, Population
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


@pytest.fixture(scope="module")
def embedder() -> HashEmbedder:
    return HashEmbedder()


def make(tree: AttributeTree, embedder: HashEmbedder, llm: Any = None, seed: int = 7) -> PersonaEngine:
    return PersonaEngine.from_taxonomy(tree, model=llm or FakeLLM(seed=1), embedder=embedder).with_seed(seed)


def test_generate_k220_depth_strata_anchors_calls(tree: AttributeTree, embedder: HashEmbedder) -> None:
    llm = FakeLLM(seed=3)
    anchors = {"age": 34, "occupation": "night-shift nurse", "country": "Kenya", "sleep_quality": "poor",
               "favourite_radio_show": "Kiss 100 breakfast", "bio": "Raised by her grandmother in Kisumu."}  # fmt: skip
    persona = make(tree, embedder, llm).anchor(**anchors).generate(k=220)
    assert isinstance(persona, Persona) and persona.ok
    selected = persona.selected
    assert len(selected) == 220
    assert len(set(selected)) == 220
    counts = Counter(a.stratum for a in selected.values())
    assert abs(counts["near"] - 110) <= 1 and abs(counts["middle"] - 66) <= 1 and abs(counts["far"] - 44) <= 1
    # the core is there and is not duplicated among the selected attributes
    assert persona.core is not None and 1 <= len(persona.core.life_stories) <= 3
    assert 2 <= len(persona.core.interests) <= 3
    # the core nodes themselves are not among the selected attributes (their leaves may be)
    assert not any(tree.get(p).core for p in selected)
    # anchors verbatim (S ⊆ P)
    assert persona.anchors == anchors
    assert persona.demographics["age"] == 34
    assert persona.demographics["occupation"] == "night-shift nurse"
    assert persona.demographics["country"] == "Kenya"
    assert persona.bio == anchors["bio"]
    bound = persona.attributes["Physical and Health Characteristics > Sleep Health > Sleep Quality"]
    assert bound.value == "poor" and bound.stratum == "anchor"
    assert persona.attributes["favourite_radio_show"].value == "Kiss 100 breakfast"
    assert persona.attributes["favourite_radio_show"].stratum == "custom"
    # 11 LLM calls (1 core + circumstances + 7 fill + consistency + narrative), the fill batches 31-32 long
    assert persona.usage.calls == len(llm.requests) == 11
    assert Counter(r.call_site for r in llm.requests) == {
        "core": 1,
        "circumstances": 1,
        "fill": 7,
        "consistency": 1,
        "narrative": 1,
    }
    fill_sizes = [
        len(r.response_model.model_json_schema()["properties"]) for r in llm.requests if r.call_site == "fill"
    ]
    assert sorted(fill_sizes, reverse=True) == [32, 32, 32, 31, 31, 31, 31]
    # the dialogue keeps the first fill request (with the rules) whole, later ones as one-line notes
    fills = [r for r in llm.requests if r.call_site == "fill"]
    for number, request in enumerate([*fills, llm.requests[-1]], 1):
        users = [str(m["content"]).strip() for m in request.messages if m["role"] == "user"]
        assert sum("Rules for every value" in u for u in users) == 1
        notes = [u for u in users if u.startswith("Next attributes (batch")]
        assert notes == [f"Next attributes (batch {i}), same rules." for i in range(2, min(number, 8))]
    assert persona.narrative
    assert persona.provenance.taxonomy_fingerprint == tree.fingerprint()
    assert persona.provenance.k == 220 and persona.provenance.model == "fake"
    # the bio and anchors reach the prompts
    assert "Raised by her grandmother in Kisumu." in llm.requests[0].prompt
    assert "Kiss 100 breakfast" in llm.requests[0].prompt


def test_same_seed_same_persona_any_concurrency(tree: AttributeTree, embedder: HashEmbedder) -> None:
    a = make(tree, embedder, FakeLLM(seed=2, max_concurrency=1), seed=21).generate(k=40, n=4)
    b = make(tree, embedder, FakeLLM(seed=2, max_concurrency=4), seed=21).generate(k=40, n=4)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    # persona i alone equals persona i of a run
    c = make(tree, embedder, FakeLLM(seed=2), seed=21).generate(k=40, n=1, start=2)
    assert c[0].to_dict() == a[2].to_dict()
    d = make(tree, embedder, FakeLLM(seed=2), seed=22).generate(k=40, n=1)
    assert d[0].to_dict() != a[0].to_dict()


def test_builder_is_immutable(tree: AttributeTree, embedder: HashEmbedder) -> None:
    base = make(tree, embedder)
    derived = base.anchor(age=30).with_options(batch_size=10).with_seed(1).cohort(country="Kenya")
    assert base.anchors == {} and base.options == EngineOptions() and base.seed == 7
    assert derived.anchors == {"age": 30} and derived.options.batch_size == 10
    assert derived.anchor(age=None).anchors == {}
    assert (
        derived.calls_per_persona(220) == 1 + 1 + 22 + 2
    )  # core, circumstances, fills, consistency + narrative


def test_cohort_constrains_demographics(tree: AttributeTree, embedder: HashEmbedder) -> None:
    pop = make(tree, embedder).cohort(country="Japan", age_range=(30, 40)).generate(k=10, n=3)
    assert all(p.demographics["country"] == "Japan" and 30 <= p.demographics["age"] <= 40 for p in pop)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda e: e.generate(k=0), ConfigError),
        (lambda e: e.generate(k=100_000), ConfigError),
        (lambda e: e.generate(k=10, n=0), ConfigError),
        (lambda e: e.anchor(age=-3).generate(k=10), AnchorError),
        (lambda e: e.anchor(age="thirty").generate(k=10), AnchorError),
        (lambda e: e.anchor(hobby=object()).generate(k=10), AnchorError),
        (lambda e: e.anchor(bio="   ").generate(k=10), AnchorError),
        (lambda e: e.anchor(country="Atlantis").generate(k=10), DemographicsError),
        (lambda e: e.cohort(planet="Mars").generate(k=10), ConfigError),
        (lambda e: e.cohort(age_range=(50, 20)).generate(k=10), DemographicsError),
        (lambda e: e.enrich("", k=10), AnchorError),
        (lambda e: e.enrich([], k=10), AnchorError),
        (lambda e: e.with_options(batch_size=0), ConfigError),
        (lambda e: e.with_options(colour="red"), ConfigError),
        (lambda e: e.with_seed(-1), ConfigError),
        (lambda e: e.anchor({"Physical and Health Characteristics > Nope": "x"}).generate(k=10), AnchorError),
        (lambda e: e.enrich(None, k=10), AnchorError),
        (lambda e: e.enrich(["ok", 3], k=10), AnchorError),
        (lambda e: e.anchor(gender=3).generate(k=10), AnchorError),
        (lambda e: e.anchor(age=True).generate(k=10), AnchorError),
        (lambda e: e.anchor(interests={"a": 1}).generate(k=10), AnchorError),
        (lambda e: e.generate(k=5.0), ConfigError),
        (lambda e: e.generate_to("unused.jsonl", n=2, k=0), ConfigError),
        (lambda e: e.stream(k=0, n=2), ConfigError),
    ],
)
def test_bad_input_fails_before_any_llm_call(
    tree: AttributeTree, embedder: HashEmbedder, build: Any, error: type, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # relative output paths land here, never in the working tree
    llm = FakeLLM()
    with pytest.raises(error):
        build(make(tree, embedder, llm))
    assert llm.requests == []
    assert list(tmp_path.iterdir()) == []  # ... and before any file (or lock) was created


@pytest.mark.parametrize("where", ["dir", "under_file", "missing_dir"])
def test_bad_output_paths_fail_before_any_file(
    tree: AttributeTree, embedder: HashEmbedder, tmp_path: Path, where: str
) -> None:
    (tmp_path / "a_file").write_text("x")
    path = {"dir": tmp_path, "under_file": tmp_path / "a_file" / "out.jsonl",
            "missing_dir": tmp_path / "nope" / "out.jsonl"}[where]  # fmt: skip
    llm = FakeLLM()
    with pytest.raises(ConfigError, match="output path"):
        make(tree, embedder, llm).generate_to(path, n=1, k=5)
    assert llm.requests == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_taxonomy_without_core_is_rejected() -> None:
    no_core = AttributeTree.from_paths(["Health > Sleep > Quality"])
    with pytest.raises(TaxonomyError, match="core"):
        PersonaEngine.from_taxonomy(no_core)
    llm = FakeLLM()
    with pytest.raises(TaxonomyError, match="core"):  # the constructor checks too
        PersonaEngine(no_core, model=llm, embedder=HashEmbedder())
    assert llm.requests == []
    engine = PersonaEngine(no_core, model=llm, embedder=HashEmbedder(), require_core=False)
    assert engine.with_seed(1).generate(k=1).ok
    with pytest.raises(ConfigError):
        PersonaEngine.from_taxonomy(42)  # type: ignore[arg-type]


def test_failing_persona_is_recorded_and_run_goes_on(tree: AttributeTree, embedder: HashEmbedder) -> None:
    def handler(req: FakeRequest) -> Any:
        if req.call_site == "core" and "Age: 7" in req.prompt:
            return "not json at all"
        return None

    # persona ages are random; make one persona's core call fail by scripting its age through an anchor
    llm = FakeLLM(seed=1, handler=handler, max_attempts=2)
    engine = make(tree, embedder, llm).anchor(age=7)
    pop = engine.generate(k=10, n=3)
    assert isinstance(pop, Population)
    assert len(pop) == 0 and len(pop.failures) == 3
    assert all("LLMOutputError" in (p.failure or "") for p in pop.failures)
    assert pop.usage.failures == 9  # 3 personas x (1 attempt + 2 persona retries), every one accounted for
    with pytest.raises(GenerationError, match="could not be generated"):
        engine.generate(k=10)
    ok = (
        make(tree, embedder, FakeLLM(seed=1, handler=handler, max_attempts=2))
        .anchor(age=8)
        .generate(k=10, n=2)
    )
    assert len(ok) == 2


def test_missing_values_are_reasked_once(tree: AttributeTree, embedder: HashEmbedder) -> None:
    dropped: set[str] = set()

    def typed(schema: dict[str, Any], text: str) -> Any:
        if "enum" in schema:
            return schema["enum"][0]
        return {"number": 3, "array": [text]}.get(schema["type"], text)

    def handler(req: FakeRequest) -> Any:
        if isinstance(req.response_model, type) and issubclass(req.response_model, FillReply):
            props = req.response_model.json_schema["properties"]
            keys = list(props)
            if "could not be used" in req.last_user_message:
                assert set(keys) == dropped  # exactly the missing attributes are re-asked
                return {k: typed(props[k], f"fixed value for {k}") for k in keys}
            dropped.add(keys[0])
            return {k: ("" if k == keys[0] else typed(props[k], f"some value for {k}")) for k in keys}
        return None

    llm = FakeLLM(seed=1, handler=handler)
    persona = make(tree, embedder, llm).generate(k=60)
    assert len(persona.selected) == 60
    assert len(dropped) == 2
    assert Counter(r.call_site for r in llm.requests)["fill"] == 3  # 2 batches + 1 re-ask


def test_consistency_repairs_are_recorded_and_anchors_kept(
    tree: AttributeTree, embedder: HashEmbedder
) -> None:
    state: dict[str, str] = {}

    def handler(req: FakeRequest) -> Any:
        model = req.response_model
        if isinstance(model, type) and issubclass(model, FillReply) and "key" not in state:
            props = model.json_schema["properties"]  # a free-text attribute: "repaired" is a usable value
            state["key"] = next(k for k, p in props.items() if p.get("type") == "string" and "enum" not in p)
        if model is ConsistencyReport:
            return {"contradictions": [
                {"key": state["key"], "corrected_value": "repaired", "reason": "clashed with the story"},
                {"key": "sleep_quality", "corrected_value": "great", "reason": "try to change an anchor"},
                {"key": "no_such_key", "corrected_value": "x", "reason": "unknown"},
            ]}  # fmt: skip
        return None

    persona = (
        make(tree, embedder, FakeLLM(seed=1, handler=handler)).anchor(sleep_quality="poor").generate(k=30)
    )
    assert len(persona.consistency_notes) == 1
    note = persona.consistency_notes[0]
    assert note.new == "repaired" and persona.get(note.path) == "repaired" and note.old != "repaired"
    assert persona.get("Physical and Health Characteristics > Sleep Health > Sleep Quality") == "poor"


def test_options_skip_consistency_and_narrative(tree: AttributeTree, embedder: HashEmbedder) -> None:
    llm = FakeLLM(seed=1)
    persona = (
        make(tree, embedder, llm)
        .with_options(consistency=False, narrative=False, batch_size=50)
        .generate(k=100)
    )
    assert persona.narrative == "" and len(llm.requests) == 1 + 1 + 2  # core, circumstances, 2 fills


def test_enrich_keeps_sketch_and_extracts_anchors(tree: AttributeTree, embedder: HashEmbedder) -> None:
    sketch = "A night-shift pharmacist in Lagos studying for an MBA."

    def handler(req: FakeRequest) -> Any:
        if req.response_model is SketchFacts:
            return {"occupation": "pharmacist", "city": "Lagos", "country": "Nigeria", "age": None}
        return None

    llm = FakeLLM(seed=1, handler=handler)
    persona = make(tree, embedder, llm).enrich(sketch, k=20)
    assert persona.bio == sketch and persona.anchors["bio"] == sketch
    assert persona.demographics["occupation"] == "pharmacist"
    assert persona.demographics["country"] == "Nigeria"
    assert sketch in llm.requests[1].prompt
    assert Counter(r.call_site for r in llm.requests)["enrich"] == 1


def test_enrich_drops_facts_the_tables_cannot_honour(tree: AttributeTree, embedder: HashEmbedder) -> None:
    def handler(req: FakeRequest) -> Any:
        if req.response_model is SketchFacts:
            return {"occupation": "ferry captain", "country": "Narnia"}
        return None

    pop = make(tree, embedder, FakeLLM(seed=1, handler=handler)).enrich(
        ["A ferry captain.", "Another one."], k=5
    )
    assert len(pop) == 2
    for p in pop:
        assert p.demographics["occupation"] == "ferry captain" and p.demographics["country"] != "Narnia"
        assert any("Narnia" in w or "country" in w for w in p.warnings)


def test_stream_and_astream(tree: AttributeTree, embedder: HashEmbedder) -> None:
    engine = make(tree, embedder, FakeLLM(seed=1, max_concurrency=3))
    streamed = sorted(engine.stream(k=10, n=5), key=lambda p: p.index)
    assert [p.index for p in streamed] == [0, 1, 2, 3, 4]
    assert [p.to_dict() for p in streamed] == [p.to_dict() for p in engine.generate(k=10, n=5)]

    async def collect() -> list[int]:
        return [p.index async for p in engine.astream(k=10, n=3)]

    assert sorted(asyncio.run(collect())) == [0, 1, 2]


def test_stream_stops_early(tree: AttributeTree, embedder: HashEmbedder) -> None:
    llm = FakeLLM(seed=1, max_concurrency=1)
    for p in make(tree, embedder, llm).stream(k=10, n=50):
        assert p.ok
        break
    assert len(llm.requests) < 50 * 4


async def test_agenerate_inside_running_loop(tree: AttributeTree, embedder: HashEmbedder) -> None:
    engine = make(tree, embedder)
    persona = await engine.agenerate(k=10)
    assert isinstance(persona, Persona)
    same = engine.generate(k=10)  # the sync API also works inside a running loop
    assert same.to_dict() == persona.to_dict()


def test_concurrency_is_the_backends_one_setting(tree: AttributeTree, embedder: HashEmbedder) -> None:
    llm = FakeLLM(seed=1, latency=0.01, max_concurrency=3)
    make(tree, embedder, llm).generate(k=10, n=8)
    assert 2 <= llm.max_active <= 3
    by_name = PersonaEngine.from_taxonomy(tree, model="fake:1", embedder=embedder, max_concurrency=2)
    assert by_name._resolve_llm().max_concurrency == 2
    with pytest.raises(ConfigError, match="max_concurrency"):  # the engine has no setting of its own
        make(tree, embedder).with_options(concurrency=3)


def test_with_selector_and_templates(tree: AttributeTree, embedder: HashEmbedder) -> None:
    llm = FakeLLM(seed=1)
    engine = (
        make(tree, embedder, llm)
        .with_selector(StratifiedSelector(include_roots=["Education and Learning"]))
        .with_templates({"narrative": "Sum this person up in {{ words }} words. CUSTOM-NARRATIVE"})
    )
    persona = engine.generate(k=15)
    assert {a.path[0] for a in persona.selected.values()} == {"Education and Learning"}
    assert "CUSTOM-NARRATIVE" in llm.requests[-1].last_user_message
    with pytest.raises(ConfigError):
        engine.with_selector("not a selector")  # type: ignore[arg-type]


def test_a_users_generator_settings_are_not_reset(tree: AttributeTree, embedder: HashEmbedder) -> None:
    """ValueGenerator(batch_size=40) was silently reset to the engine's default 30; its template
    overrides were replaced by the engine's library."""
    from deeppersona.generation import ValueGenerator

    llm = FakeLLM(seed=1)
    own = ValueGenerator(
        batch_size=40, templates={"narrative": "Sum them up in {{ words }} words. OWN-NARRATIVE"}
    )
    engine = make(tree, embedder, llm).with_generator(own)
    assert engine.calls_per_persona(220) == 2 + 6 + 1 + 1
    persona = engine.with_options(narrative=True).generate(k=80)
    assert persona.provenance.run_config["generator"]["batch_size"] == 40
    assert sum(r.call_site == "fill" for r in llm.requests) == 2  # 80 values in batches of 40
    assert "OWN-NARRATIVE" in llm.requests[-1].last_user_message
    # what the user sets on the engine explicitly wins; other templates stay the generator's
    tuned = engine.with_options(batch_size=20).with_templates({"circumstances": "{{ conditions }} CIRC-IT"})
    assert tuned.calls_per_persona(220) == 2 + 11 + 1 + 1
    llm.requests.clear()
    tuned.generate(k=40)
    assert sum(r.call_site == "fill" for r in llm.requests) == 2
    assert "OWN-NARRATIVE" in llm.requests[-1].last_user_message
    assert any("CIRC-IT" in r.last_user_message for r in llm.requests)
    with pytest.raises(ConfigError, match="fill_batch"):  # checked when given, before any call
        engine.with_templates({"fill_batch": "Fill these in."})


def test_cohort_object_and_merge(tree: AttributeTree, embedder: HashEmbedder) -> None:
    engine = make(tree, embedder).cohort(Cohort(country="Japan")).cohort(age_range=(20, 25))
    p = engine.generate(k=5)
    assert p.demographics["country"] == "Japan" and 20 <= p.demographics["age"] <= 25


def test_an_attribute_without_a_valid_value_is_replaced(tree: AttributeTree, embedder: HashEmbedder) -> None:
    """Seen on the embedded model: "Perfectionism" refused three times made the persona incomplete, and
    it was made again from the start. Now another attribute takes its place; the persona keeps k."""
    stuck: list[str] = []
    count = itertools.count(1)

    def handler(req: FakeRequest) -> Any:
        model = req.response_model
        if not (isinstance(model, type) and issubclass(model, FillReply)):
            return None
        keys = list(model.json_schema["properties"])
        if not stuck:
            stuck.append(next(k for k in keys if model.json_schema["properties"][k].get("minLength")))
        props = model.json_schema["properties"]

        def value(k: str) -> Any:
            schema = props[k]
            if k == stuck[0]:
                return "High"  # refused every time: a bare level
            if "enum" in schema:
                return schema["enum"][0]
            if schema.get("type") == "number":
                return 5
            n = next(count)
            phrase = f"walks {n} blocks to the Kibera matatu stage at dawn"
            return [phrase] if schema.get("type") == "array" else phrase

        return {k: value(k) for k in keys}

    engine = make(tree, embedder, FakeLLM(seed=1, handler=handler)).with_options(persona_retries=0)
    persona = engine.generate(k=20)
    assert persona.status == "ok" and len(persona.selected) == 20
    assert any("replaced by another attribute" in w for w in persona.warnings)
    assert not any(stuck[0].replace("_", " ") in p.lower() for p in persona.selected)
    kept = make(tree, embedder, FakeLLM(seed=1, handler=handler)).with_options(
        persona_retries=0, replace_unfilled=False
    )
    stuck.clear()
    assert kept.generate(k=20).status == "incomplete"


def test_one_failing_persona_does_not_stop_the_others(tree: AttributeTree, embedder: HashEmbedder) -> None:
    def handler(req: FakeRequest) -> Any:
        if req.call_site == "narrative" and "Age: 41" in req.messages[1]["content"]:
            raise RuntimeError("backend bug")  # not a DeepPersonaError: still recorded, run goes on
        return None

    ages = [40, 41, 42]
    personas = [make(tree, embedder, FakeLLM(seed=1, handler=handler)).anchor(age=a).generate(k=5, n=1)
                for a in ages]  # fmt: skip
    assert [len(p) for p in personas] == [1, 0, 1]
    failed = personas[1].failures[0]
    assert failed.status == "failed" and "RuntimeError: backend bug" in (failed.failure or "")
    # every call spent is accounted for: 5 calls per attempt (core, circumstances, fill, consistency,
    # narrative), 3 attempts (persona_retries=2)
    assert failed.usage.calls == 15 and failed.usage.failures == 3
    # and inside one run: one persona fails, the others finish
    state = {"n": 0}

    def second_core_fails(req: FakeRequest) -> Any:
        if req.call_site == "core":
            state["n"] += 1
            if state["n"] == 2:
                return "not json"
        return None

    pop = (
        make(tree, embedder, FakeLLM(seed=1, handler=second_core_fails, max_attempts=1, max_concurrency=1))
        .with_options(persona_retries=0)
        .generate(k=5, n=3)
    )
    assert len(pop) == 2 and len(pop.failures) == 1 and pop.failures[0].index == 1
    assert pop.usage.calls == sum(p.usage.calls for p in [*pop, *pop.failures])
    # with persona-level retries (the default) the failed persona is tried again and completes
    state["n"] = 0
    retried = make(
        tree, embedder, FakeLLM(seed=1, handler=second_core_fails, max_attempts=1, max_concurrency=1)
    )
    pop = retried.generate(k=5, n=3)
    assert len(pop) == 3 and not pop.failures
    assert pop[1].usage.failures == 1  # the failed first attempt is counted in the persona's usage


def test_selection_in_a_worker_thread_changes_nothing(tree: AttributeTree, embedder: HashEmbedder) -> None:
    base = make(tree, embedder, FakeLLM(seed=2, max_concurrency=4), seed=5)
    on_loop = base.with_options(select_in_thread=False).generate(k=30, n=6)
    threaded = base.with_options(select_in_thread=True).generate(k=30, n=6)
    assert [p.to_dict() for p in on_loop] == [p.to_dict() for p in threaded]


@pytest.mark.slow
def test_population_of_200_covers_roots_and_level2(tree: AttributeTree, embedder: HashEmbedder) -> None:
    def cheap(req: FakeRequest) -> Any:  # schema-valid fill replies at little CPU cost
        model = req.response_model
        if isinstance(model, type) and issubclass(model, FillReply):
            props = model.json_schema["properties"]
            return {k: (p["enum"][0] if "enum" in p else {"number": p.get("minimum", 1), "array": ["x"]}.get(p["type"], f"v {k}"))
                    for k, p in props.items()}  # fmt: skip
        return None

    engine = make(tree, embedder, FakeLLM(seed=1, handler=cheap, max_concurrency=16)).with_options(
        consistency=False, narrative=False
    )
    pop = engine.generate(k=220, n=200)
    assert len(pop) == 200
    for p in pop:
        counts = Counter(a.stratum for a in p.selected.values())
        assert len(p.selected) == 220
        assert (
            abs(counts["near"] - 110) <= 1
            and abs(counts["middle"] - 66) <= 1
            and abs(counts["far"] - 44) <= 1
        )
    stats = pop.stats(tree)
    assert set(stats.root_coverage) == {r.name for r in tree.roots} and len(stats.root_coverage) == 12
    assert all(share > 0 for share in stats.root_coverage.values())
    assert stats.level_coverage[2] >= 0.9


class _SynonymEmbedder(HashEmbedder):
    """A HashEmbedder that knows one synonym: "quality of sleep" embeds like "sleep quality"."""

    def encode(self, texts: Any) -> Any:
        return super().encode(["sleep quality" if t.lower() == "quality of sleep" else t for t in texts])


def test_anchor_binds_by_embedding_and_survives_consistency(tree: AttributeTree) -> None:
    path = "Physical and Health Characteristics > Sleep Health > Sleep Quality"
    state: dict[str, Any] = {}

    def handler(req: FakeRequest) -> Any:
        if isinstance(req.response_model, type) and issubclass(req.response_model, FillReply):
            state.setdefault("keys", []).extend(req.response_model.json_schema["properties"])
        if req.response_model is ConsistencyReport:  # try to overwrite the anchor, by key and by path
            return {"contradictions": [
                {"key": "sleep_quality", "corrected_value": "excellent", "reason": "r"},
                {"key": "quality of sleep", "corrected_value": "excellent", "reason": "r"},
                {"key": path, "corrected_value": "excellent", "reason": "r"},
            ]}  # fmt: skip
        return None

    engine = PersonaEngine.from_taxonomy(
        tree, model=FakeLLM(seed=1, handler=handler), embedder=_SynonymEmbedder()
    )
    persona = engine.with_seed(3).anchor({"quality of sleep": "wakes at 3 am"}).generate(k=150)
    bound = persona.attributes[path]
    assert bound.value == "wakes at 3 am" and bound.stratum == "anchor"
    assert persona.anchors == {"quality of sleep": "wakes at 3 am"}
    assert "sleep_quality" not in state["keys"]  # never selected or filled again
    assert not persona.consistency_notes
    # below the similarity threshold (or with binding by embedding off) it stays a custom attribute
    custom = (
        engine.with_options(anchor_similarity=None)
        .with_seed(3)
        .anchor({"quality of sleep": "bad"})
        .generate(k=5)
    )
    assert custom.attributes["quality of sleep"].stratum == "custom" and custom.get(path) is None


def test_progress_bar_counts_personas(
    tree: AttributeTree, embedder: HashEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tree, embedder).with_options(progress=True).generate(k=5, n=3)
    err = capsys.readouterr().err
    assert "personas" in err and "3/3" in err
    make(tree, embedder).with_options(progress=False).generate(k=5, n=3)
    assert "personas" not in capsys.readouterr().err


def test_name_restating_attributes_are_never_selected(tree: AttributeTree, embedder: HashEmbedder) -> None:
    """The sampler draws the name, so "Given Name" / "Family Name" would only restate (or contradict) it."""
    from deeppersona.selector import SelectionContext

    engine = PersonaEngine.from_taxonomy(tree, model=FakeLLM(), embedder=embedder)
    anchors = engine._prepare(k=220).anchors  # the run's resolved anchors and exclusions
    excluded = {tree.get(key).name for key in anchors.exclude}
    assert {"Given Name", "Family Name"} <= excluded
    selector = StratifiedSelector()
    context = SelectionContext(tree, embedder=embedder, exclude=anchors.exclude, profile="a person")
    import numpy as np

    for seed in range(20):
        chosen = selector.select(context, 1500, np.random.default_rng(seed))
        assert not {"Given Name", "Family Name"} & {c.node.name for c in chosen}


def test_persona_status_is_ok_only_when_complete(tree: AttributeTree, embedder: HashEmbedder) -> None:
    def empty_fills(req: FakeRequest) -> Any:
        if isinstance(req.response_model, type) and issubclass(req.response_model, FillReply):
            return {k: "" for k in req.response_model.json_schema["properties"]}
        return None

    engine = make(tree, embedder, FakeLLM(seed=1, handler=empty_fills)).with_options(persona_retries=1)
    persona = engine.generate(k=12)  # a single incomplete persona is returned, not raised
    assert persona.status == "incomplete" and not persona.ok
    assert len(persona.missing) == 12 and persona.selected == {}
    assert "12 part(s) without a valid value" in (persona.failure or "")
    assert "incomplete" in repr(persona)
    pop = engine.generate(k=12, n=2)
    assert len(pop) == 0 and len(pop.incomplete) == 2 and "2 incomplete" in repr(pop)
    complete = make(tree, embedder).generate(k=12)
    assert complete.ok and complete.missing == {}
    assert complete.provenance.occupation_source == (complete.demographics.get("occupation_source") or "")


def test_one_persona_shows_a_bar_over_its_steps(
    tree: AttributeTree, embedder: HashEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    make(tree, embedder).with_options(progress=True).generate(k=12)
    err = capfd.readouterr().err
    assert "persona 0" in err and "step" in err and "narrative" in err and "persona/s" not in err
