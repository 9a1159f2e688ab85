"""Judge-free persona quality (``Evaluator.quality``): every figure on hand-built personas, the engine, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from deeppersona.errors import ConfigError, DataFileNotFoundError, EvaluationError
from deeppersona.evaluation import Evaluator, QualityReport
from deeppersona.evaluation._quality import CONTRADICTION_RULES, CORE_PARTS, FIGURES
from deeppersona.persona import AttributeValue, CoreProfile, Persona, Population, Provenance

STORY = " ".join(["She walked to the market every morning with her grandmother in Kisumu."] * 4)  # 48 words
LIFE_STAGE = "Demographic Information > Age > Life Stage"


def core(**overrides: Any) -> CoreProfile:
    fields: dict[str, Any] = {
        "values_polarity": "positive",
        "values_orientation": "family loyalty and honest hard work",
        "attitude": "Life rewards those who keep going.",
        "attitude_details": "She plans each week carefully and helps her neighbours.",
        "coping_mechanism": "She walks along the lake to clear her head.",
        "life_stories": [STORY],
        "interests": ["river fishing", "choir singing"],
    }
    fields.update(overrides)
    return CoreProfile(**fields)


def av(path: str, value: Any, stratum: str = "near", **extra: Any) -> AttributeValue:
    return AttributeValue(value=value, stratum=stratum, path=tuple(path.split(" > ")), **extra)  # type: ignore[arg-type]


def persona(
    pid: str = "p0",
    values: dict[str, Any] | None = None,
    *,
    core_profile: CoreProfile | str | None = "complete",
    **fields: Any,
) -> Persona:
    attrs = {
        path: (v if isinstance(v, AttributeValue) else av(path, v)) for path, v in (values or {}).items()
    }
    return Persona(
        id=pid,
        seed=0,
        core=core() if core_profile == "complete" else core_profile,  # type: ignore[arg-type]
        attributes=attrs,
        **fields,
    )


def quality(personas: Any, **kwargs: Any) -> QualityReport:
    kwargs.setdefault("tree", None)
    return Evaluator().quality(personas, **kwargs)


# --- value figures ----------------------------------------------------------------------------------


def test_trivial_one_word_and_mean_length() -> None:
    p = persona(
        values={
            "A > High": "High",
            "A > Yes": "Yes",
            "A > Low": "very low",
            "A > Garden": "grows tomatoes on the balcony",
        }
    )
    s = quality([p]).summary
    assert s["free_text_values"] == 4
    assert s["trivial_share"] == pytest.approx(3 / 4)
    assert s["one_word_share"] == pytest.approx(2 / 4)
    assert s["mean_words"] == pytest.approx((1 + 1 + 2 + 5) / 4)


def test_empty_placeholder_junk_and_not_applicable() -> None:
    values = {
        "A > Empty": "",
        "A > None": None,
        "A > Placeholder": "N/A",
        "A > Junk": "{",
        "A > Real": "walks to the market daily",
        "A > Children Schooling": "N/A: has no children",  # an explicit not-applicable answer, as text
        "A > Partner Job": av("A > Partner Job", None, not_applicable="she is single"),
        "A > List": ["chess", "?"],  # a list value is not free text; one item is junk
    }
    s = quality([persona(values=values)]).summary
    assert s["values"] == 8
    assert s["not_applicable_share"] == pytest.approx(2 / 8)
    assert s["empty_share"] == pytest.approx(2 / 6)
    assert s["placeholder_share"] == pytest.approx(1 / 6)
    assert s["junk_share"] == pytest.approx(2 / 6)
    assert s["unusable_share"] == pytest.approx(5 / 6)
    # "N/A" and "{" are no bare words: nothing here is trivial
    assert s["free_text_values"] == 4 and s["trivial_share"] == 0.0


def test_within_persona_repeats_are_averaged() -> None:
    a = persona(
        "a", {"A > One": "Loves jazz", "A > Two": "loves jazz.", "A > Three": "Bakes bread", "A > Four": ""}
    )
    b = persona("b", {"A > One": "Plays the violin", "A > Two": "Keeps bees"})
    report = quality([a, b])
    assert report.summary["repeated_share"] == pytest.approx((2 / 3 + 0) / 2)
    rows = report.to_pandas(per="value")
    assert rows.loc[rows["repeated"], "path"].tolist() == ["A > One", "A > Two"]


def test_cross_persona_distinct_ratio() -> None:
    people = [
        persona("a", {"A > Drink": "tea", "A > Pet": "a grey cat", "A > Only": "once"}),
        persona("b", {"A > Drink": "Tea", "A > Pet": "two dogs"}),
        persona("c", {"A > Drink": "coffee"}),
    ]
    report = quality(people)
    assert report.summary["distinct_ratio"] == pytest.approx((2 / 3 + 1) / 2)
    table = report.to_pandas(per="attribute")
    assert table["path"].tolist() == ["A > Drink", "A > Pet"]
    assert table["distinct_ratio"].tolist() == pytest.approx([2 / 3, 1.0])


def test_first_person_values_are_counted() -> None:
    a = persona(
        "a",
        {
            "C > Identity Clarity": "I'm confident in who I am and what I stand for",
            "C > Fear": "In 2004 I lost my stall to a fire",
            "C > Hobby": "restores World War I radios",
            "C > Diet": "ugali with sukuma wiki most nights",
        },
    )
    report = quality([a])
    assert report.summary["first_person_share"] == pytest.approx(2 / 4)
    rows = report.to_pandas(per="value")
    assert rows.loc[rows["first_person"], "path"].tolist() == ["C > Identity Clarity", "C > Fear"]
    assert set(rows.loc[rows["first_person"], "problem"]) == {"first_person"}


def test_echo_and_sketch_copy() -> None:
    sketch = "A retired grocery store owner from Colorado who hates alcohol."
    a = persona(
        "a",
        {
            "B > Grief Process": "never had grief process",
            "B > Local Economy": "retired grocery store owner from Colorado",
            "B > Hobby": "restores vintage radios",
        },
        anchors={"bio": sketch},
    )
    b = persona("b", {"B > Garden": "grows beans behind the house"})
    s = quality([a, b]).summary
    assert s["echo_share"] == pytest.approx(1 / 4)
    assert s["sketch_copy_share"] == pytest.approx(
        1 / 3
    )  # over the free-text values of personas with a sketch
    # a sketch given apart from the personas (by id) counts the same
    c = persona("c", {"B > Origin": "a fisherman from Kodad in Telangana"})
    given = quality([c], sketches={"c": "A fisherman from Kodad in Telangana who votes every time."})
    assert given.summary["sketch_copy_share"] == 1.0
    assert math.isnan(quality([b]).summary["sketch_copy_share"])


# --- core chain -------------------------------------------------------------------------------------


def test_core_completeness_parts() -> None:
    people = [
        persona("ok"),
        persona("values", core_profile=core(values_orientation="Neutral", values_polarity="neutral")),
        persona("values2", core_profile=core(values_orientation="Neutral values")),
        persona(
            "attitude",
            core_profile=core(attitude="Optimistic", attitude_details="", coping_mechanism="walks"),
        ),
        persona("stories", core_profile=core(life_stories=["", STORY])),
        persona("interests", core_profile=core(interests=["{", "chess"])),
        persona("few", core_profile=core(interests=["chess"])),
        persona("none", core_profile=None),
    ]
    report = quality(people)
    assert report.summary["core_complete_share"] == pytest.approx(1 / 8)
    assert report.core_failures == {
        "values_orientation": 3,
        "attitude": 2,
        "attitude_details": 2,
        "coping_mechanism": 2,
        "life_stories": 2,
        "interests": 3,
    }
    assert set(report.core_failures) == set(CORE_PARTS)
    table = report.to_pandas(per="persona").set_index("id")
    assert table.loc["attitude", "core_failures"] == "attitude, attitude_details, coping_mechanism"
    assert bool(table.loc["ok", "core_complete"])


def test_a_core_part_the_generator_recorded_as_missing_is_failing() -> None:
    """Two valid stories look complete to the report, but three were asked: the persona says so (seen in
    the 12-persona run: an incomplete persona counted in "core complete 100 %")."""
    short = persona(
        "short", status="incomplete", missing={"core.life_stories": "story 3 repeats an earlier one"}
    )
    report = quality([persona("ok"), short])
    assert report.summary["core_complete_share"] == pytest.approx(1 / 2)
    assert report.core_failures["life_stories"] == 1


def test_story_length_follows_the_requested_length() -> None:
    short = persona(core_profile=core(life_stories=[" ".join(["word"] * 30)]))
    assert quality([short]).core_failures["life_stories"] == 1  # 30 < 0.75 * 60
    assert quality([short], story_words=(40, 80)).core_failures["life_stories"] == 0  # 30 >= 0.75 * 40
    three = persona(core_profile=core(life_stories=[STORY] * 3))
    assert quality([three], story_count=(1, 2)).core_failures["life_stories"] == 1


def test_ok_but_incomplete_counts_ok_personas_with_missing_parts() -> None:
    people = [
        persona("fine", {"A > Job": "repairs bicycles in Kisumu"}),
        persona("no-core", {"A > Job": "repairs bicycles in Kisumu"}, core_profile=None),
        persona("empty-value", {"A > Job": ""}),
        persona("marked", {"A > Job": ""}, status="incomplete"),
    ]
    report = quality(people)
    assert report.summary["ok_but_incomplete"] == 2
    assert report.statuses == {"ok": 3, "incomplete": 1}


# --- anchors and sketches ---------------------------------------------------------------------------


def test_anchor_retention_and_sketch_facts() -> None:
    sleep = "Physical and Health Characteristics > Sleep Health > Sleep Quality"
    a = persona(
        "a",
        {sleep: av(sleep, "poor", stratum="anchor")},
        anchors={
            "country": "KE",
            "age": 34,
            "occupation": "night-shift nurse",
            "sleep_quality": "poor",
            "bio": "x",
        },
        demographics={"country": "Kenya", "age": 34, "occupation": "Nurse"},
    )
    b = persona("b", anchors={"region": "Colorado"}, demographics={"region": "Arizona"})
    c = persona(
        "c",
        anchors={"region": "Colorado", "bio": "A retiree from Colorado."},
        demographics={"region": "Arizona"},
    )
    report = quality([a, b, c])
    # kept unchanged: country (an alias of Kenya), age, sleep_quality; changed: occupation, both regions
    assert report.summary["anchor_retention"] == pytest.approx(3 / 6)
    # sketch facts are the demographic ones (place, occupation, life stage, age, gender, name): a's
    # country, age and occupation are reflected (contained), sleep_quality is no sketch fact; c's region
    # is not reflected -> 3 of 4
    assert report.summary["sketch_facts_kept"] == pytest.approx(3 / 4)
    table = report.to_pandas(per="persona").set_index("id")
    assert table.loc["a", "anchors"] == 4 and table.loc["a", "anchors_retained"] == 3
    assert table.loc["b", "sketch_facts"] == 0
    # a sketch's likes and stated facts count as retained when the persona's text takes them up
    d = persona("d", anchors={"dislikes": ["alcohol"], "stated_facts": ["plays the lottery weekly"],
                              "bio": "A retiree who plays the lottery weekly and hates alcohol."},
                narrative="She buys a lottery ticket every Saturday and has not touched alcohol in years.")  # fmt: skip
    assert quality([d]).summary["anchor_retention"] == pytest.approx(1.0)
    e = persona("e", anchors={"dislikes": ["alcohol"], "bio": "A retiree who hates alcohol."},
                narrative="She enjoys a glass of wine.")  # fmt: skip
    assert quality([e]).summary["anchor_retention"] == pytest.approx(0.0)


def test_anchored_values_are_listed_but_not_counted() -> None:
    p = persona(values={"A > Hobby": av("A > Hobby", "chess", stratum="anchor"), "A > Food": "High"})
    report = quality([p])
    assert report.summary["values"] == 1 and report.summary["trivial_share"] == 1.0
    rows = report.to_pandas(per="value").set_index("path")
    assert not rows.loc["A > Hobby", "counted"] and rows.loc["A > Food", "problem"] == "trivial"


# --- contradictions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "demographics", "values"),
    [
        ("age_life_stage", {"age": 30, "life_stage": "retired"}, {}),
        ("age_life_stage", {"age": 30}, {LIFE_STAGE: "Older Adult"}),
        ("age_life_stage", {"age": 70}, {LIFE_STAGE: "Student"}),
        ("age_stated", {"age": 49}, {"Demographic Information > Age > Age Group": "60-70 years"}),
        ("age_stated", {"age": 49}, {"Demographic Information > Age > Chronological Age": 52}),
        (
            "education_age",
            {"age": 21},
            {"Education and Learning > Educational Attainment > Degree Field": "PhD in chemistry"},
        ),
        (
            "education_age",
            {"age": 22},
            {"Education and Learning > Educational Attainment > Highest Completed Level": "Doctoral"},
        ),
        (
            "retirement_age",
            {"age": 35},
            {"Career and Work Identity > Employment Arrangement > Employment Status": "Retired"},
        ),
        ("retirement_age", {"age": 35, "occupation": "Retired"}, {}),
        (
            "children_ages",
            {"age": 40},
            {"Demographic Information > Parental Status > Ages of Children": ["12", "30"]},
        ),
        ("children_ages", {"age": 40}, {"Family > Children": "a son aged 29 who lives in Mombasa"}),
        (
            "marital_partner",
            {"age": 40},
            {
                "Demographic Information > Marital and Partnership Status > Marital Status": "Single",
                "Relationships and Social Networks > Romantic Partnership > Partner Background": "a schoolteacher from Eldoret",
            },
        ),
        (
            "diaspora_nationality",
            {"age": 40, "country": "Kenya"},
            {"Demographic Information > Ethnicity and Ancestry > Diaspora Identity": "Kenyan"},
        ),
        # seen in the quick start: a 49-year-old "started working on his crop farm in 2005, when he was
        # just 17 years old"
        ("year_age", {"age": 49}, {"A > Work History": "started on the farm in 2005, when he was just 17"}),
        ("year_age", {"age": 72}, {"A > Education": "At the age of 23, in 2017, she finished her degree"}),
    ],
)
def test_each_contradiction_rule(rule: str, demographics: dict[str, Any], values: dict[str, Any]) -> None:
    report = quality([persona(values=values, demographics=demographics)])
    assert {k for k, v in report.contradictions.items() if v} == {rule}
    assert report.summary["contradictions"] == 1 and report.summary["contradiction_share"] == 1.0


def test_contradiction_rules_are_conservative() -> None:
    values = {
        LIFE_STAGE: "Middle Age",
        "Demographic Information > Age > Age Group": "40-50",
        "Education and Learning > Educational Attainment > Degree Field": "pursuing a PhD in chemistry part-time",
        "Education and Learning > Educational Attitudes > Value Placed on Degrees": "a doctorate opens doors",
        "Demographic Information > Family of Origin > Parental Occupations": "retired teachers",
        "Career and Work Identity > Employment Arrangement > Employment Status": "Employed Full-Time",
        "Family > Children": "two sons aged 8 and 10",
        "Demographic Information > Marital and Partnership Status > Marital Status": "Single",
        "Relationships and Social Networks > Romantic Partnership > Partner Background": "no partner at present",
        "Relationships and Social Networks > Dating Life > Partner Preferences": "someone kind and funny",
        "Career and Work Identity > Entrepreneurship and Self-Employment > Business Partners": "two cousins",
        "Demographic Information > Ethnicity and Ancestry > Diaspora Identity": "Somali diaspora in Nairobi",
        "Demographic Information > Migration History > First Move": "moved to Nairobi in 2005, when she was 21",
    }
    run = Provenance(run_config={"sampler": {"settings": {"year": 2026}}})
    report = quality(
        [persona(values=values, demographics={"age": 22 + 20, "country": "Kenya"}, provenance=run)]
    )
    assert report.summary["contradictions"] == 0, report.to_pandas(per="persona")["contradictions"].tolist()
    assert set(report.contradictions) == set(CONTRADICTION_RULES)


def test_year_age_rule_reads_stories_and_the_narrative_against_the_run_year() -> None:
    from deeppersona.generation._contradictions import year_age_claims

    run = Provenance(run_config={"sampler": {"settings": {"year": 2025}}})
    story = "In 2005, when he was just 17 years old, Emmanuel started working on the family farm."
    fits = persona("fits", demographics={"age": 37}, provenance=run, narrative=story)  # born 1988
    off = persona("off", demographics={"age": 49}, provenance=run, narrative=story)  # born 1976
    in_story = persona(
        "story",
        demographics={"age": 49},
        provenance=run,
        core_profile=core().model_copy(update={"life_stories": [story]}),
    )
    report = quality([fits, off, in_story])
    assert report.contradictions["year_age"] == 2
    rows = report.to_pandas(per="persona").set_index("id")["contradictions"]
    assert rows["fits"] == "" and "aged 17 in 2005, but 49 in 2025" in rows["off"]
    # distances, shares and counts after the age are no age
    assert year_age_claims("In 2010, when she was 20 kilometres from home, the rains came") == []
    assert year_age_claims("in 2012, when he was 30 percent sure") == []


def test_contradiction_share_and_value_flags() -> None:
    bad = persona("bad", demographics={"age": 30, "life_stage": "retired"})
    diaspora = "Demographic Information > Ethnicity and Ancestry > Diaspora Identity"
    worse = persona(
        "worse",
        {diaspora: "Kenyan diaspora"},
        demographics={"age": 30, "country": "Kenya", "occupation": "Retired"},
    )
    fine = persona("fine", demographics={"age": 30})
    report = quality([bad, worse, fine])
    assert report.summary["contradiction_share"] == pytest.approx(2 / 3)
    assert report.contradictions["age_life_stage"] == 1 and report.contradictions["retirement_age"] == 1
    assert report.contradictions["diaspora_nationality"] == 1 and report.summary["contradictions"] == 3
    rows = report.to_pandas(per="value").set_index("path")
    assert rows.loc[diaspora, "contradiction"] == "diaspora_nationality"


# --- narrative --------------------------------------------------------------------------------------


def test_narrative_coverage() -> None:
    values = {
        "A > Garden": "grows tomatoes on the balcony",
        "A > Music": "church choir member",
        "A > Job": "repairs bicycles downtown",
        "A > Mood": "Yes",  # no distinctive word: not checkable
    }
    a = persona("a", values, narrative="Amina tends her tomatoes and sings in the church choir on Sundays.")
    b = persona("b", values)  # no narrative: left out of the mean
    report = quality([a, b])
    assert report.summary["narrative_coverage"] == pytest.approx(2 / 3)
    rows = report.to_pandas(per="value")
    assert rows.loc[rows["persona_id"] == "a", "in_narrative"].tolist() == [True, True, False, None]


def test_value_about_the_prompt_counts_as_a_placeholder() -> None:
    """Seen in the quality benchmark: "balance is not mentioned in the given text, it is assumed to be zero"
    stored for 33 of a persona's 60 attributes, with the persona `ok`."""
    values = {
        "A > Balance": "balance is not mentioned in the given text, it is assumed to be zero",
        "A > Garden": "grows tomatoes on the balcony",
    }
    report = quality([persona("a", values, status="ok")])
    assert report.summary["placeholder_share"] == pytest.approx(1 / 2)
    assert report.summary["ok_but_incomplete"] == 1


