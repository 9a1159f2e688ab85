"""Quality gates between the LLM and the persona: bad values are re-asked, never stored, and counted.

Each kind of bad value (empty, placeholder, junk, cut off, outside the options, not a number, the
attribute's name echoed, the sketch copied, a bare word, a collapsed batch) is driven through a
FakeLLM handler; the tests check that it is re-asked with the reason, never stored, and that a persona
whose values stay bad is ``incomplete`` rather than ``ok``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from deeppersona.generation import PersonaDraft, ValueGenerator
from deeppersona.generation._checks import (
    absence_reason,
    clip_value,
    copies_example,
    copies_sketch,
    core_problems,
    echoes_name,
    is_cut_off,
    is_first_person_narrative,
    is_trivial,
    may_be_absent,
    not_applicable_reason,
    parse_number,
    story_problem,
    trim_story,
    value_problem,
    word_count,
)
from deeppersona.generation._generator import STORY_THEMES
from deeppersona.generation._schemas import FillReply, check_value
from deeppersona.llm._structured import extract_json
from deeppersona.taxonomy import AttributeTree, ValueType
from deeppersona.testing import FakeLLM, FakeRequest

Handler = Callable[[FakeRequest], Any]


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    tree = AttributeTree.from_paths(
        [
            "Health > Sleep > Sleep Quality",
            "Health > Grief > Grief Process",
            "Media > Radio > Station",
            "Media > Radio > Hours",
            "Work > Job > Commute",
            "Work > Job > Workplace Mood",
        ]
    )
    tree.get("Media > Radio > Station").value_type = ValueType.parse("categorical: Capital FM | Radio Jambo")
    tree.get("Media > Radio > Hours").value_type = ValueType.parse("number: hours per week")
    return tree


_GOOD = itertools.count()


def good(schema: dict[str, Any]) -> Any:
    """A distinct, specific value of the schema's type."""
    n = next(_GOOD)
    if "enum" in schema:
        return schema["enum"][-1]
    if schema.get("type") == "number":
        return 4 + n
    return f"walks {n} blocks to the Kibera matatu stage at dawn"


def fill_handler(bad: dict[str, Any], rounds: int = 1) -> tuple[Handler, list[FakeRequest]]:
    """Answer fill calls with ``bad[path leaf]`` for the first ``rounds`` asks of that key, else good values."""
    asked: dict[str, int] = {}
    fills: list[FakeRequest] = []

    def handler(req: FakeRequest) -> Any:
        model = req.response_model
        if not (isinstance(model, type) and issubclass(model, FillReply)):
            return None
        fills.append(req)
        props = model.json_schema["properties"]
        out = {}
        for key, schema in props.items():
            asked[key] = asked.get(key, 0) + 1
            out[key] = bad[key] if key in bad and asked[key] <= rounds else good(schema)
        return out

    return handler, fills


def _draft(bio: str | None = None) -> PersonaDraft:
    return PersonaDraft(
        demographics={"age": 41, "gender": "male", "country": "Kenya", "city": "Nairobi"},
        bio=bio,
        seeds=np.random.default_rng(0),
    )


def _fill(tree: AttributeTree, handler: Handler, *, retries: int = 2, bio: str | None = None) -> PersonaDraft:
    gen = ValueGenerator(max_fill_retries=retries)
    llm = FakeLLM(seed=4, handler=handler)
    draft = _draft(bio)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(1)))
    asyncio.run(gen.fill(llm, draft, [(n, "near") for n in tree.leaves()]))
    return draft


def core_fields(**parts: Any) -> dict[str, Any]:
    """A core chain whose short fields meet their spec, with ``parts`` (stories, interests ...) added."""
    return {
        "values_orientation": "Loyalty to kin above the law",
        "attitude": "Life is hard, but fair enough.",
        "attitude_details": "He counts every shilling twice and trusts nobody with the shop keys.",
        "coping_mechanism": "He works longer hours until it passes.",
        **parts,
    }


BAD_VALUES = [
    ("sleep_quality", "", "empty"),
    ("sleep_quality", "N/A", "placeholder"),
    ("sleep_quality", "string", "placeholder"),
    ("sleep_quality", "{", "junk"),
    ("sleep_quality", "...", "placeholder"),
    ("sleep_quality", "N/A: not mentioned in the given information", "unfounded_na"),
    (
        "grief_process",
        "N/A: he does not have a grief process, as he lives in a rural area",
        "na_restates_name",
    ),
    ("sleep_quality", "High", "trivial"),
    ("sleep_quality", "Yes", "trivial"),
    ("grief_process", "never had grief process", "echo"),
    ("station", "Conf", "outside_options"),
    ("station", "Other FM", "outside_options"),
    ("hours", "lots", "not_a_number"),
    # the embedded model stored 33 such values of 60 for one persona of the quality benchmark
    (
        "sleep_quality",
        "sleep quality is not mentioned in the given text, it is assumed to be zero",
        "about_the_prompt",
    ),
    ("sleep_quality", "The individual does not mention any specific sleep habits", "about_the_prompt"),
    # the quick start on the embedded model stored this one (2 December 2026)
    (
        "sleep_quality",
        "No one mentioned anything about sleep quality, so no specific details",
        "about_the_prompt",
    ),
]


@pytest.mark.parametrize(("key", "bad", "problem"), BAD_VALUES)
def test_bad_value_is_reasked_with_reason_and_never_stored(
    tree: AttributeTree, key: str, bad: str, problem: str
) -> None:
    handler, fills = fill_handler({key: bad})
    draft = _fill(tree, handler)
    values = {attr.path[-1]: attr.value for attr in draft.attributes.values()}
    assert bad not in values.values()
    assert draft.rejected.get(problem) == 1 and not draft.missing
    reask = fills[-1]
    assert list(reask.response_model.json_schema["properties"]) == [key]  # only the offending key
    assert "could not be used" in reask.last_user_message
    # the refused answer is quoted back, except a refused "N/A" (the small model copies it)
    quoted = repr(bad)[1:-1] in reask.last_user_message
    assert quoted is (problem not in ("unfounded_na", "na_restates_name"))
    # after a refused "N/A" the schema asks for a value that is none (a grammar enforces it)
    schema = reask.response_model.json_schema["properties"][key]
    assert ("pattern" in schema) is (problem in ("unfounded_na", "na_restates_name", "echo"))
    if "pattern" in schema:
        assert not re.match(schema["pattern"], bad) and not re.match(schema["pattern"], " " + bad)
        assert re.match(schema["pattern"], "walks 3 blocks to the Kibera matatu stage at dawn")
    assert reask.temperature is not None and reask.temperature > 0.7  # different sampling on a re-ask


def test_value_that_stays_bad_makes_the_persona_incomplete(tree: AttributeTree) -> None:
    handler, fills = fill_handler({"sleep_quality": "High"}, rounds=99)
    draft = _fill(tree, handler, retries=2)
    assert len(fills) == 3  # one batch, two re-asks
    assert "Health > Sleep > Sleep Quality" in draft.missing
    assert "Health > Sleep > Sleep Quality" not in draft.attributes
    assert "bare word" in draft.missing["Health > Sleep > Sleep Quality"]


def test_many_refused_values_are_reasked_a_few_at_a_time() -> None:
    """Asked for 26 refused values at once, the embedded model answered "N/A" to 22 of them, twice: a
    re-ask round asks for at most REASK_BATCH values per call."""
    from deeppersona.generation._generator import REASK_BATCH

    many = AttributeTree.from_paths([f"Daily Life > Habits > Habit {chr(65 + i)}" for i in range(20)])
    handler, fills = fill_handler({f"habit_{chr(97 + i)}": "High" for i in range(20)})
    draft = _fill(many, handler)
    reasks = [len(req.response_model.json_schema["properties"]) for req in fills[1:]]
    assert REASK_BATCH == 8 and reasks == [8, 8, 4]
    assert len(draft.attributes) == 20 and not draft.missing
    assert all("could not be used" in req.last_user_message for req in fills[1:])


