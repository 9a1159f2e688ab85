"""DemographicSampler: the draws reproduce the shipped tables, cohorts constrain them, errors are clear."""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeppersona.demographics import Cohort, Demographics, DemographicSampler, LifeStageRules
from deeppersona.errors import AnchorError, ConfigError, DataFileError, DeepPersonaError, DemographicsError

N = 20_000
PAPER_COUNTRIES = ["KEN", "USA", "DEU", "IND", "ARG", "AUS"]
DATA = resources.files("deeppersona") / "data" / "demographics"


def _read(name: str) -> pd.DataFrame:
    raw = (DATA / name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return pd.read_csv(io.BytesIO(raw), keep_default_na=False)


@pytest.fixture(scope="module")
def sampler() -> DemographicSampler:
    return DemographicSampler(seed=0, names=False)


@pytest.fixture(scope="module")
def age_table() -> pd.DataFrame:
    return _read("age_structure.csv.gz")


@pytest.fixture(scope="module")
def cities_table() -> pd.DataFrame:
    return _read("cities.csv.gz")


def _source_age_cdf(
    age_table: pd.DataFrame, iso3s: list[str], year: int = 2025, min_age: int = 18
) -> np.ndarray:
    """Independent re-derivation: five-year groups spread uniformly (100+ over 100-110), ages >= min_age."""
    rows = age_table[(age_table["iso3"].isin(iso3s)) & (age_table["year"] == year)]
    groups = rows.iloc[:, 2:].to_numpy(dtype=float).sum(axis=0)
    pmf = np.zeros(111)
    for g, value in enumerate(groups):
        lo, hi = (5 * g, 5 * g + 4) if g < 20 else (100, 110)
        pmf[lo : hi + 1] = value / (hi - lo + 1)
    pmf[:min_age] = 0
    return np.cumsum(pmf) / pmf.sum()


def _ks(ages: np.ndarray, cdf: np.ndarray) -> float:
    emp = np.cumsum(np.bincount(ages, minlength=111)) / len(ages)
    return float(np.abs(emp - cdf).max())


# --------------------------------------------------------------------------- the "done when" checks
@pytest.mark.parametrize("country", [*PAPER_COUNTRIES, None])
def test_age_distribution_matches_wpp(
    sampler: DemographicSampler, age_table: pd.DataFrame, country: str | None
) -> None:
    df = sampler.sample(N, seed=11, country=country)
    iso3s = [country] if country else list(sampler.tables.country_codes)
    assert _ks(df["age"].to_numpy(), _source_age_cdf(age_table, iso3s)) <= 0.02
    assert df["age"].min() >= 18


def test_world_age_sum_of_countries_matches_wpp_world_aggregate(
    sampler: DemographicSampler, age_table: pd.DataFrame
) -> None:
    # the countries shipped cover the world population (WPP's own aggregate) closely
    countries = _source_age_cdf(age_table, list(sampler.tables.country_codes))
    world = _source_age_cdf(age_table, ["WLD"])
    assert np.abs(countries - world).max() < 0.002


@pytest.mark.parametrize("country", PAPER_COUNTRIES)
def test_city_shares_within_sampling_error(
    sampler: DemographicSampler, cities_table: pd.DataFrame, country: str
) -> None:
    df = sampler.sample(N, seed=12, country=country)
    rows = cities_table[cities_table["iso3"] == country]
    expected = (
        (rows.groupby("city")["weight"].sum() / rows["weight"].sum()).sort_values(ascending=False).head(10)
    )
    observed = df["city"].value_counts(normalize=True)
    se = np.sqrt(expected * (1 - expected) / N)
    diff = (observed.reindex(expected.index).fillna(0) - expected).abs()
    assert (diff <= 4.5 * se + 1e-3).all(), pd.DataFrame({"expected": expected, "diff": diff, "se": se})
    assert set(df["city"]) <= set(rows["city"])


@pytest.mark.parametrize("country", [*PAPER_COUNTRIES, None])
def test_marginals_within_sampling_error(sampler: DemographicSampler, country: str | None) -> None:
    table = sampler.compare_marginals(n=N, seed=13, country=country, top=15)
    assert {"variable", "category", "expected", "observed", "difference", "se", "z"} <= set(table.columns)
    for var in ("city", "occupation", "occupation_group", "life_stage", "gender", "age_group", "country"):
        part = table[table["variable"] == var]
        assert not part.empty, var
        assert (part["z"].abs() <= 4.5).all(), part[part["z"].abs() > 4.5]


def test_us_occupations_follow_oews_employment(sampler: DemographicSampler) -> None:
    df = sampler.sample(N, seed=14, country="USA")
    employed = df[df["life_stage"] == "employed"]
    oews = _read("occupations_us_oews.csv")
    assert len(oews) >= 800
    expected = (
        (oews.set_index("title")["employment"] / oews["employment"].sum())
        .sort_values(ascending=False)
        .head(10)
    )
    observed = employed["occupation"].value_counts(normalize=True).reindex(expected.index).fillna(0)
    se = np.sqrt(expected * (1 - expected) / len(employed))
    assert ((observed - expected).abs() <= 4.5 * se).all()
    assert set(employed["occupation"]) <= set(oews["title"])


@pytest.mark.parametrize("country", ["KEN", "DEU", "IND"])
def test_fallback_occupation_groups_follow_shares(sampler: DemographicSampler, country: str) -> None:
    df = sampler.sample(N, seed=15, country=country)
    employed = df[df["life_stage"] == "employed"]
    shares = _read("occupation_group_shares.csv").set_index("iso3").loc[country]
    occ = sampler.occupations(country)
    assert occ["source"].str.startswith("approximate").all()
    names = dict(zip(occ["occupation_group"], occ["occupation_group"], strict=False))
    from deeppersona.demographics._tables import ISCO_MAJOR

    for g in range(1, 10):
        label = ISCO_MAJOR[g]
        assert label in names
        p = float(shares[f"isco_{g}"])
        observed = float((employed["occupation_group"] == label).mean())
        assert abs(observed - p) <= 4.5 * np.sqrt(p * (1 - p) / len(employed)) + 1e-3


def test_at_least_200_countries_with_ages_and_cities(
    sampler: DemographicSampler, age_table: pd.DataFrame
) -> None:
    countries = sampler.countries()
    assert len(countries) >= 200
    assert (countries["cities"] >= 1).all()
    assert (countries["population"] > 0).all()
    with_ages = set(age_table.loc[age_table["year"] == 2025, "iso3"]) - {"WLD"}
    assert set(countries["iso3"]) <= with_ages
    assert len(with_ages & set(countries["iso3"])) >= 200


def test_same_seed_same_draws() -> None:
    a = DemographicSampler(seed=42).sample(500)
    b = DemographicSampler(seed=42).sample(500)
    pd.testing.assert_frame_equal(a, b)
    s = DemographicSampler(names=False)
    pd.testing.assert_frame_equal(
        s.sample(300, seed=7, country="Kenya"), s.sample(300, seed=7, country="Kenya")
    )
    assert not s.sample(300, seed=7).equals(s.sample(300, seed=8))
    one = s.draw(np.random.default_rng(5), Cohort("ARG"))
    two = s.draw(np.random.default_rng(5), Cohort("ARG"))
    assert one == two


# --------------------------------------------------------------------------- errors
def test_unknown_country_lists_closest_matches(sampler: DemographicSampler) -> None:
    with pytest.raises(DemographicsError, match="Kenya"):
        sampler.sample(1, country="Kenia")
    with pytest.raises(DeepPersonaError, match="unknown country"):
        sampler.draw(np.random.default_rng(0), anchors={"country": "Atlantis"})


@pytest.mark.parametrize("age_range", [(-1, 30), (20, 111), (40, 30)])
def test_age_range_outside_0_110_raises(age_range: tuple[int, int]) -> None:
    with pytest.raises(DemographicsError, match="age_range"):
        Cohort(age_range=age_range)


def test_min_age_validation() -> None:
    with pytest.raises(ConfigError):
        DemographicSampler(min_age=120)
    with pytest.raises(DemographicsError):
        Cohort(min_age=-3)
    with pytest.raises(DemographicsError, match="min_age"):
        Cohort(min_age=50, age_range=(20, 30))


@pytest.mark.parametrize(
    "fields",
    [
        {"age_range": (0, 4), "occupation": "Registered Nurses"},
        {"age_range": (30, 40), "occupation": "retired"},
        {"country": "KEN", "region": "California"},
        {"country": "USA", "region": "Texas", "city": "Los Angeles"},
        {"country": "KEN", "occupation": "Chief Dragon Tamer"},
    ],
)
def test_contradictory_cohorts_raise(sampler: DemographicSampler, fields: dict) -> None:
    with pytest.raises(DemographicsError):
        sampler.sample(5, **fields)


def test_contradictory_anchor_raises(sampler: DemographicSampler) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(DemographicsError, match="contradicts"):
        sampler.draw(rng, Cohort(country="Kenya"), anchors={"country": "Germany"})
    with pytest.raises(DemographicsError, match="outside"):
        sampler.draw(rng, Cohort(age_range=(20, 30)), anchors={"age": 50})
    with pytest.raises(DemographicsError):
        sampler.draw(rng, Cohort(gender="female"), anchors={"gender": "male"})
    with pytest.raises(AnchorError):
        sampler.draw(rng, anchors={"age": "thirty"})
    with pytest.raises(DemographicsError):
        sampler.draw(rng, anchors={"age": 140})


def test_unknown_cohort_field_is_config_error(sampler: DemographicSampler) -> None:
    with pytest.raises(ConfigError, match="age_range"):
        Cohort(age_rnge=(1, 2))
    with pytest.raises(ConfigError):
        sampler.sample(3, hobby="chess")


def test_predicate_rejections_are_capped() -> None:
    s = DemographicSampler(names=False, max_attempts=20)
    with pytest.raises(DemographicsError, match="predicate"):
        s.sample(5, seed=1, predicate=lambda d: False)
    with pytest.raises(DemographicsError, match="predicate"):
        s.draw(np.random.default_rng(1), Cohort(predicate=lambda d: False))


def test_predicate_filters(sampler: DemographicSampler) -> None:
    df = sampler.sample(200, seed=3, country="IND", predicate=lambda d: d.age % 2 == 0)
    assert len(df) == 200
    assert (df["age"] % 2 == 0).all()


def test_bad_year_and_gender_shares() -> None:
    with pytest.raises(ConfigError, match="1950-2100"):
        DemographicSampler(year=1900).sample(1)
    with pytest.raises(ConfigError):
        DemographicSampler(gender_shares={"female": -1})
    with pytest.raises(ConfigError):
        DemographicSampler(gender_shares={"female": 0, "male": 0})


# --------------------------------------------------------------------------- names and aliases
@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("USA", "USA"), ("US", "USA"), ("United States", "USA"), ("america", "USA"),
        ("UK", "GBR"), ("United Kingdom", "GBR"), ("Great Britain", "GBR"), ("GB", "GBR"),
        ("Côte d'Ivoire", "CIV"), ("Cote d'Ivoire", "CIV"), ("cote divoire", "CIV"), ("Ivory Coast", "CIV"),
        ("CI", "CIV"), ("ke", "KEN"), ("Kenya", "KEN"), ("deu", "DEU"), ("Germany", "DEU"),
        ("Russia", "RUS"), ("South Korea", "KOR"), ("Türkiye", "TUR"), ("Turkey", "TUR"),
        ("DR Congo", "COD"), ("Namibia", "NAM"), ("NA", "NAM"),
    ],
)  # fmt: skip
def test_country_aliases(sampler: DemographicSampler, name: str, iso3: str) -> None:
    assert sampler.resolve_country(name) == iso3