def test_narrative_in_the_first_person_is_counted() -> None:
    values = {"A > Garden": "grows tomatoes on the balcony"}
    a = persona("a", values, narrative="I am Amina. I grow tomatoes and I sing in the church choir.")
    b = persona("b", values, narrative='Amina grows tomatoes. She says: "I love Sundays." She sings.')
    report = quality([a, b])
    assert report.summary["narrative_first_person_share"] == pytest.approx(1 / 2)
    assert report.to_pandas(per="persona")["narrative_first_person"].tolist() == [True, False]


# --- taxonomy kinds ---------------------------------------------------------------------------------


def test_value_kinds_come_from_the_taxonomy() -> None:
    values = {
        "Psychological and Cognitive Aspects > Life Attitude > Overall Happiness": "Quite Happy",  # categorical
        "Psychological and Cognitive Aspects > Life Attitude > Life Satisfaction": "7",  # number
        "Demographic Information > Personal Story > Biggest Regret": "High",  # free text
        "Custom > Something Else": "Yes",  # unknown to the tree: free text
    }
    p = persona(values=values, demographics={"age": 45})
    with_tree = Evaluator().quality([p])  # the packaged default tree
    rows = with_tree.to_pandas(per="value").set_index("path")
    assert rows["kind"].tolist() == ["categorical", "number", "text", "unknown"]
    assert rows["free_text"].tolist() == [False, False, True, True]
    assert with_tree.summary["trivial_share"] == 1.0 and with_tree.summary["free_text_values"] == 2
    without = quality([p])
    assert without.summary["free_text_values"] == 4 and without.settings["taxonomy"] is None