def test_collapsed_batch_is_reasked(tree: AttributeTree) -> None:
    same = "likes to keep things simple and calm"
    handler, fills = fill_handler({"sleep_quality": same, "grief_process": same, "commute": same,
                                   "workplace_mood": same})  # fmt: skip
    draft = _fill(tree, handler)
    texts = [a.value for a in draft.attributes.values() if isinstance(a.value, str)]
    assert texts.count(same) == 1 and len(set(texts)) == len(texts)
    assert draft.rejected["repeated"] == 3
    assert "same value" in fills[-1].last_user_message
    # the repeated phrase is not quoted back (a small model then writes it for every key again)
    assert same not in fills[-1].last_user_message and "you wrote" not in fills[-1].last_user_message


def test_sketch_copy_is_refused(tree: AttributeTree) -> None:
    sketch = "a retired grocery store owner from Colorado who hates alcohol."
    handler, _ = fill_handler({"commute": "retired grocery store owner from Colorado"})
    draft = _fill(tree, handler, bio=sketch)
    assert draft.rejected == {"sketch_copy": 1}
    assert all("grocery" not in str(a.value) for a in draft.attributes.values())


def test_not_applicable_is_kept_apart(tree: AttributeTree) -> None:
    handler, _ = fill_handler({"grief_process": "N/A: he has not lost anyone close"})
    draft = _fill(tree, handler)
    attr = draft.attributes["Health > Grief > Grief Process"]
    assert attr.value is None and attr.not_applicable == "he has not lost anyone close"
    assert not attr.applicable and not draft.missing


def test_truncated_reply_is_never_stored() -> None:
    with pytest.raises(ValueError, match="cut off"):
        extract_json('{"station": "Conf')
    with pytest.raises(ValueError, match="cut off"):
        extract_json('{"a": "x", "b": {"c": "Conformist"}, "d": ["Con')
    assert extract_json("{'a': 'x',}") == {"a": "x"}  # small slips in a complete object are still repaired


def test_truncated_replies_are_reasked_through_the_call_loop(tree: AttributeTree) -> None:
    llm = FakeLLM(seed=5, failures={"truncated": 0.3})
    draft = _draft()
    gen = ValueGenerator(batch_size=2)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(1)))
    asyncio.run(gen.fill(llm, draft, [(n, "near") for n in tree.leaves()]))
    truncated = [r for r in llm.requests if any("cut off" in str(m.get("content")) for m in r.messages)]
    assert truncated, "some replies were cut off and re-asked"
    station = draft.attributes["Media > Radio > Station"].value
    assert station in ("Capital FM", "Radio Jambo")


def test_core_chain_reasks_only_offending_fields() -> None:
    calls: list[FakeRequest] = []

    def handler(req: FakeRequest) -> Any:
        if req.call_site != "core":
            return None
        calls.append(req)
        fields = req.response_model.model_json_schema()["properties"]
        if len(calls) == 1:
            n_stories = fields["life_stories"]["minItems"]
            n_interests = fields["interests"]["minItems"]
            return {
                "values_orientation": "Neutral",
                "attitude": "Optimistic",
                "attitude_details": "He keeps a notebook of small wins and reads it on the bus home.",
                "coping_mechanism": "He walks for an hour along the river.",
                "life_stories": [""] * n_stories,
                "interests": ["{"] + ["chess"] * (n_interests - 1),
            }
        return None  # the schema faker writes valid fields of the asked lengths

    gen = ValueGenerator()
    draft = _draft()
    core = asyncio.run(gen.core(FakeLLM(seed=2, handler=handler), draft, np.random.default_rng(3)))
    n = len(core.life_stories)
    assert len(calls) == 1 + n + 1  # the chain, each empty story on its own, then the other bad fields
    assert all(set(c.response_model.model_json_schema()["properties"]) == {"story"} for c in calls[1 : 1 + n])
    assert f"life story 1 of {n}" in calls[1].last_user_message
    assert set(calls[-1].response_model.model_json_schema()["properties"]) == {
        "values_orientation", "attitude", "interests"}  # fmt: skip
    assert "label" in calls[-1].last_user_message
    assert core.values_orientation != "Neutral" and len(core.values_orientation.split()) >= 3
    assert all(len(s.split()) >= 45 for s in core.life_stories) and "{" not in core.interests
    assert not draft.missing
    assert core.attitude_details.startswith("He keeps")  # good fields are kept as they were


def test_core_chain_that_stays_bad_is_recorded() -> None:
    def handler(req: FakeRequest) -> Any:
        if req.call_site != "core":
            return None
        fields = req.response_model.model_json_schema()["properties"]
        data = {"values_orientation": "Positive", "attitude": "Takes each day as it comes, slowly.",
                "attitude_details": "He plans the week on Sunday evening and rarely changes the plan.",
                "coping_mechanism": "He goes quiet and fixes something with his hands."}  # fmt: skip
        if "story" in fields:
            return {"story": "Short story here."}
        if "life_stories" in fields:
            data["life_stories"] = ["Short story here."] * fields["life_stories"]["minItems"]
        if "interests" in fields:
            data["interests"] = [f"hobby number {i}" for i in range(fields["interests"]["minItems"])]
        return {k: v for k, v in data.items() if k in fields}

    draft = _draft()
    core = asyncio.run(
        ValueGenerator(max_fill_retries=1).core(FakeLLM(handler=handler), draft, np.random.default_rng(0))
    )
    assert set(draft.missing) == {"core.values_orientation", "core.life_stories"}
    assert "words" in draft.missing["core.life_stories"]
    assert core.values_orientation == "" and core.life_stories == []  # refused values are never stored
    assert core.attitude.startswith("Takes each day")


def test_core_schema_fixes_counts_and_story_length() -> None:
    llm = FakeLLM(seed=9)
    draft = _draft()
    core = asyncio.run(ValueGenerator(story_words="150-200").core(llm, draft, np.random.default_rng(5)))
    schema = llm.requests[0].response_model.model_json_schema()["properties"]
    n = schema["life_stories"]["minItems"]
    assert schema["life_stories"]["maxItems"] == n == len(core.life_stories)
    assert "150-200 words" in llm.requests[0].prompt
    assert all(112 <= len(s.split()) <= 300 for s in core.life_stories) and not draft.missing


def _narrate(
    narratives: list[str], circumstances: dict[str, bool] | None = None
) -> tuple[PersonaDraft, FakeLLM]:
    """A draft with a core (and ``circumstances``), narrated by a fake answering ``narratives`` in turn."""
    replies = iter(narratives)

    def handler(req: FakeRequest) -> Any:
        return next(replies) if req.call_site == "narrative" else None

    draft = _draft()
    gen = ValueGenerator(max_fill_retries=1)
    llm = FakeLLM(handler=handler)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(0)))
    if circumstances is not None:
        assert draft.core is not None
        draft.core.circumstances = circumstances
    asyncio.run(gen.narrate(llm, draft))
    return draft, llm


def test_short_narrative_is_reasked_then_recorded() -> None:
    draft, llm = _narrate(["Too short.", "Also short."])
    assert [r.call_site for r in llm.requests].count("narrative") == 2
    assert "narrative" in draft.missing


