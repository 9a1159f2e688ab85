"""Unit tests of AttributeTree, AttributeNode, ValueType and the outline format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anytree import LevelOrderIter, PreOrderIter, RenderTree

from deeppersona.errors import (
    ConfigError,
    DataFileNotFoundError,
    DeepPersonaError,
    NodeNotFoundError,
    TaxonomyError,
)
from deeppersona.taxonomy import (
    FORMAT_VERSION,
    ROOT_CATEGORIES,
    AttributeNode,
    AttributeTree,
    TaxonomyProblem,
    TaxonomyStats,
    ValueType,
    canonical_key,
    normalize_name,
)

PATHS = [
    "Health > Sleep > Sleep Quality",
    "Health > Sleep > Sleep Schedule",
    "Health > Diet > Dietary Restrictions",
    "Health > Fitness",
    "Career > Occupation > Job Title",
    "Career > Work Style",
]


@pytest.fixture
def tree() -> AttributeTree:
    t = AttributeTree.from_paths(PATHS)
    t.add_path("Health > Sleep", description="How the person sleeps", value_type="text")
    t.add_path("Career > Occupation", description="What the person does for a living", core=True)
    t.add_path("Health > Diet > Dietary Restrictions", value_type="list")
    t.add_path("Health > Fitness", value_type={"kind": "categorical", "options": ["Low", "High"]})
    return t


# ---------------------------------------------------------------- canonical keys
@pytest.mark.parametrize(
    "variant",
    [
        "Sleep Quality",
        "sleep_quality",
        "SleepQuality",
        " sleep-quality ",
        "SLEEP QUALITY",
        "sleep  quality",
        "Sleep.Quality",
    ],
)
def test_canonical_key_variants(variant: str) -> None:
    assert canonical_key(variant) == "sleep quality"


def test_canonical_key_details() -> None:
    assert canonical_key("Hobbies, Interests, and Lifestyle") == "hobbies interests and lifestyle"
    assert canonical_key("Hobbies, Interests & Lifestyle") == "hobbies interests and lifestyle"
    assert canonical_key("Children's Education") == canonical_key("Childrens Education")
    assert canonical_key("HTMLSkills") == "html skills"
    assert canonical_key("!!!") == ""
    assert normalize_name("sleep_quality") == "Sleep Quality"
    assert normalize_name("values_of_the_family") == "Values of the Family"


# ---------------------------------------------------------------- building and lookup
def test_from_paths_and_lookup(tree: AttributeTree) -> None:
    assert len(tree) == 11
    assert [r.name for r in tree.roots] == ["Health", "Career"]
    node = tree.get("health > sleep > sleep_quality")
    assert node.path == ("Health", "Sleep", "Sleep Quality")
    assert node.path_str == "Health > Sleep > Sleep Quality"
    assert node.key == "health > sleep > sleep quality"
    assert node.depth == 3 and node.category == "Health"
    assert tree.get(("HEALTH", "sleep", "SleepQuality")) is node
    assert tree["Health > Sleep"].description == "How the person sleeps"
    assert "Career>Occupation>job-title" in tree
    assert "Career > Nothing" not in tree
    assert 42 not in tree
    assert node in tree and AttributeNode("Loose") not in tree
    assert tree.find("Health > Nothing") is None


def test_get_missing_suggests(tree: AttributeTree) -> None:
    with pytest.raises(NodeNotFoundError, match="did you mean 'Sleep'") as info:
        tree.get("Health > Slep")
    assert isinstance(info.value, KeyError) and isinstance(info.value, DeepPersonaError)
    with pytest.raises(TaxonomyError, match="empty segment"):
        tree.get("Health >  > Sleep")


def test_iteration_orders(tree: AttributeTree) -> None:
    dfs = [n.name for n in tree.nodes("dfs")]
    bfs = [n.name for n in tree.nodes("bfs")]
    assert dfs[:3] == ["Health", "Sleep", "Sleep Quality"]
    assert bfs[:2] == ["Health", "Career"]
    assert sorted(dfs) == sorted(bfs) and [n.name for n in tree] == dfs
    assert [n.name for n in tree.leaves()] == [
        "Sleep Quality",
        "Sleep Schedule",
        "Dietary Restrictions",
        "Fitness",
        "Job Title",
        "Work Style",
    ]
    assert {n.name for n in tree.leaves("bfs")} == {n.name for n in tree.leaves()}
    with pytest.raises(ConfigError):
        tree.nodes("random")  # type: ignore[arg-type]
    assert tree.paths(leaves_only=True)[0] == "Health > Sleep > Sleep Quality"
    assert [n.path_str for n in tree.core_nodes()] == ["Career > Occupation"]
    assert tree.depth == 3


def test_anytree_iterators_work_on_nodes(tree: AttributeTree) -> None:
    health = tree.get("Health")
    assert [n.name for n in PreOrderIter(health, maxlevel=2)] == ["Health", "Sleep", "Diet", "Fitness"]
    assert [n.name for n in LevelOrderIter(health)][:4] == ["Health", "Sleep", "Diet", "Fitness"]
    assert "Sleep Quality" in str(RenderTree(health))
    leaf = tree.get("Health > Sleep > Sleep Quality")
    assert [a.name for a in leaf.ancestors] == ["Health", "Sleep"]
    assert leaf.is_leaf and len(health.descendants) == 6


def test_add_path_and_remove(tree: AttributeTree) -> None:
    node = tree.add_path(("Health", "sleep", "Dream Recall"))
    assert node.path_str == "Health > Sleep > Dream Recall"  # existing spelling kept
    assert tree.add_path("Health > Sleep > dream_recall") is node
    with pytest.raises(TaxonomyError, match="maximum of 3"):
        tree.add_path("Health > Sleep > Dream Recall > Vividness")
    with pytest.raises(TaxonomyError):
        tree.add_path("Health > ")
    removed = tree.remove("health > sleep")
    assert removed.parent is None and len(removed.children) == 3
    assert "Health > Sleep" not in tree and "Health > Sleep > Dream Recall" not in tree
    with pytest.raises(NodeNotFoundError):
        tree.remove("Health > Sleep")


def test_fixed_roots_reject_unknown_root() -> None:
    tree = AttributeTree(fixed_roots=ROOT_CATEGORIES)
    tree.add_path("demographic_information > Age")
    with pytest.raises(TaxonomyError, match="not one of this tree's root categories"):
        tree.add_path("Favourite Things > Colour")
    assert len(tree) == 2


# ---------------------------------------------------------------- dict / JSON round trips
def test_dict_and_json_round_trip(tree: AttributeTree, tmp_path: Path) -> None:
    doc = tree.to_dict()
    assert doc["format_version"] == FORMAT_VERSION
    assert AttributeTree.from_dict(doc) == tree
    path = tree.save(tmp_path / "sub" / "tree.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["format_version"] == FORMAT_VERSION
    loaded = AttributeTree.load(path)
    assert loaded == tree and loaded.to_json() == text
    assert loaded.get("Health > Fitness").value_type == ValueType(kind="categorical", options=("Low", "High"))
    assert loaded.get("Career > Occupation").core


def test_nested_dict_forms() -> None:
    nested = {"Health": {"Sleep": ["Sleep Quality", "Sleep Schedule"], "Diet": None}, "Career": {}}
    tree = AttributeTree.from_dict(nested)
    assert tree.to_nested() == {
        "Health": {"Sleep": {"Sleep Quality": {}, "Sleep Schedule": {}}, "Diet": {}},
        "Career": {},
    }
    assert AttributeTree.from_dict(tree.to_nested()) == tree


def test_outline_round_trip(tree: AttributeTree, tmp_path: Path) -> None:
    text = tree.to_outline()
    assert "    Occupation :: What the person does for a living [core]" in text
    assert "Fitness {categorical: Low | High}" in text
    again = AttributeTree.from_outline(text)
    assert again == tree
    path = tree.save(tmp_path / "tree.txt")
    assert AttributeTree.load(path) == tree


OUTLINE = """\
# a comment
Demographic Information :: Who the person is [core]

    Age :: How old the person is [core]
        Life Stage {categorical: Child | Teenager | Adult}
        Birth Year {number}
    Household Composition :: Who the person lives with
        Household Size {number: people} :: How many people share the home
        Pets in Household {list}