def test_world_aliases(sampler: DemographicSampler) -> None:
    assert sampler.resolve_country(None) is None
    assert sampler.resolve_country("World") is None


# --------------------------------------------------------------------------- cities: outlier rule
def test_city_population_outliers_are_capped(cities_table: pd.DataFrame) -> None:
    countries = _read("countries.csv").set_index("iso3")
    cap = 0.5 * cities_table["iso3"].map(countries["population_2025"])
    assert (cities_table["weight"] <= cap + 1).all()
    assert ((cities_table["population"] > cities_table["weight"] + 1) == (cities_table["capped"] == 1)).all()
    hk = cities_table[(cities_table["iso3"] == "HKG") & (cities_table["city"] == "Hong Kong")].iloc[0]
    assert hk["capped"] == 1 and hk["weight"] < hk["population"]


def test_city_and_region_cohorts(sampler: DemographicSampler) -> None:
    df = sampler.sample(300, seed=4, country="Kenya", city="Nairobi")
    assert (df["city"] == "Nairobi").all() and (df["country_code"] == "KEN").all()
    df = sampler.sample(300, seed=4, country="USA", region="california")
    assert (df["region"] == "California").all()
    # a city without a country: the countries that have it
    df = sampler.sample(200, seed=4, city="Mombasa")
    assert set(df["country_code"]) == {"KEN"}
    with pytest.raises(DemographicsError, match="Nairobi"):
        sampler.sample(1, country="Kenya", city="Nairobbi")