# --- inputs, renderings and errors ------------------------------------------------------------------


def test_population_file_dicts_and_failed_personas(tmp_path: Path) -> None:
    ok = persona("ok", {"A > Job": "repairs bicycles in Kisumu"})
    incomplete = persona("inc", {"A > Job": None}, status="incomplete", failure="missing values")
    failed = persona("fail", status="failed", failure="GenerationError: boom", core_profile=None)
    population = Population([ok, incomplete, failed])
    report = quality(population)
    assert report.summary["personas"] == 2 and report.failed == 1
    assert report.statuses == {"ok": 1, "incomplete": 1}
    path = population.to_jsonl(tmp_path / "people.jsonl", include_failures=True)
    assert quality(path).to_dict() == report.to_dict()
    assert quality([p.to_dict() for p in (ok, incomplete, failed)]).to_dict() == report.to_dict()
    assert quality(ok).summary["personas"] == 1  # one persona is fine too


def test_bad_input() -> None:
    with pytest.raises(EvaluationError, match="plain persona texts"):
        quality(["A nurse in Nairobi."])
    with pytest.raises(EvaluationError, match="no personas"):
        quality([])
    with pytest.raises(EvaluationError, match="no personas"):
        quality([persona(status="failed", failure="boom")])
    with pytest.raises(EvaluationError, match="sketches has 2 entries"):
        quality([persona()], sketches=["a", "b"])
    with pytest.raises(EvaluationError, match="not a serialised"):
        quality([{"id": "x", "seed": 0, "attributes": 3}])
    with pytest.raises(ConfigError, match="story_words"):
        quality([persona()], story_words=(120, 60))
    with pytest.raises(DataFileNotFoundError):
        quality("/nonexistent/personas.jsonl")


