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
from deeppersona.evaluation._compare import REPLICATES, compare_tables
from deeppersona.evaluation._intrinsic import distinct_n
from deeppersona.evaluation._personas import persona_views
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
    a = Evaluator(FakeLLM(seed=1, max_concurrency=1), seed=5, n_boot=50).survey(
        PERSONAS[:10], truth, baselines=False
    )
    b = Evaluator(FakeLLM(seed=1, max_concurrency=16), seed=5, n_boot=50).survey(
        PERSONAS[:10], truth, baselines=False
    )
    assert a.table.equals(b.table)


def test_survey_uses_full_samples_not_aligned_rows() -> None:
    # Identical distributions in a different row order must give zero distance.
    truth = surveys.WVS7.subset(["Q46"]).from_arrays({"Q46": [4, 3, 2, 1] * 5})
    cycle = iter([1, 2, 3, 4] * 5)
    llm = FakeLLM(handler=lambda req: {"answer": next(cycle)}, max_concurrency=1)
    report = Evaluator(llm, n_boot=0).survey(["p"] * 20, truth, baselines=False)
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


# --- Issue 16: Likert text fallback, item warnings, cluster bootstrap, distinct-n ------------------------


def test_text_replies_are_read_as_likert_and_unreadable_ones_counted(tmp_path: Path) -> None:
    truth = surveys.load_ipip(write_ipip(tmp_path / "data-final.csv", {"KE": 60}), "KE")
    replies = {"EXT1": "Neither agree nor disagree", "EXT2": "somewhat agree", "EXT3": "I agree and disagree"}

    def handler(req: FakeRequest) -> object:
        for item_id, reply in replies.items():
            if surveys.IPIP50.item(item_id).prompt == req.messages[1]["content"]:
                return reply  # not JSON: read as text
        return None

    report = Evaluator(FakeLLM(handler=handler), n_boot=0, retries=1).big_five(
        PERSONAS[:3], truth, baselines=False
    )
    answers = report.answers["personas"]
    assert (answers.responses["EXT1"] == 3).all() and (answers.responses["EXT2"] == 4).all()
    assert answers.responses["EXT3"].isna().all()
    assert answers.unparsed["EXT3"] == 3 * 2 and answers.n_unparsed == 6  # each attempt counted
    assert answers.failures["EXT3"] == 3
    md = report.to_markdown()
    assert "could not be read as one answer code" in md and "personas: 6" in md


