"""Rule-based contradictions between a persona's demographics and one of its values.

Shared by the generator (a value that contradicts the person is re-asked, never stored) and the quality
report (:func:`deeppersona.evaluation.Evaluator.quality` counts rule breaks per persona). The rules are
deliberately conservative: they fire on explicit statements ("Graying Stage: 50-60 years" for a
30-year-old, "Diaspora Identity: Kenyan" for a Kenyan in Kenya), never on interpretations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..persona import Persona
from ..taxonomy import canonical_key
from ._checks import is_junk, is_placeholder, normalise, parse_number

__all__ = ["CONTRADICTION_RULES", "may_contradict", "value_contradiction"]

CONTRADICTION_RULES: dict[str, str] = {
    "age_life_stage": (
        "a life stage (demographics.life_stage, or a 'Life Stage' attribute starting with a stage word) "
        "outside its ages: child 0-17, teenager 10-21, student 0-60, young adult 15-40, adult 16+, "
        "middle age 30-70, retired 45+, older adult / senior / elderly 50+"
    ),
    "age_stated": (
        "an 'Age' / 'Chronological Age' attribute more than 1 year from the persona's age, or an "
        "'Age Group' / 'Age Range' ('50-60', '65+') that misses it by more than 1 year"
    ),
    "education_age": (
        "an attainment attribute (highest level, degree, qualification, credential; not a relative's, "
        "not an attitude or plan) naming a doctorate below age 24 or a master's degree below 21; values "
        "saying 'student', 'pursuing', 'candidate', 'plans', 'currently' ... are skipped"
    ),
    "retirement_age": (
        "the occupation, or an employment status / occupation / job / retirement status attribute (not a "
        "relative's, previous or dream job), starting with 'retired' below age 40"
    ),
    "children_ages": (
        "a child's stated age ('aged 30', '30 years old', or the numbers of an 'Ages of Children' "
        "attribute) >= the persona's age - 12; grandchildren and wishes for children are skipped"
    ),
    "marital_partner": (
        "marital / relationship / partner status 'single', 'never married' or 'unmarried' (not 'dating', "
        "'engaged' ...) while a partner or spouse attribute holds a real value: not empty, not N/A, no "
        "negation ('no partner'); former, ideal, business and lost partners are skipped"
    ),
    "diaspora_nationality": (
        "a diaspora attribute naming the persona's own country or nationality while living there "
        "('Diaspora Identity: Kenyan' for a Kenyan in Kenya)"
    ),
    "year_age": (
        "a text of the persona (life story, narrative, free-text value) dating its age in a year ('in 2005, "
        "when he was just 17', 'at the age of 17, in 2005') more than 2 years off the persona's age in "
        "the run's reference year (the demographic tables' year, else this year)"
    ),
}
"""The rule-based contradiction checks, name → definition. Conservative: they only fire on clear cases."""

_YEAR_THEN_AGE = re.compile(
    r"\bin ((?:19|20)\d\d)\b[^.;!?]{0,60}?\b(?:when (?:he|she|they|i) (?:was|were)|at the age of|at age|aged)"
    r"\s+(?:just |only |barely |about |around )?(\d{1,2})\b(?!\s*(?:%|percent|km|kilo|miles|kg|hours|minutes|"
    r"days|weeks|months|children|kids|people|workers|of (?:them|us)))"
)
_AGE_THEN_YEAR = re.compile(r"\b(?:at the age of|at age|aged)\s+(\d{1,2}),?\s+in ((?:19|20)\d\d)\b")


def year_age_claims(text: str) -> list[tuple[int, int]]:
    """``(year, age then)`` for each place ``text`` dates the person's age in a year ("in 2005, when he
    was just 17" → ``(2005, 17)``)."""
    low = str(text).casefold()
    found = [(int(y), int(a)) for y, a in _YEAR_THEN_AGE.findall(low)]
    found += [(int(y), int(a)) for a, y in _AGE_THEN_YEAR.findall(low)]
    return found


def _year_age_break(texts: Sequence[str], age: int, year: int) -> str | None:
    """The first claim of ``texts`` that puts the birth year more than 2 years from ``year - age``."""
    for text in texts:
        for then, age_then in year_age_claims(text):
            if then <= year and abs((then - age_then) - (year - age)) > 2:
                return f"aged {age_then} in {then}, but {age} in {year}"
    return None


def _reference_year(persona: Persona) -> int:
    """The year the persona's age refers to: the sampler's table year of its run, else this year."""
    sampler = (persona.provenance.run_config or {}).get("sampler") or {}
    year = (sampler.get("settings") or {}).get("year") if isinstance(sampler, Mapping) else None
    if isinstance(year, int) and not isinstance(year, bool) and 1900 < year < 2200:
        return year
    import datetime

    return datetime.date.today().year


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return not any(_text(v).strip() for v in value)
    return False