# -- the rules themselves --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        ("High", {}, "trivial"),
        ("very low", {}, "trivial"),
        ("Yes", {}, "trivial"),
        ("Swahili and English, switching at work", {}, None),
        ("Swahili", {}, None),
        ("Multilingual Relating", {"name": "Multilingual Relating"}, "echo"),
        ("never had family secrets", {"name": "Family Secrets"}, "echo"),
        ("keeps his father's debts a secret from his wife", {"name": "Family Secrets"}, None),
        ("unknown", {}, "placeholder"),
        ("None", {}, "placeholder"),
        ("{", {}, "junk"),
        ('"key": "value"', {}, "junk"),
        ("High", {"kind": "categorical", "options": ("High", "Low")}, None),
        ("Conf", {"kind": "categorical", "options": ("Conformist", "Rebel")}, "outside_options"),
        ("Yes", {"kind": "item"}, None),
        ("her divorce is never mentioned at family gatherings", {}, None),
        ("reads the text of every contract twice before signing", {}, None),
    ],
)
def test_value_problem_rules(value: str, kwargs: dict[str, Any], expected: str | None) -> None:
    assert value_problem(value, **kwargs) == expected


def test_first_person_is_recognised() -> None:
    """Measured by the quality report (first_person_share), asked against in the prompt, not refused: the
    embedded 1.5B model wrote 21 of 30 values in the first person again after two re-asks, and refusing
    them cost a whole persona."""
    from deeppersona.generation._checks import is_first_person

    for text in ("I'm not afraid of losing things", "In 2004 I moved to Nakuru", "reading my Bible at dawn"):
        assert is_first_person(text)
    for text in (
        "his grandfather's World War I medal",
        "Irish folk music and Myanmar curries",
        "Elizabeth I",
    ):
        assert not is_first_person(text)
    assert value_problem("I'm confident in who I am and what I stand for") is None


def test_rule_helpers() -> None:
    assert is_trivial("Not very high") and not is_trivial("High blood pressure since 2019")
    assert echoes_name("grief process", "Grief Process") and not echoes_name("cried at the burial", "Grief")
    sketch = "a retired grocery store owner from Colorado who hates alcohol."
    assert copies_sketch("retired grocery store owner from Colorado", sketch)
    assert not copies_sketch("Colorado", sketch) and not copies_sketch("owner", sketch)
    assert not_applicable_reason("N/A: never married") == "never married"
    assert not_applicable_reason("Not applicable (he has no children)") == "he has no children"
    assert not_applicable_reason("N/A") is None and not_applicable_reason("n/a: unknown") is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,200 people", 1200),
        ("2,500", 2500),
        ("1,000,000", 1_000_000),
        ("1 200", 1200),
        ("3,5", 3.5),
        ("2.5 hours", 2.5),
        ("1.234,5", 1234.5),
        ("about 40 hours a week", 40),
        ("-3", -3),
        ("12,5%", 12.5),
        (7, 7),
        ("lots", None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_parse_number_understands_separators(text: Any, number: float | None) -> None:
    assert parse_number(text) == number


def test_check_value_numbers_and_lists(tree: AttributeTree) -> None:
    hours = tree.get("Media > Radio > Hours")
    assert check_value("1,200 hours", hours) == (1200, None, None)
    assert check_value("many", hours) == (None, "not_a_number", None)


def test_core_problems_rules() -> None:
    good = {
        "values_orientation": "Loyalty to kin above the law",
        "attitude": "Life is hard, but fair enough.",
        "attitude_details": "He counts every shilling twice and trusts nobody with the shop keys.",
        "coping_mechanism": "He works longer hours until it passes.",
        "life_stories": [" ".join(["word"] * 70)],
        "interests": ["Sunday football betting", "repairing radios"],
    }
    assert core_problems(good, num_stories=1, num_interests=2, story_words=(60, 120)) == {}
    bad = {**good, "life_stories": ["short"], "interests": ["chess"]}
    problems = core_problems(bad, num_stories=1, num_interests=2, story_words=(60, 120))
    assert set(problems) == {"life_stories", "interests"}
    assert "1 words" in problems["life_stories"] and "exactly 2" in problems["interests"]
    copied = {**good, "values_orientation": "without paid work and not employed"}
    facts = ["Mary Jepchirchir", "57", "without paid work", "Kajiado County, Kenya"]
    found = core_problems(copied, num_stories=1, num_interests=2, story_words=(60, 120), facts=facts)
    assert set(found) == {"values_orientation"} and "repeats facts" in found["values_orientation"]
    assert not core_problems(good, num_stories=1, num_interests=2, story_words=(60, 120), facts=facts)


def test_core_schema_asks_for_non_empty_short_fields() -> None:
    """A grammar-constrained model cannot answer a re-ask with "" again: the schema sets a least length."""
    from deeppersona.generation._schemas import core_chain_type

    fix = core_chain_type(1, 2, (60, 120), ("attitude", "coping_mechanism")).model_json_schema()
    assert fix["properties"]["attitude"]["minLength"] >= 10
    assert fix["properties"]["coping_mechanism"]["minLength"] >= 10
    assert fix["properties"].keys() == {"attitude", "coping_mechanism"}


def test_not_applicable_attributes_render_with_their_reason() -> None:
    from deeppersona.persona import AttributeValue, Persona

    path = ("Relationships", "Partner", "Partner Occupation")
    persona = Persona(
        id="p-1",
        seed=1,
        attributes={" > ".join(path): AttributeValue(value=None, stratum="near", path=path,
                                                     not_applicable="he has never married")},
    )  # fmt: skip
    assert "Partner Occupation: N/A: he has never married" in persona.to_prompt()
    assert (
        persona.to_nested()["Relationships"]["Partner"]["Partner Occupation"] == "N/A: he has never married"
    )
    assert "never married" in persona._repr_html_()


def test_list_like_or_overlong_narrative_is_reasked() -> None:
    listy = " ".join(f"She is a lover of {w} and enjoys it every single week." for w in
                     ("music", "art", "sport", "tea", "cats", "rain", "maps", "jazz", "bread", "films"))  # fmt: skip
    replies = iter([listy, " ".join(["word"] * 500), "She " + " ".join(["walks"] * 100) + "."])

    def handler(req: FakeRequest) -> Any:
        return next(replies) if req.call_site == "narrative" else None

    draft = _draft()
    gen = ValueGenerator(max_fill_retries=2)
    llm = FakeLLM(handler=handler)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(0)))
    asyncio.run(gen.narrate(llm, draft))
    asks = [r for r in llm.requests if r.call_site == "narrative"]
    assert len(asks) == 3 and "narrative" not in draft.missing
    assert 'start with "she is a lover"' in asks[1].last_user_message
    assert "far more than" in asks[2].last_user_message


def test_stories_sharing_sentences_are_reasked() -> None:
    shared = "She started taking breaks from work to explore new hobbies and activities."
    data = {
        "values_orientation": "Loyalty to kin above the law",
        "attitude": "Life is hard, but fair enough.",
        "attitude_details": "He counts every shilling twice and trusts nobody with the shop keys.",
        "coping_mechanism": "He works longer hours until it passes.",
        "life_stories": [" ".join(["first"] * 60) + ". " + shared, " ".join(["second"] * 60) + ". " + shared],
        "interests": ["Sunday football betting", "repairing radios"],
    }
    problems = core_problems(data, num_stories=2, num_interests=2, story_words=(60, 120))
    assert "story 2 repeats sentences" in problems["life_stories"]