# --------------------------------------------------------------------------- ages, genders, life stages
def test_minors_and_life_stages(sampler: DemographicSampler) -> None:
    df = sampler.sample(2000, seed=5, country="KEN", age_range=(0, 17))
    assert df["age"].between(0, 17).all()
    assert set(df["life_stage"]) == {"child", "school student"}
    assert (df.loc[df["age"] <= 5, "life_stage"] == "child").all()
    old = sampler.sample(2000, seed=5, country="DEU", min_age=65)
    assert old["age"].min() >= 65
    assert 0.8 <= (old["life_stage"] == "retired").mean() <= 0.9


def test_life_stage_rules_configurable() -> None:
    rules = LifeStageRules(retirement_age=60, retired_share=1.0)
    df = DemographicSampler(life_stages=rules, names=False).sample(1000, seed=1, country="JPN", min_age=60)
    assert (df["life_stage"] == "retired").all()
    with pytest.raises(ConfigError):
        DemographicSampler(life_stages={"child_max_age": 30, "school_max_age": 10})


def test_occupation_cohorts(sampler: DemographicSampler) -> None:
    df = sampler.sample(300, seed=6, country="USA", occupation="Registered Nurses")
    assert (df["occupation"] == "Registered Nurses").all() and (df["life_stage"] == "employed").all()
    df = sampler.sample(300, seed=6, country="KEN", occupation="Professionals")
    assert (df["occupation_group"] == "Professionals").all()
    df = sampler.sample(300, seed=6, country="ARG", occupation=["student", "retired"])
    assert set(df["life_stage"]) <= {"tertiary student", "retired"}
    assert df.loc[df["life_stage"] == "tertiary student", "age"].max() <= 24


