"""TaxonomyBuilder: each stage with scripted FakeLLMs, the whole pipeline, checkpoints, extend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeppersona.builder import (
    BuildResult,
    PairRecord,
    QAPair,
    RuleFilter,
    TaxonomyBuilder,
    sample_qa_path,
)
from deeppersona.builder._merge import display_name
from deeppersona.errors import ConfigError, LLMOutputError
from deeppersona.taxonomy import ROOT_CATEGORIES, AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder, checked_items, fake_builder_llm
from deeppersona.testing._builder_replies import builder_fake_handler

DEMO, HEALTH, ROUTINE, CAREER = ROOT_CATEGORIES[0], ROOT_CATEGORIES[1], ROOT_CATEGORIES[8], ROOT_CATEGORIES[5]

QA = [
    {"question": "I'm a nurse in Nairobi on night shifts. How can I sleep better?", "answer": "Dark room."},
    {"question": "What is the capital of France?", "answer": "Paris."},
    {"question": "I'm vegan and training for a marathon; enough protein?", "answer": "Eat lentils."},
]


def make_builder(llm: Any, **kwargs: Any) -> TaxonomyBuilder:
    kwargs.setdefault("embedder", HashEmbedder(256))
    kwargs.setdefault("merge_threshold", 0.5)
    kwargs.setdefault("snap", None)  # calibrated for MiniLM: the hash embedder's names would move at random
    return TaxonomyBuilder(llm=llm, **kwargs)


def classify_reply(label: str) -> dict[str, str]:
    return {"category": "advice", "reason": "because", "is_personalizable": label}


# ---------------------------------------------------------------------------- classify


def test_classify_records_follow_figure_6() -> None:
    fake = FakeLLM(
        replies=[classify_reply("Personalizable"), classify_reply("No"), classify_reply("partially")],
        max_concurrency=1,
    )
    builder = make_builder(fake)
    result = builder.classify(QA)
    labels = [r.label for r in result.records]
    assert labels == ["Personalizable", "No", "Partially Personalizable"]
    assert result.report.n_in == 3 and result.report.n_out == 2
    assert result.report.dropped["not_personalizable"] == 1
    record = result.records[0].to_dict()
    assert record["tags"]["is_personalizable"] == {"reason": "because", "is_personalizable": "Personalizable"}
    assert record["original_answer"] == "Dark room."
    assert result.report.usage.calls == 3
    assert all(req.call_site == "builder.classify" for req in fake.requests)
    assert "Nairobi" in fake.requests[0].last_user_message
    assert fake.requests[0].max_tokens == 400  # replies are bounded


def test_classify_failure_is_counted_not_raised() -> None:
    fake = FakeLLM(
        replies=[LLMOutputError("never valid", attempts=3)] + [classify_reply("No")] * 2, max_concurrency=1
    )
    result = make_builder(fake).classify(QA)
    assert result.records[0].label is None and result.records[0].error
    assert result.report.dropped["llm_error"] == 1
    assert result.label_counts["failed"] == 1


def test_only_selected_labels_are_extracted() -> None:
    fake = FakeLLM(
        replies=[
            classify_reply("Personalizable"),
            classify_reply("No"),
            classify_reply("Partially Personalizable"),
        ],
        max_concurrency=1,
    )
    builder = make_builder(fake, labels=("Personalizable",))
    classified = builder.classify(QA)
    fake2 = FakeLLM(
        replies=[{"attributes": [item(ROUTINE, "Sleep Patterns", "Sleep Schedule", "night shifts")]}]
    )
    builder2 = make_builder(fake2, labels=("Personalizable",))
    extracted = builder2.extract(classified.records)
    assert len(extracted.records) == 1
    assert extracted.paths == [(ROUTINE, "Sleep Patterns", "Sleep Schedule")]


# ---------------------------------------------------------------------------- extract


def item(root: str, category: str, attribute: str = "", value: str = "") -> dict[str, str]:
    """One extraction item, as the model writes it."""
    return {"root": root, "category": category, "attribute": attribute, "value": value}


def test_extract_keeps_values_apart_and_drops_what_is_no_path() -> None:
    reply = {
        "attributes": [
            item(HEALTH, "Diet", "Dietary Preferences", "vegan"),
            item(HEALTH, "Diet", "Dietary Preferences", "no meat"),  # the same path twice
            item(ROUTINE, "Sleep", "", "badly"),  # a two-level path
            item(DEMO, "Age", "25-35", "25-35"),  # the value as a name
            item(DEMO, "Country of Residence", "Kenya", "Kenya"),  # the value as a name
            item(DEMO, HEALTH, "Height", "tall"),  # a root below the root: a list of roots
            item(CAREER, "Occupation", "Occupation", "nurse"),  # a repeated name
            item(CAREER, "None", "Job Title", ""),  # a placeholder
            item(CAREER, "Occupation", "Job Title", "nurse"),  # a value the user never said
            item(HEALTH, "Nutrition", "Diet Type", "Vegan"),  # one fact under a second name
        ]
    }
    fake = FakeLLM(replies=[reply])
    said = QAPair("I'm vegan, eat no meat and sleep badly. What should I eat?", "Beans.")
    result = make_builder(fake).extract([said])
    assert result.paths == [(HEALTH, "Diet", "Dietary Preferences"), (ROUTINE, "Sleep")]
    assert result.records[0].values == ("vegan", "badly")
    assert result.report.notes["distinct_paths"] == 2
    dropped = result.report.dropped
    assert (dropped["value_as_name"], dropped["root_in_path"], dropped["repeated_name"]) == (2, 1, 1)
    assert dropped["placeholder_name"] == 1
    assert dropped["value_not_in_text"] == 1 and dropped["repeated_value"] == 1
    request = fake.requests[0]
    prompt = request.last_user_message
    assert all(root in prompt for root in ROOT_CATEGORIES)
    # the reply schema fixes the roots (an enum the grammar enforces) and the shape of names
    item_schema = request.response_model.model_json_schema()["$defs"]["DisclosedAttribute"]
    assert item_schema["properties"]["root"]["enum"] == list(ROOT_CATEGORIES)
    assert "pattern" in item_schema["properties"]["attribute"]
    assert list(item_schema["properties"]) == ["root", "category", "attribute", "value"]
    # the schema instructions stand before the conversation (one shared prefix), not appended again
    assert prompt.count("It must validate against this JSON schema") == 1
    assert prompt.index("JSON schema") < prompt.index("### Conversation")


def test_one_call_classifies_and_extracts_together() -> None:
    fake = fake_builder_llm(seed=1)
    builder = make_builder(fake, one_call=True, llm_checks=False)
    result = builder.build(
        [
            QAPair("I'm a nurse on night shifts and I can't sleep. Any tips?", ""),
            QAPair("What is the capital of Peru?", ""),
        ]
    )
    sites = [r.call_site for r in fake.requests]
    assert sites == ["builder.classify+extract"] * 2
    labels = [r.label for r in result.records]
    assert labels == ["Personalizable", "No"]
    assert result.records[0].paths and not result.records[1].paths
    classify, extract = result.stages[1], result.stages[2]
    assert classify.notes["No"] == 1 and extract.n_out == len(result.records[0].paths)


def test_max_depth_is_two_or_three() -> None:
    with pytest.raises(ConfigError, match="max_depth must be 2 or 3"):
        TaxonomyBuilder(llm=FakeLLM(), embedder=HashEmbedder(), max_depth=4)
    builder = make_builder(FakeLLM(replies=[{"attributes": [{"root": HEALTH, "category": "Diet", "value": "x"}]}]),
                           max_depth=2)  # fmt: skip
    result = builder.extract([QAPair("I'm vegan, what should I eat?", "Beans.")])
    assert result.paths == [(HEALTH, "Diet")]
    schema = builder.llm_.requests[0].response_model.model_json_schema()["$defs"]["DisclosedAttribute"]
    assert "attribute" not in schema["properties"]


def test_extract_counts_pairs_without_paths() -> None:
    fake = FakeLLM(replies=[{"attributes": []}])
    result = make_builder(fake).extract([QAPair("Hi", "Hello")])
    assert result.paths == [] and result.report.dropped["no_paths"] == 1


# ---------------------------------------------------------------------------- filter


def all_valid(request: Any) -> Any:
    return builder_fake_handler(request)


def test_filter_rules_cut_tails_and_align_roots() -> None:
    fake = FakeLLM(handler=all_valid)
    builder = make_builder(fake)
    paths = [
        (HEALTH, "Sleep", "8 Hours"),  # digits -> tail cut
        ("physical_and_health_characteristics", "Diet"),  # canonical root
        ("Health", "Exercise Habits"),  # words-subset root
        ("Astrology Charts", "Zodiac"),  # unknown root -> dropped
        (CAREER, "Employer", "Google"),  # brand -> cut
        (CAREER, "Marketing Strategy"),  # business term -> dropped (root only left)
        (HEALTH, "Diet", "Weight", "Kg Lost"),  # too deep
        (HEALTH, CAREER, "Job"),  # a root name below the root level
    ]
    result = builder.filter(paths)
    d = result.decisions
    assert d[paths[0]][0] == (HEALTH, "Sleep")
    assert d[paths[1]][0] == (HEALTH, "Diet")
    assert d[paths[2]][0] == (HEALTH, "Exercise Habits")
    assert d[paths[3]] == (None, "unknown_root")
    assert d[paths[4]][0] == (CAREER, "Employer")
    assert d[paths[5]] == (None, "rules")
    assert d[paths[6]][0] == (HEALTH, "Diet", "Weight")
    notes = result.report.notes
    assert notes["cut_digits"] == 1 and notes["cut_proper_noun"] == 1 and notes["cut_business_term"] == 1
    assert notes["cut_too_deep"] == 1 and notes["cut_root_name"] == 1
    assert result.report.dropped == {"unknown_root": 1, "rules": 2}
    assert result.report.n_in == 8 and result.report.n_out == 5


def test_filter_node_check_rewrites_and_cuts() -> None:
    def handler(request: Any) -> Any:
        if request.call_site == "builder.check_node":
            return {key: name not in ("Python", "Manager") for key, name in checked_items(request).items()}
        if request.call_site == "builder.rewrite_node":
            rewrite = {"Python": "Programming Languages", "Manager": "none"}
            return {key: rewrite[name] for key, name in checked_items(request).items()}
        return builder_fake_handler(request)

    fake = FakeLLM(handler=handler)
    builder = make_builder(fake, check_batch_size=2)
    paths = [
        (CAREER, "Technical Skills", "Python"),
        (CAREER, "Job Role", "Manager"),
        (CAREER, "Job Role", "Manager"),
    ]
    result = builder.filter(paths)
    assert result.decisions[paths[0]] == ((CAREER, "Technical Skills", "Programming Languages"), "changed")
    assert result.decisions[paths[1]] == ((CAREER, "Job Role"), "changed")
    assert result.report.notes["cut_invalid_node"] == 2
    assert result.report.notes["nodes_rewritten"] == 1
    # 4 distinct names in batches of 2 -> 2 Check Node calls, plus 1 to validate the rewrite (Algorithm 3,
    # line 23); occurrences are kept
    assert sum(r.call_site == "builder.check_node" for r in fake.requests) == 3
    assert any(
        "Programming Languages" in r.last_user_message
        for r in fake.requests
        if r.call_site == "builder.check_node"
    )
    assert result.paths.count((CAREER, "Job Role")) == 2


def test_filter_rewrites_must_pass_their_own_check() -> None:
    """A node or path rewrite the judge rejects is not used: the tail is deleted instead."""

    def handler(request: Any) -> Any:
        invalid = {"Python", "Python Versions", f"{ROUTINE} > Sleep Tips", f"{ROUTINE} > Sleep Advice"}
        rewrite = {"Python": "Python Versions", f"{ROUTINE} > Sleep Tips": f"{ROUTINE} > Sleep Advice"}
        if request.call_site in ("builder.check_node", "builder.check_path"):
            return {key: text not in invalid for key, text in checked_items(request).items()}
        if request.call_site in ("builder.rewrite_node", "builder.rewrite_path"):
            return {key: rewrite.get(text, "none") for key, text in checked_items(request).items()}
        return builder_fake_handler(request)

    builder = make_builder(FakeLLM(handler=handler))
    paths = [(CAREER, "Technical Skills", "Python"), (ROUTINE, "Sleep Tips")]
    result = builder.filter(paths)
    assert result.decisions[paths[0]][0] == (CAREER, "Technical Skills")
    assert result.decisions[paths[1]] == (None, "invalid_path")
    notes = result.report.notes
    assert notes["node_rewrites_rejected"] == 1 and notes["path_rewrites_rejected"] == 1
    assert "paths_rewritten" not in notes and "nodes_rewritten" not in notes


def test_filter_path_check_is_bottom_up() -> None:
    seen: list[str] = []

    def handler(request: Any) -> Any:
        if request.call_site == "builder.check_path":
            seen.extend(checked_items(request).values())
            return {key: not path.endswith(("Favourite Colour Of Car", "Sleep Tips"))
                    for key, path in checked_items(request).items()}  # fmt: skip
        if request.call_site == "builder.rewrite_path":
            return {key: f"{ROUTINE} > Sleep Patterns" if path.endswith("Sleep Tips") else "none"
                    for key, path in checked_items(request).items()}  # fmt: skip
        return builder_fake_handler(request)

    builder = make_builder(FakeLLM(handler=handler))
    paths = [(ROUTINE, "Commuting", "Favourite Colour Of Car"), (ROUTINE, "Sleep Tips")]
    result = builder.filter(paths)
    assert result.decisions[paths[0]][0] == (ROUTINE, "Commuting")
    assert result.decisions[paths[1]][0] == (ROUTINE, "Sleep Patterns")
    assert f"{ROUTINE} > Commuting" in seen  # the parent was judged in the second round
    assert result.report.notes["paths_rewritten"] == 1
    assert result.report.notes["cut_invalid_path"] == 1


def test_filter_without_llm_checks_makes_no_calls() -> None:
    fake = FakeLLM()
    builder = make_builder(fake, llm_checks=False)
    result = builder.filter([f"{HEALTH} > Diet > Dietary Preferences"])
    assert result.paths == [(HEALTH, "Diet", "Dietary Preferences")]
    assert fake.requests == []


def test_filter_llm_failure_keeps_paths_unjudged() -> None:
    fake = FakeLLM(replies=[LLMOutputError("bad", attempts=3), LLMOutputError("bad", attempts=3)])
    result = make_builder(fake).filter([(HEALTH, "Diet")])
    assert result.paths == [(HEALTH, "Diet")]
    assert result.report.notes["llm_failures"] == 2
    assert result.report.notes["nodes_unjudged"] == 1


def test_rule_filter_examples() -> None:
    rules = RuleFilter()
    ok = ["Sleep Habits", "LGBTQ Identity", "Marital Status", "sleep_quality", "Work-Life Balance"]
    assert [rules.problem(n) for n in ok] == [None] * len(ok)
    bad = {
        "8 Hours": "digits",
        "Weight in Kg": "measurement",
        "Steps Per Day": "measurement",
        "iPhone Usage": "proper_noun",
        "Netflix Shows": "proper_noun",
        "Life in New York": "proper_noun",
        "Conversion Rate": "business_term",
        "What I Like To Eat On Weekends When Tired": "too_long",
        "Things": "vague",
        "!!!": "no_letters",
        "A > B": "bad_characters",
    }
    assert {n: rules.problem(n) for n in bad} == bad
    assert rules.problem("Sleep", parent="sleep") == "repeats_parent"
    assert RuleFilter.clean("My Hobbies") == "Hobbies"


# ---------------------------------------------------------------------------- merge


def test_merge_spelling_variants_without_embeddings_and_canonical_name() -> None:
    builder = make_builder(FakeLLM(), merge_threshold=0.99)
    paths = [(HEALTH, "sleep_habits")] * 2 + [(HEALTH, "Sleep Habits")] * 3 + [(HEALTH, "SleepHabits")]
    result = builder.merge(paths)
    assert result.paths == [(HEALTH, "Sleep Habits")]
    assert result.counts[(HEALTH, "Sleep Habits")] == 6
    assert result.mapping[(HEALTH, "sleep_habits")] == (HEALTH, "Sleep Habits")


def test_merge_children_of_merged_nodes_are_pooled() -> None:
    builder = make_builder(FakeLLM(), merge_threshold=0.45)
    paths = [
        (ROUTINE, "Sleep Schedule", "Bedtime"),
        (ROUTINE, "Sleeping Schedule", "bedtime"),
        (ROUTINE, "Sleeping Schedule", "Wake Time"),
        (ROUTINE, "Commute"),
    ]
    result = builder.merge(paths)
    assert set(result.paths) == {
        (ROUTINE, "Sleep Schedule", "Bedtime"),
        (ROUTINE, "Sleep Schedule", "Wake Time"),
        (ROUTINE, "Commute"),
    } or set(result.paths) == {
        (ROUTINE, "Sleeping Schedule", "Bedtime"),
        (ROUTINE, "Sleeping Schedule", "Wake Time"),
        (ROUTINE, "Commute"),
    }
    merged = [k for k, v in result.merged_names.items() if len(k) == 2]
    assert len(merged) == 1
    assert result.report.notes["level2_merged"] == 1


def test_merge_pinned_names_win_and_never_merge_together() -> None:
    builder = make_builder(FakeLLM(), merge_threshold=0.45)
    pinned = [(ROUTINE, "Sleep Schedule"), (ROUTINE, "Sleep Quality")]
    result = builder.merge([(ROUTINE, "sleeping schedule")] * 5, pinned=pinned)
    assert result.mapping[(ROUTINE, "sleeping schedule")] == (ROUTINE, "Sleep Schedule")
    names = {p[1] for p in result.counts if len(p) == 2}
    assert {"Sleep Schedule", "Sleep Quality"} <= names


def test_merge_llm_confirmation_can_split_a_cluster() -> None:
    def handler(request: Any) -> Any:
        if request.call_site == "builder.merge":
            return {"mapping": {"Sleep Schedule": "Sleep Schedule", "Sleeping Schedule": "Bedtime Routine"}}
        return None

    fake = FakeLLM(handler=handler)
    builder = make_builder(fake, merge_threshold=0.45, confirm_merges_with_llm=True)
    result = builder.merge([(ROUTINE, "Sleep Schedule"), (ROUTINE, "Sleeping Schedule")])
    assert len(result.paths) == 2
    assert any(r.call_site == "builder.merge" for r in fake.requests)
    assert result.report.usage.calls == 1


def test_merge_llm_confirmation_can_rename() -> None:
    def handler(request: Any) -> Any:
        if request.call_site == "builder.merge":
            return {"mapping": {"Sleep Schedule": "Sleep Timing", "Sleeping Schedule": "Sleep Timing"}}
        return None

    builder = make_builder(FakeLLM(handler=handler), merge_threshold=0.45, confirm_merges_with_llm=True)
    result = builder.merge([(ROUTINE, "Sleep Schedule"), (ROUTINE, "Sleeping Schedule")])
    assert result.paths == [(ROUTINE, "Sleep Timing")]


def test_display_name() -> None:
    assert display_name("sleep_habits") == "Sleep Habits"
    assert display_name("SleepHabits") == "Sleep Habits"
    assert display_name("LGBTQ identity") == "LGBTQ Identity"
    assert display_name("hobbies and interests") == "Hobbies and Interests"
    assert display_name("Place of birth") == "Place of Birth"


# ---------------------------------------------------------------------------- build / extend / checkpoint


def test_build_end_to_end_with_fake() -> None:
    builder = make_builder(fake_builder_llm())
    result = builder.build(sample_qa_path())
    assert isinstance(result, BuildResult)
    tree = result.tree
    assert [r.name for r in tree.roots] == list(ROOT_CATEGORIES)
    assert tree.validate() == []
    assert len(tree) > 40
    stages = [s.stage for s in result.stages]
    assert stages == ["read", "classify", "extract", "filter", "merge", "filter (after merge)", "format"]
    assert result.stage("read").n_out >= 300
    assert result.stage("classify").dropped["not_personalizable"] > 0
    assert result.usage.calls == sum(s.usage.calls for s in result.stages) > 0
    md = result.to_markdown()
    assert "| classify |" in md and "Taxonomy" in md
    assert "BuildResult(" in repr(result)
    json.dumps(result.to_dict())
    assert tree.metadata["builder"]["qa_pairs"] >= 300
    for path, count in result.path_counts.items():
        assert count > 0 and tree.find(path) is not None
        assert tree.find(path).support == count  # the extraction counts are the tree's support
    assert all(n.support is not None for n in tree.nodes()) and tree.stats().supported == len(tree)
    assert tree.metadata["support"]["qa_pairs"] >= 300


def test_checkpoint_resume_skips_done_pairs(tmp_path: Path) -> None:
    fake = fake_builder_llm()
    builder = make_builder(fake, checkpoint_dir=tmp_path)
    first = builder.build(QA)
    calls = len(fake.requests)
    assert (tmp_path / "pairs.jsonl").exists()
    lines = (tmp_path / "pairs.jsonl").read_text().splitlines()
    assert len(lines) >= 3
    # a crash mid-write leaves a torn line: it is ignored
    with (tmp_path / "pairs.jsonl").open("a") as fh:
        fh.write('{"key": "abc", "fp"')
    fake2 = fake_builder_llm()
    builder2 = make_builder(fake2, checkpoint_dir=tmp_path)
    second = builder2.build(QA)
    assert calls > 0 and len(fake2.requests) == 0
    assert second.tree.fingerprint() == first.tree.fingerprint()
    assert second.stage("classify").notes["resumed_from_checkpoint"] == 3


def test_checkpoint_resumes_after_partial_failure(tmp_path: Path) -> None:
    def failing(request: Any) -> Any:
        if request.call_site == "builder.extract" and "vegan" in request.last_user_message:
            return LLMOutputError("boom", attempts=3)
        return builder_fake_handler(request)

    builder = make_builder(FakeLLM(handler=failing), checkpoint_dir=tmp_path)
    first = builder.build(QA)
    assert first.stage("extract").dropped["llm_error"] == 1
    fake2 = fake_builder_llm()
    second = make_builder(fake2, checkpoint_dir=tmp_path).build(QA)
    extract_calls = [r for r in fake2.requests if r.call_site == "builder.extract"]
    assert len(extract_calls) == 1 and "vegan" in extract_calls[0].last_user_message
    assert second.stage("extract").dropped.get("llm_error", 0) == 0


def test_checkpoint_of_another_model_is_not_reused(tmp_path: Path) -> None:
    make_builder(fake_builder_llm(), checkpoint_dir=tmp_path).build(QA)
    other = FakeLLM(handler=builder_fake_handler, model="fake-2")
    make_builder(other, checkpoint_dir=tmp_path).build(QA)
    assert any(r.call_site == "builder.classify" for r in other.requests)


def test_extend_keeps_existing_nodes() -> None:
    base = AttributeTree.from_paths(
        [(ROUTINE, "Sleep Patterns", "Sleep Schedule"), (HEALTH, "Allergies")], fixed_roots=ROOT_CATEGORIES
    )
    for root in ROOT_CATEGORIES:
        base.add_path((root,))
    builder = make_builder(fake_builder_llm())
    result = builder.extend(base, QA)
    tree = result.tree
    assert tree.find((HEALTH, "Allergies")) is not None
    assert tree.find((ROUTINE, "Sleep Patterns", "Sleep Schedule")) is not None
    assert len(tree) > len(base)
    assert base.find((HEALTH, "Diet")) is None  # the original is untouched


def test_concurrency_is_the_backends() -> None:
    fake = FakeLLM(handler=builder_fake_handler, latency=0.01, max_concurrency=3)
    make_builder(fake).classify([{"question": f"I am person {i}?", "answer": "ok"} for i in range(12)])
    assert 1 < fake.max_active <= 3
    built = TaxonomyBuilder(llm="fake:1", max_concurrency=2)  # a backend built from a name gets it
    assert built.llm_.max_concurrency == 2
    with pytest.raises(ConfigError, match="max_concurrency"):
        TaxonomyBuilder(llm=fake, max_concurrency=2)  # an instance brings its own


def test_constructor_validates() -> None:
    with pytest.raises(ConfigError):
        TaxonomyBuilder(roots=())
    with pytest.raises(ConfigError):
        TaxonomyBuilder(merge_threshold=2.0)
    with pytest.raises(ConfigError):
        TaxonomyBuilder(max_concurrency=0)
    with pytest.raises(ConfigError):
        TaxonomyBuilder(labels=("Maybe",))
    with pytest.raises(ConfigError):
        TaxonomyBuilder(roots=("Health", "health"))


def test_format_seeds_every_root_and_skips_bad_paths() -> None:
    builder = make_builder(FakeLLM())
    tree = builder.format([(HEALTH, "Diet"), ("Unknown Root", "X")])
    assert len(tree.roots) == 12 and tree.find((HEALTH, "Diet")) is not None


def test_pair_record_roundtrip() -> None:
    record = PairRecord("k", "q", "a", "cat", "No", "r")
    assert record.to_dict()["tags"]["category"] == "cat"


def test_custom_prompt_override_is_used() -> None:
    fake = FakeLLM(replies=[classify_reply("No")])
    builder = make_builder(fake, prompts={"builder_classify": "CUSTOM {{ question }} {{ answer }}"})
    builder.classify([QA[0]])
    assert fake.requests[0].last_user_message.startswith("CUSTOM")


# ---------------------------------------------------------------------------- merge properties

_NAMES = [
    "Sleep Habits",
    "sleep_habits",
    "Sleeping Habits",
    "Diet",
    "Dietary Preferences",
    "Diet Preferences",
    "Music",
    "Musical Taste",
    "Work",
    "Job Role",
    "SleepHabits",
    "Hobbies",
    "Hobby",
]
_PATHS = st.lists(
    st.tuples(
        st.sampled_from(ROOT_CATEGORIES[:3]), st.sampled_from(_NAMES), st.sampled_from([*_NAMES, None])
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(raw=_PATHS, threshold=st.floats(0.3, 1.0))
def test_merge_properties(raw: list[tuple[str, str, str | None]], threshold: float) -> None:
    from deeppersona.taxonomy import canonical_key

    paths = [tuple(p for p in t if p is not None) for t in raw]
    builder = TaxonomyBuilder(llm=FakeLLM(), embedder=HashEmbedder(128), merge_threshold=threshold)
    result = builder.merge(paths)
    # every distinct input path is mapped, and support is conserved at the root level
    assert set(result.mapping) == set(paths)
    roots = {p: c for p, c in result.counts.items() if len(p) == 1}
    assert sum(roots.values()) == len(paths)
    # siblings are canonically distinct, and each mapped path exists in the output
    tree = AttributeTree.from_paths(result.paths)
    for node in tree.nodes():
        keys = [canonical_key(c.name) for c in node.children]
        assert len(keys) == len(set(keys))
    for target in result.mapping.values():
        assert target in result.counts


def test_unvalidated_backend_reply_is_counted_not_raised() -> None:
    """A backend that returns an unvalidated dict that does not fit the schema cannot crash a run."""
    from deeppersona.llm import LLMResponse

    class Sloppy(FakeLLM):
        async def acomplete(self, messages: Any, response_model: Any = None, **kwargs: Any) -> Any:
            await super().acomplete(messages, response_model, **kwargs)
            return LLMResponse(output={"unexpected": True}, raw='{"unexpected": true}', model="sloppy")

    result = make_builder(Sloppy()).classify(QA)
    assert result.report.dropped["llm_error"] == len(QA)
    assert all(r.error and "does not match" in r.error for r in result.records)


def test_cache_is_passed_to_the_backend_it_builds(tmp_path: Path) -> None:
    builder = TaxonomyBuilder(llm="openai/gpt-4.1-mini", embedder=HashEmbedder(), cache=tmp_path / "c")
    backend = builder.llm_  # built, not called: no network
    assert Path(str(backend.cache.path)).parent == tmp_path / "c"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="cache"):
        TaxonomyBuilder(llm=FakeLLM(), cache=tmp_path)


def test_the_extraction_schema_becomes_a_llama_cpp_grammar() -> None:
    """llama.cpp falls back to plain JSON when it cannot convert a schema: the root enum and the name
    pattern would then be lost without a word (its converter reads no ``(?:...)`` groups)."""
    gbnf = pytest.importorskip("llama_cpp.llama_grammar")
    from deeppersona.builder._disclosure import disclosure_reply_type

    for depth in (2, 3):
        schema = disclosure_reply_type(tuple(ROOT_CATEGORIES), depth, 12).model_json_schema()
        grammar = gbnf.json_schema_to_gbnf(json.dumps(schema))
        assert all(json.dumps(root)[1:-1] in grammar for root in ROOT_CATEGORIES)


def test_stages_are_announced_as_they_finish(capsys: pytest.CaptureFixture[str]) -> None:
    builder = make_builder(fake_builder_llm(), progress=True, llm_checks=False)
    builder.build(QA)
    err = capsys.readouterr().err
    for stage in ("read:", "classify:", "extract:", "filter:", "merge:", "format:"):
        assert f"done: {stage}" in err
    assert "pairs (dropped: not_personalizable 1)" in err


def test_two_call_extraction_asks_for_at_least_one_item() -> None:
    from deeppersona.builder._disclosure import disclosure_reply_type

    roots = tuple(ROOT_CATEGORIES)
    attributes = disclosure_reply_type(roots, 3, 8, min_items=1).model_json_schema()["properties"][
        "attributes"
    ]
    assert attributes["minItems"] == 1 and attributes["maxItems"] == 8
    one_call = disclosure_reply_type(roots, 3, 8).model_json_schema()["properties"]["attributes"]
    assert "minItems" not in one_call  # the one-call prompt may answer an empty list for small talk
    fake = fake_builder_llm()
    builder = make_builder(fake)
    builder.extract(builder.classify(QA).records)  # the paper's two calls: classify, then extract
    extract = [r for r in fake.requests if r.call_site == "builder.extract"]
    assert extract and all(
        r.response_model.model_json_schema()["properties"]["attributes"]["minItems"] == 1 for r in extract
    )


def test_suggestions_show_the_vocabularys_nearest_paths() -> None:
    """Each pair's prompt lists the vocabulary's attribute paths nearest its text, just before the
    conversation (after the shared prefix), so that a small model reuses names instead of inventing them."""
    hobbies, media = ROOT_CATEGORIES[7], ROOT_CATEGORIES[11]
    vocabulary = AttributeTree.from_paths(
        [
            (hobbies, "Food and Drink Tastes", "Favorite Foods"),
            (media, "Reading Habits", "Favorite Books"),
            (ROUTINE, "Sleep and Wake Patterns", "Sleep Duration"),
        ],
        fixed_roots=ROOT_CATEGORIES,
    )
    fake = FakeLLM(replies=[{"attributes": []}, {"attributes": []}])
    builder = make_builder(fake, vocabulary=vocabulary, suggestions=1)
    builder.extract([QAPair("My favorite foods are pizza and pasta.", ""), QAPair("I read books.", "")])
    first, second = (r.last_user_message for r in fake.requests)
    assert f"- {hobbies} > Food and Drink Tastes > Favorite Foods" in first
    assert "Favorite Books" not in first.split("### Conversation")[0].split("JSON schema")[-1]
    assert f"- {media} > Reading Habits > Favorite Books" in second
    assert first.index("Favorite Foods\n") < first.index("### Conversation")
    assert "Sleep Duration" not in first.split("JSON schema")[-1]

    fake = FakeLLM(replies=[{"attributes": []}])
    make_builder(fake, vocabulary=vocabulary, suggestions=0).extract([QAPair("My favorite foods.", "")])
    assert "the taxonomy already has" not in fake.requests[0].last_user_message
    with pytest.raises(ConfigError, match="suggestions"):
        TaxonomyBuilder(llm=FakeLLM(), suggestions=-1)


@pytest.mark.parametrize(
    ("value", "text", "said"),
    [
        ("five sons", "I'm a stay-at-home mom. I have five sons.", True),
        ("knitting", "I used to love to knit, but I haven't done it in a while.", True),
        ("45", "I'm 45 and I work nights.", True),
        ("painting", "What do you do for fun?", False),  # an answer to the user's own question
        ("doing nothing", "What else do you like to do for fun?", False),
        ("vegetarian", "I used to eat meat, but I've become a Buddhist.", False),  # an inference
    ],
)
def test_a_value_must_be_in_the_users_words(value: str, text: str, said: bool) -> None:
    from deeppersona.builder._disclosure import value_in_text

    assert value_in_text(value, text) is said


def test_extraction_items_are_capped_by_the_sentences_the_user_wrote() -> None:
    """Under greedy decoding the embedded model listed one fact under name after name up to the schema's
    limit; two items per sentence, plus one, hold every fact of the gold set's disclosing utterances."""
    from deeppersona.builder import _builder

    fake = fake_builder_llm()
    builder = make_builder(fake, one_call=True, llm_checks=False, max_paths_per_pair=6)
    builder.extract(
        [
            QAPair("I don't eat meat.", ""),
            QAPair("I'm a nurse. I work nights! Do you sleep well?", "Yes."),
            QAPair("I knit. I bake.", ""),
        ]
    )
    caps = [
        r.response_model.model_json_schema()["properties"]["attributes"]["maxItems"] for r in fake.requests
    ]
    assert _builder.ITEMS_PER_SENTENCE == 2
    assert caps == [3, 6, 5]  # 2 x 1 + 1; 2 x 3 + 1 within max_paths_per_pair; 2 x 2 + 1