def test_a_story_opening_like_an_earlier_one_is_refused() -> None:
    """Seen on the embedded model: three stories began 'Mary Jepchirchir, who had always dreamed of owning
    a car, decided to ...' and differed after that."""
    first = (
        "Mary Jepchirchir, who had always dreamed of owning a car, decided to buy one in 2015. " + "x " * 60
    )
    second = (
        "Mary Jepchirchir, who had always dreamed of owning a car, decided to drive to Nairobi. " + "y " * 60
    )
    assert story_problem(second, [first], story_words=(60, 120)) == (
        "repeats sentences of an earlier story; tell a different event"
    )
    other = "In 2019 Mary Jepchirchir lost her stall at the Kitengela market in a fire. " + "y " * 60
    assert story_problem(other, [first], story_words=(60, 120)) is None


def test_a_story_asked_on_its_own_gets_a_theme_not_the_openings_of_the_others() -> None:
    """Seen on the embedded model: shown the opening of story 1, it began story 2 with the same words
    three tries out of three; given a kind of event instead, three out of three were accepted."""
    calls: list[FakeRequest] = []
    kept = "Mary Jepchirchir, who had always dreamed of owning a car, decided to save. " + "x " * 70

    def handler(req: FakeRequest) -> Any:
        if req.call_site != "core":
            return None
        calls.append(req)
        fields = req.response_model.model_json_schema()["properties"]
        if "story" in fields:
            return {"story": f"In {1990 + len(calls)} " + " ".join([f"event {len(calls)} happened."] * 20)}
        return core_fields(
            life_stories=[kept] + [""] * (fields["life_stories"]["minItems"] - 1),
            interests=["Sunday football betting", "repairing radios", "pigeon racing"][
                : fields["interests"]["minItems"]
            ],
        )

    draft = _draft()
    core = asyncio.run(
        ValueGenerator().core(
            FakeLLM(seed=2, handler=handler), draft, np.random.default_rng(4)
        )  # three stories
    )
    asks = [
        c.last_user_message for c in calls if "story" in c.response_model.model_json_schema()["properties"]
    ]
    assert len(asks) == len(core.life_stories) - 1 >= 1
    assert all("owning a car" not in ask for ask in asks)  # the kept story's opening is not shown
    themes = [next(t for t in STORY_THEMES if t in ask) for ask in asks]
    assert len(set(themes)) == len(themes)  # each story asked on its own is about another kind of event


def test_a_placeholder_for_what_a_person_may_lack_is_reasked_with_the_na_way_out(tree: AttributeTree) -> None:
    """Seen on the embedded model: "none of the above" three times for "Mistakes at Work" of a woman
    without a job, then the whole persona retried. The re-ask now names the honest answer."""
    reasks: list[str] = []

    def handler(req: FakeRequest) -> Any:
        model = req.response_model
        if not (isinstance(model, type) and issubclass(model, FillReply)):
            return None
        keys = list(model.json_schema["properties"])
        if len(keys) > 1:  # the first ask of the batch
            return {
                k: "none of the above" if k == "commute" else good(model.json_schema["properties"][k])
                for k in keys
            }
        reasks.append(req.last_user_message)
        return {"commute": "N/A: he has worked from home since 2020"}

    draft = _fill(tree, handler)
    assert len(reasks) == 1 and 'if this person truly has none, write "N/A: "' in reasks[0]
    commute = next(a for a in draft.attributes.values() if a.path[-1] == "Commute")
    assert commute.value is None and commute.not_applicable == "he has worked from home since 2020"
    assert not draft.missing


def test_a_value_going_on_with_the_sentence_cut_before_it_is_reasked(tree: AttributeTree) -> None:
    """Seen on the embedded model: a value stopped by maxLength mid-sentence, and the next attribute's
    value the rest of that sentence ("unique individual should be respected ...")."""
    cut = "Mary has always been a perfectionist who plans each week and believes that a well-rounded, hard-working and honest soul"
    assert len(cut) == 119  # stopped by maxLength 120
    bad = {"sleep_quality": cut, "grief_process": "unique individual should be respected for what they bring"}
    handler, fills = fill_handler(bad)
    draft = _fill(tree, handler)
    assert draft.rejected.get("continuation") == 1
    reask = fills[1].last_user_message
    assert "grief_process" in reask and "went on with the sentence of the value before it" in reask
    grief = next(a for a in draft.attributes.values() if a.path[-1] == "Grief Process")
    assert grief.value != bad["grief_process"]
    # a lower-case value after a complete one is fine
    handler, _ = fill_handler({"grief_process": "cries alone at the river, then cooks for the family"})
    assert "continuation" not in _fill(tree, handler).rejected


def test_a_bare_level_is_reasked_with_a_longer_value_in_the_schema(tree: AttributeTree) -> None:
    """Seen on the embedded model: "High to Very High" for the same attributes in the first ask and both
    re-asks (17 characters pass the first ask's minLength 12). The re-ask's schema now needs 30."""
    handler, fills = fill_handler(
        {"sleep_quality": "High to Very High", "commute": "minibus, then walks 2 km"}, rounds=1
    )
    _fill(tree, handler)
    first = fills[0].response_model.json_schema["properties"]
    reask = fills[1].response_model.json_schema["properties"]
    assert first["sleep_quality"]["minLength"] == 12
    assert reask["sleep_quality"]["minLength"] == 30  # refused as a bare level: asked for more
    assert "commute" not in reask  # a good value is not re-asked


def test_not_applicable_is_rationed_and_reasons_must_differ(tree: AttributeTree) -> None:
    same_reason = {k: "N/A: minimal involvement in such matters" for k in ("sleep_quality", "commute")}
    handler, _ = fill_handler(same_reason)
    draft = _fill(tree, handler)
    na = [a for a in draft.attributes.values() if a.not_applicable]
    assert len(na) == 1 and draft.rejected.get("repeated") == 1  # the second use of the reason is refused
    many = {k: f"N/A: reason number {i} why it cannot apply" for i, k in
            enumerate(("sleep_quality", "grief_process", "commute", "workplace_mood"))}  # fmt: skip
    handler, _ = fill_handler(many)
    draft = _fill(tree, handler)
    assert sum(1 for a in draft.attributes.values() if a.not_applicable) == 2  # max(2, 20% of 6)
    assert draft.rejected.get("too_many_na") == 2 and not draft.missing


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Mary Jepchirchir does not use any conversational pause norms.", "Conversational Pause Norms"),
        ("Mary Jepchirchir does not pay to avoid ads.", "Paying to Avoid Ads"),
        ("Mary has not experienced financial hardship", "Experiences of Financial Hardship"),
        ("Mary Jepchirchir has never had a pet loss experience.", "Pet Loss Experiences"),
    ],
)
def test_values_that_only_negate_their_attribute_are_echoes(value: str, name: str) -> None:
    assert value_problem(value, name=name, ignore=["Mary", "Jepchirchir"]) == "echo"
    assert value_problem("Pays 300 shillings a month for ad-free YouTube", name=name) is None


def test_over_long_story_is_cut_after_a_whole_sentence() -> None:
    sentence = "In 2009 she sold two goats in Mbale market to pay a debt to her cousin."  # 16 words
    long_story = " ".join([sentence] * 20)  # 320 words: far over 60-120
    trimmed = trim_story(long_story, story_words=(60, 120))
    assert 45 <= word_count(trimmed) <= 120 and trimmed.endswith("cousin.")
    assert trim_story(sentence, story_words=(60, 120)) == sentence  # too short stays as it is (refused)
    unbroken = " ".join(["word"] * 300)  # no sentence end within the bound: left to story_problem
    assert trim_story(unbroken, story_words=(60, 120)) == unbroken
    assert story_problem(unbroken, story_words=(60, 120)) is not None


