"""Property tests (hypothesis): round trips, merge laws and canonical lookup."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeppersona.taxonomy import AttributeNode, AttributeTree, ValueType, canonical_key

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
TITLE_NAMES = st.lists(WORDS, min_size=1, max_size=3).map(lambda ws: " ".join(w.capitalize() for w in ws))
ANY_NAMES = st.text(min_size=1, max_size=12).filter(lambda s: bool(canonical_key(s)) and ">" not in s)
# a small vocabulary so that two drawn trees share paths, and spelling variants of one name
POOL = st.sampled_from(["sleep", "health", "diet", "work"])
OVERLAPPING_NAMES = st.tuples(
    st.lists(POOL, min_size=1, max_size=2), st.sampled_from([str.title, str.lower, str.upper])
).map(lambda t: t[1](" ".join(t[0])))
DESCRIPTIONS = st.none() | st.text(max_size=30)
VALUE_TYPES = st.one_of(
    st.none(),
    st.sampled_from([ValueType(kind="text"), ValueType(kind="list"), ValueType(kind="number")]),
    WORDS.map(lambda u: ValueType(kind="number", unit=u)),
    st.lists(TITLE_NAMES, min_size=2, max_size=4, unique_by=str.casefold).map(
        lambda opts: ValueType(kind="categorical", options=tuple(opts))
    ),
)


@st.composite
def trees(
    draw: st.DrawFn, names: st.SearchStrategy[str] = TITLE_NAMES, attributes: bool = True
) -> AttributeTree:
    """A valid tree of up to 3 levels with unique (canonical) sibling names."""

    def level(depth: int) -> list[AttributeNode]:
        if depth > 3:
            return []
        picked = draw(st.lists(names, max_size=3 if depth == 1 else 4, unique_by=canonical_key))
        nodes = []
        for name in picked:
            node = AttributeNode(
                name,
                description=draw(DESCRIPTIONS) if attributes else None,
                value_type=draw(VALUE_TYPES) if attributes else None,
                core=draw(st.booleans()) if attributes else False,
            )
            for child in level(depth + 1):
                child.parent = node
            nodes.append(node)
        return nodes

    return AttributeTree(level(1))


@SETTINGS
@given(trees(names=ANY_NAMES))
def test_dict_round_trip(tree: AttributeTree) -> None:
    doc = tree.to_dict()
    again = AttributeTree.from_dict(doc)
    assert again == tree
    assert again.to_dict() == doc
    assert again.fingerprint() == tree.fingerprint()


@SETTINGS
@given(trees(names=ANY_NAMES))
def test_json_round_trip(tree: AttributeTree) -> None:
    text = tree.to_json()
    again = AttributeTree.from_json(text)
    assert again == tree and again.to_json() == text


@SETTINGS
@given(trees(names=ANY_NAMES, attributes=False))
def test_nested_round_trip(tree: AttributeTree) -> None:
    nested = tree.to_nested()
    assert AttributeTree.from_dict(nested).to_nested() == nested


@SETTINGS
@given(trees(names=TITLE_NAMES, attributes=True))
def test_outline_round_trip(tree: AttributeTree) -> None:
    # descriptions in an outline are single-line, whitespace-normalised and free of trailing marks
    for node in tree:
        if node.description is not None:
            node.description = (
                " ".join("".join(c for c in node.description if c.isalnum() or c == " ").split()) or None
            )
    assert AttributeTree.from_outline(tree.to_outline()) == tree


@SETTINGS
@given(trees(names=OVERLAPPING_NAMES))
def test_merge_idempotent(tree: AttributeTree) -> None:
    merged = tree.merge(tree)
    assert merged == tree
    assert merged.fingerprint() == tree.fingerprint()


@SETTINGS
@given(trees(names=OVERLAPPING_NAMES), trees(names=OVERLAPPING_NAMES))
def test_merge_commutative(a: AttributeTree, b: AttributeTree) -> None:
    ab, ba = a.merge(b), b.merge(a)
    assert ab.fingerprint() == ba.fingerprint()
    assert sorted(ab.paths()) == sorted(ba.paths())
    assert {canonical_key(p) for p in a.paths()} <= {canonical_key(p) for p in ab.paths()}
    assert ab.merge(a).fingerprint() == ab.fingerprint()  # absorbing: merging a part again changes nothing


@SETTINGS
@given(trees(names=OVERLAPPING_NAMES), trees(names=OVERLAPPING_NAMES))
def test_merge_counts_union(a: AttributeTree, b: AttributeTree) -> None:
    keys = {n.key for n in a} | {n.key for n in b}
    assert len(a.merge(b)) == len(keys)


def _variants(name: str) -> list[str]:
    words = canonical_key(name).split()
    return [
        name,
        name.lower(),
        name.upper(),
        "_".join(words),
        "-".join(words),
        "".join(w.capitalize() for w in words),
        words[0] + "".join(w.capitalize() for w in words[1:]),
        "  " + "   ".join(words) + " ",
        ". ".join(w.title() for w in words),
    ]


@SETTINGS
@given(trees(attributes=False), st.data())
def test_canonical_lookup_of_variants(tree: AttributeTree, data: st.DataObject) -> None:
    for node in tree:
        spelled = tuple(data.draw(st.sampled_from(_variants(name))) for name in node.path)
        assert tree.get(spelled) is node
        assert tree.get(" > ".join(spelled)) is node
        assert spelled in tree


@SETTINGS
@given(st.text(max_size=30))
def test_canonical_key_idempotent(text: str) -> None:
    key = canonical_key(text)
    assert canonical_key(key) == key
    assert key == key.strip() and "  " not in key