def test_extracted_names_snap_to_the_nearest_vocabulary_path() -> None:
    """The embedded model filed "Religious Beliefs" under *Psychological and Cognitive Aspects*; the
    vocabulary has it under *Core Values, Beliefs, and Philosophy*, and the path moves there, root and all."""
    psych, values = ROOT_CATEGORIES[2], ROOT_CATEGORIES[9]
    vocabulary = AttributeTree.from_paths(
        [
            (values, "Religious and Spiritual Beliefs", "Religious Beliefs"),
            (ROUTINE, "Sleep", "Sleep Duration"),
        ],
        fixed_roots=ROOT_CATEGORIES,
    )
    reply = {
        "attributes": [
            item(psych, "Life Attitude", "Religious Beliefs", "Buddhist"),
            item(psych, "Temperament", "Patience Level", "very patient"),
        ]
    }
    said = QAPair("I've become a Buddhist and I'm very patient.", "")
    snapped = make_builder(FakeLLM(replies=[reply]), vocabulary=vocabulary, snap=0.7).extract([said])
    kept = make_builder(FakeLLM(replies=[reply]), vocabulary=vocabulary, snap=None).extract([said])
    assert snapped.paths[0] == (values, "Religious and Spiritual Beliefs", "Religious Beliefs")
    assert snapped.paths[1] == (psych, "Temperament", "Patience Level")  # nothing near: kept as written
    assert snapped.records[0].values == ("Buddhist", "very patient")
    assert snapped.report.notes["paths_in_vocabulary"] == 1
    assert kept.paths[0] == (psych, "Life Attitude", "Religious Beliefs")
    for bad in (0, 1.5, True, "high"):
        with pytest.raises(ConfigError, match="snap"):
            TaxonomyBuilder(llm=FakeLLM(), snap=bad)