def test_refused_story_is_not_shown_back_to_the_model() -> None:
    """A small model shown its own refused story as the previous turn copies it word for word: the re-ask
    states the problem without the text."""
    calls: list[FakeRequest] = []
    short = "Short story about a market day."

    def handler(req: FakeRequest) -> Any:
        if req.call_site != "core":
            return None
        calls.append(req)
        fields = req.response_model.model_json_schema()["properties"]
        if "story" in fields:
            good_story = f"In {2000 + len(calls)} " + " ".join(["he repaired radios at the stage."] * 12)
            return {"story": short if len(calls) == 2 else good_story}
        n_interests = fields["interests"]["minItems"]
        return core_fields(
            life_stories=[""] * fields["life_stories"]["minItems"],
            interests=["Sunday football betting", "repairing radios", "pigeon racing"][:n_interests],
        )

    draft = _draft()
    core = asyncio.run(
        ValueGenerator().core(FakeLLM(seed=2, handler=handler), draft, np.random.default_rng(3))
    )
    story_calls = [c for c in calls if "story" in c.response_model.model_json_schema()["properties"]]
    assert len(story_calls) >= 2
    reask = story_calls[1]
    assert "refused" in reask.last_user_message and "words" in reask.last_user_message
    assert all(short not in m["content"] for m in reask.messages)
    assert short not in core.life_stories and not draft.missing


def test_interest_that_lists_several_is_reasked() -> None:
    data = core_fields(
        life_stories=[" ".join(["He sold maize at the Kakamega market that year."] * 8)],
        interests=["Reading, hiking, and cooking", "repairing radios"],
    )
    problems = core_problems(data, num_stories=1, num_interests=2, story_words=(60, 120))
    assert set(problems) == {"interests"} and "lists several" in problems["interests"]
    data["interests"] = ["rock and roll dancing", "fishing, mostly at night"]
    assert core_problems(data, num_stories=1, num_interests=2, story_words=(60, 120)) == {}


def test_value_contradicting_the_demographics_is_reasked_and_never_stored() -> None:
    tree = AttributeTree.from_paths(
        ["Demographic Information > Ethnicity and Ancestry > Diaspora Identity", "Work > Job > Commute"]
    )
    handler, fills = fill_handler({"diaspora_identity": "Kenyan"})
    draft = _fill(tree, handler)  # _draft(): a Kenyan living in Nairobi
    assert draft.rejected.get("contradiction") == 1
    assert "Kenyan" in fills[1].last_user_message and "contradicts" in fills[1].last_user_message
    stored = draft.attributes["Demographic Information > Ethnicity and Ancestry > Diaspora Identity"].value
    assert stored != "Kenyan" and not draft.missing


def test_value_contradiction_rules() -> None:
    from deeppersona.generation._contradictions import value_contradiction

    kenyan = {"age": 41, "country": "Kenya"}
    path = ("Demographic Information", "Ethnicity and Ancestry", "Diaspora Identity")
    assert "Kenya" in (value_contradiction(kenyan, path, "Kenyan") or "")
    assert value_contradiction(kenyan, path, "Somali-Kenyan of Eastleigh, Nairobi") is None
    assert value_contradiction({"age": 41, "country": "Kenya"}, ("Family", "Children", "Children's Ages"),
                               "a son aged 35") is not None  # fmt: skip
    assert value_contradiction({"age": 30}, ("Life", "Stage", "Life Stage"), "retired") is not None
    assert value_contradiction({"age": 70}, ("Life", "Stage", "Life Stage"), "retired") is None
    ages = ("Family", "Children", "Children's Ages")
    assert value_contradiction({"age": 30}, ages, 7.5) is None  # one number, not 7 and 5
    assert value_contradiction({"age": 30}, ages, "7.25 and 25") is not None
    kids = ("Family", "Children", "Children's Schooling")  # an age stated in the text, leaf not about ages
    assert value_contradiction({"age": 25}, kids, "her son, 17.5 years old, is in college") is not None
    assert value_contradiction({"age": 25}, kids, "her son, 7.5 years old, is in school") is None
    # the person's own age when the first child came, not a child's age ("40.289" read as 289 before)
    first = ("Relationships", "Children and Parenting", "Age at First Child")
    assert value_contradiction({"age": 69}, first, 40.289) is None
    assert value_contradiction({"age": 69}, first, 60) is None


def test_paragraph_value_is_cut_to_its_first_sentences() -> None:
    long = (
        "Greys early at the temples, which he hides under a cap. This is a normal part of ageing for many "
        "people, and it is not unusual to notice it at a younger age, as his father did before him."
    )
    assert clip_value(long, words=30) == "Greys early at the temples, which he hides under a cap."
    assert clip_value("walks to the matatu stage at dawn", words=30) == "walks to the matatu stage at dawn"
    node = AttributeTree.from_paths(["Health > Hair > Graying Stage"]).get("Health > Hair > Graying Stage")
    value, problem, _ = check_value(long, node)
    assert problem is None and value == "Greys early at the temples, which he hides under a cap."


def test_fill_schema_bounds_free_text_length() -> None:
    from deeppersona.generation._schemas import fill_items, fill_reply_type

    tree = AttributeTree.from_paths(["Health > Sleep > Sleep Quality", "Media > Radio > Hours"])
    tree.get("Media > Radio > Hours").value_type = ValueType.parse("number: hours per week")
    props = fill_reply_type(fill_items([(n, "near") for n in tree.leaves()])).json_schema["properties"]
    assert props["sleep_quality"]["minLength"] >= 10 and props["sleep_quality"]["maxLength"] <= 300
    assert "minLength" not in props["hours"]


def test_narrative_loop_is_tidied_and_bounded() -> None:
    from deeppersona.generation._generator import _tidy_narrative

    opening = "Wanjiru Otieno is a 52-year-old tailor in Kisumu who sews school uniforms every January. "
    loop = "She is always looking for ways to make the most of her work and her time. " * 30
    tidy = _tidy_narrative(opening + loop, 120, 180)
    assert tidy.count("always looking for ways") == 1 and tidy.startswith("Wanjiru Otieno")
    seen: list[FakeRequest] = []

    def handler(req: FakeRequest) -> Any:
        if req.call_site == "narrative":
            seen.append(req)
            if len(seen) == 1:  # a loop: once its repeats are dropped, far too short, so asked again
                return opening + " ".join(["She sells offcuts to a cousin in Kondele on Saturdays."] * 14)
            return opening + " ".join(
                f"In {1990 + i} she sewed {i + 2} dresses for the choir." for i in range(14)
            )
        return None

    gen, draft = ValueGenerator(), _draft()
    llm = FakeLLM(seed=1, handler=handler)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(1)))
    text = asyncio.run(gen.narrate(llm, draft))
    assert seen[0].max_tokens is not None and seen[0].max_tokens < 1000  # a loop cannot run for minutes
    assert len(seen) == 2 and "words" in seen[1].last_user_message
    assert "offcuts" not in text and "narrative" not in draft.missing


def test_listed_alternatives_are_refused() -> None:
    assert value_problem("Single | Divorced", name="Engagement Status") == "alternatives"
    assert value_problem("Medium | Long", name="Hair Length") == "alternatives"
    # the hint's own words (the embedded model, k=220)
    assert value_problem("One of: hierarchical, relaxed, competitive", name="Organizational Culture") == (
        "alternatives"
    )
    assert value_problem("one of : obedience, money, respect", name="Filial Obligations") == "alternatives"
    assert value_problem("One of the few nurses who speaks Nahuatl", name="Languages at Work") is None
    assert value_problem("Shoulder-length braids, redone every month", name="Hair Length") is None


def test_narrative_written_as_json_is_refused() -> None:
    from deeppersona.generation._generator import _narrative_problem

    assert "JSON" in (
        _narrative_problem('{"values_orientation": "Resilience", "attitude": "calm"}', 120, 180) or ""
    )
    assert "JSON" in (_narrative_problem('"values": "Resilience and thrift above all"', 120, 180) or "")
    assert "JSON" in (_narrative_problem('```json { "values_orientation": "thrift" }', 120, 180) or "")
    prose = " ".join(
        f"In {1990 + i} Amina mended {i + 3} fishing nets in Lamu for her uncle." for i in range(12)
    )
    assert _narrative_problem(prose, 120, 180) is None