def test_q57_is_reported_with_a_warning_and_left_out_of_the_average(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    report = Evaluator(FakeLLM(seed=3), seed=0, n_boot=100).survey(PERSONAS[:30], truth, baselines=False)
    assert report.excluded.keys() == {"Q57"}
    assert "Q57" not in report.averaged_items and len(report.averaged_items) == 5
    table = report.to_pandas()
    others = ["Q45", "Q46", "Q184", "Q218", "Q254"]
    for metric in ("ks", "js_divergence", "wasserstein_norm"):
        mean = float(np.mean([table.loc[("personas", i), metric] for i in others]))
        assert table.loc[("personas", "average"), metric] == pytest.approx(mean)
        assert not math.isnan(table.loc[("personas", "Q57"), metric])  # still compared, on its own row
        row = table.loc[("personas", "average")]
        assert row[f"{metric}_lo"] <= row[f"{metric}_hi"]
    assert REPLICATES not in report.table.columns
    assert any(w.startswith("Q57: ") for w in report.warnings)
    md = report.to_markdown()
    assert (
        "**Warnings**" in md and "| personas | Q57 (not averaged) |" in md and "left out of the average" in md
    )
    assert "Q57" in repr(report) and "left out of the average" in repr(report)


def test_q57_can_be_recoded_onto_the_real_scale(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN")
    seen: list[int] = []

    def handler(req: FakeRequest) -> object:
        if "trusted" in req.messages[1]["content"]:
            seen.append(len(seen) % 4 + 1)
            return {"answer": seen[-1]}  # the four options of the prompt, in turn
        return None

    report = Evaluator(FakeLLM(handler=handler), n_boot=50, scale_mismatch="recode").survey(
        PERSONAS[:8], truth, baselines=False
    )
    assert report.excluded == {} and "Q57" in report.averaged_items
    assert report.instrument.item("Q57").codes == (1, 2)
    assert sorted(report.answers["personas"].responses["Q57"]) == [1, 1, 1, 1, 2, 2, 2, 2]
    q57 = next(c for c in report.columns if c.id == "Q57")
    assert list(q57.support) == [1.0, 2.0] and q57.scale == (1.0, 2.0)
    table = report.to_pandas()
    assert table.loc[("personas", "average"), "ks"] == pytest.approx(
        table.xs("personas").drop(index="average")["ks"].mean()
    )
    assert any("recoded onto the real data's codes [1, 2]" in w for w in report.warnings)
    with pytest.raises(ConfigError, match="scale_mismatch"):
        Evaluator(FakeLLM(), scale_mismatch="drop")  # type: ignore[arg-type]


def test_repeats_are_resampled_by_respondent(wvs_file: Path) -> None:
    truth = surveys.load_wvs7(wvs_file, "KEN").recoded()

    def handler(req: FakeRequest) -> object:  # every persona gives the same answer on every repeat
        persona = int(req.messages[0]["content"].split()[1].rstrip(":"))
        return {"answer": persona % 2 + 1}

    ev = Evaluator(FakeLLM(handler=handler), n_boot=300, repeats=4)
    report = ev.survey(PERSONAS[:20], truth, baselines=False)
    responses = report.answers["personas"].responses
    assert responses.index.name == "respondent" and list(responses.index[:5]) == [0, 0, 0, 0, 1]
    cols = report.columns
    as_rows = compare_tables(
        responses.reset_index(drop=True),  # what the bootstrap did before: rows as respondents
        cols,
        real=truth.responses,
        n_boot=300,
        rng=np.random.default_rng(0),
    ).set_index("item")
    clustered = report.to_pandas().xs("personas")
    # 20 personas x 4 identical repeats carry the information of 20 answers, not 80: about sqrt(4) wider.
    for item in ("Q45", "average"):
        width = clustered.loc[item, "mean_diff_hi"] - clustered.loc[item, "mean_diff_lo"]
        assert width > 1.5 * (as_rows.loc[item, "mean_diff_hi"] - as_rows.loc[item, "mean_diff_lo"]), item


def test_distinct_n_reads_the_same_text_for_every_set() -> None:
    texts = ["A nurse who loves hiking in the hills.", "A teacher who paints on weekends.", "A farmer."]
    with_attributes = [
        {"narrative": texts[0], "attributes": {"Health > Sleep": "poor", "Hobbies > Sport": "hiking"}},
        {"narrative": texts[1], "attributes": {"Hobbies > Art": "painting"}},
        {"narrative": texts[2], "attributes": {"Work > Crop": "maize"}},
    ]
    report = Evaluator(FakeLLM(), HashEmbedder()).intrinsic(
        {"deep": with_attributes, "plain": texts}, judge=False, similarity=False
    )
    per_set = report.to_pandas()
    for n in (1, 2, 3):
        assert per_set.loc["deep", f"distinct_{n}"] == per_set.loc["plain", f"distinct_{n}"]
        assert per_set.loc["deep", f"distinct_{n}"] == pytest.approx(distinct_n(texts, n))


def test_distinct_n_of_personas_reads_their_profiles() -> None:
    from deeppersona.engine import PersonaEngine

    engine = PersonaEngine.from_taxonomy("default").with_llm(FakeLLM()).with_embedder(HashEmbedder())
    people = list(engine.with_seed(3).generate(k=12, n=3))
    report = Evaluator(FakeLLM(), HashEmbedder()).intrinsic(people, judge=False, similarity=False)
    profiles = [v.profile for v in persona_views(people)]
    assert report.per_set.loc["personas", "distinct_2"] == pytest.approx(distinct_n(profiles, 2))