def test_gender_shares_and_cohort() -> None:
    s = DemographicSampler(gender_shares={"female": 0.45, "male": 0.45, "nonbinary": 0.1}, names=False)
    df = s.sample(N, seed=1)
    share = df["gender"].value_counts(normalize=True)
    assert abs(share["non-binary"] - 0.1) < 0.01
    assert (s.sample(100, seed=1, gender="F")["gender"] == "female").all()
    with pytest.raises(DemographicsError, match="share 0"):
        DemographicSampler().sample(5, gender="non-binary")


# --------------------------------------------------------------------------- anchors
def test_anchors_fix_fields(sampler: DemographicSampler) -> None:
    rng = np.random.default_rng(3)
    d = sampler.draw(rng, anchors={"country": "Kenya", "age": 34, "occupation": "nurse", "hobby": "chess"})
    assert isinstance(d, Demographics)
    assert (d.country_code, d.age, d.occupation, d.life_stage) == ("KEN", 34, "nurse", "employed")
    assert d.occupation_group is None
    d = sampler.draw(rng, anchors={"country": "USA", "occupation": "Registered Nurses"})
    assert d.occupation_group == "Professionals" and d.life_stage == "employed" and d.age >= 18
    d = sampler.draw(
        rng, anchors={"country": "KEN", "city": "Smallville", "gender": "woman", "name": "Amina"}
    )
    assert (d.city, d.region, d.gender, d.name) == ("Smallville", None, "female", "Amina")
    d = sampler.draw(rng, anchors={"age": 12})  # minors via anchors despite min_age=18
    assert d.age == 12 and d.life_stage == "school student"
    d = sampler.draw(rng, anchors={"city": "Nairobi"})
    assert d.country_code == "KEN"