def test_value_stopped_at_the_schema_limit_is_cut_back_to_a_clause() -> None:
    cut = "Grows maize and beans on two acres behind the house, selling the surplus at Kakamega market on Thursdays, and then the"
    padded = cut + " x" * ((150 - len(cut)) // 2 + 1)
    assert clip_value(padded, words=30, limit=150).endswith("on Thursdays")
    assert clip_value(cut, words=30, limit=150) == cut  # under the limit: left as it is


def test_ranges_of_levels_are_trivial() -> None:
    assert is_trivial("Moderate to High") and is_trivial("High to Very High")
    assert not is_trivial("Moderate to high stress at harvest time")


def test_consistency_exchange_without_fixes_leaves_the_dialogue() -> None:
    gen, draft = ValueGenerator(), _draft()
    llm = FakeLLM(
        seed=3, handler=lambda req: {"contradictions": []} if req.call_site == "consistency" else None
    )
    asyncio.run(gen.core(llm, draft, np.random.default_rng(1)))
    before = list(draft.messages)
    asyncio.run(gen.check_consistency(llm, draft))
    assert draft.messages == before  # the narrative will not see the question's examples


def test_negated_opening_clause_is_an_echo() -> None:
    ig = ["Mary", "Jepchirchir"]
    padded = (
        "Mary Jepchirchir does not have any shame proneness and does not feel ashamed. She is always happy"
    )
    assert value_problem(padded, name="Shame Proneness", ignore=ig) == "echo"
    aware = "Mary is not aware of sponsored content, but she is open to learning more about it"
    assert value_problem(aware, name="Sponsored Content Awareness", ignore=ig) == "echo"
    assert value_problem("Strong sense of humour, tells jokes at funerals", name="Humour") is None
    assert (
        value_problem("No smartphone, so she never checks social media", name="Compulsive Checking") is None
    )


def test_values_sharing_a_sentence_are_reasked(tree: AttributeTree) -> None:
    tail = "She is always happy and content with her life."
    handler, fills = fill_handler(
        {
            "sleep_quality": f"Sleeps badly in the hot season. {tail}",
            "commute": f"Walks forty minutes to the stage. {tail}",
        }
    )
    draft = _fill(tree, handler)
    assert draft.rejected.get("repeated") == 1 and "commute" in fills[1].last_user_message
    stored = [a.value for a in draft.attributes.values() if isinstance(a.value, str)]
    assert sum(tail in v for v in stored) == 1 and not draft.missing


def test_cut_off_values_mixed_scripts_and_copied_core_fields_are_refused() -> None:
    assert (
        value_problem("Her name is derived from the Germanic word and the", name="Name Meaning")
        == "truncated"
    )
    assert value_problem("I'm confident in who I am and what I stand for") is None
    assert value_problem("Joanna loves playing board games and has", kind="item") == "truncated"
    assert value_problem("Joanna loves reading and spending time读书", kind="item") == "junk"
    assert value_problem("buying in bulk and cooking at home", name="Frugality Practices") is None
    same = "Joanna helps others whenever she can. She is always willing to lend a hand to anyone."
    data = {"values_orientation": "Caring and curious above all", "attitude": same, "attitude_details": same,
            "coping_mechanism": "She walks along the Spree every evening.", "life_stories": [], "interests": []}  # fmt: skip
    problems = core_problems(data, num_stories=0, num_interests=0, story_words=(60, 120))
    assert set(problems) == {"attitude_details"} and "repeats" in problems["attitude_details"]


def test_a_third_value_with_the_same_opening_is_reasked(tree: AttributeTree) -> None:
    opener = "None of my current life experiences have involved"
    bad = {k: f"{opener} {k.replace('_', ' ')} at all" for k in ("sleep_quality", "grief_process", "commute")}
    handler, _ = fill_handler(bad)
    draft = _fill(tree, handler)
    stored = [a.value for a in draft.attributes.values() if isinstance(a.value, str)]
    assert sum(v.startswith(opener) for v in stored) == 2 and draft.rejected.get("repeated") == 1
    assert not draft.missing


@pytest.mark.parametrize(
    ("path", "absent"),
    [
        (("Hobbies, Interests, and Lifestyle", "Culinary Interests", "Hosting Dinner Parties"), True),
        (
            ("Hobbies, Interests, and Lifestyle", "Sports and Athletic Interests", "Athletic Role Models"),
            True,
        ),
        (("Lifestyle and Daily Routine", "Time Use and Allocation", "Time Spent Caregiving"), True),
        (("Emotional and Relational Skills", "Cross-Cultural and Diversity Skills", "Bias Awareness"), False),
        (("Psychological and Cognitive Aspects", "Fears and Anxieties", "Fear of Rejection"), False),
        (("Physical and Health Characteristics", "Hair Characteristics", "Graying Stage"), False),
        (("Career and Work Identity", "Work Style", "Deadline Handling"), False),  # a trait word
        (("Health", "Grief", "Grief Process"), False),  # "never had grief process": the echo of the issue
        (("Health", "Sleep", "Sleep Quality"), True),
        (
            (
                "Emotional and Relational Skills",
                "Relationship Maintenance",
                "Long-Distance Relationship Maintenance",
            ),
            True,
        ),
        (("Relationships and Social Networks", "Romantic Partnership", "Partner Communication Style"), True),
        (("Emotional and Relational Skills", "Active Listening", "Listening Patience"), False),
        ((), False),
    ],
)
def test_which_attributes_a_person_may_lack(path: tuple[str, ...], absent: bool) -> None:
    assert may_be_absent(path) is absent


def test_an_honest_none_is_kept_as_not_applicable_but_not_for_a_trait() -> None:
    tree = AttributeTree.from_paths(
        [
            "Hobbies, Interests, and Lifestyle > Culinary Interests > Hosting Dinner Parties",
            "Emotional and Relational Skills > Diversity Skills > Bias Awareness",
            "Work > Job > Commute",
            "Work > Job > Workplace Mood",
            "Health > Sleep > Sleep Quality",
        ]
    )
    none = {
        "hosting_dinner_parties": "None, does not have any hosting dinner party activities",
        "bias_awareness": "None, does not have any bias awareness",
    }
    handler, fills = fill_handler(none)
    draft = _fill(tree, handler)
    hosting = draft.attributes[
        "Hobbies, Interests, and Lifestyle > Culinary Interests > Hosting Dinner Parties"
    ]
    assert (
        hosting.value is None
        and hosting.not_applicable == "does not have any hosting dinner party activities"
    )
    bias = draft.attributes["Emotional and Relational Skills > Diversity Skills > Bias Awareness"]
    assert bias.not_applicable is None and "walks" in bias.value  # re-asked: everyone has some
    assert draft.rejected == {"echo": 1} and not draft.missing
    assert list(fills[-1].response_model.json_schema["properties"]) == ["bias_awareness"]
    assert "lacks it" in fills[-1].last_user_message
    # an explicit "N/A" that only negates is accepted for the same attribute, and it counts in the ration
    assert absence_reason("Hosts a dinner for eight every month", hosting.path) is None
    assert absence_reason("No dinner parties", hosting.path) == "No dinner parties"


def test_honest_nones_are_rationed_like_other_not_applicable_answers() -> None:
    leaves = [f"Hobbies, Interests, and Lifestyle > Clubs > {n} Club Membership" for n in
              ("Chess", "Rowing", "Book", "Golf", "Film", "Choir")]  # fmt: skip
    tree = AttributeTree.from_paths([*leaves, "Work > Job > Commute", "Work > Job > Workplace Mood"])
    nones = {f"{n.lower()}_club_membership": f"Does not have any {n.lower()} club membership" for n in
             ("Chess", "Rowing", "Book", "Golf", "Film", "Choir")}  # fmt: skip
    handler, _ = fill_handler(nones)
    draft = _fill(tree, handler)
    assert sum(1 for a in draft.attributes.values() if a.not_applicable) == 2  # max(2, 20% of 8)
    assert draft.rejected.get("too_many_na") == 4 and not draft.missing


def test_a_padded_none_is_a_collapse_and_stays_refused() -> None:
    path = ("Cultural and Social Context", "Etiquette", "Honorific Use")
    padded = "Mary Wanjiru does not have any honorific use. She is always happy and content with her life"
    assert absence_reason(padded, path, ignore=["Mary", "Wanjiru"]) is None
    assert absence_reason("Mary Wanjiru does not use any honorifics.", path, ignore=["Mary", "Wanjiru"])


def test_style_example_copy_is_refused(tree: AttributeTree) -> None:
    # the fill prompt's style examples are about nobody: a value that reuses their facts is re-asked
    handler, fills = fill_handler({"commute": "fried fish with rice at a roadside stall near work"})
    draft = _fill(tree, handler)
    assert draft.rejected == {"example_copy": 1}
    assert all("fried fish" not in str(a.value) for a in draft.attributes.values())
    assert "style example" in fills[-1].last_user_message
    assert copies_example("takes a crowded minibus every day") and not copies_example(
        "ugali with sukuma wiki"
    )


def test_narrative_that_copies_the_instructions_is_reasked() -> None:
    good = " ".join(f"In {1990 + i} he mended {i + 3} fishing nets in Lamu for his uncle." for i in range(12))
    copied = (
        "He is calm. He enjoys hiking, which he uses to relax and inferred from the "
        "stories rather than copied from them. " + good
    )
    replies = iter([copied, good])

    def handler(req: FakeRequest) -> Any:
        return next(replies) if req.call_site == "narrative" else None

    draft = _draft(bio="Raised by his grandmother in Kisumu, he still keeps her goats.")
    gen = ValueGenerator(max_fill_retries=1)
    llm = FakeLLM(handler=handler)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(0)))
    asyncio.run(gen.narrate(llm, draft))
    narratives = [r for r in llm.requests if r.call_site == "narrative"]
    assert len(narratives) == 2 and "copies the instructions" in narratives[1].last_user_message
    assert draft.narrative == good and "narrative" not in draft.missing
    # echoing the biography is not copying instructions
    from deeppersona.generation._generator import _copied_instructions

    assert (
        _copied_instructions("Raised by his grandmother in Kisumu, he still keeps her goats.", draft) is None
    )
    # nor is echoing what the model itself wrote about the person, when a re-ask quoted it back (seen on
    # the embedded model: "always ready to help others and ..." refused three times, persona incomplete)
    own = "Ana Laura has a positive outlook on life, always ready to help others in her street"
    portrait = "She has a positive outlook on life, always ready to help others in her street, and paints."
    draft.messages = [
        *draft.messages,
        {"role": "assistant", "content": json.dumps({"attitude": own})},
        {
            "role": "user",
            "content": f"These values could not be used:\n- pain_locations: {own!r} only repeats",
        },
    ]
    assert _copied_instructions(portrait, draft) is None
    draft.messages = draft.messages[:-2] + draft.messages[-1:]  # the quote alone: an instruction's words
    assert _copied_instructions(portrait, draft) is not None


