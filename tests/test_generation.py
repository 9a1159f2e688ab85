"""ValueGenerator pieces: fill keys and schemas, value coercion, the core chain, template overrides."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeppersona.errors import ConfigError, GenerationError
from deeppersona.generation import PersonaDraft, ValueGenerator
from deeppersona.generation._schemas import coerce_value, fill_items, fill_reply_type
from deeppersona.llm._structured import json_schema_for
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, FakeRequest


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    tree = AttributeTree.from_paths(
        [
            "Health > Sleep > Frequency",
            "Health > Diet > Frequency",
            "Health > Diet > Frequency Two",
            "Media > Radio > Hours",
            "Media > Radio > Station",
            "Media > Radio > Genres",
        ]
    )
    tree.get("Media > Radio > Hours").value_type = "number: hours per week"  # type: ignore[assignment]
    from deeppersona.taxonomy import ValueType

    tree.get("Media > Radio > Hours").value_type = ValueType.parse("number: hours per week")
    tree.get("Media > Radio > Station").value_type = ValueType.parse("categorical: Capital FM | Radio Jambo")
    tree.get("Media > Radio > Genres").value_type = ValueType.parse("list")
    return tree


def test_fill_keys_are_unique_and_readable(tree: AttributeTree) -> None:
    items = fill_items([(n, "near") for n in tree.leaves()])
    keys = [i.key for i in items]
    assert len(set(keys)) == len(keys)
    assert keys[:2] == ["sleep_frequency", "diet_frequency"]
    assert "hours" in keys and "station" in keys


def test_fill_schema_has_exact_keys_and_types(tree: AttributeTree) -> None:
    items = fill_items([(n, "near") for n in tree.leaves()])
    model = fill_reply_type(items)
    schema = json_schema_for(model)
    assert schema["required"] == [i.key for i in items] and schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["hours"]["type"] == "number"
    assert props["station"]["enum"] == ["Capital FM", "Radio Jambo"]
    assert props["genres"]["type"] == "array"
    fake = FakeLLM(seed=3).complete([{"role": "user", "content": "fill"}], model).output
    assert set(fake) == {i.key for i in items}


def test_coerce_value(tree: AttributeTree) -> None:
    hours, station, genres = (tree.get(f"Media > Radio > {n}") for n in ("Hours", "Station", "Genres"))
    text = tree.get("Health > Sleep > Frequency")
    assert coerce_value("about 12 hours", hours) == (True, 12)
    assert coerce_value(2.5, hours) == (True, 2.5)
    assert coerce_value("lots", hours)[0] is False
    assert coerce_value(True, hours)[0] is False
    assert coerce_value("radio jambo", station) == (True, "Radio Jambo")
    assert coerce_value("Other FM", station)[0] is False  # outside the options: re-asked, never stored
    assert coerce_value("1,200", hours) == (True, 1200)  # thousands separators
    none_option = AttributeTree.from_paths(["Car > Owned"]).get("Car > Owned")
    from deeppersona.taxonomy import ValueType

    none_option.value_type = ValueType.parse("categorical: None | One")
    assert coerce_value("none", none_option) == (True, "None")
    assert coerce_value("jazz; taarab", genres) == (True, ["jazz", "taarab"])
    assert coerce_value(["", "n/a"], genres)[0] is False
    for empty in (None, "", "  ", "N/A", "unknown"):
        assert coerce_value(empty, text)[0] is False
    assert coerce_value(["a", "b"], text) == (True, "a, b")


def _draft(**kw: Any) -> PersonaDraft:
    return PersonaDraft(demographics={"age": 30, "gender": "female", "country": "Kenya", "city": "Kisumu"},
                        seeds=np.random.default_rng(0), **kw)  # fmt: skip


def test_core_chain_keeps_fixed_fields_and_draws_polarity() -> None:
    llm = FakeLLM(seed=1)
    draft = _draft(fixed_core={"interests": "chess", "values_orientation": "Family first"})
    core = asyncio.run(ValueGenerator().core(llm, draft, np.random.default_rng(4)))
    assert core.interests == ["chess"] and core.values_orientation == "Family first"
    assert core.values_polarity in ("positive", "negative", "neutral")
    prompt = llm.requests[0].prompt
    assert "Kisumu, Kenya" in prompt and "Family first" in prompt and "value system" in prompt
    assert draft.messages[-1]["role"] == "assistant"
    polarities = {ValueGenerator().replace() and asyncio.run(ValueGenerator().core(FakeLLM(), _draft(),
                  np.random.default_rng(s))).values_polarity for s in range(12)}  # fmt: skip
    assert polarities == {"positive", "negative", "neutral"}


def test_fill_batches_and_on_missing_fail(tree: AttributeTree) -> None:
    gen = ValueGenerator(batch_size=4)
    llm = FakeLLM(seed=2)
    draft = _draft()
    asyncio.run(gen.core(llm, draft, np.random.default_rng(0)))
    asyncio.run(gen.fill(llm, draft, [(n, "far") for n in tree.leaves()]))
    assert len(draft.attributes) == 6 and gen.fill_calls(6) == 2
    assert [r.call_site for r in llm.requests] == ["core", "fill", "fill"]
    # each fill call extends the previous conversation (a shared prefix)
    first, second = llm.requests[1].messages, llm.requests[2].messages
    assert [m["content"] for m in second[1 : len(first)]] == [m["content"] for m in first[1:]]

    def empty(req: FakeRequest) -> Any:
        return {} if req.call_site == "fill" else None

    failing = ValueGenerator(on_missing="fail")
    draft = _draft()
    fake = FakeLLM(seed=2, handler=empty)
    asyncio.run(failing.core(fake, draft, np.random.default_rng(0)))
    with pytest.raises(GenerationError, match="no usable value"):
        asyncio.run(failing.fill(fake, draft, [(n, "far") for n in tree.leaves()]))


def test_templates_override_and_bad_params() -> None:
    gen = ValueGenerator(templates={"narrative": "Short please ({{ words }})."})
    assert gen.render("narrative", words="10") == "Short please (10)."
    assert gen.replace(batch_size=7).batch_size == 7
    assert gen.replace(templates={"core_system": "X"}).render("narrative", words="1") == "Short please (1)."
    for bad in ({"batch_size": 0}, {"max_fill_retries": -1}, {"on_missing": "ignore"}, {"temperature": 5.0}):
        with pytest.raises(ConfigError):
            ValueGenerator(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        gen.replace(colour="red")
    with pytest.raises(ConfigError):
        gen.render("no_such_template")


def test_fill_items_cache_gives_the_same_items(tree: AttributeTree) -> None:
    pairs = [(n, "near") for n in tree.leaves()]
    cache: dict[int, Any] = {}
    first = fill_items(pairs, cache=cache)
    assert len(cache) == len(pairs)
    assert fill_items(pairs, cache=cache) == first == fill_items(pairs)
    other = AttributeTree.from_paths(["Health > Sleep > Frequency"]).get("Health > Sleep > Frequency")
    assert fill_items([(other, "far")], cache=cache)[0].node is other  # another tree's node: no stale hit


def test_core_prompt_follows_the_paper() -> None:
    llm = FakeLLM(seed=1)
    asyncio.run(ValueGenerator().core(llm, _draft(), np.random.default_rng(0)))
    prompt = llm.requests[0].prompt.lower()
    assert "value system" in prompt and "balance" in prompt and "community" in prompt
    assert "kisumu, kenya" in prompt  # stories rooted in the person's region and country
    assert "inferred from the stories" in prompt


def test_profile_text_is_compact_and_keeps_every_core_part() -> None:
    from deeppersona.persona import AttributeValue, CoreProfile

    story = "In 2012 a flood took the family shop and she rebuilt it alone. " + "Then more happened. " * 80
    draft = _draft(
        bio="Raised by her grandmother. " * 40,
        given={"pet": AttributeValue(value="Simba the cat", stratum="custom", path=("pet",))},
    )
    draft.core = CoreProfile(values_orientation="Distrust of institutions", attitude="Life is a grind.",
                             attitude_details="She plans for less.", coping_mechanism="Long walks.",
                             life_stories=[story, story, story], interests=["Night fishing", "Radio dramas"])  # fmt: skip
    draft.demographics["name"] = "Achieng Otieno"
    text = ValueGenerator().profile_text(draft)
    assert len(text.split()) <= 128 + 1
    for part in ("Age: 30", "Kisumu", "Distrust of institutions", "Life is a grind.", "Long walks.",
                 "Night fishing", "rebuilt it alone", "Raised by her grandmother", "pet: Simba the cat"):  # fmt: skip
        assert part in text, part
    assert "Then more happened" not in text  # only the opening sentence of each story
    assert "Achieng" not in text  # the name says nothing about which attributes fit


def test_profile_text_names_each_place_once() -> None:
    draft = _draft()
    draft.demographics.update(city="Mexico City", region="Mexico City", country="Mexico")
    text = ValueGenerator().profile_text(draft)
    assert "Lives in: Mexico City, Mexico" in text and "Mexico City, Mexico City" not in text


@given(k=st.integers(0, 600), batch_size=st.integers(1, 64))
def test_fill_batches_are_near_equal_and_cover_every_attribute(k: int, batch_size: int) -> None:
    batches = ValueGenerator(batch_size=batch_size).fill_batches(k)
    assert len(batches) == ValueGenerator(batch_size=batch_size).fill_calls(k) == -(-k // batch_size)
    assert [i for r in batches for i in r] == list(range(k))  # in order, each attribute once
    sizes = [len(r) for r in batches]
    assert all(0 < s <= batch_size for s in sizes) and (not sizes or max(sizes) - min(sizes) <= 1)


def test_k220_takes_seven_fill_batches_by_default() -> None:
    assert [len(r) for r in ValueGenerator().fill_batches(220)] == [32, 32, 32, 31, 31, 31, 31]
    assert [len(r) for r in ValueGenerator().fill_batches(30)] == [
        30
    ]  # the quick start: one batch, as before
    assert [len(r) for r in ValueGenerator().fill_batches(60)] == [30, 30]