# --------------------------------------------------------------------------- user tables
def test_user_occupation_table_overrides(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "occupation": ["Boda boda rider", "Teacher", "Baker"],
            "weight": [3, 1, 0],
            "country": ["Kenya", "KEN", "DEU"],
        }
    )
    s = DemographicSampler(occupation_table=table, names=False)
    ken = s.sample(2000, seed=2, country="KEN")
    jobs = ken.loc[ken["life_stage"] == "employed", "occupation"]
    assert set(jobs) == {"Boda boda rider", "Teacher"}
    assert 0.7 < (jobs == "Boda boda rider").mean() < 0.8
    assert s.occupations("USA")["source"].iloc[0].startswith("BLS")  # not covered -> built-in
    path = tmp_path / "jobs.csv"
    pd.DataFrame({"title": ["Fisher"], "weight": [1.0]}).to_csv(path, index=False)
    everywhere = DemographicSampler(occupation_table=path, names=False).sample(500, seed=2, country="FJI")
    assert set(everywhere.loc[everywhere["life_stage"] == "employed", "occupation"]) == {"Fisher"}
    with pytest.raises(DataFileError, match="weight"):
        DemographicSampler(occupation_table=pd.DataFrame({"occupation": ["x"]})).sample(3, seed=1)
    with pytest.raises(DataFileError):
        DemographicSampler(occupation_table=tmp_path / "missing.csv").sample(3, seed=1)


# --------------------------------------------------------------------------- names, views
def test_names_from_country_locale() -> None:
    s = DemographicSampler(seed=1)
    ken = s.sample(20, country="KEN")
    assert ken["name"].map(lambda x: isinstance(x, str) and len(x) > 2).all()
    assert s.sample(5, country="TCD")["name"].isna().all()  # no Faker locale for Chad: no foreign name
    assert DemographicSampler(names=False).sample(5, seed=1)["name"].isna().all()


def _latin(text: str) -> bool:
    import unicodedata

    return all(not c.isalpha() or "LATIN" in unicodedata.name(c) for c in text)


def test_name_locale_rule() -> None:
    from deeppersona.demographics._names import NameMaker, has_own_names

    maker = NameMaker()
    assert maker.locale_for("IN") == "en_IN"
    assert maker.locale_for("IN", "Gujarat") == "en_IN"
    assert maker.locale_for("CA") == "en_CA" and maker.locale_for("CA", "Quebec") == "fr_CA"
    assert maker.locale_for("CH", "Neuchâtel") == "fr_CH" and maker.locale_for("CH", "Zurich") == "de_CH"
    assert maker.locale_for("CH", "Ticino") == "it_IT"
    assert maker.locale_for("EG") is None  # ar_EG would silently give US English names
    assert not has_own_names("ar_EG") and has_own_names("en_IN")
    s = DemographicSampler(seed=3)
    india = s.sample(300, country="IND")
    assert india["name"].map(lambda x: isinstance(x, str) and _latin(x)).all()
    assert s.sample(1, country="IND", region="Tamil Nadu")["name"].map(_latin).all()
    quebec = s.sample(50, country="CAN", region="Quebec")["name"]
    assert quebec.str.contains("[éèêç]").any()  # French names, not the en_US fallback
    assert s.sample(5, country="EGY")["name"].isna().all()


def test_plot_marginals_png(sampler: DemographicSampler, tmp_path: Path) -> None:
    fig = sampler.plot_marginals(n=2000, seed=1, country="KEN")
    out = tmp_path / "m.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_provenance_lists_sources(sampler: DemographicSampler) -> None:
    text = sampler.tables.provenance()
    for word in ("World Population Prospects 2022", "GeoNames", "OEWS", "O*NET", "pycountry", "licence"):
        assert word in text