def test_renderings() -> None:
    people = [
        persona(
            "a",
            {"A > Mood": "High", "A > Garden": "grows tomatoes"},
            demographics={"age": 30, "life_stage": "retired"},
        ),
        persona("b", {"A > Mood": "Low", "A > Garden": "keeps bees"}),
    ]
    report = quality(people)
    frame = report.to_pandas()
    assert list(frame.index) == list(FIGURES) and list(frame.columns) == ["value", "definition"]
    assert len(report.to_pandas(per="persona")) == 2 and len(report.to_pandas(per="value")) == 4
    with pytest.raises(EvaluationError, match="per must be"):
        report.to_pandas(per="bogus")  # type: ignore[arg-type]
    md = report.to_markdown()
    assert "| trivial_share | 50.0% |" in md and "age_life_stage 1" in md and "'high' trivial ×1" in md
    assert str(report) == md
    assert "<table>" in report._repr_html_() and "trivial_share" in report._repr_html_()
    assert repr(report).startswith("QualityReport(2 personas, 4 values, trivial=50.0%")
    data = json.loads(report.to_json())
    assert data["summary"]["sketch_copy_share"] is None and data["contradictions"]["age_life_stage"] == 1
    assert set(data["summary"]) == set(FIGURES) == set(report.summary)
    fig = report.plot()
    assert len(fig.axes) == 2