def test_placeholder_choices_and_clauses_cut_after_a_comma() -> None:
    assert value_problem("None of the above") == "placeholder"
    cut = "Grew up in a small village with limited resources near the Kakamega forest, but they were,"
    assert clip_value(cut, words=30, limit=len(cut)).endswith("near the Kakamega forest")
    assert is_cut_off("grew up poor, but they were")


def test_narrative_in_the_first_person_is_reasked() -> None:
    """Seen on the embedded model: "I am Marius Pruschke, a professional sales manager ..." kept as `ok`."""
    third = " ".join(
        f"In {1990 + i} he mended {i + 3} fishing nets in Lamu for his uncle." for i in range(12)
    )
    first = "I am Juma Otieno, a fisherman from Lamu. " + third.replace(" he ", " I ")
    replies = iter([first, first, third])

    def handler(req: FakeRequest) -> Any:
        return next(replies) if req.call_site == "narrative" else None

    draft = _draft()
    draft.demographics["name"] = "Juma Otieno"
    gen = ValueGenerator(max_fill_retries=2)
    llm = FakeLLM(handler=handler)
    asyncio.run(gen.core(llm, draft, np.random.default_rng(0)))
    asyncio.run(gen.narrate(llm, draft))
    narratives = [r for r in llm.requests if r.call_site == "narrative"]
    assert len(narratives) == 3 and "third person" in narratives[-1].last_user_message
    assert 'beginning "Juma Otieno is"' in narratives[-1].last_user_message
    assert draft.narrative == third and "narrative" not in draft.missing
    assert draft.rejected.get("narrative") == 2
    # nor may it talk about the dialogue (persona 7 of the benchmark: "Despite not mentioning any ...")
    from deeppersona.generation._generator import _narrative_problem

    about = "Despite not mentioning any language learning motivation, she speaks Portuguese well. " + third
    assert "talked about the text" in (_narrative_problem(about, 20, 400) or "")
    # one quoted sentence does not make a portrait first-person
    assert not is_first_person_narrative('He mends nets. He says: "I never lend money." He lives in Lamu.')
    assert is_first_person_narrative(first)


def test_narrative_naming_the_polarity_label_is_refused() -> None:
    from deeppersona.generation._generator import _copied_instructions

    draft = _draft()
    assert "label" in (_copied_instructions("He has a NEUTRAL value system and farms maize.", draft) or "")
    assert (
        _copied_instructions("He stays neutral in village disputes and is positive about rain.", draft)
        is None
    )


def test_bare_none_is_kept_only_where_the_taxonomy_allows_none() -> None:
    tree = AttributeTree.from_outline(
        "Hobbies, Interests, and Lifestyle :: Leisure\n"
        "    Adventure :: Thrills\n"
        '        Adrenaline Activities {list} :: Which thrilling activities the person has done, or "none"\n'
        "        Thrill Seeking Level {text} :: How much the person seeks thrills\n"
        "    Work :: Work\n"
        "        Commute {text} :: How the person gets to work\n",
        fixed_roots=None,
    )
    handler, fills = fill_handler(
        {"adrenaline_activities": ["None of the above"], "thrill_seeking_level": "None"}
    )
    draft = _fill(tree, handler)
    adrenaline = draft.attributes["Hobbies, Interests, and Lifestyle > Adventure > Adrenaline Activities"]
    assert adrenaline.value is None and adrenaline.not_applicable == "the person has no adrenaline activities"
    assert draft.rejected == {"placeholder": 1}  # the level, which everyone has, is re-asked
    assert "thrill_seeking_level" in fills[-1].last_user_message
    assert isinstance(
        draft.attributes["Hobbies, Interests, and Lifestyle > Adventure > Thrill Seeking Level"].value, str
    )