"""


def test_outline_parsing() -> None:
    tree = AttributeTree.from_outline(OUTLINE)
    root = tree.get("Demographic Information")
    assert root.description == "Who the person is" and root.core
    stage = tree.get("Demographic Information > Age > Life Stage")
    assert stage.value_type is not None and stage.value_type.options == ("Child", "Teenager", "Adult")
    size = tree.get("Demographic Information > Household Composition > Household Size")
    assert size.value_type == ValueType(kind="number", unit="people")
    assert size.description == "How many people share the home"
    assert tree.get("Demographic Information > Age > Birth Year").value_type == ValueType(kind="number")
    assert len(tree) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A\n\tB", "f.txt:2: tab in indentation"),
        ("A\n   B", "f.txt:2: indentation of 3 spaces"),
        ("A\n        B", "f.txt:2: indented 1 level"),
        ("A\n    B\n        C\n            D", "f.txt:4: depth 4 is over the maximum of 3"),
        ("A\n    B\n    b", "f.txt:3: 'b' duplicates its sibling 'B' \\(line 2\\)"),
        ("A\n    B [sure]", "f.txt:2: unknown tag"),
        ("A\n    B {colour}", "f.txt:2: .*unknown kind 'colour'"),
        ("A\n    B {categorical: One}", "f.txt:2: .*at least two options"),
        ("A\n    B ::", "f.txt:2: '::' is followed by no description"),
        ("A\n    :: only a description", "f.txt:2: the line has no name"),
        ("A\n    B {list} {text}", "f.txt:2: more than one value-type hint"),
    ],
)
def test_outline_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        AttributeTree.from_outline(text, source="f.txt")


# ---------------------------------------------------------------- bad input
def _doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "format_version": FORMAT_VERSION,
        "roots": [{"name": "Health", "children": [{"name": "Sleep"}]}],
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"roots": []}, "missing 'format_version'"),
        (_doc(format_version=3), "unsupported format_version 3"),
        (_doc(format_version=True), "unsupported format_version True"),
        (_doc(extra=1), "unknown top-level keys \\['extra'\\]"),
        (_doc(roots={"Health": {}}), "'roots' must be a list"),
        (_doc(roots=[{"name": "Health", "colour": "red"}]), "node 'Health' has unknown keys \\['colour'\\]"),
        (_doc(roots=[{"name": "  "}]), "empty or whitespace-only name"),
        (_doc(roots=[{"name": ""}]), "empty or whitespace-only name"),
        (_doc(roots=[{"description": "x"}]), "non-string name None"),
        (
            _doc(
                roots=[
                    {
                        "name": "A",
                        "children": [{"name": "B", "children": [{"name": "C", "children": [{"name": "D"}]}]}],
                    }
                ]
            ),
            "'A > B > C > D' is at depth 4, over the maximum of 3",
        ),
        (
            _doc(roots=[{"name": "A", "children": [{"name": "Sleep"}, {"name": "sleep_"}]}]),
            "A: siblings 'Sleep' and 'sleep_' have the same name",
        ),
        (_doc(roots=[{"name": "A", "core": "yes"}]), "'core' must be true or false"),
        (_doc(roots=[{"name": "A", "value_type": {"kind": "colour"}}]), "node 'A': invalid value type"),
        (_doc(roots=[{"name": "A", "children": {"B": {}}}]), "'children' must be a list"),
        (_doc(fixed_roots=["Career"]), "unknown root category 'Health'"),
        (_doc(max_depth=0), "'max_depth' must be a positive integer"),
    ],
)
def test_bad_documents_raise_taxonomy_error(doc: dict[str, object], message: str) -> None:
    with pytest.raises(TaxonomyError, match=message) as info:
        AttributeTree.from_dict(doc, source="my.json")
    assert str(info.value).startswith("my.json")
    assert isinstance(info.value, ValueError) and isinstance(info.value, DeepPersonaError)


def test_same_dict_reachable_twice() -> None:
    shared = {"Sleep Quality": None}
    with pytest.raises(
        TaxonomyError, match=r"same dict object is reachable twice.*'Health > Sleep'.*'Mind > Rest'"
    ):
        AttributeTree.from_dict({"Health": {"Sleep": shared}, "Mind": {"Rest": shared}})
    node: dict[str, object] = {"name": "Sleep"}
    with pytest.raises(TaxonomyError, match="reachable twice"):
        AttributeTree.from_dict(
            _doc(roots=[{"name": "A", "children": [node]}, {"name": "B", "children": [node]}])
        )
    cyclic: dict[str, object] = {}
    cyclic["Loop"] = cyclic
    with pytest.raises(TaxonomyError, match="reachable twice"):
        AttributeTree.from_dict(cyclic)


@pytest.mark.parametrize(
    ("nested", "message"),
    [
        ({"A": {"B": {"C": {"D": None}}}}, "'A > B > C > D' is at depth 4"),
        ({"A": {" ": None}}, "empty or whitespace-only name"),
        ({"A": 3}, "children of 'A' must be a mapping"),
        ({"A": [1]}, "list item 0 is 1"),
        ({"A": ["B", "b"]}, "siblings 'B' and 'b' have the same name"),
        ({"A > B": None}, "contains '>'"),
    ],
)
def test_bad_nested_dicts(nested: dict[str, object], message: str) -> None:
    with pytest.raises(TaxonomyError, match=message):
        AttributeTree.from_dict(nested)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError):
        AttributeTree.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "roots": [', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"bad\.json: malformed JSON at line 1"):
        AttributeTree.load(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not a taxonomy document"):
        AttributeTree.load(bad)
    deep = tmp_path / "deep.json"
    deep.write_text(
        json.dumps(
            _doc(
                roots=[
                    {
                        "name": "A",
                        "children": [{"name": "B", "children": [{"name": "C", "children": [{"name": "D"}]}]}],
                    }
                ]
            )
        ),
        encoding="utf-8",
    )
    with pytest.raises(TaxonomyError, match=r"deep\.json: node 'A > B > C > D'"):
        AttributeTree.load(deep)


# ---------------------------------------------------------------- validate
def test_validate_reports_every_problem_with_its_path() -> None:
    tree = AttributeTree(fixed_roots=["Health"], max_depth=2)
    health = AttributeNode("Health", parent=tree._top)
    AttributeNode("Sleep", parent=health)
    AttributeNode("sleep", parent=health)
    AttributeNode("  ", parent=health)
    deep = AttributeNode("Diet", parent=health)
    AttributeNode("Dietary Restrictions", parent=deep)
    AttributeNode("Hobbies", parent=tree._top)
    AttributeNode("Two  Spaces", parent=health)
    problems = tree.validate()
    codes = sorted(p.code for p in problems)
    assert codes == ["duplicate-sibling", "empty-name", "too-deep", "unknown-root"]
    by_code = {p.code: p for p in problems}
    assert by_code["too-deep"].path == "Health > Diet > Dietary Restrictions"
    assert by_code["duplicate-sibling"].path == "Health"
    assert by_code["unknown-root"].path == "Hobbies"
    assert all(isinstance(p, TaxonomyProblem) and str(p) for p in problems)
    assert ("Health > Two  Spaces", "whitespace") in [(p.path, p.code) for p in tree.validate(style=True)]


def test_validate_style() -> None:
    tree = AttributeTree.from_paths(
        [
            "Health > sleep_quality",
            "Health > SleepHabits",
            "Health > Hobby",
            "Health > Hobbies",
            "Health > Level 3",
            "Health > Nike Shoes",
            "Health > Married",
            "Health > Brand Awareness",
            "Health > Sleep, Rest",
            "Health > Mother-in-Law Relations",
        ]
    )
    codes = [(p.path, p.code) for p in tree.validate(style=True)]
    assert ("Health > sleep_quality", "naming-style") in codes
    assert ("Health > SleepHabits", "naming-style") in codes
    assert ("Health", "near-duplicate") in codes
    assert ("Health > Level 3", "naming-style") in codes
    assert ("Health > Nike Shoes", "named-entity") in codes
    assert ("Health > Married", "value-like") in codes
    assert ("Health > Brand Awareness", "marketing-term") in codes
    assert ("Health > Sleep, Rest", "naming-style") in codes
    assert ("Health > Mother-in-Law Relations", "missing-description") in codes
    assert ("Health > Mother-in-Law Relations", "naming-style") not in codes
    assert not tree.validate()  # none of these is a structural problem


# ---------------------------------------------------------------- derived trees
def test_subtree_filter_prune(tree: AttributeTree) -> None:
    sub = tree.subtree("Health > Sleep")
    assert sub.paths() == [
        "Health",
        "Health > Sleep",
        "Health > Sleep > Sleep Quality",
        "Health > Sleep > Sleep Schedule",
    ]
    assert sub.get("Health > Sleep").description == "How the person sleeps"
    two = tree.subtree(("Career", "health > diet"))
    assert [r.name for r in two.roots] == ["Health", "Career"]  # original order
    with pytest.raises(NodeNotFoundError):
        tree.subtree(["Nope"])
    core = tree.filter(lambda n: n.core)
    assert core.paths() == ["Career", "Career > Occupation"]
    pruned = tree.prune(2)
    assert pruned.depth == 2 and len(pruned) == 7
    assert len(tree) == 11  # unchanged
    with pytest.raises(ConfigError):
        tree.prune(0)
    copy = tree.copy()
    copy.remove("Health")
    assert "Health" in tree and copy != tree


def test_merge() -> None:
    a = AttributeTree.from_paths(["Health > Sleep > Sleep Quality", "Career > Occupation"])
    b = AttributeTree.from_paths(["health > sleep > dream_recall", "Hobbies > Reading"])
    b.add_path("Health > Sleep", description="How the person sleeps")
    merged = a.merge(b)
    assert merged.paths() == [
        "Health",
        "Health > Sleep",
        "Health > Sleep > Sleep Quality",
        "Health > Sleep > dream_recall",
        "Career",
        "Career > Occupation",
        "Hobbies",
        "Hobbies > Reading",
    ]
    assert merged.get("Health > Sleep").description == "How the person sleeps"
    assert merged.fingerprint() == b.merge(a).fingerprint()
    assert a.merge(a) == a
    assert len(a) == 5  # unchanged
    with pytest.raises(TypeError):
        a.merge({"Health": {}})  # type: ignore[arg-type]


def test_merge_conflicts() -> None:
    a = AttributeTree.from_paths(["Health"])
    b = AttributeTree.from_paths(["health"])
    a.add_path("Health", description="short")
    b.add_path("Health", description="a longer description")
    assert a.merge(b).get("Health").description == "a longer description"
    assert a.merge(b, prefer="self").get("Health").description == "short"
    assert a.merge(b, prefer="other").roots[0].name == "health"
    assert a.merge(b).roots[0].name == "Health" == b.merge(a).roots[0].name


# ---------------------------------------------------------------- summaries
def test_stats_and_fingerprint(tree: AttributeTree) -> None:
    stats = tree.stats()
    assert isinstance(stats, TaxonomyStats)
    assert (stats.nodes, stats.leaves, stats.roots, stats.max_depth) == (11, 6, 2, 3)
    assert stats.per_root == {"Health": 7, "Career": 4}
    assert stats.depth_histogram == {1: 2, 2: 5, 3: 4}
    assert stats.core == 1 and stats.described == 2
    assert "nodes=11" in repr(stats) and "Health" in str(stats) and "<table>" in stats._repr_html_()
    assert json.dumps(stats.as_dict())
    reordered = AttributeTree.from_dict(
        {**tree.to_dict(), "roots": list(reversed([_reverse(r) for r in tree.to_dict()["roots"]]))}
    )
    assert reordered != tree and reordered.fingerprint() == tree.fingerprint()
    changed = tree.copy()
    changed.add_path("Health > Sleep", description="changed")
    assert changed.fingerprint() != tree.fingerprint()
    assert len(tree.fingerprint()) == 16


def _reverse(node: dict[str, object]) -> dict[str, object]:
    out = dict(node)
    if "children" in node:
        out["children"] = [_reverse(c) for c in reversed(node["children"])]  # type: ignore[call-overload]
    return out


def test_reprs_and_pandas(tree: AttributeTree) -> None:
    assert repr(tree) == "AttributeTree(nodes=11, roots=2, leaves=6, depth=3)"
    html = tree._repr_html_()
    assert "<table>" in html and "Health" in html and tree.fingerprint() in html
    assert (
        repr(tree.get("Career > Occupation")) == "AttributeNode('Career > Occupation', children=1, core=True)"
    )
    assert "  Sleep" in tree.render() and "more" in tree.render(max_children=1)
    df = tree.to_pandas()
    assert list(df.columns) == [
        "path",
        "name",
        "depth",
        "root",
        "description",
        "value_type",
        "core",
        "applies_when",
        "support",
        "n_children",
    ]
    assert len(df) == 11
    row = df.set_index("path").loc["Health > Fitness"]
    assert row["value_type"] == "categorical: Low | High" and row["root"] == "Health" and row["depth"] == 2


def test_value_type_model() -> None:
    assert ValueType.parse("list") == ValueType(kind="list")
    assert ValueType.parse("number: hours per week").unit == "hours per week"
    vt = ValueType.parse("categorical: A | B | C")
    assert ValueType.parse(vt.to_hint()) == vt and ValueType.coerce(vt.to_dict()) == vt
    for bad in ("categorical: A", "text: x", "colour", "categorical: A | a"):
        with pytest.raises(TaxonomyError):
            ValueType.parse(bad)
    with pytest.raises(ValueError):
        ValueType(kind="text", unit="kg")


def test_sunburst(tree: AttributeTree, tmp_path: Path) -> None:
    fig = tree.plot_sunburst()
    trace = fig.data[0]
    assert trace.type == "sunburst" and "Health" in list(trace.labels)
    sizes = dict(zip(trace.labels, trace.values, strict=False))
    assert sizes["Health"] == tree.stats().per_root["Health"]  # a wedge is the number of nodes beneath
    assert trace.branchvalues == "total"
    html = tree.plot_sunburst(tmp_path / "sun.html", title="t")
    assert (tmp_path / "sun.html").stat().st_size > 1000 and html.data
    tree.plot_sunburst(tmp_path / "sun.png")
    assert (tmp_path / "sun.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match=r"\.html"):
        tree.plot_sunburst(tmp_path / "sun.gif")


def test_applicability_and_number_range_round_trip(tmp_path: Path) -> None:
    from deeppersona.taxonomy import CONDITIONS, applies
    from deeppersona.taxonomy._outline import format_outline, parse_outline

    text = (
        "Relationships and Social Networks :: People\n"
        "    Partner :: The partner\n"
        "        Partner's Job {text} [when: partnered] :: What the partner does for a living\n"
        "        Children Count {number: children, 0-12} :: How many children the person has\n"
        "        Children's School {categorical: Public | Private} [when: parent, employed] :: Where they study\n"
    )
    roots = parse_outline(text)
    leaves = roots[0].children[0].children
    assert leaves[0].applies_when == ("partnered",) and leaves[2].applies_when == ("parent", "employed")
    number = leaves[1].value_type
    assert number is not None and (number.unit, number.minimum, number.maximum) == ("children", 0, 12)
    assert number.in_range(3) and not number.in_range(13)
    again = parse_outline(format_outline(roots))
    assert [n.to_dict() for n in again] == [n.to_dict() for n in roots]
    tree = AttributeTree(again, fixed_roots=None)
    path = tmp_path / "t.json"
    tree.save(path)
    assert AttributeTree.load(path).to_dict() == tree.to_dict()
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION == 2
    assert "partnered" in CONDITIONS
    assert applies(("partnered",), circumstances={"partnered": False}) is False
    assert applies(("employed",), life_stage="retired") is False
    assert applies(("employed", "parent"), life_stage="employed") is None
    assert applies(("employed",), life_stage="employed") is True
    with pytest.raises(TaxonomyError, match="unknown applicability condition 'wife'"):
        parse_outline("Relationships :: x\n    Partner :: y\n        Job [when: wife]\n")
    with pytest.raises(TaxonomyError, match="runs backwards"):
        parse_outline("Relationships :: x\n    Partner :: y\n        Age {number: years, 9-1}\n")