def test_plot_saves_png(tmp_path: Path) -> None:
    report = quality([persona(values={"A > Mood": "High"})])
    report.plot(tmp_path / "q" / "quality.png")
    assert (tmp_path / "q" / "quality.png").stat().st_size > 0


# --- on personas from the engine --------------------------------------------------------------------


def test_on_engine_personas() -> None:
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(seed=1), embedder=HashEmbedder()).with_seed(
        7
    )
    population = engine.anchor(country="Kenya", favourite_radio_show="Kiss 100 breakfast").generate(k=20, n=3)
    report = Evaluator().quality(population)
    s = report.summary
    everyone = [*population, *population.failures]
    assert s["personas"] + report.failed == len(everyone) == 3
    assert s["values"] == sum(
        1
        for p in everyone
        if p.status != "failed"
        for a in p.attributes.values()
        if a.stratum not in ("anchor", "custom")
    )
    for name in (
        "trivial_share",
        "one_word_share",
        "unusable_share",
        "repeated_share",
        "core_complete_share",
    ):
        assert 0.0 <= s[name] <= 1.0, name
    assert s["anchor_retention"] == 1.0  # anchors are kept verbatim
    assert len(report.to_pandas(per="value")) == sum(
        len(p.attributes) for p in everyone if p.status != "failed"
    )


