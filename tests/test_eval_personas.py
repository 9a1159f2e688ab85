"""The evaluator on REAL personas: Persona objects from PersonaEngine (FakeLLM + HashEmbedder) and their JSONL."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_eval_surveys import write_wvs  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine
from deeppersona.errors import DataFileError, EvaluationError
from deeppersona.evaluation import PERSONALIZATION_REQUESTS, Evaluator, load_personas, surveys
from deeppersona.evaluation._intrinsic import distinct_n, embedding_similarity
from deeppersona.evaluation._personas import persona_views
from deeppersona.persona import Persona, Population
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder


def _engine() -> PersonaEngine:
    return (
        PersonaEngine.from_taxonomy("default").with_llm(FakeLLM()).with_embedder(HashEmbedder()).with_seed(1)
    )


@pytest.fixture(scope="module")
def population() -> Population:
    return _engine().generate(k=30, n=8)


@pytest.fixture(scope="module")
def kenyans() -> Population:
    return _engine().cohort(country="Kenya").generate(k=30, n=8)


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


def _words(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_words(v) for v in value)
    if isinstance(value, Mapping):
        return " ".join(_words(v) for v in value.values())
    return "" if value is None else str(value)


# --- normalising personas -------------------------------------------------------------------------------
def test_views_use_the_persona_api(population: Population) -> None:
    views = persona_views(population)
    assert len(views) == len(population) == 8
    for view, p in zip(views, population, strict=True):
        assert view.source is p
        assert view.text == p.to_prompt()
        assert json.loads(view.profile) == p.to_nested()
        assert view.attributes == p.values() and len(view.attributes) == 30
        assert view.paths == [a.path for a in p.attributes.values()]
        assert view.demographics["country"] == p.demographics["country"]
        assert view.demographics["age"] == p.demographics["age"]
        assert not any(hasattr(v, "stratum") for v in view.attributes.values())  # plain values


def test_serialised_personas_are_rebuilt(population: Population) -> None:
    views = persona_views([p.to_dict() for p in population])
    for view, p in zip(views, population, strict=True):
        assert isinstance(view.source, Persona) and view.source == p
        assert view.text == p.to_prompt() and view.attributes == p.values()
    broken = population[0].to_dict()
    broken["attributes"] = {"A > B": {"value": 1, "stratum": "sideways"}}
    with pytest.raises(EvaluationError, match="does not validate"):
        persona_views([broken])


def test_failed_and_single_personas(population: Population, caplog: pytest.LogCaptureFixture) -> None:
    failed = population[0].model_copy(update={"status": "failed", "failure": "LLM down", "id": "x"})
    with caplog.at_level(logging.WARNING, logger="deeppersona.evaluation"):
        views = persona_views([*population, failed])
    assert len(views) == 8 and "leaving out 1 persona" in caplog.text and "LLM down" in caplog.text
    with pytest.raises(EvaluationError, match="empty"):
        persona_views([failed])
    with pytest.raises(EvaluationError, match="single Persona"):
        persona_views(population[0])  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="single dict"):
        Evaluator(FakeLLM()).intrinsic(population[0].to_dict(), judge=False, similarity=False)


def test_load_personas_from_population_jsonl(
    population: Population, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = population.to_jsonl(tmp_path / "people.jsonl")
    full = path.read_text(encoding="utf-8")
    path.write_text(full + population[0].to_json()[:50], encoding="utf-8")  # an interrupted write
    with caplog.at_level(logging.WARNING, logger="deeppersona.evaluation"):
        items = load_personas(path)
    assert len(items) == 8 and "truncated last line" in caplog.text
    assert [v.source for v in persona_views(path)] == list(population)
    lines = full.splitlines()
    path.write_text("\n".join([lines[0], lines[1][:40], *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=":2: broken JSON"):
        load_personas(path)


# --- survey ----------------------------------------------------------------------------------------------
def test_survey_on_engine_personas(kenyans: Population, tmp_path: Path) -> None:
    truth = surveys.load_wvs7(write_wvs(tmp_path / "wvs.csv", {"KEN": 200}), "KEN")
    llm = FakeLLM(seed=3)
    report = Evaluator(llm, n_boot=20).survey(kenyans, truth, name="deep")
    assert report.methods == ["deep", "cultural_prompting", "shallow_persona"]
    table = report.to_pandas()
    assert table.loc[("deep", "Q46"), "n_sim"] + report.answers["deep"].failures["Q46"] == 8
    systems = {r.messages[0]["content"] for r in llm.requests}
    assert {p.to_prompt() for p in kenyans} <= systems  # each persona answers with its own prompt
    for p in kenyans:  # the shallow baseline is built from the personas' own demographics
        assert any(f"{p.demographics['age']}-year-old {p.demographics['gender']}" in s for s in systems)
    assert all("Kenya" in p.demographics["country"] for p in kenyans)


def test_survey_warns_about_personas_from_other_countries(
    population: Population, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    truth = surveys.load_wvs7(write_wvs(tmp_path / "wvs.csv", {"KEN": 50}), "KEN")
    outside = sum(p.demographics["country_code"] != "KEN" for p in population)
    assert outside > 0
    with caplog.at_level(logging.WARNING, logger="deeppersona.evaluation"):
        Evaluator(FakeLLM(), n_boot=0).survey(population, truth, baselines=False)
    assert f"{outside} of 8 personas live outside KEN" in caplog.text


# --- intrinsic -------------------------------------------------------------------------------------------
def test_intrinsic_on_engine_personas(population: Population, tree: AttributeTree) -> None:
    llm = FakeLLM(seed=5)
    report = Evaluator(llm, HashEmbedder(), seed=0).intrinsic(
        {"deep": population, "plain": ["a teacher in Nairobi", "a nurse", "a farmer"]}, taxonomy=tree
    )
    row = report.to_pandas().loc["deep"]
    stats = population.stats(tree)

    # attributes per persona: what the engine produced (k = 30 each)
    assert row["attributes"] == stats.attributes_per_persona["mean"] == 30

    # taxonomy coverage, computed here from the tree and the personas' attribute paths
    selectable = {leaf.key for leaf in tree.leaves() if not any(n.core for n in leaf.node_path)}
    reached = {tree.get(a.path).key for p in population for a in p.attributes.values()} & selectable
    assert row["taxonomy_coverage"] == pytest.approx(len(reached) / len(selectable))
    assert 0 < row["taxonomy_coverage"] < 0.5
    reached_roots = sum(share > 0 for share in stats.root_coverage.values())
    assert row["category_coverage"] == pytest.approx(reached_roots / len(tree.roots))

    # distinct-n over the same text for every persona set: the profile (Figure 7 JSON for a Persona)
    texts = [json.dumps(p.to_nested(), ensure_ascii=False) for p in population]
    for n in (1, 2, 3):
        assert row[f"distinct_{n}"] == pytest.approx(distinct_n(texts, n))

    # embedding similarity of the profiles (Figure 7 JSON)
    vecs = HashEmbedder().encode([json.dumps(p.to_nested(), ensure_ascii=False) for p in population])
    pair, nn = embedding_similarity(vecs)
    assert row["mean_pairwise_similarity"] == pytest.approx(pair)
    assert row["mean_nn_similarity"] == pytest.approx(nn)

    # demographic marginals against DemographicSampler tables (same seed and size as the evaluator)
    assert report.marginals is not None
    gender = report.marginals[(report.marginals["set"] == "deep") & (report.marginals["field"] == "gender")]
    observed = Counter(p.demographics["gender"] for p in population)
    ref = DemographicSampler(seed=0).sample(2000, seed=0)["gender"].value_counts(normalize=True)
    for _, r in gender.iterrows():
        assert r["observed"] == pytest.approx(observed.get(r["category"], 0) / 8)
        assert r["expected"] == pytest.approx(ref.get(r["category"], 0.0))
    assert row["tv_gender"] == pytest.approx(
        0.5 * float(np.abs(gender["observed"] - gender["expected"]).sum())
    )
    assert {"tv_age_band", "tv_occupation_group", "tv_country"} <= set(row.index)

    # judges see the profile, not the role-play prompt
    judged = [r.last_user_message for r in llm.requests]
    assert any(json.dumps(population[0].to_nested(), ensure_ascii=False) in m for m in judged)
    assert not any("Stay in character" in m for m in judged)
    assert math.isnan(report.to_pandas().loc["plain", "attributes"])


def test_intrinsic_sees_a_duplicated_population(population: Population) -> None:
    ev = Evaluator(FakeLLM(), HashEmbedder())
    clones = ev.intrinsic([population[0]] * 4, judge=False).to_pandas().loc["personas"]
    varied = ev.intrinsic(population[:4], judge=False).to_pandas().loc["personas"]
    assert clones["mean_pairwise_similarity"] == pytest.approx(1.0)
    assert varied["mean_pairwise_similarity"] < 0.99
    assert clones["distinct_2"] < varied["distinct_2"]


# --- personalization -------------------------------------------------------------------------------------
def test_personalization_on_engine_personas(population: Population) -> None:
    llm = FakeLLM(seed=7)
    report = Evaluator(llm, seed=1).personalization(
        {"deep": population, "plain": ["a teacher in Nairobi", "a nurse", "a farmer"]},
        requests=[PERSONALIZATION_REQUESTS[0], PERSONALIZATION_REQUESTS[10]],
        max_personas=3,
    )
    assert list(report.summary().columns) == ["deep", "plain"]
    assert report.pairwise is not None and set(report.pairwise["set"]) == {"deep", "plain"}
    profiles = [
        r.last_user_message for r in llm.requests if r.last_user_message.startswith("User profile: {")
    ]
    assert len(profiles) == 3 * 2  # three deep personas, two requests, each a JSON profile
    jsons = [json.dumps(p.to_nested(), ensure_ascii=False) for p in population]
    assert all(any(m.startswith(f"User profile: {j}; user request:") for j in jsons) for m in profiles)
    assert not any("Stay in character" in r.prompt for r in llm.requests)
