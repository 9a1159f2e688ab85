"""MERGE with the real MiniLM embeddings: the calibrated threshold merges variants, not distinct attributes."""

from __future__ import annotations

import numpy as np
import pytest

from deeppersona.builder import DEFAULT_MERGE_THRESHOLD, TaxonomyBuilder
from deeppersona.taxonomy import ROOT_CATEGORIES
from deeppersona.testing import FakeLLM, HashEmbedder

HEALTH, ROUTINE = ROOT_CATEGORIES[1], ROOT_CATEGORIES[8]


@pytest.fixture(scope="module")
def minilm() -> object:
    from deeppersona.embeddings import resolve_embedder

    embedder = resolve_embedder(None)  # MiniLM ships with a core dependency: it must load, never skip
    embedder.encode(["warm up"])
    return embedder


@pytest.mark.slow
def test_minilm_merges_spelling_variants_but_not_distinct_attributes(minilm: object) -> None:
    builder = TaxonomyBuilder(llm=FakeLLM(), embedder=minilm)
    paths = [
        (ROUTINE, "Sleep Habits"),
        (ROUTINE, "Sleep Habits"),
        (ROUTINE, "Sleeping Habits"),
        (ROUTINE, "sleep_habits"),
        (ROUTINE, "Diet"),
        (ROUTINE, "Eating Habits"),
        (HEALTH, "Dietary Preferences"),
        (HEALTH, "Diet Preferences"),
        (HEALTH, "Physical Health"),
        (HEALTH, "Mental Health"),
    ]
    result = builder.merge(paths)
    m = result.mapping
    assert m[(ROUTINE, "Sleeping Habits")] == m[(ROUTINE, "sleep_habits")] == (ROUTINE, "Sleep Habits")
    assert m[(ROUTINE, "Diet")] == (ROUTINE, "Diet")
    assert m[(ROUTINE, "Eating Habits")] == (ROUTINE, "Eating Habits")
    assert m[(HEALTH, "Diet Preferences")] == m[(HEALTH, "Dietary Preferences")]
    assert m[(HEALTH, "Physical Health")] != m[(HEALTH, "Mental Health")]
    assert result.counts[(ROUTINE, "Sleep Habits")] == 4


@pytest.mark.slow
def test_calibration_pairs_separate_at_default_threshold(minilm: object) -> None:
    from deeppersona.taxonomy import canonical_key

    same = [
        ("Sleep Habits", "Sleeping Habits"),
        ("Exercise Routine", "Workout Routine"),
        ("Hobbies", "Hobby"),
        ("Travel Preferences", "Travel Preference"),
        ("Coping Strategies", "Coping Mechanisms"),
    ]
    different = [
        ("Sleep Habits", "Diet"),
        ("Sleep Habits", "Eating Habits"),
        ("Physical Health", "Mental Health"),
        ("Religious Beliefs", "Political Beliefs"),
        ("Dietary Preferences", "Dietary Restrictions"),
    ]
    texts = sorted({canonical_key(t) for pair in same + different for t in pair})
    vec = dict(zip(texts, minilm.encode(texts), strict=True))  # type: ignore[attr-defined]

    def sim(a: str, b: str) -> float:
        return float(np.dot(vec[canonical_key(a)], vec[canonical_key(b)]))

    assert min(sim(a, b) for a, b in same) >= DEFAULT_MERGE_THRESHOLD
    assert max(sim(a, b) for a, b in different) < DEFAULT_MERGE_THRESHOLD


def test_merge_is_vectorised_at_scale() -> None:
    """6,000 distinct sibling names under one parent merge quickly (faiss range search path)."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    names = {" ".join(rng.choice(words, 2)) for _ in range(6000)}
    paths = [(HEALTH, n) for n in names]
    builder = TaxonomyBuilder(llm=FakeLLM(), embedder=HashEmbedder(128), merge_threshold=0.95)
    result = builder.merge(paths)
    assert result.report.notes["level2_nodes_before"] == len(names)
    assert len(result.paths) <= len(names)
    assert result.report.seconds < 20
