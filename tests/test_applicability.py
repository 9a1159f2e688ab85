"""Applicability conditions: the selector skips attributes a profile rules out; the fill shows them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from deeppersona.generation._schemas import _hint, check_value, fill_items
from deeppersona.selector import SelectionContext, StratifiedSelector, UniformSelector
from deeppersona.taxonomy import CONDITIONS, AttributeNode, AttributeTree, ValueType
from deeppersona.testing import HashEmbedder

OUTLINE = """\
Relationships and Social Networks :: People in the person's life
    Partner :: The person's partner
        Partner's Job {text} [when: partnered] :: What the person's partner does for a living
        Partner's Hobbies {list} [when: partnered] :: What the partner does for fun
        Attitude Toward Marriage {text} :: What the person thinks of marriage
    Work :: Work life
        Commute to Work {text} [when: employed] :: How the person gets to work
        Relationship With Manager {text} [when: employed] :: How the person gets on with their boss
        Retirement Hobbies {text} [when: retired] :: What the person took up after retiring
        Dream Job {text} :: The job the person would most like
"""


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.from_outline(OUTLINE, fixed_roots=None)


def _names(tree: AttributeTree, selector: StratifiedSelector, k: int, **kw: object) -> set[str]:
    context = SelectionContext(tree, "a person", HashEmbedder(), **kw)  # type: ignore[arg-type]
    return {s.node.name for s in selector.select(context, k, np.random.default_rng(0))}


@pytest.mark.parametrize("selector", [StratifiedSelector(), UniformSelector()], ids=["stratified", "uniform"])
def test_selector_skips_ruled_out_attributes(tree: AttributeTree, selector: StratifiedSelector) -> None:
    everything = _names(tree, selector, 7)
    assert len(everything) == 7  # nothing decided: every attribute may apply
    retired_single = _names(tree, selector, 3, life_stage="retired", circumstances={"partnered": False})
    assert retired_single == {"Attitude Toward Marriage", "Retirement Hobbies", "Dream Job"}
    employed = _names(tree, selector, 6, life_stage="employed")
    assert (
        "Retirement Hobbies" not in employed and {"Commute to Work", "Relationship With Manager"} <= employed
    )


def test_too_few_applicable_attributes_is_a_clear_error(tree: AttributeTree) -> None:
    from deeppersona.errors import ConfigError

    with pytest.raises(ConfigError, match="only 3 candidates"):
        _names(tree, StratifiedSelector(), 4, life_stage="retired", circumstances={"partnered": False})


def test_fill_hint_names_the_condition_and_the_range(tree: AttributeTree) -> None:
    job = tree.find("Relationships and Social Networks > Partner > Partner's Job")
    items = fill_items([(job, "near")])
    assert items[0].hint == f"only if the person {CONDITIONS['partnered']}, else N/A"
    assert _hint(ValueType.parse("number: hours per night, 3-12")) == "a number of hours per night, 3 to 12"


def test_number_outside_its_range_is_refused_and_conditional_none_is_not_applicable() -> None:
    sleep = AttributeNode("Sleep Duration", value_type="number: hours per night, 3-12")
    assert check_value(30, sleep)[1] == "out_of_range"
    assert check_value("7.5 hours", sleep) == (7.5, None, None)
    job = AttributeNode("Partner's Job", value_type="text", applies_when=["partnered"])
    value, problem, reason = check_value("Does not have a partner's job", job)
    assert value is None and problem is None and reason
    path = ["Emotional and Relational Skills", "Work", "Relationship With Manager"]  # a trait root
    plain = AttributeTree.from_paths([" > ".join(path)], fixed_roots=None).find(" > ".join(path))
    conditional = AttributeTree.from_outline(
        "Emotional and Relational Skills :: x\n    Work :: y\n        Relationship With Manager [when: employed]\n",
        fixed_roots=None,
    ).find(" > ".join(path))
    answer = "Does not have any relationship with a manager"
    assert check_value(answer, conditional)[2] and check_value(answer, plain)[1] == "echo"


def _tilt_tree() -> AttributeTree:
    """Ten branches of six leaves; branch A is disclosed least (support 1), branch J most (1000)."""
    lines = ["Hobbies, Interests, and Lifestyle :: Leisure"]
    for b in "ABCDEFGHIJ":
        lines.append(f"    Branch {b} :: Branch {b}")
        lines += [f"        Leaf {b}{leaf}" for leaf in "ABCDEF"]
    tree = AttributeTree.from_outline("\n".join(lines) + "\n", fixed_roots=None)
    for node in tree.nodes():
        if node.depth == 3:
            node.support = float((ord(node.parent.name[-1]) - 64) ** 3)
    return tree


def _branch_counts(tree: AttributeTree, sparsity: float) -> dict[str, int]:
    from collections import Counter

    selector = StratifiedSelector(sparsity=sparsity, coverage_period=0)
    counts: Counter[str] = Counter()
    for i in range(300):
        context = SelectionContext(tree, f"person {i}", HashEmbedder(), index=i)
        for s in selector.select(context, 4, np.random.default_rng(i)):
            counts[s.node.parent.name] += 1
    return counts


def test_support_tilts_the_walk_toward_rarely_disclosed_branches() -> None:
    tilted = _branch_counts(_tilt_tree(), 0.5)
    rare, common = tilted["Branch A"] + tilted["Branch B"], tilted["Branch I"] + tilted["Branch J"]
    assert rare >= 1.5 * common, tilted
    flat = _branch_counts(_tilt_tree(), 0.0)
    assert 0.6 < (flat["Branch A"] + flat["Branch B"]) / (flat["Branch I"] + flat["Branch J"]) < 1.6, flat


def _with_circumstances(answer: dict[str, bool], **options: Any) -> tuple[Any, list[Any]]:
    """A persona (k=3, the outline tree) whose circumstances call is answered ``answer``; the requests."""
    from deeppersona.engine import PersonaEngine
    from deeppersona.testing import FakeLLM, FakeRequest

    seen: list[FakeRequest] = []

    def handler(req: FakeRequest) -> Any:
        seen.append(req)
        return answer if req.call_site == "circumstances" else None

    tree = AttributeTree.from_outline(OUTLINE, fixed_roots=None)
    engine = PersonaEngine(
        tree, model=FakeLLM(seed=1, handler=handler), embedder=HashEmbedder(), require_core=False
    )
    persona = engine.with_seed(3).with_options(**options).anchor(age=40, occupation="nurse").generate(k=3)
    return persona, seen


def test_engine_settles_circumstances_then_skips_what_they_rule_out() -> None:
    persona, seen = _with_circumstances({"partnered": False})
    assert persona.core is not None and persona.core.circumstances == {"partnered": False}
    assert not {p.split(" > ")[-1] for p in persona.selected} & {"Partner's Job", "Partner's Hobbies"}
    asked = [r for r in seen if r.call_site == "circumstances"]
    assert len(asked) == 1 and "- partnered: the person has a spouse or partner" in asked[0].prompt
    # the true/false exchange is a side branch: no later call sees it (a small model lists "not a partner,
    # parent ..." in the portrait), and the narrative reads the very dialogue the fills built (its prefix)
    later = [r for r in seen if r.call_site in ("fill", "consistency", "narrative")]
    assert later and not any('{"partnered":false}' in m["content"] for r in later for m in r.messages)
    assert not any("settle these facts" in m["content"] for r in later for m in r.messages)
    fills = [r for r in seen if r.call_site == "fill"]
    narrative = [r for r in seen if r.call_site == "narrative"]
    assert narrative[0].messages[: len(fills[-1].messages) - 1] == fills[-1].messages[:-1]


def test_the_first_fill_request_states_the_circumstances_that_hold() -> None:
    _, seen = _with_circumstances({"partnered": True}, batch_size=1)
    fills = [r.messages[-1]["content"] for r in seen if r.call_site == "fill"]
    assert "Settled about this person: has a spouse or partner." in fills[0]
    from deeppersona.generation._generator import _settled

    told = _settled({"partnered": False, "parent": False, "religious": False, "driver": True})
    assert told == ["drives a car or motorbike", "has no spouse or partner", "has no children"]
    assert not any("Settled about" in text for text in fills[1:])