def _usable_text(text: str) -> bool:
    return bool(text.strip()) and not is_placeholder(text) and not is_junk(text)


def _leaf(path: tuple[str, ...]) -> str:
    return canonical_key(path[-1]) if path else ""


# --- contradiction rules ----------------------------------------------------------------------------

_STAGES: tuple[tuple[re.Pattern[str], int, int], ...] = tuple(
    (re.compile(rf"^(?:an? |the )?(?:{words})\b"), lo, hi)
    for words, lo, hi in (
        (r"young adult(?:hood)?", 15, 40),
        (r"older adult(?:hood)?|senior(?: citizen)?|elderly|old age", 50, 200),
        (r"middle[- ]aged?|midlife|mid-life", 30, 70),
        (r"retired|retiree|retirement", 45, 200),
        (r"teen|teenager|teenage|adolescent|adolescence", 10, 21),
        (r"child|childhood|kid|toddler|infant|baby", 0, 17),
        (r"(?:school |tertiary |university |college )?student|pupil|schoolchild", 0, 60),
        (r"adult|adulthood", 16, 200),
    )
)
_DEMOGRAPHIC_STAGES = {"child": (0, 17), "school student": (0, 60), "tertiary student": (0, 60),
                       "retired": (45, 200)}  # fmt: skip
