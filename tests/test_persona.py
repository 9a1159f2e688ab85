"""Persona and Population: serialisation, Figure 7 nesting, prompts, stats, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeppersona.errors import DataFileError, DataFileNotFoundError
from deeppersona.llm import Usage
from deeppersona.persona import AttributeValue, CoreProfile, Persona, Population, Provenance
from deeppersona.taxonomy import AttributeTree


def persona(index: int = 0, *, ok: bool = True) -> Persona:
    return Persona(
        id=f"p-{index}",
        seed=1,
        index=index,
        status="ok" if ok else "failed",
        failure=None if ok else "LLMOutputError: broken",
        anchors={"age": 34, "bio": "Grew up by the lake."},
        demographics={
            "name": "Ada Obi",
            "age": 34 + index,
            "gender": "female",
            "occupation": "nurse",
            "city": "Kisumu",
            "region": "Kisumu County",
            "country": "Kenya",
            "life_stage": "employed",
        },
        core=CoreProfile(
            values_polarity="negative",
            values_orientation="Distrust of institutions",
            attitude="Life is a grind.",
            attitude_details="She expects little and plans for less.",
            coping_mechanism="Long walks at dawn.",
            life_stories=["Lost a job in 2019."],
            interests=["Fishing", "Radio dramas"],
        ),
        attributes={
            "Health > Sleep > Sleep Quality": AttributeValue(
                value="poor", stratum="anchor", path=("Health", "Sleep", "Sleep Quality")
            ),
            "Health > Diet": AttributeValue(
                value=["ugali", "tilapia"], stratum="near", path=("Health", "Diet")
            ),
            "Media > Radio > Hours": AttributeValue(value=3, stratum="far", path=("Media", "Radio", "Hours")),
            "pet_name": AttributeValue(value="Simba", stratum="custom", path=("pet_name",)),
        },
        narrative="Ada is a nurse in Kisumu.",
        provenance=Provenance(model="fake", taxonomy_fingerprint="abc", library_version="0.1.0", k=2),
        usage=Usage(calls=11, prompt_tokens=100),
    )


def test_round_trip_and_views() -> None:
    p = persona()
    assert Persona.from_json(p.to_json()) == p
    assert Persona.from_dict(json.loads(p.to_json())) == p
    assert p.name == "Ada Obi" and p.bio == "Grew up by the lake." and p.ok
    assert set(p.selected) == {"Health > Diet", "Media > Radio > Hours"}
    assert p.get("health > sleep > sleep_quality") == "poor" and p.get("missing", 1) == 1
    assert p.strata_counts() == {"anchor": 1, "near": 1, "far": 1, "custom": 1}
    assert "Ada Obi" in repr(p)


def test_to_nested_follows_figure_7() -> None:
    nested = persona().to_nested()
    for key in ("age_info", "gender", "location", "career_info", "personal_values", "life_attitude",
                "personal_story", "interests"):  # fmt: skip
        assert key in nested
    assert nested["age_info"] == {"age": 34, "age_group": "employed"}
    assert nested["personal_story"]["key_life_events"] == ["Story 1: Lost a job in 2019."]
    assert nested["Health"]["Sleep"]["Sleep Quality"] == "poor"
    assert nested["Health"]["Diet"] == ["ugali", "tilapia"]
    assert nested["custom_attributes"] == {"pet_name": "Simba"}
    json.dumps(nested)


def test_to_prompt_and_html() -> None:
    p = persona()
    prompt = p.to_prompt()
    assert prompt.startswith("You are Ada Obi, a 34-year-old female nurse living in Kisumu")
    assert "Sleep > Sleep Quality: poor" in prompt and "Diet: ugali, tilapia" in prompt
    assert "Grew up by the lake." in prompt and "Ada is a nurse in Kisumu." in prompt
    assert "Sleep Quality" in p.to_prompt(max_attributes=1) and "Hours" not in p.to_prompt(max_attributes=1)
    assert "Ada is a nurse" not in p.to_prompt(include_narrative=False)
    html = p._repr_html_()
    assert "<table>" in html and "Ada Obi" in html


def test_population_sequence_files_and_frames(tmp_path: Path) -> None:
    pop = Population([persona(0), persona(1), persona(2, ok=False)])
    assert len(pop) == 2 and len(pop.failures) == 1 and pop[0].index == 0
    assert isinstance(pop[:1], Population) and len(pop[:1]) == 1
    assert pop.usage.calls == 33
    path = pop.to_jsonl(tmp_path / "out" / "pop.jsonl", include_failures=True)
    back = Population.from_jsonl(path)
    assert back == pop
    df = pop.to_pandas()
    assert list(df["age"]) == [34, 35] and "narrative" in df.columns
    assert "Health > Diet" in pop.to_pandas(attributes=True).columns
    long = pop.attributes_frame()
    assert len(long) == 8 and set(long["stratum"]) == {"anchor", "near", "far", "custom"}


def test_from_jsonl_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError):
        Population.from_jsonl(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\n' + persona().to_json() + "\n")
    with pytest.raises(DataFileError):
        Population.from_jsonl(bad)


def test_stats_and_plots() -> None:
    pop = Population([persona(0), persona(1)])
    stats = pop.stats()
    assert stats.n == 2 and stats.attributes_per_persona == {"mean": 4.0, "min": 4.0, "max": 4.0}
    assert stats.root_coverage == {"Health": 1.0, "Media": 1.0}
    assert stats.marginals["gender"] == {"female": 1.0}
    assert stats.marginals["age"] == {"25-34": 0.5, "35-44": 0.5}
    tree = AttributeTree.from_paths(["Health > Sleep > Sleep Quality", "Health > Diet", "Media > Radio > Hours",
                                     "Media > TV", "Work > Job"])  # fmt: skip
    with_tree = pop.stats(tree)
    assert with_tree.root_coverage["Work"] == 0.0
    assert with_tree.level_coverage[1] == pytest.approx(2 / 3)
    assert with_tree.level_coverage[2] == pytest.approx(3 / 5)
    json.dumps(with_tree.to_dict())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    assert isinstance(pop.plot_coverage(tree), Figure)
    assert isinstance(pop.plot_marginal("age"), Figure) and isinstance(pop.plot_marginal("country"), Figure)
    plt.close("all")
