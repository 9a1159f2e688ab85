"""The default taxonomy, version 2: typed, described, applicable, de-duplicated, supported, reachable."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from deeppersona.evaluation import survey_coverage
from deeppersona.selector import StratifiedSelector
from deeppersona.taxonomy import CONDITIONS, AttributeTree

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


def test_leaves_are_typed_described_and_the_numbers_ranged(tree: AttributeTree) -> None:
    stats = tree.stats()
    assert stats.typed_share >= 0.90 and stats.described_share == 1.0
    assert stats.leaves >= 3500 and stats.nodes >= 4000
    for leaf in tree.leaves():
        vt = leaf.value_type
        if vt is not None and vt.kind == "number":
            assert vt.minimum is not None and vt.maximum is not None, leaf.path_str
        if vt is not None and vt.kind == "categorical":
            assert 2 <= len(vt.options) <= 7, leaf.path_str


def test_applicability_conditions_are_present_and_known(tree: AttributeTree) -> None:
    stats = tree.stats()
    assert stats.conditional_leaves >= 200
    assert set(stats.conditions) <= set(CONDITIONS)
    assert {"partnered", "parent", "employed", "student", "internet_user"} <= set(stats.conditions)


def test_no_unreviewed_near_duplicate_leaves(tree: AttributeTree) -> None:
    found = [p for p in tree.validate(style=True) if p.code == "near-duplicate-leaf"]
    assert found == []
    for a, b, reason in tree.metadata.get("reviewed_duplicates", []):
        assert tree.find(a) is not None and tree.find(b) is not None and len(reason) > 10


def test_support_on_every_node_with_its_source(tree: AttributeTree) -> None:
    assert tree.stats().supported == len(tree)
    assert "Synthetic-Persona-Chat" in tree.metadata["support"]["source"]
    assert "CC BY 4.0" in tree.metadata["support"]["credit"]
    for root in tree.roots:  # a branch's support is the sum over its leaves
        assert root.support == pytest.approx(sum(leaf.support for leaf in root.leaves))  # type: ignore[misc]


def test_every_leaf_can_be_selected(tree: AttributeTree) -> None:
    candidates = {n.key for n in StratifiedSelector().candidates(tree)}
    leaves = {n.key for n in tree.leaves() if not n.core}
    assert leaves == candidates


def test_the_survey_items_of_the_evaluator_are_covered(tree: AttributeTree) -> None:
    for survey in ("wvs7", "ipip50"):
        uncovered = [item for item, paths in survey_coverage(tree, survey).items() if not paths]
        assert uncovered == [], (survey, uncovered)


def test_wvs_scales_follow_the_questionnaire(tree: AttributeTree) -> None:
    happiness = tree.find("Psychological and Cognitive Aspects > Life Attitude > Overall Happiness")
    assert happiness is not None and happiness.value_type is not None
    assert happiness.value_type.options == ("Very Happy", "Quite Happy", "Not Very Happy", "Not at All Happy")
    marital = [n for n in tree.leaves() if n.name == "Marital Status"]
    assert marital and "Never Married" in marital[0].value_type.options  # type: ignore[union-attr]
    kinds = Counter(n.value_type.kind for n in tree.leaves() if n.value_type is not None)
    assert kinds["text"] >= 0.35 * sum(kinds.values())  # the persona stays mostly words, not codes


def test_support_file_covers_the_outlines() -> None:
    script = ROOT / "scripts" / "derive_support.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
