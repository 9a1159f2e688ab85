"""The shipped default taxonomy obeys every rule of issue 2, part 3.

These checks are written independently of the library's own linting (``validate(style=True)``),
so a bug there cannot hide a problem here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from deeppersona.taxonomy import ROOT_CATEGORIES, AttributeNode, AttributeTree, canonical_key

REPO = Path(__file__).resolve().parent.parent

EXPECTED_ROOTS = (
    "Demographic Information",
    "Physical and Health Characteristics",
    "Psychological and Cognitive Aspects",
    "Cultural and Social Context",
    "Relationships and Social Networks",
    "Career and Work Identity",
    "Education and Learning",
    "Hobbies, Interests, and Lifestyle",
    "Lifestyle and Daily Routine",
    "Core Values, Beliefs, and Philosophy",
    "Emotional and Relational Skills",
    "Media Consumption and Engagement",
)
CORE_PATHS = (
    "Demographic Information > Age",
    "Demographic Information > Gender",
    "Demographic Information > Location",
    "Demographic Information > Personal Story",
    "Career and Work Identity > Occupation",
    "Core Values, Beliefs, and Philosophy > Personal Values",
    "Psychological and Cognitive Aspects > Life Attitude",
    "Hobbies, Interests, and Lifestyle > Hobbies and Interests",
)
SMALL_WORDS = {"and", "of", "or", "the", "in", "for", "to", "with", "on", "at", "by", "a", "an", "as", "per",
               "vs", "but", "nor"}  # fmt: skip
TITLE_WORD = re.compile(r"[A-Z][a-z]*(?:'[a-z]*)?")  # Sleep, Children's, Parents'
ACRONYM = re.compile(r"[A-Z]{2,6}")  # HIV, DIY
CAMEL = re.compile(r"[a-z][A-Z]")

# Named entities: a heuristic list of brands, companies, platforms, products, countries, big cities,
# named religions, parties, leagues and languages. Matched as whole words (case-insensitive).
NAMED_ENTITIES = [
    "Adidas",
    "Airbnb",
    "Amazon",
    "Android",
    "Apple",
    "Audi",
    "BMW",
    "Chanel",
    "Coca-Cola",
    "Costco",
    "Discord",
    "Disney",
    "Facebook",
    "Fitbit",
    "Gmail",
    "Google",
    "Gucci",
    "Honda",
    "Hulu",
    "IKEA",
    "Instagram",
    "iPad",
    "iPhone",
    "Kindle",
    "LinkedIn",
    "Linux",
    "Lululemon",
    "McDonald's",
    "Mercedes",
    "Microsoft",
    "Netflix",
    "Nike",
    "Nintendo",
    "Nvidia",
    "Pepsi",
    "Peloton",
    "Pinterest",
    "PlayStation",
    "Prada",
    "Reddit",
    "Rolex",
    "Samsung",
    "Snapchat",
    "Sony",
    "Spotify",
    "Starbucks",
    "Tesla",
    "TikTok",
    "Toyota",
    "Twitch",
    "Twitter",
    "Uber",
    "Walmart",
    "WeChat",
    "WhatsApp",
    "Xbox",
    "YouTube",
    "ChatGPT",
    "OpenAI",
    "Weibo",
    "Tinder",
    "Bumble",
    "Etsy",
    "eBay",
    "Zara",
    "Shein",
    "Lego",
    "Duolingo",
    "Coursera",
    "Udemy",
    "Wikipedia",
    "Fortnite",
    "Minecraft",
    "Roblox",
    "Patreon",
    "Substack",
    "PayPal",
    "Venmo",
    "Mastercard",
    "Pokemon",
    "Zoom",
    "Afghanistan",
    "Argentina",
    "Australia",
    "Bangladesh",
    "Brazil",
    "Canada",
    "Chile",
    "China",
    "Colombia",
    "Egypt",
    "Ethiopia",
    "France",
    "Germany",
    "Ghana",
    "Greece",
    "India",
    "Indonesia",
    "Iran",
    "Iraq",
    "Ireland",
    "Israel",
    "Italy",
    "Japan",
    "Kenya",
    "Korea",
    "Malaysia",
    "Mexico",
    "Morocco",
    "Netherlands",
    "Nigeria",
    "Norway",
    "Pakistan",
    "Peru",
    "Philippines",
    "Poland",
    "Portugal",
    "Russia",
    "Spain",
    "Sweden",
    "Switzerland",
    "Tanzania",
    "Thailand",
    "Uganda",
    "Ukraine",
    "USA",
    "UK",
    "Vietnam",
    "America",
    "Europe",
    "Africa",
    "Asia",
    "Bangkok",
    "Beijing",
    "Berlin",
    "Cairo",
    "Chicago",
    "Delhi",
    "Dubai",
    "Istanbul",
    "Jakarta",
    "Karachi",
    "Lagos",
    "Lima",
    "London",
    "Madrid",
    "Manila",
    "Moscow",
    "Mumbai",
    "Nairobi",
    "Paris",
    "Rome",
    "Seoul",
    "Shanghai",
    "Singapore",
    "Sydney",
    "Tokyo",
    "Toronto",
    "Buddhism",
    "Catholicism",
    "Christianity",
    "Hinduism",
    "Islam",
    "Judaism",
    "Sikhism",
    "Democrat",
    "Republican",
    "NBA",
    "NFL",
    "FIFA",
    "Olympics",
    "Python",
    "JavaScript",
    "Excel",
    "Photoshop",
    "English",
    "Spanish",
    "Mandarin",
    "Hindi",
    "Arabic",
    "Swahili",
]
NAMED_PHRASES = ["New York", "Los Angeles", "San Francisco", "Hong Kong", "Mexico City", "Sao Paulo",
                 "Buenos Aires", "United States", "United Kingdom", "South Africa", "Saudi Arabia",
                 "New Zealand", "Premier League", "World Cup", "Harry Potter", "Star Wars"]  # fmt: skip
ENTITY_RE = re.compile(
    r"\b("
    + "|".join(re.escape(e) for e in sorted(NAMED_ENTITIES + NAMED_PHRASES, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
# 'Brand' / 'Product' (and similar) words naming one labelled instance: "Brand X", "Product Model".
INSTANCE_RE = re.compile(
    r"\b(?:Brand|Product|Model|Edition|Version|Series)\s+(?:[A-Z]|X|Y|Z|Name|Model|Line|Number)\b"
)
MARKETING_RE = re.compile(
    r"\b(?:Target (?:Audience|Market|Demographic)|Market (?:Segment|Share)|Customer (?:Segment|Persona|Journey|"
    r"Lifetime Value|Acquisition)|Conversion Rate|Sales Funnel|Marketing Funnel|Lead Generation|"
    r"Brand (?:Awareness|Equity|Positioning|Ambassador)|Product (?:Line|Launch|Portfolio|Positioning)|"
    r"ROI|KPI|SKU|Upsell|Churn|Engagement Rate|Retention Rate|Ad Spend|Click-Through)\b"
)
VALUE_NAMES = {
    "low", "medium", "high", "very high", "very low", "moderate", "yes", "no", "none", "other", "male",
    "female", "single", "married", "divorced", "widowed", "beginner", "intermediate", "advanced", "expert",
    "daily", "weekly", "monthly", "always", "often", "sometimes", "rarely", "never", "good", "bad", "poor",
    "average", "excellent", "misc", "miscellaneous", "unknown",
}  # fmt: skip


@pytest.fixture(scope="module")
def tree() -> AttributeTree:
    return AttributeTree.default()


@pytest.fixture(scope="module")
def nodes(tree: AttributeTree) -> list[AttributeNode]:
    return list(tree.nodes())


def _report(bad: list[str], what: str) -> str:
    head = "\n  ".join(bad[:40])
    more = f"\n  ... and {len(bad) - 40} more" if len(bad) > 40 else ""
    return f"{len(bad)} {what}:\n  {head}{more}"


# ------------------------------------------------------------------ shape
def test_root_categories_constant() -> None:
    assert ROOT_CATEGORIES == EXPECTED_ROOTS


def test_exactly_the_twelve_roots_in_order(tree: AttributeTree) -> None:
    assert tuple(r.name for r in tree.roots) == EXPECTED_ROOTS
    assert tree.fixed_roots == EXPECTED_ROOTS


def test_depth_at_most_three(nodes: list[AttributeNode], tree: AttributeTree) -> None:
    assert max(n.depth for n in nodes) <= 3
    assert tree.depth == 3
    assert tree.max_depth == 3


def test_structurally_valid(tree: AttributeTree) -> None:
    problems = tree.validate()
    assert not problems, _report([str(p) for p in problems], "structural problems")


def test_at_least_4000_nodes(tree: AttributeTree, nodes: list[AttributeNode]) -> None:
    assert len(tree) == len(nodes) >= 4000


def test_balanced_roots(tree: AttributeTree) -> None:
    total = len(tree)
    bad = []
    for root in tree.roots:
        size = 1 + len(root.descendants)
        if size < 150:
            bad.append(f"{root.name}: {size} nodes (< 150)")
        if size > 0.15 * total:
            bad.append(f"{root.name}: {size} nodes = {100 * size / total:.1f}% (> 15%)")
    assert not bad, _report(bad, "unbalanced roots")


def test_every_root_has_all_three_levels(tree: AttributeTree) -> None:
    for root in tree.roots:
        assert root.children, root.name
        assert any(c.children for c in root.children), f"{root.name} has no level-3 attributes"


# ------------------------------------------------------------------ naming
def _naming_issue(name: str, is_root: bool) -> str | None:
    if name != name.strip() or "  " in name or any(c in name for c in "\t\n\r"):
        return "stray whitespace"
    if "_" in name:
        return "snake_case"
    if "," in name and not is_root:
        return "comma outside a root name"
    if re.search(r"[^A-Za-z ,'\-]", name):
        return "character other than letters, spaces, hyphens, apostrophes"
    for i, word in enumerate(name.split(" ")):
        word = word[:-1] if is_root and word.endswith(",") else word
        for j, part in enumerate(word.split("-")):
            first = i == 0 and j == 0
            if CAMEL.search(part):
                return f"CamelCase {word!r}"
            if part in SMALL_WORDS and not first:
                continue
            if not (TITLE_WORD.fullmatch(part) or ACRONYM.fullmatch(part)):
                return f"{word!r} is not Title Case"
    return None


def test_naming_style(nodes: list[AttributeNode]) -> None:
    bad = []
    for node in nodes:
        issue = _naming_issue(node.name, node.depth == 1)
        if issue:
            bad.append(f"{node.path_str}: {issue}")
    assert not bad, _report(bad, "names break the naming style")


def test_naming_check_itself() -> None:
    ok = ["Sleep Quality", "Attitude Toward Aging", "Day-to-Day Routine", "Children's Schooling", "HIV Status",
          "Quality of Life", "Mother-in-Law Relationship"]  # fmt: skip
    bad = ["sleep quality", "Sleep_Quality", "SleepQuality", "Sleep  Quality", " Sleep", "Sleep, Rest",
           "Sleep 8 Hours", "Self-esteem", "and More", "Sleep/Rest", "Rest (Daily)"]  # fmt: skip
    assert [n for n in ok if _naming_issue(n, False)] == []
    assert [n for n in bad if not _naming_issue(n, False)] == []
    assert _naming_issue("Hobbies, Interests, and Lifestyle", True) is None


def test_no_digits(nodes: list[AttributeNode]) -> None:
    bad = [n.path_str for n in nodes if any(c.isdigit() for c in n.name)]
    assert not bad, _report(bad, "names contain digits")


def _simple_key(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()).split())


def _stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", ""), ("s", ""), ("ing", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "us", "is")):
            return word[: len(word) - len(suffix)] + repl
    return word


def _stem_key(name: str) -> str:
    return " ".join(_stem(w) for w in _simple_key(name).split())


def _sibling_groups(tree: AttributeTree) -> list[tuple[str, list[AttributeNode]]]:
    groups = [("<top>", list(tree.roots))]
    groups += [(n.path_str, list(n.children)) for n in tree.nodes() if n.children]
    return groups


@pytest.mark.parametrize(
    "keyfn", [canonical_key, _simple_key, _stem_key], ids=["canonical", "simple", "stemmed"]
)
def test_no_duplicate_siblings(tree: AttributeTree, keyfn) -> None:  # type: ignore[no-untyped-def]
    bad = []
    for parent, children in _sibling_groups(tree):
        seen: dict[str, str] = {}
        for child in children:
            key = keyfn(child.name)
            if key in seen:
                bad.append(f"{parent}: {seen[key]!r} ~ {child.name!r}")
            seen.setdefault(key, child.name)
    assert not bad, _report(bad, "near-duplicate siblings")


def test_children_refine_their_parent(nodes: list[AttributeNode]) -> None:
    bad = [
        n.path_str
        for n in nodes
        if n.parent is not None and n.depth > 1 and _stem_key(n.name) == _stem_key(n.parent.name)
    ]
    assert not bad, _report(bad, "children that repeat their parent")


# ------------------------------------------------------------------ general categories only
def test_no_named_entities(nodes: list[AttributeNode]) -> None:
    bad = []
    for node in nodes:
        match = ENTITY_RE.search(node.name) or INSTANCE_RE.search(node.name)
        if match:
            bad.append(f"{node.path_str}: {match.group(0)!r}")
    assert not bad, _report(bad, "names look like named entities or specific instances")


def test_entity_heuristic_itself() -> None:
    for name in (
        "Instagram Usage",
        "Favorite Brand X",
        "Life in New York",
        "English Proficiency",
        "Nike Shoes",
    ):
        assert ENTITY_RE.search(name) or INSTANCE_RE.search(name), name
    for name in ("Brand Loyalty", "Preferred Social Platforms", "Native Language", "Visa Status"):
        assert not (ENTITY_RE.search(name) or INSTANCE_RE.search(name)), name


def test_no_values_or_marketing_terms(nodes: list[AttributeNode]) -> None:
    bad = [f"{n.path_str}: value" for n in nodes if n.name.lower() in VALUE_NAMES]
    bad += [f"{n.path_str}: marketing term" for n in nodes if MARKETING_RE.search(n.name)]
    assert not bad, _report(bad, "names are values or business/marketing terms")


def test_library_lint_agrees(tree: AttributeTree) -> None:
    problems = tree.validate(style=True)
    assert not problems, _report([str(p) for p in problems], "problems from validate(style=True)")


# ------------------------------------------------------------------ descriptions and core attributes
def test_level_two_nodes_have_descriptions(nodes: list[AttributeNode]) -> None:
    bad = [n.path_str for n in nodes if n.depth == 2 and not (n.description or "").strip()]
    assert not bad, _report(bad, "level-2 nodes without a description")
    one_line = [
        n.path_str for n in nodes if n.description and ("\n" in n.description or len(n.description) > 300)
    ]
    assert not one_line, _report(one_line, "descriptions that are not one short line")


@pytest.mark.parametrize("path", CORE_PATHS)
def test_core_attribute_present_and_marked(tree: AttributeTree, path: str) -> None:
    node = tree.find(path)
    assert node is not None, f"core attribute {path!r} missing"
    assert node.path_str == path, f"spelled {node.path_str!r}, expected {path!r}"
    assert node.core, f"{path!r} is not marked core"
    assert node.description


def test_only_the_core_attributes_are_marked(tree: AttributeTree) -> None:
    assert sorted(n.path_str for n in tree.core_nodes()) == sorted(CORE_PATHS)


# ------------------------------------------------------------------ packaging
def test_default_returns_independent_trees(tree: AttributeTree) -> None:
    first = AttributeTree.default()
    first.remove(EXPECTED_ROOTS[0])
    second = AttributeTree.default()
    assert second == tree and len(second) == len(tree) > len(first)
    assert second.fingerprint() == tree.fingerprint()


def test_provenance_is_recorded(tree: AttributeTree) -> None:
    provenance = str(tree.metadata.get("provenance", ""))
    assert "deeppersona" in provenance and "not copied" in provenance


def test_default_json_is_up_to_date_with_outlines() -> None:
    outline_dir = REPO / "deeppersona" / "data" / "taxonomy" / "outline"
    if not outline_dir.is_dir():  # an installed package ships only the JSON
        pytest.skip("outline sources are not present")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_taxonomy.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