_AGE_LEAVES = frozenset({"age", "chronological age", "current age", "actual age"})
_AGE_GROUP_LEAVES = frozenset(
    {"age group", "age bracket", "age range", "age band", "age cohort", "age category"}
)
_RANGE = re.compile(r"(\d{1,3})\s*(?:-|–|—|to)\s*(\d{1,3})")
_PLUS = re.compile(r"(\d{1,3})\s*\+")
_DOCTORATE = re.compile(r"\b(?:ph\.?\s?d|doctorate|doctoral|d\.?phil|ed\.?d)\b")
_MASTERS = re.compile(r"\b(?:master'?s|masters|msc|m\.sc|mba|m\.a\.)\b")
_NOT_DONE = re.compile(
    r"\b(?:student|candidate|pursuing|studying|working (?:on|toward|towards)|plan|plans|planning|hope|"
    r"hopes|hoping|want|wants|aspir\w*|dream\w*|goal|future|currently|enrolled|progress|intend\w*|"
    r"would|will|someday|considering|applying|before)\b"
)
_RELATIVES = re.compile(
    r"\b(?:(?:parent|mother|father|mom|dad|famil(?:y|ies)|sibling|brother|sister|partner|spouse|husband|"
    r"wife|wive|child|children|son|daughter|grand\w*|goal|aspiration|plan|dream|preference|expectation)s?|"
    r"desired|ideal|future|preferred)\b"
)
_EDUCATION_LEAF = re.compile(
    r"\b(?:highest|degrees?|qualifications?|credentials?|attainment|education level|level of education|"
    r"educational level|completed level)\b"
)
_EDUCATION_SKIP = re.compile(
    r"\b(?:values?|placed|views?|attitudes?|regrets?|aspirations?|planned|plans?|incomplete|trust|"
    r"quality|relative|interrupted|desired|ideal|future)\b"
)
_WORK_LEAF = re.compile(
    r"\b(?:employment status|employment|occupation|job title|current job|job|work status|working status|"
    r"career stage|retirement status)\b"
)
_WORK_SKIP = re.compile(r"\b(?:previous|first|dream|longest|past|former|ideal|desired|future|prestige)\b")
_RETIRED = re.compile(r"^(?:(?:an?|now|currently|recently|early|semi|fully)[\s-]+)*retir(?:ed|ee)\b")
_CHILD_LEAF = re.compile(r"\b(?:child(?!hood|less)\w*|kids?|sons?|daughters?)\b")
_CHILD_LEAF_SKIP = re.compile(  # "Age at First Child" is the person's own age then, not a child's
    r"\b(?:number|count|desire|desired|ideal|planned|future|wants?|intentions?|hopes?|aspirations?|media|"
    r"age at|age when)\b"
)
_ONE_NUMBER = r"(?<![\d.])\b(\d{1,3})(?:\.\d+)?"  # a decimal is one number: 7.5 is 7, never 7 and 5
_CHILD_AGE = re.compile(_ONE_NUMBER + r"[\s-]*(?:years?|yrs?)[\s-]*old\b")  # "17.5 years old" is 17
_CHILD_AGES = re.compile(r"\bage[ds]?\s*(?:of\s*)?(\d{1,3}(?:\s*(?:,|and|&)\s*\d{1,3})*)")
_BARE_NUMBER = re.compile(
    _ONE_NUMBER + r"\b(?!\s*(?:children|kids|sons|daughters|child|grandchildren|months?|"
    r"weeks?|days?|%))"
)
_MARITAL_LEAF = re.compile(r"\b(?:marital|relationship|civil|partner|partnership) status\b")
_SINGLE = re.compile(r"^(?:single|never[\s-]+married|unmarried|not married)\b")
_TAKEN = re.compile(
    r"\b(?:dating|engaged|partner|partnered|boyfriend|girlfriend|relationship with|cohabit\w*|"
    r"living together|married to|seeing someone)\b"
)
_PARTNER_SEGMENT = re.compile(r"\b(?:partners?|spouses?|spousal|husbands?|wife|wifes|wives)\b")
_PARTNER_SKIP = re.compile(
    r"\b(?:business|work|trade|trading|dance|training|gym|study|exercise|workout|sparring|ex|former|past|"
    r"previous|ideal|desired|prospective|future|preferred|preference|preferences|dream|potential|"
    r"expectation|expectations|search|seeking|dating|finding|choice|selection|criteria|loss|lost|death|"
    r"grief|meeting|conversation)\b"
)
_NEGATION = re.compile(
    r"\b(?:no|none|not|never|without|single|n/?a|nobody|unmarried|unpartnered|widowed|divorced|separated|"
    r"deceased|passed)\b"
)
_DIASPORA_FILLER = frozenset(
    {"diaspora", "identity", "community", "member", "of", "the", "a", "an", "national"}
)
_IRREGULAR_DEMONYMS: dict[str, tuple[str, ...]] = {
    "USA": ("american",),
    "GBR": ("british", "english", "scottish", "welsh"),
    "FRA": ("french",),
    "NLD": ("dutch",),
    "ESP": ("spanish",),
    "PHL": ("filipino", "filipina"),
    "CHE": ("swiss",),
    "IRL": ("irish",),
    "POL": ("polish",),
    "TUR": ("turkish",),
    "SWE": ("swedish",),
    "DNK": ("danish",),
    "FIN": ("finnish",),
    "NOR": ("norwegian",),
    "GRC": ("greek",),
    "THA": ("thai",),
    "VNM": ("vietnamese",),
    "CIV": ("ivorian",),
    "NZL": ("new zealander", "kiwi"),
    "PER": ("peruvian",),
    "KOR": ("korean", "south korean"),
    "PRK": ("korean", "north korean"),
    "CZE": ("czech",),
    "SVK": ("slovak",),
    "SVN": ("slovene", "slovenian"),
    "HRV": ("croatian", "croat"),
    "SRB": ("serbian", "serb"),
    "BGD": ("bangladeshi",),
    "LAO": ("lao", "laotian"),
    "MDG": ("malagasy",),
    "ARE": ("emirati",),
    "SAU": ("saudi", "saudi arabian"),
    "RUS": ("russian",),
    "IRN": ("iranian", "persian"),
    "ZAF": ("south african",),
    "NER": ("nigerien",),
}


@dataclass
class _Countries:
    """Country spellings, resolved once per assessment (no module-level cache)."""

    cache: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    tables: Any = None  # the country table, read on first use

    def names(self, country: str) -> tuple[set[str], set[str]]:
        """Upper-cased aliases and lower-case nationality words of ``country``."""
        if country not in self.cache:
            from ..demographics._countries import _country_row, country_aliases
            from ..demographics._tables import DemographicTables

            if self.tables is None:
                self.tables = DemographicTables()
            aliases = country_aliases(country, self.tables)
            row = _country_row(country, self.tables) or {}
            name = str(row.get("name", country)).strip()
            low = name.casefold()
            stem = low[:-1] if low[-1:] in "aeiouy" else low
            irregular = _IRREGULAR_DEMONYMS.get(str(row.get("iso3", "")))
            if irregular is not None:  # the known nationality words only (Niger's are not "Nigerian")
                demonyms = {low, *irregular}
            else:  # the usual endings: Kenya-n, Brazil-ian, Chin-ese, Pakistan-i, German-y
                demonyms = {low, low + "n", low + "ian", low + "ese", low + "i", stem + "an", stem + "ian",
                            stem + "ese", stem + "ish", stem}  # fmt: skip
            demonyms.update(a.casefold() for a in aliases)
            self.cache[country] = (aliases, demonyms)
        return self.cache[country]