def test_speed_vectorised(sampler: DemographicSampler) -> None:
    import time

    sampler.sample(10, seed=0)  # warm the tables and the plan
    start = time.perf_counter()
    sampler.sample(N, seed=0)
    assert time.perf_counter() - start < 5.0  # many thousands of draws per second even on a slow CI box


# --------------------------------------------------------------------------- property test
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    country=st.sampled_from(["KEN", "USA", "DEU", "IND", "ARG", "AUS", None]),
    lo=st.integers(0, 110),
    width=st.integers(0, 40),
    gender=st.sampled_from([None, "female", "male"]),
)
def test_samples_respect_cohort(
    sampler: DemographicSampler, country: str | None, lo: int, width: int, gender: str | None
) -> None:
    hi = min(110, lo + width)
    try:
        df = sampler.sample(50, seed=lo, country=country, age_range=(lo, hi), gender=gender)
    except DemographicsError:
        return  # e.g. no one aged 108-110 in a small table; a clear error is the contract
    assert df["age"].between(lo, hi).all()
    if gender:
        assert (df["gender"] == gender).all()
    if country:
        assert (df["country_code"] == country).all()


# -- issue 16, defect 8: drawn occupations name their source; anchored ones claim none ----------------


def test_drawn_occupations_carry_their_source(sampler: DemographicSampler) -> None:
    from deeppersona.demographics._occupations import SOURCE_FALLBACK, SOURCE_LIFE_STAGE, SOURCE_US

    ken = sampler.sample(2_000, seed=3, country="Kenya")
    employed = ken["life_stage"] == "employed"
    assert employed.any() and (~employed).any()
    assert (ken.loc[employed, "occupation_source"] == SOURCE_FALLBACK).all()
    assert (ken.loc[~employed, "occupation_source"] == SOURCE_LIFE_STAGE).all()
    # the label says plainly that this is the US mix plus the farming-share heuristic
    assert "US occupation mix" in SOURCE_FALLBACK and "farming-share heuristic" in SOURCE_FALLBACK
    assert "not this country's data" in SOURCE_FALLBACK
    usa = sampler.sample(500, seed=3, country="USA", occupation="employed")
    assert (usa["occupation_source"] == SOURCE_US).all()
    one = sampler.draw(np.random.default_rng(1), Cohort(country="Argentina", occupation="employed"))
    assert one.occupation_source == SOURCE_FALLBACK
    assert one.model_dump()["occupation_source"] == SOURCE_FALLBACK  # what the engine stores
    world = sampler.sample(300, seed=4)
    assert world["occupation_source"].notna().all()


def test_user_table_occupations_name_the_user_table() -> None:
    table = pd.DataFrame({"occupation": ["Teacher", "Baker"], "weight": [1, 2], "country": ["KEN", "KEN"]})
    s = DemographicSampler(occupation_table=table, names=False)
    d = s.draw(np.random.default_rng(0), Cohort(country="KEN", occupation="employed"))
    assert d.occupation in {"Teacher", "Baker"} and d.occupation_source == "user occupation table"


@pytest.mark.parametrize("occupation", ["nurse", "Registered Nurses", "retired"])
def test_anchored_occupation_claims_no_source(sampler: DemographicSampler, occupation: str) -> None:
    d = sampler.draw(np.random.default_rng(2), Cohort(country="Kenya"), anchors={"occupation": occupation})
    assert d.occupation_source is None
    df = sampler.sample(50, seed=2, country="Kenya", anchors={"occupation": occupation})
    assert df["occupation_source"].isna().all()


def test_generated_persona_demographics_carry_the_occupation_source() -> None:
    from deeppersona.demographics._occupations import SOURCE_FALLBACK
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = (
        PersonaEngine.from_taxonomy(model=FakeLLM(seed=1), embedder=HashEmbedder())
        .with_sampler(DemographicSampler(names=False))
        .cohort(country="Kenya")
        .with_seed(5)
    )
    drawn = engine.cohort(occupation="employed").generate(k=5)
    assert drawn.ok and drawn.demographics["occupation_source"] == SOURCE_FALLBACK
    anchored = engine.anchor(occupation="night-shift nurse").generate(k=5)
    assert anchored.demographics["occupation"] == "night-shift nurse"
    assert anchored.demographics.get("occupation_source") is None
