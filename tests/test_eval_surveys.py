"""Survey instruments as data, answer parsing and the ground-truth loaders (synthetic files only)."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from deeppersona.errors import ConfigError, DataFileError, DataFileNotFoundError, EvaluationError
from deeppersona.evaluation import GroundTruth, load_personas, surveys
from deeppersona.evaluation._personas import persona_views
from deeppersona.evaluation._surveys import AnswerReading, read_likert


def write_wvs(path: Path, countries: dict[str, int], seed: int = 0, sep: str = ",") -> Path:
    """A synthetic file in the WVS-7 CSV layout (extra columns, negative missing codes)."""
    rng = np.random.default_rng(seed)
    frames = []
    for country, n in countries.items():
        d: dict[str, object] = {
            "A_WAVE": [7] * n,
            "B_COUNTRY_ALPHA": [country] * n,
            "Q1": rng.integers(1, 5, n),
        }
        for it in surveys.WVS7:
            vals = rng.choice(list(it.codes), size=n)
            vals[rng.random(n) < 0.1] = rng.choice([-1, -2, -4, -5])
            d[it.id] = vals
        frames.append(pd.DataFrame(d))
    pd.concat(frames).to_csv(path, index=False, sep=sep)
    return path


def write_ipip(path: Path, countries: dict[str, int], seed: int = 0) -> Path:
    """A synthetic file in the IPIP-FFM data-final.csv layout (tab-separated, 0 = unanswered)."""
    rng = np.random.default_rng(seed)
    frames = []
    for country, n in countries.items():
        d: dict[str, object] = {it.id: rng.integers(1, 6, n) for it in surveys.IPIP50}
        d["EXT1"] = np.where(rng.random(n) < 0.05, 0, d["EXT1"])  # type: ignore[call-overload]
        d.update(
            {"EXT1_E": rng.integers(500, 9000, n), "IPC": 1, "country": country, "lat_appx_lots_of_err": 0.0}
        )
        frames.append(pd.DataFrame(d))
    pd.concat(frames).to_csv(path, index=False, sep="\t")
    return path


def test_packaged_instruments() -> None:
    wvs = surveys.WVS7
    assert wvs.ids == ["Q45", "Q46", "Q57", "Q184", "Q218", "Q254"]
    assert wvs.item("q184").scale == (1, 10)
    assert wvs.item("Q45").prompt.startswith("Question: If greater respect for authority")
    assert "Your answer:" in wvs.item("Q45").prompt
    ipip = surveys.IPIP50
    assert len(ipip) == 50 and ipip is surveys.BIG_FIVE
    assert set(ipip.traits) == {
        "extraversion",
        "emotional_stability",
        "agreeableness",
        "conscientiousness",
        "openness",
    }
    assert {it.trait for it in ipip} == set(ipip.traits)
    assert all(len(ipip.trait_items(t)) == 10 for t in ipip.traits)
    assert (
        ipip.item("EXT2").keyed == "-" and ipip.item("EST2").keyed == "+" and ipip.item("EST1").keyed == "-"
    )
    with pytest.raises(EvaluationError, match="no item"):
        wvs.item("Q999")
    with pytest.raises(AttributeError):
        _ = surveys.NOPE


def test_answer_parsing() -> None:
    item = surveys.WVS7.item("Q46")
    assert item.parse("2") == 2
    assert item.parse(" My score number: 3.") == 3
    assert item.parse({"answer": 4}) == 4
    assert item.parse(1) == 1
    assert item.parse("Not very happy") == 3
    assert item.parse("very happy") == 1
    assert item.parse("7") is None  # not a valid code
    assert item.parse("1 or 2") is None  # ambiguous
    assert item.parse("no idea") is None
    assert item.parse(None) is None and item.parse(True) is None
    assert surveys.WVS7.item("Q184").parse("10") == 10


def test_answer_model_is_an_enum_of_codes() -> None:
    model = surveys.WVS7.item("Q218").answer_model()
    assert model(answer=2).answer == 2  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        model(answer=4)
    schema = model.model_json_schema()
    assert schema["properties"]["answer"]["enum"] == [1, 2, 3]
    hint = typing.get_type_hints(model)["answer"]
    assert typing.get_args(hint) == (1, 2, 3)


def test_keyed_scoring_and_trait_scores() -> None:
    ipip = surveys.IPIP50
    assert ipip.item("EXT2").score(5) == 1 and ipip.item("EXT1").score(5) == 5
    responses = pd.DataFrame({it.id: [5.0, 1.0] for it in ipip})
    traits = ipip.trait_scores(responses)
    # Half the extraversion items are reverse-keyed: all-5 answers average to 3.
    assert traits.loc[0, "extraversion"] == pytest.approx(3.0)
    responses.loc[1, "AGR1"] = np.nan
    assert np.isnan(ipip.trait_scores(responses).loc[1, "agreeableness"])
    assert ipip.trait_support("openness")[0] == 1.0 and ipip.trait_support("openness")[-1] == 5.0


def test_load_wvs7(tmp_path: Path) -> None:
    path = write_wvs(tmp_path / "wvs.csv", {"KEN": 300, "USA": 200})
    by_code = surveys.load_wvs7(path, "KEN")
    by_name = surveys.WVS7.load(path, country="Kenya")
    by_iso2 = surveys.load_wvs7(path, "ke")
    assert by_code.n == by_name.n == by_iso2.n
    assert by_code.country_name == "Kenya"
    assert by_code.responses is not None and len(by_code.responses) == 300
    assert by_code.responses.min().min() >= 1  # negative codes are missing, not answers
    assert 240 <= by_code.n["Q45"] < 300
    assert sum(by_code.histogram("Q46").values()) == by_code.n["Q46"]
    everyone = surveys.WVS7.load(path)
    assert everyone.responses is not None and len(everyone.responses) == 500


def test_load_wvs7_semicolon_and_invalid_codes(tmp_path: Path) -> None:
    path = tmp_path / "wvs.csv"
    frame = pd.DataFrame({"B_COUNTRY_ALPHA": ["DEU"] * 4, **{it.id: [1, 2, 1, 2] for it in surveys.WVS7}})
    frame.loc[0, "Q254"] = 5  # "I am not [nationality]": not a valid answer here
    frame.to_csv(path, sep=";", index=False)
    truth = surveys.load_wvs7(path, "DEU")
    assert truth.n["Q254"] == 3 and truth.invalid["Q254"] == 1


def test_loader_errors(tmp_path: Path) -> None:
    path = write_wvs(tmp_path / "wvs.csv", {"KEN": 20})
    with pytest.raises(EvaluationError, match=r"country 'JPN' has no rows.*KEN"):
        surveys.load_wvs7(path, "JPN")
    with pytest.raises(DataFileNotFoundError):
        surveys.load_wvs7(tmp_path / "missing.csv", "KEN")
    pd.DataFrame({"B_COUNTRY_ALPHA": ["KEN"], "Q45": [1]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataFileError, match="lacks the item columns"):
        surveys.load_wvs7(tmp_path / "short.csv", "KEN")


def test_load_ipip(tmp_path: Path) -> None:
    path = write_ipip(tmp_path / "data-final.csv", {"KE": 120, "US": 80})
    truth = surveys.load_ipip(path, "KEN")  # ISO-3 matched against the file's ISO-2 codes
    assert truth.responses is not None and len(truth.responses) == 120
    assert truth.n["EXT1"] < 120  # zeros are unanswered
    traits = truth.trait_scores()
    assert list(traits.columns) == list(surveys.IPIP50.traits)
    assert traits["openness"].between(1, 5).all()


def test_arrays_and_histograms() -> None:
    arr = surveys.WVS7.from_arrays({"Q46": [1, 2, 2, np.nan, 9], "Q45": [1, 3]}, country="KEN")
    assert arr.instrument.ids == ["Q46", "Q45"]
    assert arr.n == {"Q46": 3, "Q45": 2} and arr.invalid["Q46"] == 1
    hist = surveys.WVS7.from_histograms({"Q46": {1: 10, 2: 30, "3": 5}})
    assert hist.responses is None and hist.n["Q46"] == 45
    assert list(hist.samples("Q46")) == [1.0] * 10 + [2.0] * 30 + [3.0] * 5
    with pytest.raises(EvaluationError, match="outside the valid codes"):
        surveys.WVS7.from_histograms({"Q46": {7: 3}})
    with pytest.raises(EvaluationError, match="histograms only"):
        hist.trait_scores()
    assert isinstance(hist, GroundTruth)


def test_persona_inputs(tmp_path: Path) -> None:
    class Obj:
        demographics: typing.ClassVar[dict[str, object]] = {"age": 30, "country": "Kenya"}

        def to_prompt(self) -> str:
            return "I am an object persona."

    views = persona_views(
        [
            "A teacher in Lagos.",
            {"narrative": "A nurse.", "demographics": {"age": 40, "gender": "female"}},
            {"age": 20, "occupation": "student"},
            Obj(),
        ]
    )
    assert views[0].text == "A teacher in Lagos."
    assert views[1].text == "A nurse." and views[1].demographics["age"] == 40
    assert "occupation: student" in views[2].text and views[2].demographics["occupation"] == "student"
    assert views[3].text == "I am an object persona." and views[3].demographics["country"] == "Kenya"
    with pytest.raises(EvaluationError, match="empty"):
        persona_views([])
    with pytest.raises(EvaluationError, match="empty"):
        persona_views(["   "])
    with pytest.raises(EvaluationError, match="cannot read a persona"):
        persona_views([3.5])
    f = tmp_path / "p.jsonl"
    f.write_text('{"narrative": "One."}\n\nplain text persona\n"a JSON string"\n', encoding="utf-8")
    assert [v.text for v in persona_views(load_personas(f))] == [
        "One.",
        "plain text persona",
        "a JSON string",
    ]
    assert len(persona_views(f)) == 3


# --- Likert text fallback (issue 16, item 3) ------------------------------------------------------------

IPIP_PHRASINGS: list[tuple[str, int]] = [
    ("Neither agree nor disagree", 3),
    ("I neither agree nor disagree with this statement.", 3),
    ("neither disagree nor agree", 3),
    ("Neutral", 3),
    ("neither", 3),
    ("somewhat agree", 4),
    ("Somewhat disagree", 2),
    ("slightly agree", 4),
    ("moderately disagree", 2),
    ("I tend to agree", 4),
    ("Mostly agree", 4),
    ("I agree somewhat.", 4),
    ("Disagree a little", 2),
    ("Agree", 5),
    ("I agree.", 5),
    ("strongly agree", 5),
    ("Agree strongly", 5),
    ("I completely agree", 5),
    ("Very much agree", 5),
    ("Disagree", 1),
    ("Strongly disagree", 1),
    ("Totally disagree!", 1),
    ("I don't agree", 1),
    ("I do not agree at all", 1),
    ("I don’t agree at all", 1),
    ("4 (somewhat agree)", 4),
    ("My answer: 2.", 2),
    ("On a scale from 1 to 5, I'd say 4", 4),
    ("4 out of 5", 4),
    ("4/5", 4),
    ("Three.", 3),
    ('{"answer": "Somewhat agree"}', 4),
]


@pytest.mark.parametrize(("text", "code"), IPIP_PHRASINGS)
def test_likert_text_on_the_ipip_scale(text: str, code: int) -> None:
    """IPIP items: 1 = Disagree, 3 = Neutral, 5 = Agree; 2 and 4 are the unlabelled 'somewhat' rungs."""
    for item_id in ("EXT1", "EXT2", "OPN10"):  # reverse keying changes the score, never the code read
        assert surveys.IPIP50.item(item_id).parse(text) == code, (item_id, text)


WVS_PHRASINGS: list[tuple[str, str, int]] = [
    ("Q45", "It would be a good thing", 1),
    ("Q45", "I don't mind", 2),
    ("Q45", "I do not really mind.", 2),
    ("Q45", "Neither a good thing nor a bad thing", 2),
    ("Q45", "A bad thing.", 3),
    ("Q46", "Very happy", 1),
    ("Q46", "very happy", 1),
    ("Q46", "Extremely happy", 1),
    ("Q46", "Quite happy", 2),
    ("Q46", "I am fairly happy", 2),
    ("Q46", "Rather happy", 2),
    ("Q46", "Not very happy", 3),
    ("Q46", "I'm not very happy.", 3),
    ("Q46", "Not at all happy", 4),
    ("Q46", "I'm not happy at all", 4),
    ("Q57", "Most people can be trusted", 1),
    ("Q57", "Most people can be trusted, but it is wise to be careful", 2),
    ("Q57", "You usually need to be careful in dealing with people", 3),
    ("Q57", "You almost always need to be very careful in dealing with people.", 4),
    ("Q57", "(4)", 4),
    ("Q184", "Never justifiable", 1),
    ("Q184", "It is always justifiable", 10),
    ("Q184", "I'd say 7 on a scale of 1 to 10", 7),
    ("Q184", "10 means always justifiable, so 10", 10),
    ("Q218", "Have done", 1),
    ("Q218", "I might do it", 2),
    ("Q218", "I would never do that", 3),
    ("Q254", "Very proud", 1),
    ("Q254", "quite proud", 2),
    ("Q254", "I'm not very proud", 3),
    ("Q254", "not proud at all", 4),
]


@pytest.mark.parametrize(("item_id", "text", "code"), WVS_PHRASINGS)
def test_likert_text_on_the_wvs_scales(item_id: str, text: str, code: int) -> None:
    assert surveys.WVS7.item(item_id).parse(text) == code


IMPORTANCE = {1: "Very important", 2: "Rather important", 3: "Not very important", 4: "Not at all important"}
SEVEN_POINT = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Somewhat disagree",
    4: "Neither agree nor disagree",
    5: "Somewhat agree",
    6: "Agree",
    7: "Strongly agree",
}


@pytest.mark.parametrize(
    ("labels", "text", "code"),
    [
        (IMPORTANCE, "not important at all", 4),
        (IMPORTANCE, "Not at all important", 4),
        (IMPORTANCE, "not very important", 3),
        (IMPORTANCE, "somewhat important", 2),
        (IMPORTANCE, "extremely important", 1),
        (SEVEN_POINT, "slightly agree", 5),
        (SEVEN_POINT, "agree", 6),
        (SEVEN_POINT, "totally agree", 7),
        (SEVEN_POINT, "Neither agree nor disagree", 4),
        (SEVEN_POINT, "neutral", 4),
        (SEVEN_POINT, "I don't agree", 2),
        (SEVEN_POINT, "mildly disagree", 3),
        (SEVEN_POINT, "not at all agree", 1),
    ],
)
def test_likert_text_on_other_scales(labels: dict[int, str], text: str, code: int) -> None:
    item = surveys.SurveyItem(id="X", label="x", prompt="?", codes=tuple(labels), code_labels=labels)
    assert item.parse(text) == code
    assert read_likert(text, tuple(labels), labels) == AnswerReading(code, "label")


@pytest.mark.parametrize(
    ("item_id", "text"),
    [
        ("EXT1", "I agree and disagree"),
        ("EXT1", "I do not strongly agree"),  # negated, and no label says what that is
        ("EXT1", "I don't disagree"),
        ("EXT1", "3-4"),
        ("EXT1", "between 2 and 3"),
        ("EXT1", "1 or 2"),
        ("Q46", "very happy, or quite happy"),
        ("Q46", "not quite happy"),
        ("Q45", "Not a good thing"),
    ],
)
def test_ambiguous_likert_text_gives_none(item_id: str, text: str) -> None:
    instrument = surveys.IPIP50 if item_id.startswith("EXT") else surveys.WVS7
    reading = instrument.item(item_id).read(text)
    assert reading == AnswerReading(None, "ambiguous"), reading


@pytest.mark.parametrize(
    ("item_id", "text"), [("EXT1", "No idea"), ("Q46", "happy"), ("Q184", "not sure"), ("Q45", "")]
)
def test_unreadable_likert_text_gives_none(item_id: str, text: str) -> None:
    instrument = surveys.IPIP50 if item_id.startswith("EXT") else surveys.WVS7
    assert instrument.item(item_id).read(text) == AnswerReading(None, "unparsed")


# --- Items whose real data use another scale (issue 16, item 4) ---------------------------------------


def test_q57_declares_its_real_scale_and_a_documented_recode() -> None:
    q57 = surveys.WVS7.item("Q57")
    assert q57.scale_mismatch and q57.real_codes == (1, 2)
    assert q57.recode == {1: 1, 2: 1, 3: 2, 4: 2}
    assert [it.id for it in surveys.WVS7.scale_mismatches] == ["Q57"]
    warnings = surveys.WVS7.warnings()  # every item note, plus how a scale mismatch is handled
    assert [w.split(":")[0] for w in warnings] == ["Q57", "Q254"]
    assert "left out of the average (recode available: 1→1, 2→1, 3→2, 4→2)" in warnings[0]
    recoded = q57.recoded()
    assert recoded.codes == (1, 2) and recoded.answer_codes == (1, 2, 3, 4) and not recoded.scale_mismatch
    assert recoded.prompt == q57.prompt and recoded.scale == (1, 2)
    assert [recoded.parse(c) for c in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert recoded.parse("You usually need to be careful in dealing with people") == 2
    assert recoded.answer_model()(answer=4).answer == 4  # type: ignore[attr-defined]
    assert "recoded onto the real data's codes [1, 2]" in (recoded.warning() or "")
    inst = surveys.WVS7.recoded()
    assert inst.item("Q57").codes == (1, 2) and inst.scale_mismatches == []
    assert inst.item("Q46") == surveys.WVS7.item("Q46")
    assert surveys.WVS7.item("Q57").scale_mismatch  # the packaged instrument is unchanged


def test_ground_truth_recoded(tmp_path: Path) -> None:
    truth = surveys.load_wvs7(write_wvs(tmp_path / "wvs.csv", {"KEN": 200}), "KEN")
    recoded = truth.recoded()
    assert recoded.instrument.item("Q57").codes == (1, 2)
    assert recoded.counts["Q57"].shape == (2,)
    # The synthetic file draws Q57 from 1-4: codes 3 and 4 are not WVS-7 answers and become missing.
    assert recoded.n["Q57"] == int(truth.counts["Q57"][:2].sum())
    assert recoded.invalid["Q57"] == int(truth.counts["Q57"][2:].sum())
    assert recoded.n["Q46"] == truth.n["Q46"]
    hist = surveys.WVS7.from_histograms({"Q57": {1: 30, 2: 70}, "Q46": {1: 5, 2: 5}})
    assert list(hist.recoded().counts["Q57"]) == [30.0, 70.0]
    with pytest.raises(EvaluationError, match="cannot be recoded"):
        surveys.WVS7.from_histograms({"Q57": {1: 30, 3: 70}}).recoded()
    plain = surveys.WVS7.from_histograms({"Q46": {1: 5}})
    assert plain.recoded() is plain


def test_item_recode_must_cover_the_prompt_codes() -> None:
    base = {"id": "X", "label": "x", "prompt": "?", "codes": [1, 2, 3], "real_codes": [1, 2]}
    with pytest.raises(DataFileError, match="recode"):
        surveys.Instrument.from_dict({"name": "t", "items": [{**base, "recode": {"1": 1, "2": 2}}]})
    with pytest.raises(DataFileError, match="recode"):
        surveys.Instrument.from_dict({"name": "t", "items": [{**base, "recode": {"1": 1, "2": 2, "3": 3}}]})
    ok = surveys.Instrument.from_dict({"name": "t", "items": [{**base, "recode": {"1": 1, "2": 2, "3": 2}}]})
    assert ok.item("X").recode == {1: 1, 2: 2, 3: 2}
    no_map = surveys.SurveyItem(id="Y", label="y", prompt="?", codes=(1, 2, 3), real_codes=(1, 2))
    with pytest.raises(ConfigError, match="no recode mapping"):
        no_map.recoded()