@dataclass(frozen=True)
class _Attr:
    key: str
    path: tuple[str, ...]
    value: Any
    na: bool


def _life_stage_break(text: str, age: int) -> bool:
    """A life stage value (``age_life_stage`` applies) outside the age's stage."""
    for pattern, lo, hi in _STAGES:
        if pattern.match(text):
            return not lo <= age <= hi
    return False


def _stated_age_break(leaf: str, value: Any, text: str, age: int) -> bool:
    """A stated age or age group (``age_stated`` applies) that is not the persona's age."""
    if leaf in _AGE_LEAVES:
        number = parse_number(value)
        return number is not None and abs(number - age) > 1
    match = _RANGE.search(text)
    if match:
        lo, hi = sorted((int(match.group(1)), int(match.group(2))))
        return age < lo - 1 or age > hi + 1
    plus = _PLUS.search(text)
    return plus is not None and age < int(plus.group(1)) - 1


def _education_break(text: str, age: int) -> bool:
    """A degree completed too young (``education_age`` applies; a degree not yet done is no break)."""
    if _NOT_DONE.search(text):
        return False
    return bool((_DOCTORATE.search(text) and age < 24) or (_MASTERS.search(text) and age < 21))


def _retirement_break(text: str, age: int) -> bool:
    """Retired before 40 (``retirement_age`` applies)."""
    return age < 40 and bool(_RETIRED.match(text))


def _child_ages(leaf: str, text: str) -> list[int]:
    """The children's ages a value states (``children_ages`` applies); a bare number counts when the
    attribute is about ages."""
    ages = [int(m) for m in _CHILD_AGE.findall(text)]
    for group in _CHILD_AGES.findall(text):
        ages += [int(n) for n in re.findall(r"\d{1,3}", group)]
    if not ages and re.search(r"\bages?\b", leaf):
        ages = [int(n) for n in _BARE_NUMBER.findall(text)]
    return ages


def _partner_value(attr: _Attr) -> str | None:
    """The attribute's value when it is a real value of a partner attribute, else ``None``."""
    segments = [canonical_key(s) for s in attr.path]
    if not any(_PARTNER_SEGMENT.search(s) for s in segments) or _MARITAL_LEAF.search(_leaf(attr.path)):
        return None
    if any(_PARTNER_SKIP.search(s) for s in segments) or isinstance(attr.value, bool):
        return None
    text = _text(attr.value)
    if not _usable_text(text) or _NEGATION.search(normalise(text)):
        return None
    return text


@lru_cache(maxsize=8192)
def _path_rules(path: tuple[str, ...]) -> frozenset[str]:
    """The one-value rules that can apply to an attribute at ``path`` whatever its value (each rule first
    looks at the attribute's name): most attributes need no rule, and their values are not looked at."""
    segments = [canonical_key(s) for s in path]
    leaf = segments[-1] if segments else ""
    rules = set()
    if "life stage" in leaf:
        rules.add("age_life_stage")
    if leaf in _AGE_LEAVES or leaf in _AGE_GROUP_LEAVES:
        rules.add("age_stated")
    if (_EDUCATION_LEAF.search(leaf) or "educational attainment" in segments) and not (
        _EDUCATION_SKIP.search(leaf) or _RELATIVES.search(leaf)
    ):
        rules.add("education_age")
    if _WORK_LEAF.search(leaf) and not _WORK_SKIP.search(leaf) and not _RELATIVES.search(leaf):
        rules.add("retirement_age")
    if _CHILD_LEAF.search(leaf) and not _CHILD_LEAF_SKIP.search(leaf) and "grand" not in leaf:
        rules.add("children_ages")
    if any("diaspora" in s for s in segments):
        rules.add("diaspora_nationality")
    return frozenset(rules)


