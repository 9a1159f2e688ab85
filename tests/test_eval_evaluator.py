"""The Evaluator end to end with FakeLLM: survey, Big Five, intrinsic, personalization; reports and Elo."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_eval_surveys import write_ipip, write_wvs  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.errors import ConfigError, EvaluationError
from deeppersona.evaluation import (
    CREATIVE_METRICS,
    PERSONALIZATION_REQUESTS,
    QUALITY_METRICS,
    Evaluator,
    elo_ratings,
    surveys,
    win_rates,
)
from deeppersona.testing import FakeLLM, FakeRequest, HashEmbedder

PERSONAS = [
    f"Persona {i}: a {20 + i % 50}-year-old {['farmer', 'teacher', 'nurse'][i % 3]} in Kisumu."
    for i in range(100)
]


@pytest.fixture
def wvs_file(tmp_path: Path) -> Path:
    return write_wvs(tmp_path / "wvs.csv", {"KEN": 400, "USA": 300})


def test_survey_end_to_end_100_personas(wvs_file: Path, tmp_path: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    personas = [
        {"narrative": t, "demographics": {"age": 30 + i % 40, "gender": "female", "country": "Kenya"}}
        for i, t in enumerate(PERSONAS)
    ]
    llm = FakeLLM(seed=3)
    report = Evaluator(llm, seed=0, n_boot=200).survey(personas, truth)
    assert report.methods == ["personas", "cultural_prompting", "shallow_persona"]
    table = report.to_pandas()
    assert len(table) == 3 * 7  # six items + average per method
    assert table.loc[("personas", "Q45"), "n_sim"] == 100
    for method in report.methods:
        row = table.loc[(method, "average")]
        assert row["ks_lo"] <= row["ks_hi"]
        assert 0 <= row["js_divergence"] <= math.log(2)
    assert len(llm.requests) >= 3 * 100 * 6
    systems = {r.messages[0]["content"] for r in llm.requests}
    assert "You are an average human being born in Kenya and living in Kenya" in " ".join(systems)
    assert any("30-year-old female" in s for s in systems)  # shallow persona from the personas' demographics
    md = report.to_markdown()
    assert "| personas | average |" in md and "cultural_prompting" in md and "shallow_persona" in md
    assert set(report.averages().index) == set(report.methods)
    report.plot_histograms(tmp_path / "plots" / "h.png")
    report.plot_metrics(tmp_path / "plots" / "m.png")
    assert (tmp_path / "plots" / "h.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "m.png").stat().st_size > 1000


def test_survey_is_reproducible_and_independent_of_concurrency(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    a = Evaluator(FakeLLM(seed=1), seed=5, n_boot=50, concurrency=1).survey(
        PERSONAS[:10], truth, baselines=False
    )
    b = Evaluator(FakeLLM(seed=1), seed=5, n_boot=50, concurrency=16).survey(
        PERSONAS[:10], truth, baselines=False
    )
    assert a.table.equals(b.table)


def test_survey_uses_full_samples_not_aligned_rows() -> None:
    # Identical distributions in a different row order must give zero distance.
    truth = surveys.WVS7.subset(["Q46"]).from_arrays({"Q46": [4, 3, 2, 1] * 5})
    cycle = iter([1, 2, 3, 4] * 5)
    llm = FakeLLM(handler=lambda req: {"answer": next(cycle)})
    report = Evaluator(llm, n_boot=0, concurrency=1).survey(["p"] * 20, truth, baselines=False)
    row = report.to_pandas().loc[("personas", "Q46")]
    assert row["ks"] == 0 and row["wasserstein"] == 0 and row["js_divergence"] == 0


def test_unparseable_answers_are_retried_then_missing(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")

    def handler(req: FakeRequest) -> object:
        question = req.messages[1]["content"]  # the survey question (re-asks append further messages)
        if "Persona 0" in req.messages[0]["content"] and "happy" in question:
            return "I would rather not say."
        if "Persona 1" in req.messages[0]["content"] and "happy" in question:
            return "My score number: 2"  # not JSON, but the code can be read from the text
        return None

    llm = FakeLLM(handler=handler)
    report = Evaluator(llm, n_boot=0, retries=1).survey(PERSONAS[:5], truth, baselines=False)
    answers = report.answers["personas"]
    assert answers.failures["Q46"] == 1 and answers.n_missing == 1
    assert np.isnan(answers.responses.loc[0, "Q46"])
    assert answers.responses.loc[1, "Q46"] == 2
    assert report.to_pandas().loc[("personas", "Q46"), "n_sim"] == 4
    assert "recorded as missing" in report.to_markdown()


def test_all_answers_missing_gives_nan_item(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    llm = FakeLLM(handler=lambda req: "no" if "abortion" in req.messages[1]["content"] else None)
    report = Evaluator(llm, n_boot=20, retries=0).survey(PERSONAS[:4], truth, baselines=False)
    table = report.to_pandas()
    assert math.isnan(table.loc[("personas", "Q184"), "ks"])
    assert not math.isnan(table.loc[("personas", "average"), "ks"])


def test_survey_errors(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    ev = Evaluator(FakeLLM(), n_boot=0)
    with pytest.raises(EvaluationError, match="empty"):
        ev.survey([], truth)
    with pytest.raises(EvaluationError, match="has no rows"):
        ev.survey(PERSONAS[:2], wvs_file, country="Atlantis")
    with pytest.raises(EvaluationError, match="unknown baselines"):
        ev.survey(PERSONAS[:2], truth, baselines=["nope"])
    with pytest.raises(ConfigError):
        Evaluator(FakeLLM(), repeats=0)
    # A path plus a country works too; without a country the baselines say why they were skipped.
    assert ev.survey(PERSONAS[:2], wvs_file, baselines=["cultural_prompting"], country="KEN").methods == [
        "personas",
        "cultural_prompting",
    ]
    with pytest.raises(EvaluationError, match="pass country="):
        ev.survey(PERSONAS[:2], wvs_file)
    with pytest.raises(EvaluationError, match="does not match the ground truth"):
        ev.survey(PERSONAS[:2], truth, country="JPN")
    assert ev.survey(PERSONAS[:2], truth, baselines=False, country="Kenya").methods == ["personas"]
    hist = surveys.WVS7.from_histograms({"Q45": {1: 5, 2: 5}})
    skipped = ev.survey(PERSONAS[:2], hist, baselines=["cultural_prompting"])
    assert "cultural_prompting" in skipped.skipped and skipped.methods == ["personas"]


def test_repeats_multiply_samples(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    report = Evaluator(FakeLLM(), n_boot=0, repeats=3).survey(PERSONAS[:4], truth, baselines=False)
    answers = report.answers["personas"]
    assert len(answers.responses) == 12
    assert list(answers.respondent) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_big_five(tmp_path: Path) -> None:
    path = write_ipip(tmp_path / "data-final.csv", {"KE": 150, "US": 50})
    truth = surveys.load_ipip(path, "KE")
    report = Evaluator(FakeLLM(seed=2), n_boot=50).big_five(
        PERSONAS[:6], truth, baselines=["cultural_prompting"]
    )
    assert [c.id for c in report.columns] == list(surveys.IPIP50.traits)
    assert report.items_report is not None and len(report.items_report.columns) == 50
    assert "extraversion" in report.to_markdown()
    assert report.to_pandas().loc[("personas", "openness"), "n_sim"] <= 6


def test_intrinsic_without_and_with_judge() -> None:
    persona_set = [
        {
            "narrative": "A nurse who loves hiking.",
            "attributes": {"Health > Sleep": "poor", "Hobbies > Sport": "hiking"},
        },
        {"narrative": "A teacher who paints.", "attributes": {"Hobbies > Art": "painting"}},
        {"narrative": "A teacher who paints."},
    ]
    ev = Evaluator(FakeLLM(seed=1), HashEmbedder())
    report = ev.intrinsic({"deep": persona_set, "plain": ["a person", "another person", "a third one"]})
    per_set = report.to_pandas()
    assert list(per_set.index) == ["deep", "plain"]
    for col in (
        "judge_attributes",
        "uniqueness",
        "actionability",
        "distinct_1",
        "mean_pairwise_similarity",
        "mean_nn_similarity",
    ):
        assert col in per_set.columns
    assert per_set.loc["deep", "uniqueness"] >= 1
    assert math.isnan(per_set.loc["plain", "attributes"]) and per_set.loc[
        "deep", "attributes"
    ] == pytest.approx(1.5)  # (2 + 1) / 2; no attributes = unknown
    assert "Intrinsic" in report.to_markdown()
    no_judge = Evaluator(FakeLLM(), HashEmbedder()).intrinsic(persona_set, judge=False)
    assert "uniqueness" not in no_judge.per_set.columns and "judge metrics" in no_judge.notes
    with pytest.raises(EvaluationError, match="empty"):
        ev.intrinsic({"a": []})


def test_intrinsic_helpers() -> None:
    from deeppersona.evaluation._intrinsic import count_leaves, distinct_n, embedding_similarity

    assert count_leaves({"a": {"b": 1, "c": [1, 2]}, "d": "", "e": None}) == 3
    assert distinct_n(["a b a b"], 1) == pytest.approx(0.5)
    assert distinct_n(["a b", "a b"], 2) == pytest.approx(0.5)
    pair, nn = embedding_similarity(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert pair == pytest.approx(1 / 3) and nn == pytest.approx((1 + 1 + 0) / 3)


def test_personalization_with_pairwise(tmp_path: Path) -> None:
    llm = FakeLLM(seed=4)
    sets = {"deep": PERSONAS[:3], "shallow": ["a person", "someone", "a human"]}
    reqs = [PERSONALIZATION_REQUESTS[0], PERSONALIZATION_REQUESTS[10]]
    report = Evaluator(llm, seed=1).personalization(sets, requests=reqs)
    summary = report.summary()
    assert list(summary.columns) == ["deep", "shallow"]
    assert list(summary.index)[:10] == list(QUALITY_METRICS) and summary.index[-1] == "mean"
    creative = report.scores[report.scores["creative"]]
    assert set(creative["metric"]) == set(CREATIVE_METRICS)
    assert report.scores["score"].between(1, 5).all()
    assert len(report.responses) == 2 * 3 * 2
    assert report.pairwise is not None and set(report.pairwise["set"]) == {"deep", "shallow"}
    assert (report.pairwise["wins"] + report.pairwise["losses"] == report.pairwise["battles"]).all()
    md = report.to_markdown()
    assert "Pairwise preferences" in md and "personalization_fit" in md
    report.plot_metrics(tmp_path / "p.png")
    assert (tmp_path / "p.png").exists()
    # Responder prompt follows the paper.
    assert any(r.last_user_message.startswith("User profile: Persona 0") for r in llm.requests)
    with pytest.raises(EvaluationError, match="empty"):
        Evaluator(llm).personalization({"a": []})
    # The paper's creative requests given as plain strings keep the five-metric rubric.
    plain = Evaluator(FakeLLM(seed=2)).personalization(
        {"deep": PERSONAS[:1]}, requests=[PERSONALIZATION_REQUESTS[11].text, "Plan my week."]
    )
    by_request = plain.scores.groupby("request")["metric"].nunique()
    assert by_request[1] == len(CREATIVE_METRICS) and by_request[2] == len(QUALITY_METRICS)
    assert bool(plain.scores[plain.scores["request"] == 1]["creative"].all())


def test_elo_and_win_rates() -> None:
    battles = (
        [("a", "b", "a")] * 30 + [("a", "b", "b")] * 10 + [("b", "c", "b")] * 20 + [("a", "c", "tie")] * 4
    )
    elo = elo_ratings(battles, seed=0)
    assert elo["a"] > elo["b"] > elo["c"]
    assert np.mean(list(elo.values())) == pytest.approx(1000.0)
    assert elo == elo_ratings(battles, seed=0)
    rates = win_rates(battles)
    assert rates["a"]["wins"] == 30 and rates["a"]["battles"] == 40 and rates["a"]["ties"] == 4
    assert rates["c"]["win_rate"] == 0.0
    even = elo_ratings([("x", "y", "x"), ("x", "y", "y")] * 20, seed=1)
    assert even["x"] == pytest.approx(even["y"], abs=5)
    with pytest.raises(EvaluationError):
        elo_ratings([("a", "a", "a")])
    with pytest.raises(EvaluationError):
        elo_ratings([])