def test_narrative_may_say_where_the_person_lives() -> None:
    from deeppersona.generation._generator import _copied_instructions

    draft = PersonaDraft(
        demographics={
            "age": 57,
            "gender": "female",
            "city": "Ongata Rongai",
            "region": "Kajiado County",
            "country": "Kenya",
            "name": "Mary Jepchirchir",
        },
        seeds=np.random.default_rng(0),
    )
    prompt = '- Lives in: "Ongata Rongai, Kajiado County, Kenya"\n- Name: "Mary Jepchirchir"\n'
    draft.messages = [{"role": "user", "content": prompt + "Build the core profile from the facts above."}]
    text = (
        "Mary Jepchirchir, a 57-year-old woman who lives in Ongata Rongai, Kajiado County, Kenya, sells tea."
    )
    assert _copied_instructions(text, draft) is None
    assert _copied_instructions("She is kind. Build the core profile from the facts above.", draft)


def test_a_placeholder_is_reasked_as_no_na_only_where_the_person_cannot_lack_it() -> None:
    from deeppersona.generation._generator import _wants_decided
    from deeppersona.generation._schemas import fill_items

    tree = AttributeTree.from_paths(
        ["Personality > Traits > Catastrophizing Tendency", "Hobbies > Clubs > Club Memberships"]
    )
    trait, clubs = fill_items([(tree.get(p), "near") for p in (
        "Personality > Traits > Catastrophizing Tendency", "Hobbies > Clubs > Club Memberships")])  # fmt: skip
    assert _wants_decided("placeholder", trait) and not _wants_decided("placeholder", clubs)
    assert _wants_decided("echo", trait) and not _wants_decided("echo", clubs)
    assert _wants_decided("unfounded_na", clubs) and not _wants_decided("trivial", trait)


_PORTRAIT = (
    "Otieno Kamau is a 41-year-old mechanic in Nairobi who opens his garage before the matatus start running. "
    "Customers trust him because he explains every repair in plain Swahili and charges what he quoted. "
    "Money is tight, so he keeps a notebook of debts owed to him and chases them every Friday. "
    "On Sundays he sings bass in a church choir and cooks ugali with sukuma wiki for neighbours. "
    "His temper is short when parts arrive late, yet apprentices say he never shouts at them. "
    "A flood in 2012 ruined his first workshop; rebuilding it alone taught him to save a little each week. "
    "Football on the radio fills the evenings, and he argues about Gor Mahia results with anyone nearby. "
    "He dreams of a second garage in Nakuru but doubts the banks will ever lend to a man like him. "
    "Quiet mornings with strong tea and the newspaper are the one luxury he allows himself."
)


def test_a_narrative_that_invents_children_or_a_partner_is_reasked() -> None:
    """The embedded model, told "has no children", wrote "had his first child when he was 20" (k=220)."""
    invented = "He walks his daughter to school every morning and then helps his wife at her stall."
    short = " ".join(_PORTRAIT.split(". ")[:3]) + ". " + invented  # too little left without that sentence
    draft, llm = _narrate([short, _PORTRAIT], {"parent": False, "partnered": True})
    asks = [r for r in llm.requests if r.call_site == "narrative"]
    assert len(asks) == 2 and "his daughter" in asks[1].last_user_message  # the reason names it
    assert draft.narrative == _PORTRAIT and "narrative" not in draft.missing


@pytest.mark.parametrize(
    "faulty",
    [
        "He walks his daughter to school every morning.",  # children the circumstances deny
        "He has a NEUTRAL value system that fits his background.",  # a label of the prompt
        "The profile does not mention his favourite food.",  # speaks of the prompt
    ],
)
def test_a_narrative_wrong_in_one_sentence_keeps_the_rest_when_the_tries_run_out(faulty: str) -> None:
    """The embedded model's three tries at a k=220 narrative were refused for one phrase each, and the
    whole persona was made again; now the try with the fewest faulty sentences keeps the rest. Only once
    the tries run out: what follows a dropped sentence may lean on it ("He agreed ...")."""
    first, rest = _PORTRAIT.split(". ", 1)
    twice = "She has a NEUTRAL value system. The profile does not mention her car."
    draft, llm = _narrate([f"{first}. {twice} {rest}", f"{first}. {faulty} {rest}"], {"parent": False})
    assert [r.call_site for r in llm.requests].count("narrative") == 2
    assert draft.narrative == _PORTRAIT and "narrative" not in draft.missing
    assert draft.rejected.get("narrative_sentence") == 1
    assert any(faulty in w for w in draft.warnings)


@pytest.mark.parametrize(
    ("text", "circumstances", "refused"),
    [
        ("Enrique had his first child when he was 20.", {"parent": False}, True),
        ("He has no children but dotes on his nieces.", {"parent": False}, False),
        ("She is raising two children alone.", {"parent": True}, False),
        ("He lives with his wife in Lima.", {"partnered": False}, True),
        ("He still misses his late wife.", {"partnered": False}, False),
        ("His ex-wife lives nearby.", {"partnered": False}, False),
        ("He lives with his wife in Lima.", {}, False),  # nothing settled: nothing to contradict
    ],
)
def test_invented_circumstances_are_found(text: str, circumstances: dict[str, bool], refused: bool) -> None:
    from deeppersona.generation._generator import _invented_circumstance

    draft = _draft()
    asyncio.run(ValueGenerator().core(FakeLLM(seed=1), draft, np.random.default_rng(0)))
    assert draft.core is not None
    draft.core.circumstances = circumstances
    assert (_invented_circumstance(text, draft) is not None) is refused


def test_options_that_contradict_the_person_are_not_offered() -> None:
    """A 26-year-old is asked "Employment Status" without "Retired" (the contradiction rules), in the
    prompt's hint and in the schema; an attribute no rule concerns keeps every option."""
    tree = AttributeTree.from_paths(["Career > Employment > Employment Status", "Health > Sleep > Bedtime"])
    tree.get("Career > Employment > Employment Status").value_type = ValueType.parse(
        "categorical: Employed | Self-employed | Retired"
    )
    tree.get("Health > Sleep > Bedtime").value_type = ValueType.parse("categorical: Early | Late | Retired")
    handler, fills = fill_handler({})
    gen, llm, draft = ValueGenerator(), FakeLLM(seed=4, handler=handler), _draft()
    draft.demographics["age"] = 26
    asyncio.run(gen.core(llm, draft, np.random.default_rng(1)))
    asyncio.run(gen.fill(llm, draft, [(n, "near") for n in tree.leaves()]))
    props = fills[0].response_model.json_schema["properties"]
    assert props["employment_status"]["enum"] == ["Employed", "Self-employed"]
    assert props["bedtime"]["enum"] == ["Early", "Late", "Retired"]
    assert "one of: Employed | Self-employed]" in fills[0].last_user_message
    assert len(fills) == 1 and not draft.missing


def test_a_list_value_asked_again_has_no_item_opening_with_n() -> None:
    """After ``["None"]`` the embedded model wrote ``["N/A: No subjects found boring"]``: a list asked
    longer or decided gets items under the decided pattern; its first ask does not."""
    from deeppersona.generation._schemas import DECIDED_PATTERN, fill_items, fill_reply_type

    tree = AttributeTree.from_paths(["Education > School > Subjects Found Boring"])
    tree.get("Education > School > Subjects Found Boring").value_type = ValueType.parse("list")
    items = fill_items([(n, "near") for n in tree.leaves()])
    first = fill_reply_type(items).json_schema["properties"]["subjects_found_boring"]
    again = fill_reply_type(items, longer={"subjects_found_boring"}).json_schema["properties"]
    assert first["items"] == {"type": "string"}
    assert again["subjects_found_boring"]["type"] == "array"
    assert again["subjects_found_boring"]["items"]["pattern"] == DECIDED_PATTERN
    assert not re.fullmatch(DECIDED_PATTERN, "None") and not re.fullmatch(DECIDED_PATTERN, "N/A: none")
    assert re.fullmatch(DECIDED_PATTERN, "Chemistry")