def _value_breaks(
    demographics: Mapping[str, Any], age: int | None, a: _Attr, countries: _Countries
) -> list[tuple[str, str]]:
    """``(rule, detail)`` for every one-value rule attribute ``a`` breaks (the rules that need no other
    attribute: life stage, stated age, education, retirement and children's ages against the age, and a
    diaspora attribute naming the persona's own country)."""
    if a.na or _is_empty(a.value):
        return []
    rules = _path_rules(tuple(a.path))
    if not rules:
        return []
    found: list[tuple[str, str]] = []
    leaf, text = (canonical_key(a.path[-1]) if a.path else ""), normalise(_text(a.value))
    shown = f"{_text(a.value)!r}"
    if age is not None:
        if "age_life_stage" in rules and _life_stage_break(text, age):
            found.append(("age_life_stage", f"{shown} at age {age}"))
        if "age_stated" in rules and _stated_age_break(leaf, a.value, text, age):
            found.append(("age_stated", f"{shown} but age {age}"))
        if "education_age" in rules and _education_break(text, age):
            found.append(("education_age", f"{shown} at age {age}"))
        if "retirement_age" in rules and _retirement_break(text, age):
            found.append(("retirement_age", f"{shown} at age {age}"))
        old = [n for n in _child_ages(leaf, text) if n >= age - 12] if "children_ages" in rules else []
        if old:
            found.append(("children_ages", f"a child aged {old[0]} for a persona aged {age}"))
    country = demographics.get("country")
    if country and isinstance(a.value, str) and "diaspora_nationality" in rules:
        aliases, demonyms = countries.names(str(country))
        core = " ".join(w for w in normalise(a.value).split() if w not in _DIASPORA_FILLER)
        if core and (core in demonyms or core.upper() in aliases):
            found.append(("diaspora_nationality", f"{a.value!r} while living in {country}"))
    return found


def may_contradict(path: Sequence[str]) -> bool:
    """Whether some value of the attribute at ``path`` could break a one-value rule (see
    :func:`value_contradiction`): most attributes' values never can, whatever they say."""
    return bool(_path_rules(tuple(path)))


def value_contradiction(
    demographics: Mapping[str, Any],
    path: Sequence[str],
    value: Any,
    countries: _Countries | None = None,
) -> str | None:
    """Why one attribute value contradicts the persona's demographics, or ``None``.

    The one-value contradiction rules of :data:`CONTRADICTION_RULES` (everything but the marital /
    partner rule, which needs two attributes). Generation uses it to re-ask such a value before it is
    stored ("Diaspora Identity: Kenyan" for a Kenyan living in Kenya).

    Args:
        demographics: The persona's demographics (``age``, ``country`` ...).
        path: The attribute's taxonomy path.
        value: The value as it would be stored.
        countries: A country-name cache to reuse across calls (a new one when ``None``).
    """
    attr = _Attr("", tuple(path), value, False)
    found = _value_breaks(demographics, _age_from(demographics), attr, countries or _Countries())
    if not found:
        return None
    rule, detail = found[0]
    return f"{detail}: {CONTRADICTION_RULES[rule].split(' (')[0]}"


def _age_from(demographics: Mapping[str, Any]) -> int | None:
    age = demographics.get("age")
    if isinstance(age, bool):
        return None
    number = parse_number(age) if age is not None else None
    return int(number) if number is not None and 0 <= number <= 120 else None


def _rule_breaks(persona: Persona, attrs: list[_Attr], countries: _Countries) -> list[tuple[str, str, str]]:
    """Return ``(rule, where, detail)`` for every rule the persona breaks (the first case of each rule)."""
    found: dict[str, tuple[str, str, str]] = {}
    dem = persona.demographics
    age = _age_from(dem)

    def add(rule: str, where: str, detail: str) -> None:
        found.setdefault(rule, (rule, where, detail))

    live = [a for a in attrs if not a.na and not _is_empty(a.value)]
    if age is not None:
        stage = str(dem.get("life_stage") or "").strip().casefold()
        lo, hi = _DEMOGRAPHIC_STAGES.get(stage, (0, 200))
        if not lo <= age <= hi:
            add("age_life_stage", "demographics.life_stage", f"{stage!r} at age {age}")
        occupation = normalise(str(dem.get("occupation") or ""))
        if age < 40 and _RETIRED.match(occupation):
            add("retirement_age", "demographics.occupation", f"{dem.get('occupation')!r} at age {age}")
    for a in live:
        for rule, detail in _value_breaks(dem, age, a, countries):
            add(rule, a.key, detail)
    if age is not None:
        core = persona.core
        texts = [persona.narrative, *(core.life_stories if core is not None else ())]
        texts += [a.value for a in live if isinstance(a.value, str)]
        clash = _year_age_break(texts, age, _reference_year(persona))
        if clash is not None:
            add("year_age", "text", clash)
    statuses = [(a.key, normalise(_text(a.value))) for a in live if _MARITAL_LEAF.search(_leaf(a.path))]
    if dem.get("marital_status"):
        statuses.append(("demographics.marital_status", normalise(str(dem["marital_status"]))))
    single = next(((k, s) for k, s in statuses if _SINGLE.match(s) and not _TAKEN.search(s)), None)
    if single is not None:
        for a in live:
            partner = _partner_value(a)
            if partner is not None:
                add("marital_partner", a.key, f"{single[1]!r} ({single[0]}) but {partner!r}")
                break
    return list(found.values())