# --- command line -----------------------------------------------------------------------------------


def test_cli_quality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deeppersona.cli import main

    people = Population(
        [
            persona("a", {"A > Mood": "High", "A > Garden": "grows tomatoes"}, demographics={"age": 30}),
            persona("b", {"A > Mood": "Low", "A > Garden": "keeps bees"}, core_profile=None),
        ]
    )
    path = people.to_jsonl(tmp_path / "personas.jsonl")
    out, csv = tmp_path / "report.md", tmp_path / "values.csv"
    assert (
        main(["evaluate", "quality", str(path), "--taxonomy", "none", "--out", str(out), "--csv", str(csv)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "**Persona quality** (2 personas" in printed and "| trivial_share | 50.0% |" in printed
    assert out.read_text(encoding="utf-8").strip() == printed.strip()
    assert csv.read_text(encoding="utf-8").startswith("persona_id,path,")
    assert main(["evaluate", "quality", str(path), "--json", "--story-words", "40", "60"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["personas"] == 2 and data["summary"]["core_complete_share"] == 0.5
    assert data["settings"]["story_words"] == [40, 60]
    assert main(["evaluate", "quality", str(tmp_path / "missing.jsonl")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_shared_sentences_repeat_and_negated_openings_echo() -> None:
    tail = "She is always happy and content with her life."
    p = persona(
        "a",
        {
            "Mind > Shame > Shame Proneness": f"Mary does not have any shame proneness and does not feel ashamed. {tail}",
            "Mind > Mood > Mood Variability": f"Moody in the dry season when water is short. {tail}",
            "Home > Food > Comfort Foods": "Ugali with sukuma wiki at her sister's place on Sundays",
        },
        demographics={"name": "Mary Wanjiru"},
    )
    report = quality([p])
    rows = report.to_pandas(per="value").set_index("path")
    assert rows.loc["Mind > Shame > Shame Proneness", "echo"]
    assert rows["repeated"].tolist() == [True, True, False]
    assert report.summary["repeated_share"] == pytest.approx(2 / 3)


def test_an_option_of_the_attribute_is_no_placeholder() -> None:
    """'None' concussions and a thyroid function 'Unknown' are answers the tree offers, not missing values."""
    health = "Physical and Health Characteristics"
    values = {
        f"{health} > Illness and Injury History > Concussion History": "None",
        f"{health} > Cardiovascular and Metabolic Health > Thyroid Function": "Unknown",
        "Demographic Information > Personal Story > Biggest Regret": "unknown",  # free text: a placeholder
    }
    p = persona(values=values, demographics={"age": 45})
    report = Evaluator().quality([p])  # the packaged default tree knows the options
    rows = report.to_pandas(per="value").set_index("path")
    assert rows["placeholder"].tolist() == [False, False, True]
    assert report.summary["ok_but_incomplete"] == 1  # the free-text one still counts
    assert quality([p]).summary["placeholder_share"] == 1.0  # without a tree nothing is known to be an option
