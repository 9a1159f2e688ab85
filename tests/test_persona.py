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


# -- Persona.get: every spelling AttributeTree.get accepts, the leaf alone, demographic and core fields ----


@pytest.mark.parametrize(
    "spelling",
    [
        "Health > Sleep > Sleep Quality",  # as stored
        "health > sleep > sleep quality",  # case
        "  Health>Sleep >  Sleep   Quality ",  # spacing, bare ">"
        "health > sleep > sleep_quality",  # snake_case
        "HEALTH > sleep > SleepQuality",  # CamelCase
        "health > sleep > sleep-quality",  # kebab-case
        ("Health", "Sleep", "sleep quality"),  # a sequence of names
        "Sleep > Sleep Quality",  # the end of the path
        "sleep_quality",  # the leaf alone
        "SleepQuality",
    ],
)
def test_get_accepts_every_tree_spelling(spelling: str | tuple[str, ...]) -> None:
    assert persona().get(spelling) == "poor"


def test_get_matches_tree_get_on_the_same_spellings() -> None:
    """Whatever spelling finds a node in an AttributeTree finds that attribute in a persona."""
    tree = AttributeTree.from_paths(["Health > Sleep > Sleep Quality", "Health & Diet > Food Likes"])
    p = persona().model_copy(
        update={
            "attributes": {
                n.path_str: AttributeValue(value=n.name, stratum="near", path=n.path) for n in tree.leaves()
            }
        }
    )
    for spelling in (
        "health>sleep>SLEEP_QUALITY",
        ("HEALTH", "Sleep", "sleep-quality"),
        "health and diet > FoodLikes",
    ):
        assert p.get(spelling) == tree.get(spelling).name


def test_get_demographic_and_core_fields() -> None:
    p = persona()
    assert p.get("age") == 34 and p.get("Age") == 34 and p.get("AGE") == 34
    assert p.get("country") == "Kenya" and p.get("life_stage") == p.get("Life Stage") == "employed"
    assert p.get("name") == "Ada Obi" and p.get("occupation") == "nurse"
    assert p.get("values_orientation") == p.get("Values Orientation") == "Distrust of institutions"
    assert p.get("values") == p.get("personal values") == "Distrust of institutions"
    assert p.get("values_polarity") == "negative"
    assert p.get("attitude") == p.get("life attitude") == "Life is a grind."
    assert p.get("attitude-details") == "She expects little and plans for less."
    assert p.get("coping_mechanism") == p.get("coping") == "Long walks at dawn."
    assert p.get("life_stories") == p.get("stories") == ["Lost a job in 2019."]
    assert p.get("interests") == p.get("hobbies") == ["Fishing", "Radio dramas"]
    # the taxonomy's core attribute paths, in any spelling
    assert p.get("Demographic Information > Age") == 34
    assert p.get("demographic_information > gender") == "female"
    assert p.get("Psychological and Cognitive Aspects > Life Attitude") == "Life is a grind."
    assert p.get("Core Values, Beliefs, and Philosophy > Personal Values") == "Distrust of institutions"
    assert p.get("Hobbies, Interests, and Lifestyle > Hobbies and Interests") == ["Fishing", "Radio dramas"]
    assert p.get("Demographic Information > Personal Story") == ["Lost a job in 2019."]
    assert p.get("Career and Work Identity > Occupation") == "nurse"
    assert p.get("location") == {"country": "Kenya", "region": "Kisumu County", "city": "Kisumu"}


def test_get_custom_anchor_and_attribute_order() -> None:
    p = persona()
    assert p.get("pet_name") == p.get("Pet Name") == p.get("PetName") == "Simba"
    assert p.get("Health > Diet") == p.get("diet") == ["ugali", "tilapia"]
    assert p.get(["Media", "Radio", "Hours"]) == p.get("hours") == 3
    # a whole attribute path wins over a field of the same name; a field wins over the end of a path
    with_age = p.model_copy(
        update={
            "attributes": {
                **p.attributes,
                "age": AttributeValue(value="34 years", stratum="custom", path=("age",)),
            }
        }
    )
    assert with_age.get("age") == "34 years"
    with_leaf = p.model_copy(
        update={
            "attributes": {
                **p.attributes,
                "Demographic Information > Age > Age": AttributeValue(
                    value="thirties", stratum="near", path=("Demographic Information", "Age", "Age")
                ),
            }
        }
    )
    assert with_leaf.get("age") == 34 and with_leaf.get("Age > Age") == "thirties"


def test_get_contract_missing_ambiguous_and_bad_types() -> None:
    p = persona()
    # absent: default (None unless given); never an exception
    assert p.get("Health > Sleep > Dream Recall") is None and p.get("dream recall", "n/a") == "n/a"
    assert p.get("Sleep Quality > Health") is None  # names in the wrong order
    assert p.get("") is None and p.get("Health >> Diet", 0) == 0 and p.get(()) is None
    assert p.model_copy(update={"core": None}).get("attitude") is None
    assert p.model_copy(update={"demographics": {"age": None}}).get("age", -1) == -1
    # a value that is None is returned as is (an attribute that does not apply), not replaced by default
    na = p.model_copy(
        update={"attributes": {"X > Y": AttributeValue(value=None, stratum="near", path=("X", "Y"))}}
    )
    assert na.get("X > Y", "default") is None
    # ambiguous end of path: KeyError naming the candidates
    twice = p.model_copy(
        update={
            "attributes": {
                **p.attributes,
                "Work > Sleep > Sleep Quality": AttributeValue(
                    value="fine", stratum="far", path=("Work", "Sleep", "Sleep Quality")
                ),
            }
        }
    )
    with pytest.raises(KeyError, match=r"ends the paths of 2 attributes.*Health > Sleep > Sleep Quality"):
        twice.get("sleep quality")
    assert twice.get("work > sleep > sleep quality") == "fine"  # the whole path is never ambiguous
    with pytest.raises(TypeError):
        p.get(7)  # type: ignore[arg-type]


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
