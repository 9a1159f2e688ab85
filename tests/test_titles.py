"""Natural job titles for the occupation tables' titles, in prompts and HTML (the table title stays)."""

from __future__ import annotations

import re

import pytest

from deeppersona.demographics._tables import DemographicTables
from deeppersona.demographics._titles import MAX_WORDS, TITLE_OVERRIDES, job_title
from deeppersona.persona import Persona, Provenance
from deeppersona.persona._render import occupation_text


@pytest.fixture(scope="module")
def table_titles() -> list[str]:
    tables = DemographicTables()
    titles = set(tables.us_occupations["title"]) | set(tables.onet_occupations["title"])
    return sorted(str(t) for t in titles)


def test_every_table_title_gets_a_short_lower_case_job_title(table_titles: list[str]) -> None:
    assert len(table_titles) > 900
    bad = []
    for title in table_titles:
        natural = job_title(title)
        words = natural.split()
        if (
            not natural.strip()
            or natural != natural.lower()
            or not 1 <= len(words) <= MAX_WORDS
            or "," in natural
            or re.search(r"\b(?:all other|except|including)\b", natural)
            or any(w == words[i - 1] for i, w in enumerate(words) if i)  # "room room"
        ):
            bad.append((title, natural))
    assert not bad


def test_overrides_are_table_titles(table_titles: list[str]) -> None:
    assert set(TITLE_OVERRIDES) <= set(table_titles)


@pytest.mark.parametrize(
    ("title", "natural"),
    [
        ("Farmworkers and Laborers, Crop, Nursery, and Greenhouse", "crop farmworker"),
        ("Inspectors, Testers, Sorters, Samplers, and Weighers", "inspector"),
        ("Registered Nurses", "registered nurse"),
        (
            "Secondary School Teachers, Except Special and Career/Technical Education",
            "secondary school teacher",
        ),
        ("Chief Executives", "chief executive"),
        ("Managers, All Other", "manager"),
        ("Cooks, Restaurant", "restaurant cook"),
        ("Bus Drivers, School", "school bus driver"),
        ("Advertising and Promotions Managers", "advertising manager"),
        ("Art, Drama, and Music Teachers, Postsecondary", "art professor"),
        ("First-Line Supervisors of Retail Sales Workers", "retail sales supervisor"),
        ("Appraisers and Assessors of Real Estate", "real estate appraiser"),
        ("Secretaries and Administrative Assistants, Except Legal, Medical, and Executive", "secretary"),
        ("Waiters and Waitresses", "waiter"),
        ("Midwives", "midwife"),
        ("Nannies", "nanny"),
    ],
)
def test_job_title_examples(title: str, natural: str) -> None:
    assert job_title(title) == natural


@pytest.mark.parametrize(
    "free", ["nurse", "night-shift nurse", "ferry captain", "Retired", "Student", "IT Consultant"]
)
def test_free_text_and_stage_labels_pass_through(free: str) -> None:
    assert job_title(free) == free


def _persona(occupation: str, life_stage: str = "employed", age: int = 49) -> Persona:
    return Persona(
        id="p-0",
        seed=1,
        index=0,
        status="ok",
        anchors={},
        demographics={
            "name": "Otieno Ouma",
            "age": age,
            "gender": "male",
            "occupation": occupation,
            "city": "Kisumu",
            "region": "Kisumu County",
            "country": "Kenya",
            "life_stage": life_stage,
        },
        provenance=Provenance(model="fake", taxonomy_fingerprint="abc", library_version="0.1.0", k=0),
    )


def test_to_prompt_and_html_use_the_natural_title() -> None:
    title = "Farmworkers and Laborers, Crop, Nursery, and Greenhouse"
    p = _persona(title)
    assert p.to_prompt().startswith(
        "You are Otieno Ouma, a 49-year-old male crop farmworker living in Kisumu, Kisumu County, Kenya"
    )
    assert "farmworkers and laborers" not in p.to_prompt().lower()
    html = p._repr_html_()
    assert ">crop farmworker<" in html and f"title='{title}'" in html
    assert p.demographics["occupation"] == title  # the table title stays in the data


def test_life_stage_labels_and_articles() -> None:
    assert (
        _persona("Retired", "retired", 81)
        .to_prompt()
        .startswith("You are Otieno Ouma, an 81-year-old male retiree living in")
    )
    assert occupation_text({"occupation": "Not employed"}) == "without paid work"
    assert occupation_text({"occupation": "Nurse"}) == "nurse"
    assert occupation_text({"occupation": "night-shift nurse"}) == "night-shift nurse"
    assert occupation_text({}) == ""
