"""The data ecosystem: Parquet, Arrow, pandas, records and Hugging Face round trips; enrich() over rows and
tables; load_personas over in-memory sets; persona ids unique across runs; notebook output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine, persona_id
from deeppersona.errors import (
    AnchorError,
    ConfigError,
    DataFileError,
    DataFileNotFoundError,
    DuplicatePersonaError,
    EvaluationError,
    MissingDependencyError,
)
from deeppersona.evaluation import load_personas
from deeppersona.evaluation._personas import persona_views
from deeppersona.llm import Usage
from deeppersona.persona import (
    AttributeValue,
    ConsistencyNote,
    CoreProfile,
    Persona,
    Population,
    PopulationStats,
    Provenance,
)
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
datasets = pytest.importorskip("datasets")


# --- a population with every kind of field -----------------------------------------------------------
def _persona(index: int, *, status: str = "ok", run: str = "r-0123456789ab") -> Persona:
    attributes = {
        "Health > Sleep > Sleep Quality": AttributeValue(
            value="poor", stratum="anchor", path=("Health", "Sleep", "Sleep Quality")
        ),
        "Health > Diet > Staples": AttributeValue(
            value=["ugali", "tilapia"], stratum="near", path=("Health", "Diet", "Staples")
        ),
        "Media > Radio > Hours": AttributeValue(value=3, stratum="far", path=("Media", "Radio", "Hours")),
        "Body > Height (cm)": AttributeValue(value=171.5, stratum="middle", path=("Body", "Height (cm)")),
        "Body > Weight (kg)": AttributeValue(value=70.0, stratum="middle", path=("Body", "Weight (kg)")),
        "Habits > Smokes": AttributeValue(value=False, stratum="required", path=("Habits", "Smokes")),
        "Family > Partner > Partner Age": AttributeValue(
            value=None, stratum="near", path=("Family", "Partner", "Partner Age"), not_applicable="single"
        ),
        "Mood > Scale": AttributeValue(value={"low": 1, "high": 5}, stratum="far", path=("Mood", "Scale")),
        "pet_name": AttributeValue(value='Simba \u2764 "quoted"', stratum="custom", path=("pet_name",)),
    }
    return Persona(
        id=persona_id(run, index),
        seed=7,
        index=index,
        status=status,  # type: ignore[arg-type]
        failure=None if status == "ok" else f"{status}: something",
        missing={} if status == "ok" else {"Media > Radio > Hours": "not a number"},
        anchors={"age": 34, "bio": "Grew up by the lake.", "hobbies": ["fishing", "radio"]},
        demographics={
            "name": "Ada Obi",
            "age": 34 + index,
            "gender": "female",
            "country": "Kenya",
            "city": "Kisumu",
            "occupation": "Registered Nurses",
            "occupation_source": None,
        },
        core=None
        if status == "failed"
        else CoreProfile(
            values_polarity="negative",
            values_orientation="Distrust of institutions",
            attitude="Life is a grind.",
            attitude_details="She expects little.",
            coping_mechanism="Long walks.",
            life_stories=["Lost a job in 2019."],
            interests=["Fishing"],
        ),
        attributes=attributes,
        narrative="" if status == "failed" else "Ada is a nurse in Kisumu.",
        consistency_notes=[
            ConsistencyNote(path="Media > Radio > Hours", old="many", new=3, reason="a number")
        ],
        warnings=["dropped sketch fact: city"],
        provenance=Provenance(
            model="fake",
            embedder="hash",
            taxonomy_fingerprint="abc",
            library_version="0.1.0",
            k=9,
            selector="StratifiedSelector",
            run_id=run,
            run_config={"seed": 7, "cohort": {"country": "Kenya"}, "anchors": {"age": 34}, "k": 9},
        ),
        usage=Usage(calls=11, prompt_tokens=100, completion_tokens=20, cost_usd=0.25),
    )


@pytest.fixture
def population() -> Population:
    return Population(
        [_persona(0), _persona(1), _persona(2, status="incomplete"), _persona(3, status="failed")]
    )


def _same(a: Population, b: Population) -> None:
    assert b == a
    assert [p.model_dump() for p in b] == [p.model_dump() for p in a]
    assert [p.model_dump() for p in b.failures] == [p.model_dump() for p in a.failures]
    values = b[0].values()  # types survive: int, float, bool, None, list, dict
    assert values["Media > Radio > Hours"] == 3 and type(values["Media > Radio > Hours"]) is int
    assert type(values["Body > Weight (kg)"]) is float and values["Habits > Smokes"] is False
    assert b[0].attributes["Family > Partner > Partner Age"].not_applicable == "single"
    assert b[0].attributes["Health > Diet > Staples"].path == ("Health", "Diet", "Staples")
    assert [p.status for p in b.failures] == ["incomplete", "failed"] and b.failures[1].core is None


# --- round trips ---------------------------------------------------------------------------------------
def test_records_round_trip(population: Population) -> None:
    records = population.to_records()
    assert len(records) == 4 and json.loads(json.dumps(records)) == records  # plain JSON values
    _same(population, Population.from_records(records))
    assert len(population.to_records(include_failures=False)) == 2
    # Persona objects and Persona.to_dict() dicts are records too
    mixed = [population[0], population[1].to_dict(), *population.failures]
    _same(population, Population.from_records(mixed))


def test_parquet_round_trip_keeps_every_field(population: Population, tmp_path: Path) -> None:
    path = population.to_parquet(tmp_path / "sub" / "people.parquet")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    _same(population, Population.from_parquet(path))
    only_ok = Population.from_parquet(population.to_parquet(tmp_path / "ok.parquet", include_failures=False))
    assert len(only_ok) == 2 and only_ok.failures == []


def test_parquet_schema_is_arrow_native_with_json_values(population: Population, tmp_path: Path) -> None:
    table = pq.read_table(population.to_parquet(tmp_path / "people.parquet"))
    schema = table.schema
    assert schema.field("seed").type == pa.int64() and schema.field("id").type == pa.string()
    attr = schema.field("attributes").type.value_type
    assert attr.field("value").type == pa.string() and attr.field("path").type == pa.list_(pa.string())
    assert json.loads(schema.metadata[b"deeppersona"])["format"] == "deeppersona.persona-table"
    first = table.slice(0, 1).to_pylist()[0]
    by_key = {a["key"]: a for a in first["attributes"]}
    assert (
        by_key["Media > Radio > Hours"]["value"] == "3"
        and by_key["Media > Radio > Hours"]["kind"] == "number"
    )
    assert by_key["Health > Diet > Staples"]["kind"] == "list"
    assert by_key["Habits > Smokes"]["kind"] == "boolean" and by_key["Mood > Scale"]["kind"] == "object"
    assert by_key["Family > Partner > Partner Age"]["kind"] == "null"
    assert json.loads(first["demographics"])["country"] == "Kenya"
    assert [a["key"] for a in first["attributes"]] == list(population[0].attributes)  # order kept


def test_pandas_round_trip(population: Population, tmp_path: Path) -> None:
    _same(population, Population.from_pandas(pd.read_parquet(population.to_parquet(tmp_path / "p.parquet"))))
    _same(population, Population.from_pandas(pd.DataFrame(population.to_records())))
    _same(
        population,
        Population.from_pandas(pd.DataFrame([p.to_dict() for p in [*population, *population.failures]])),
    )
    with pytest.raises(DataFileError, match=r"to_pandas\(\), an analysis view"):
        Population.from_pandas(population.to_pandas())
    with pytest.raises(ConfigError, match="DataFrame"):
        Population.from_pandas(population.to_records())  # type: ignore[arg-type]


def test_arrow_round_trip(population: Population) -> None:
    table = population.to_arrow()
    assert isinstance(table, pa.Table) and table.num_rows == 4
    _same(population, Population.from_arrow(table))


def test_hf_dataset_round_trip(population: Population, tmp_path: Path) -> None:
    ds = population.to_hf_dataset()
    assert isinstance(ds, datasets.Dataset) and len(ds) == 4 and "attributes" in ds.column_names
    _same(population, Population.from_hf_dataset(ds))
    picked = Population.from_hf_dataset(ds.select([1, 0]))  # an index mapping, not the raw table
    assert [p.index for p in picked] == [1, 0]
    ds.save_to_disk(str(tmp_path / "hf"))
    _same(population, Population.from_hf_dataset(datasets.load_from_disk(str(tmp_path / "hf"))))
    with pytest.raises(ConfigError, match=r"dataset\[<split>\]"):
        Population.from_hf_dataset(datasets.DatasetDict({"train": ds}))


def test_attributes_frame_json_values_are_arrow_safe(population: Population, tmp_path: Path) -> None:
    plain = population.attributes_frame()
    assert list(plain.columns) == ["persona_id", "path", "root", "level", "value", "kind", "stratum",
                                   "not_applicable"]  # fmt: skip
    assert plain.loc[plain.path == "Health > Diet > Staples", "value"].iloc[0] == ["ugali", "tilapia"]
    frame = population.attributes_frame(json_values=True)
    frame.to_parquet(tmp_path / "long.parquet")  # the mixed value column fails here without json_values
    back = pd.read_parquet(tmp_path / "long.parquet")
    assert [json.loads(v) for v in back["value"]] == list(plain["value"])


def test_bad_tables_are_refused_with_named_errors(population: Population, tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError):
        Population.from_parquet(tmp_path / "nope.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(DataFileError, match="not a Parquet file"):
        Population.from_parquet(tmp_path / "text.parquet")
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "other.parquet")
    with pytest.raises(DataFileError, match="unknown column"):
        Population.from_parquet(tmp_path / "other.parquet")
    records = population.to_records()
    records[1]["demographics"] = "{broken"
    with pytest.raises(DataFileError, match="record 1: column 'demographics'"):
        Population.from_records(records)
    with pytest.raises(DataFileError, match="record 0 is a int"):
        Population.from_records([3])
    with pytest.raises(ConfigError, match="single dict"):
        Population.from_records(records[0])
    big = population[0].model_copy(update={"seed": 2**64})
    with pytest.raises(ConfigError, match="64-bit"):
        Population([big]).to_parquet(tmp_path / "big.parquet")


def test_missing_optional_dependencies_name_the_extra(
    population: Population, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'deeppersona\[datasets\]'"):
        population.to_hf_dataset()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'deeppersona\[parquet\]'"):
        population.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ImportError):  # MissingDependencyError is an ImportError too
        Population.from_parquet(tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
    assert Population.from_records(population.to_records()) == population  # records need no pyarrow


# --- duplicates ----------------------------------------------------------------------------------------
def test_concatenation_refuses_duplicate_ids(population: Population) -> None:
    other = Population([_persona(0, run="r-ffffffffffff")])
    joined = population + other
    assert len(joined) == 3 and len(joined.failures) == 2 and joined.duplicate_ids() == []
    with pytest.raises(DuplicatePersonaError, match="concat") as info:
        _ = population + population
    assert info.value.ids == [p.id for p in [*population, *population.failures]]
    assert isinstance(info.value, ValueError)
    kept = Population.concat([population, population, other], duplicates="drop")
    assert len(kept) == 3 and len(kept.failures) == 2 and kept.duplicate_ids() == []
    # a complete persona wins over a failed one with the same id
    retried = Population([_persona(3)])
    fixed = Population.concat([population, retried], duplicates="drop")
    assert [p.index for p in fixed] == [0, 1, 3] and [p.index for p in fixed.failures] == [2]
    assert Population([population[0], population[0]]).duplicate_ids() == [population[0].id]
    with pytest.raises(ConfigError, match="duplicates"):
        Population.concat([population], duplicates="keep")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _ = population + population.failures  # type: ignore[operator]


# --- engines: ids, enrich over rows and tables --------------------------------------------------------
@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


@pytest.fixture(scope="module")
def sampler() -> DemographicSampler:
    return DemographicSampler()


def _engine(tree: AttributeTree, sampler: DemographicSampler, llm: FakeLLM | None = None) -> PersonaEngine:
    return (
        PersonaEngine.from_taxonomy(tree, model=llm or FakeLLM(seed=1), embedder=HashEmbedder())
        .with_sampler(sampler)
        .with_seed(7)
        .with_options(consistency=False, narrative=False, progress=False)
    )


def test_ids_are_unique_across_runs_and_stable_within_one(
    tree: AttributeTree, sampler: DemographicSampler, tmp_path: Path
) -> None:
    engine = _engine(tree, sampler)
    kenya = engine.cohort(country="Kenya").generate(k=3, n=2)
    germany = engine.cohort(country="Germany").generate(k=3, n=2)
    assert {p.id for p in kenya}.isdisjoint(p.id for p in germany)
    again = engine.cohort(country="Kenya").generate(k=3, n=2)
    assert [p.id for p in again] == [p.id for p in kenya]
    run_hash = kenya[0].provenance.run_id.removeprefix("r-")
    assert [p.id for p in kenya] == [f"p-{run_hash}-0", f"p-{run_hash}-1"]
    assert engine.cohort(country="Kenya").with_seed(8).generate(k=3).id != kenya[0].id
    joined = kenya + germany  # no duplicates across runs
    assert len(joined) == 4
    with pytest.raises(DuplicatePersonaError):
        _ = kenya + again
    # a file run (and its resume) writes the ids generate() gives
    out = tmp_path / "kenya.jsonl"
    engine.cohort(country="Kenya").generate_to(out, n=2, k=3)
    assert [p.id for p in Population.from_jsonl(out)] == [p.id for p in kenya]


def test_enrich_accepts_strings_dicts_frames_and_datasets(
    tree: AttributeTree, sampler: DemographicSampler
) -> None:
    engine = _engine(tree, sampler)
    sketches = ["A beekeeper in Kisumu.", "A retired judge in Nairobi."]
    by_text = engine.enrich(sketches, k=3)
    assert isinstance(by_text, Population) and [p.bio for p in by_text] == sketches
    ids = [p.id for p in by_text]
    rows = [{"persona": s, "source": "hub"} for s in sketches]
    assert [p.id for p in engine.enrich(rows, k=3)] == ids
    assert [p.id for p in engine.enrich([{"text": s} for s in sketches], k=3)] == ids
    frame = pd.DataFrame({"bio_text": sketches, "n": [1, 2]})
    assert [p.id for p in engine.enrich(frame, k=3, field="bio_text")] == ids
    assert [p.id for p in engine.enrich(datasets.Dataset.from_dict({"persona": sketches}), k=3)] == ids
    one = engine.enrich({"persona": sketches[0]}, k=3)
    assert isinstance(one, Persona) and one.id == ids[0]
    # the same configuration on other sketches gives other ids (the sketch is part of an enriched id)
    other = engine.enrich(["A fisherman in Mombasa.", sketches[1]], k=3)
    assert other[0].id != ids[0] and other[1].id == ids[1]


@pytest.mark.parametrize(
    ("rows", "field", "error", "fragment"),
    [
        ([{"name": "x"}], None, AnchorError, "none of the sketch fields"),
        (
            [{"persona": "ok"}, {"text": "no persona key"}],
            "persona",
            AnchorError,
            "row 1 has no field 'persona'",
        ),
        ([{"persona": None}], None, AnchorError, "row 0: field 'persona' is empty"),
        ([{"persona": 3}], None, AnchorError, "sketch 0 is a int"),
        ([{"persona": "   "}], None, AnchorError, "sketch 0 is empty"),
        ("frame-without-column", "persona", AnchorError, "the DataFrame has no field 'persona'"),
        ("frame-with-nan", None, AnchorError, "row 1: field 'persona' is empty"),
        ("dataset-without-column", None, AnchorError, "the dataset has none of the sketch fields"),
        (42, None, AnchorError, "got int"),
        (["ok"], 3, ConfigError, "field must be a non-empty string"),
        (["ok"], "", ConfigError, "field must be a non-empty string"),
    ],
)
def test_bad_enrich_input_fails_before_any_llm_call(
    tree: AttributeTree,
    sampler: DemographicSampler,
    rows: Any,
    field: Any,
    error: type[Exception],
    fragment: str,
) -> None:
    if rows == "frame-without-column":
        rows = pd.DataFrame({"text": ["a"]})
    elif rows == "frame-with-nan":
        rows = pd.DataFrame({"persona": ["a", float("nan")]})
    elif rows == "dataset-without-column":
        rows = datasets.Dataset.from_dict({"summary": ["a"]})
    llm = FakeLLM(seed=1)
    with pytest.raises(error, match=fragment):
        _engine(tree, sampler, llm).enrich(rows, k=3, field=field)
    assert llm.requests == []


def test_enrich_to_reads_rows_too(tree: AttributeTree, sampler: DemographicSampler, tmp_path: Path) -> None:
    llm = FakeLLM(seed=1)
    with pytest.raises(ConfigError, match="wrap"):
        _engine(tree, sampler, llm).enrich_to(tmp_path / "o.jsonl", {"persona": "one"}, k=3)  # type: ignore[arg-type]
    assert llm.requests == [] and not (tmp_path / "o.jsonl").exists()
    rows = pd.DataFrame({"persona": ["A beekeeper in Kisumu.", "A retired judge in Nairobi."]})
    report = _engine(tree, sampler).enrich_to(tmp_path / "o.jsonl", rows, k=3)
    assert report.written == 2
    assert [p.bio for p in Population.from_jsonl(tmp_path / "o.jsonl")] == list(rows["persona"])


# --- load_personas over in-memory sets ----------------------------------------------------------------
def test_load_personas_accepts_in_memory_sets(population: Population, tmp_path: Path) -> None:
    assert load_personas(population) == list(population)  # complete personas only, as iterating gives
    assert load_personas(list(population)) == list(population)
    dicts = [p.to_dict() for p in population]
    assert load_personas(dicts) == dicts
    assert load_personas(("a teacher", "a nurse")) == ["a teacher", "a nurse"]
    table_rows = load_personas(pd.DataFrame(population.to_records()))
    assert len(table_rows) == 4 and isinstance(table_rows[0], dict)
    assert len(load_personas(population.to_hf_dataset())) == 4
    assert load_personas(population.to_parquet(tmp_path / "p.parquet")) == list(population)
    # the evaluator reads table rows as Personas (failed and incomplete ones left out)
    views = persona_views(population.to_hf_dataset())
    assert [v.source for v in views] == list(population)
    assert [v.source for v in persona_views(pd.DataFrame(population.to_records()))] == list(population)
    with pytest.raises(EvaluationError, match="empty"):
        load_personas([])
    with pytest.raises(EvaluationError, match="single Persona"):
        load_personas(population[0])  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="single dict"):
        load_personas(population[0].to_dict())  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="persona 1 is a int"):
        load_personas(["a nurse", 3])
    with pytest.raises(EvaluationError, match="cannot read personas"):
        load_personas(3)  # type: ignore[arg-type]


# --- notebook output ----------------------------------------------------------------------------------
def test_stats_and_population_render_as_html(population: Population) -> None:
    stats = population.stats()
    assert isinstance(stats, PopulationStats)
    html = stats._repr_html_()
    assert "<table>" in html and "personas" in html and "Health" in html and "25-34" in html
    assert "1.0000" in html and "44" in html  # cost and calls of all four personas
    tree = AttributeTree.from_paths(["Health > Diet > Staples", "Media > Radio > Hours", "Work & <i"])
    with_tree = population.stats(tree)._repr_html_()
    assert "share of the tree" in with_tree and "Work &amp; &lt;i" in with_tree and "<i" not in with_tree
    table = population._repr_html_()
    assert table.count("<tr>") == 3 and population[0].id in table and "2 not ok" in table
    assert "Kisumu" in table and "nurse" in table.lower()


def test_plots_return_figures(population: Population, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = population.plot_coverage()
    assert isinstance(fig, Figure) and fig.axes[0].get_title().startswith("Taxonomy coverage")
    assert isinstance(population.plot_marginal("age"), Figure)
    saved = tmp_path / "plots" / "gender.png"
    assert isinstance(population.plot_marginal("gender", path=saved), Figure) and saved.stat().st_size > 0
    host = Figure()
    _, right = host.subplots(1, 2)
    assert population.plot_coverage(ax=right) is host and right.get_title()
    sub = Figure().subfigures(1, 2)[1]
    ax = sub.add_subplot()
    assert population.plot_marginal("country", ax=ax) is sub.figure  # a subfigure's root figure
