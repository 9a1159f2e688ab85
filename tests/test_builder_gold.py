"""The hand-annotated self-disclosure gold set (``deeppersona/data/gold/self_disclosure.jsonl``) is well formed.

The gold set measures how well the taxonomy builder extracts attributes from real conversation lines
(Synthetic-Persona-Chat, CC BY 4.0; see ``deeppersona/data/gold/PROVENANCE.md``). These checks only read
the shipped file and the shipped default taxonomy: they need neither the source dataset nor a network,
and they write nothing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from deeppersona import AttributeTree

GOLD_PACKAGE = "deeppersona.data"
GOLD_DIR = "gold"
GOLD_FILE = "self_disclosure.jsonl"
SOURCE_FILES = {"Synthetic-Persona-Chat_valid.csv", "Synthetic-Persona-Chat_test.csv"}
MIN_RECORDS = 150
MIN_PER_ROOT = 5
ID_PATTERN = re.compile(r"gold-\d{3,}")
SMALL_WORDS = {"and", "of", "or", "the", "in", "for", "to", "with", "on", "at", "by", "a", "an", "as", "per",
               "vs", "but", "nor"}  # fmt: skip
# One capitalised word, optionally hyphenated ("Self-Concept", "On-the-Job") or ending a list item with a comma.
TITLE_WORD = re.compile(r"[A-Z][A-Za-z']*(?:-(?:[A-Z][A-Za-z']*|" + "|".join(sorted(SMALL_WORDS)) + r"))*,?")

Record = dict[str, Any]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    text = (resources.files(GOLD_PACKAGE) / GOLD_DIR / GOLD_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


@pytest.fixture(scope="module")
def root_names(tree: AttributeTree) -> set[str]:
    return {root.name for root in tree.roots}


@pytest.fixture(scope="module")
def tree_paths(tree: AttributeTree) -> set[str]:
    return set(tree.paths())


def _disclosures(records: list[Record]) -> list[dict[str, Any]]:
    return [d for r in records for d in r["disclosures"]]


def _is_title_case(name: str) -> bool:
    words = name.split(" ")
    if not words or not TITLE_WORD.fullmatch(words[0]):
        return False
    return all(TITLE_WORD.fullmatch(w) or w in SMALL_WORDS for w in words[1:])


def test_enough_records(records: list[Record]) -> None:
    assert len(records) >= MIN_RECORDS


def test_ids_unique_and_well_formed(records: list[Record]) -> None:
    ids = [r["id"] for r in records]
    assert all(isinstance(i, str) and ID_PATTERN.fullmatch(i) for i in ids), ids
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, duplicates


def test_sources_unique(records: list[Record]) -> None:
    keys = [(r["source"]["file"], r["source"]["row"], r["source"]["turn"]) for r in records]
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates, duplicates


def test_fields_present_and_typed(records: list[Record]) -> None:
    for r in records:
        assert {"id", "source", "text", "personalizable", "disclosures"} <= r.keys(), r
        source = r["source"]
        assert isinstance(source, dict), r["id"]
        assert source.get("file") in SOURCE_FILES, r["id"]
        for key in ("row", "turn"):
            value = source.get(key)
            assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, (r["id"], key)
        assert isinstance(r["text"], str) and r["text"].strip() == r["text"] and r["text"], r["id"]
        assert not re.match(r"User [12]:", r["text"]), r["id"]
        assert isinstance(r["personalizable"], bool), r["id"]
        assert isinstance(r["disclosures"], list), r["id"]
        for d in r["disclosures"]:
            assert isinstance(d, dict) and {"path", "value", "in_default"} <= d.keys(), r["id"]
            assert isinstance(d["path"], str), r["id"]
            assert isinstance(d["value"], str) and d["value"].strip(), r["id"]
            assert isinstance(d["in_default"], bool), r["id"]


def test_personalizable_matches_disclosures(records: list[Record]) -> None:
    for r in records:
        if r["personalizable"]:
            assert r["disclosures"], f"{r['id']}: personalizable but no disclosures"
        else:
            assert r["disclosures"] == [], f"{r['id']}: not personalizable but has disclosures"
    assert any(not r["personalizable"] for r in records)


def test_paths_have_two_or_three_levels_under_a_known_root(
    records: list[Record], root_names: set[str]
) -> None:
    assert len(root_names) == 12
    for d in _disclosures(records):
        parts = d["path"].split(" > ")
        assert 2 <= len(parts) <= 3, d["path"]
        assert parts[0] in root_names, d["path"]
        assert all(p == p.strip() and p for p in parts), d["path"]


def test_path_names_are_title_case_without_digits(records: list[Record]) -> None:
    for d in _disclosures(records):
        for name in d["path"].split(" > "):
            assert not any(c.isdigit() for c in name), d["path"]
            assert _is_title_case(name), f"{name!r} in {d['path']!r}"


def test_in_default_matches_the_default_tree(
    records: list[Record], tree: AttributeTree, tree_paths: set[str]
) -> None:
    for d in _disclosures(records):
        assert d["in_default"] == (d["path"] in tree_paths), d["path"]
        if not d["in_default"]:
            # a new leaf sits under an existing branch and is not a respelling of an existing node
            branch = " > ".join(d["path"].split(" > ")[:2])
            assert branch in tree_paths, d["path"]
            assert d["path"].count(" > ") == 2, d["path"]
            assert tree.find(d["path"]) is None, d["path"]


def test_every_root_is_covered(records: list[Record], root_names: set[str]) -> None:
    per_root = Counter(
        root for r in records for root in {d["path"].split(" > ")[0] for d in r["disclosures"]}
    )
    thin = {root: per_root[root] for root in root_names if per_root[root] < MIN_PER_ROOT}
    assert not thin, thin
