"""Reading a one-line persona sketch into facts that bind the persona (paper §3.3, enrichment).

A sketch such as "A retired grocery store owner from Colorado who hates alcohol." states facts that the
persona must never contradict: a place, a life stage, an occupation, likes and dislikes. A small model
asked to extract them gets many of them wrong (a country "None", "Canada" for Colorado, an invented age),
so the model's reply (:class:`~deeppersona.generation.SketchFacts`) is only one input here:

1. :func:`clean_facts` turns the reply and the sketch text into a :class:`SketchReading`. Placeholders
   ("None", "null", "unknown", "N/A", "not specified") never become values; an age is kept only when the
   sketch states a number; a name only when the sketch contains it; the life stage and age hints
   ("retired", "student", "teenager", "in her forties") and the gender are read from the sketch itself
   by rules (:func:`age_hint`, :func:`gender_hint`), and likes, dislikes and other stated facts
   ("who always votes against TRS") are read from both.
2. :class:`PlaceIndex` resolves the sketch's place words against the sampler's own tables (GeoNames
   places of 15,000+ people with their first-level regions, and the country names and aliases):
   "Colorado" is a US state, so the country is the United States whatever the model said; "Denver,
   Colorado" is a city in that state. Only when the sketch names no place that the tables know is the
   model's place used, and then only if the tables know it too.
3. :func:`plan_draw` turns the reading into anchors and cohort constraints for
   :meth:`~deeppersona.demographics.DemographicSampler.draw`, with fallbacks that drop the least
   important facts first when the tables cannot honour them all.

Limits (documented in the generation guide): a place missing from the GeoNames table (Kodad, a town
of about 60,000 in Telangana, is not in it) cannot be resolved from the tables; it is kept verbatim
as the city when a country is known (from the sketch or a model answer the tables confirm), and
otherwise reported in the persona's warnings. Cues that need world knowledge (a party such as TRS, a
landmark, a dialect) are not resolved. The rules read English sketches.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..demographics._models import PERSON_FIELDS
from ._checks import is_junk, is_placeholder

if TYPE_CHECKING:  # pragma: no cover
    from ..demographics import Cohort
    from ..demographics._tables import DemographicTables

__all__ = [
    "SKETCH_KEY",
    "AgeHint",
    "PlaceIndex",
    "PlaceMatch",
    "SketchPlan",
    "SketchReading",
    "age_hint",
    "apply_stage",
    "clean_facts",
    "explicit_age",
    "gender_hint",
    "plan_draw",
    "reading_from_facts",
    "stated_preferences",
]

logger = logging.getLogger(__name__)

SKETCH_KEY = "_sketch"
"""Key of the :class:`SketchReading` in the facts :meth:`ValueGenerator.extract_sketch` returns."""

_MAX_LIST = 5
_MAX_FACT_WORDS = 16

# ------------------------------------------------------------------------------------------------ text


def _fold(text: str) -> str:
    """Accents stripped, case folded, punctuation as single spaces (like the demographic tables' ``norm``)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("'", "").replace("’", "").replace("&", " and ")
    return re.sub(r"[^0-9a-z]+", " ", folded).strip()


def _clean_text(value: Any) -> str | None:
    """A stripped, one-line string, or ``None`` for empty values, placeholders and junk."""
    if value is None or isinstance(value, bool):
        return None
    text = " ".join(str(value).split()).strip(" .;,")
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)  # double-escaped JSON
    if not text or is_placeholder(text) or is_junk(text):
        return None
    if _fold(text) in _EMPTY_WORDS:
        return None
    return text


_EMPTY_WORDS = frozenset(
    {"none given", "no name", "not given", "no", "nothing", "n a", "unknown person", "person", "someone",
     "anonymous", "not mentioned in the description", "not stated in the description", "empty"}
)  # fmt: skip

# The part of the sketch about the person themself: before the first clause that may be about others.
_HEAD_END = re.compile(
    r"\s+(?:who|whose|that|which|with|and|but|because|while|whom|of|for|to)\b|[,;.!?(]", re.IGNORECASE
)
# Words right before a match that make it about the person ("who is retired", "who recently retired").
_SELF_LEAD = re.compile(
    r"\b(?:who|and|i|i'm|i am|as)\s+(?:(?:is|was|am|are|has|have|had|been|being|recently|just|now|currently|"
    r"newly|also|became|become|still|a|an|the)\s+)*$",
    re.IGNORECASE,
)


def _head_end(text: str) -> int:
    for match in _HEAD_END.finditer(text):
        before = text[: match.start()].split()
        if match.group(0) == "," and len(before) <= 3 and all(w[:1].isupper() for w in before):
            continue  # "Victoria, a jazz enthusiast ...": a name, then the head phrase
        return match.start()
    return len(text)


def _about_self(text: str, start: int) -> bool:
    """Whether the words at ``start`` describe the person: in the head phrase, the clause right after it
    ("A nurse with a passion for ..."), or after "who is" / "and". A later "who" right after another
    noun is about that noun ("... cares for her father who loves golf")."""
    if start <= _head_end(text) + 1:
        return True
    window_start = max(0, start - 60)
    lead = _SELF_LEAD.search(text[window_start:start])
    if lead is None:
        return False
    at = window_start + lead.start()
    if text[at : at + 3].lower() != "who":
        return True
    first_who = re.search(r"\bwho\b", text, re.IGNORECASE)
    after_break = bool(re.search(r"(?:,|\band)\s*$", text[:at], re.IGNORECASE))
    return (first_who is not None and first_who.start() == at) or after_break


# ------------------------------------------------------------------------------------------------ age


@dataclass(frozen=True)
class AgeHint:
    """What a sketch says about age or life stage without giving an age.

    Attributes:
        words: The sketch's words ("retired", "in her forties").
        lo: Youngest age it allows (``None``: no bound).
        hi: Oldest age it allows.
        stage: A life stage the person is in, as the demographic cohorts name it (``"retired"``,
            ``"student"``, ``"school student"``, ``"tertiary student"``, ``"not employed"``), or ``None``.
    """

    words: str
    lo: int | None = None
    hi: int | None = None
    stage: str | None = None

    @property
    def age_range(self) -> tuple[int, int] | None:
        """``(lo, hi)`` when the hint bounds the age."""
        if self.lo is None and self.hi is None:
            return None
        return (self.lo if self.lo is not None else 0, self.hi if self.hi is not None else 110)


_HINTS: tuple[tuple[re.Pattern[str], int | None, int | None, str | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), lo, hi, stage)
    for pattern, lo, hi, stage in (
        (r"\bcentenarian\b", 100, 110, None),
        (r"\bnonagenarian\b", 90, 99, None),
        (r"\boctogenarian\b", 80, 89, None),
        (r"\bseptuagenarian\b", 70, 79, None),
        (r"\bsexagenarian\b", 60, 69, None),
        (
            r"\b(?:nearing|approaching|close to|about to (?:retire|go into retirement))\s*(?:retirement)?\b",
            55,
            66,
            None,
        ),
        (
            r"(?<!semi-)(?<!semi )(?<!not )(?<!never )\bretir(?:ed|ee|ees)\b|\bpensioner\b|\bin retirement\b",
            60,
            110,
            "retired",
        ),
        (
            r"\b(?:high[- ]school(?:er| student)|secondary[- ]school (?:student|pupil)|schoolboy|schoolgirl|pupil)\b",
            14,
            18,
            "school student",
        ),
        (
            r"\b(?:grad(?:uate)? student|ph\.?\s?d\.? (?:student|candidate)|doctoral (?:student|candidate))\b",
            22,
            35,
            None,
        ),
        (
            r"\b(?:freshman|sophomore|undergraduate|undergrad|(?:college|university|nursing|medical|law|engineering) student)\b",
            18,
            24,
            "tertiary student",
        ),
        (r"\bstudent\b", 18, 25, "student"),
        (r"\b(?:teenager|teen|teenaged|teenage|adolescent)\b", 13, 19, None),
        (r"\b(?:preteen|tween)\b", 10, 12, None),
        (r"\b(?:little (?:boy|girl)|young (?:boy|girl)|schoolchild|child|kid)\b", 6, 12, None),
        (r"\bmiddle[- ]aged\b", 40, 64, None),
        (
            r"\b(?:elderly|senior citizen|old-age pensioner|old (?:man|woman|lady|gentleman)|older (?:man|woman|adult|person|lady)|in (?:his|her|their) golden years)\b",
            65,
            95,
            None,
        ),
        (r"\byoung professional\b", 22, 35, None),
        (
            r"\b(?:young (?:adult|man|woman|person|mother|father|mom|mum|dad|parent)|twenty-?something)\b",
            18,
            32,
            None,
        ),
        (r"\b(?:recent|new|fresh) (?:college |university )?graduate\b|\bnewly graduated\b", 21, 28, None),
        (r"\b(?:grandmother|grandfather|grandparent|grandma|grandpa|granny)\b", 50, 100, None),
        (r"\b(?:unemployed|jobless|out of work|between jobs|job[- ]seeker)\b", None, None, "not employed"),
        (
            r"\b(?:stay[- ]at[- ]home (?:mom|mum|mother|dad|father|parent)|homemaker|housewife|househusband)\b",
            None,
            None,
            "not employed",
        ),
    )
)
_DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
            "eighties": 80, "nineties": 90}  # fmt: skip
_DECADE = re.compile(
    r"\bin (?:his|her|their|my) (?:(early|mid|late)[- ]?)?(?:(\d)0'?s|(twenties|thirties|forties|fifties|"
    r"sixties|seventies|eighties|nineties)|(teens))\b",
    re.IGNORECASE,
)
_EXPLICIT_AGE = re.compile(
    r"\b(\d{1,3})[- ]?(?:years?|yrs?)[- ]?old\b|\baged?\s+(\d{1,3})\b|\b(\d{1,3})[- ]?(?:years?|yrs?) of age\b"
    r"|\b(\d{1,3})\s*(?:yo|y/o|y\.o\.)\b|,\s*(\d{1,3})\s*,",
    re.IGNORECASE,
)


def explicit_age(sketch: str) -> int | None:
    """The first age the sketch states in digits ("a 45-year-old", "aged 45", "45 years old"), if any."""
    for match in _EXPLICIT_AGE.finditer(sketch):
        age = int(next(g for g in match.groups() if g is not None))
        if 0 <= age <= 110 and _about_self(sketch, match.start()):
            return age
    return None


def age_hint(sketch: str, model_hint: str | None = None) -> AgeHint | None:
    """The age range and life stage a sketch implies about the person, read by rules.

    A word counts when it describes the person ("A retired nurse", "a nurse who recently retired"), not
    someone else ("who cares for her retired father"). A model's ``model_hint`` ("retired") is used when
    its words also occur in the sketch, wherever they stand.

    Returns:
        The first hint found (decades such as "in her early forties" first), or ``None``.
    """
    for match in _DECADE.finditer(sketch):
        if not _about_self(sketch, match.start()):
            continue
        part, digit, word, teens = match.groups()
        if teens:
            return AgeHint(match.group(0), 13, 19)
        base = int(digit) * 10 if digit else _DECADES[word.lower()]
        first, last = base, base + 9
        if part:
            third = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}[part.lower()]
            first, last = base + third[0], base + third[1]
        return AgeHint(match.group(0), first, last)
    for pattern, lo, hi, stage in _HINTS:
        for found in pattern.finditer(sketch):
            if _about_self(sketch, found.start()):
                return AgeHint(found.group(0), lo, hi, stage)
    if model_hint:
        folded = _fold(sketch)
        for pattern, lo, hi, stage in _HINTS:
            said = pattern.search(model_hint)
            if said and _fold(said.group(0)) in folded:
                return AgeHint(said.group(0), lo, hi, stage)
    return None


# ------------------------------------------------------------------------------------------------ gender

_FEMALE_NOUNS = frozenset(
    {
    "woman", "lady", "girl", "mother", "mom", "mum", "grandmother", "grandma", "granny", "wife", "widow",
    "housewife", "daughter", "sister", "aunt", "niece", "actress", "waitress", "hostess", "businesswoman",
    "chairwoman", "policewoman", "congresswoman", "spokeswoman", "sportswoman", "saleswoman", "matriarch",
    "queen", "princess", "nun", "schoolgirl", "female", "gal", "bride", "girlfriend", "stepmother",
    "heroine", "landlady", "seamstress", "stewardess", "fiancee", "heiress"
    }
)  # fmt: skip
_MALE_NOUNS = frozenset(
    {
    "man", "gentleman", "guy", "boy", "father", "dad", "grandfather", "grandpa", "husband", "widower",
    "son", "brother", "uncle", "nephew", "businessman", "policeman", "fisherman", "congressman",
    "sportsman", "salesman", "patriarch", "king", "prince", "monk", "schoolboy", "male", "fireman", "groom",
    "boyfriend", "stepfather", "househusband", "craftsman", "lad"
    }
)  # fmt: skip
_NONBINARY = re.compile(r"\b(?:non-?binary|genderqueer|genderfluid|enby|agender)\b", re.IGNORECASE)
_SHE = re.compile(r"\b(?:she|her|hers|herself)\b", re.IGNORECASE)
_HE = re.compile(r"\b(?:he|him|his|himself)\b", re.IGNORECASE)
_GENDER_ALIASES = {
    "f": "female", "female": "female", "woman": "female", "girl": "female", "lady": "female",
    "m": "male", "male": "male", "man": "male", "boy": "male",
    "non binary": "non-binary", "nonbinary": "non-binary", "non-binary": "non-binary", "enby": "non-binary",
}  # fmt: skip


def gender_hint(sketch: str) -> str | None:
    """``"female"``, ``"male"`` or ``"non-binary"`` when the sketch says so, else ``None``.

    Read from a gendered noun of the head phrase ("A retired man from ...", "A mother of two"; not "A
    lawyer defending a woman"), an explicit "non-binary", or the pronouns when only one gender's pronouns
    occur and no other gendered person is named ("... who loves her garden").
    """
    if _NONBINARY.search(sketch):
        return "non-binary"
    words = [w.strip("'’").lower() for w in re.findall(r"[A-Za-z'’-]+", sketch[: _head_end(sketch)])]
    for i, word in enumerate(words[1:], 1):
        if word in ("a", "an", "the", "his", "her", "their", "my"):
            words = words[:i]  # a second noun phrase: someone else
            break
    head = set(words) | {part for w in words for part in w.split("-")}
    female, male = bool(head & _FEMALE_NOUNS), bool(head & _MALE_NOUNS)
    if female != male:
        return "female" if female else "male"
    others = {w.lower() for w in re.findall(r"[A-Za-z]+", sketch)} & (_FEMALE_NOUNS | _MALE_NOUNS)
    she, he = bool(_SHE.search(sketch)), bool(_HE.search(sketch))
    if she != he and not others:
        return "female" if she else "male"
    return None


def _model_gender(value: str | None) -> str | None:
    if value is None:
        return None
    return _GENDER_ALIASES.get(value.strip().lower()) or _GENDER_ALIASES.get(_fold(value))


# ------------------------------------------------------------------------------------------------ likes

_END = (
    r"(?=\s*(?:[,.;!?()]|\s(?:and who|who|but|while|because|since|though|although|whereas|so that)\b|"
    r"\sand\s+(?:loves?|enjoys?|likes|adores?|hates?|dislikes?|despises?|detests?|avoids|is|has|was|works|"
    r"lives)\b|$))"
)
_LIKE = re.compile(
    r"\b(?:loves?|loving|enjoys?|enjoying|likes|liking|adores?|relishes|is (?:passionate|enthusiastic|crazy|mad|"
    r"keen) about|passionate about|is (?:fond|a (?:big |huge )?fan) of|fond of|is into|is obsessed with|"
    r"(?:has |with )?a (?:passion|love|soft spot) for|a love of|(?:is )?interested in|is devoted to)\s+"
    r"(?P<x>.+?)" + _END,
    re.IGNORECASE,
)
_DISLIKE = re.compile(
    r"\b(?:hates?|hating|dislikes?|despises?|detests?|loathes?|abhors?|can(?:no|'|’)?t stand|cannot stand|"
    r"is (?:against|opposed to|allergic to|afraid of|scared of|terrified of|wary of|s[ck]eptical of|tired of|"
    r"sick of|fed up with)|avoids|opposes|refuses to (?:eat|drink|use|touch|wear|watch)|never (?:drinks|eats|"
    r"touches|uses|smokes|wears|watches))\s+(?P<x>.+?)" + _END,
    re.IGNORECASE,
)
_FAN_NOUN = re.compile(
    r"\b(?:an?\s+)?(?P<x>(?:[a-z][\w-]*\s+){0,2}[a-z][\w-]*)\s+(?:enthusiast|lover|aficionado|buff|fanatic|"
    r"connoisseur|devotee)\b",
    re.IGNORECASE,
)
_WHO_CLAUSE = re.compile(r"\bwho\s+(?P<c>[^,.;!?()\"“”]+)", re.IGNORECASE)
_STOP_OBJECT = frozenset({"a", "an", "the", "to", "it", "them", "this", "that", "all", "any", "everything"})


def _gerund(verb: str) -> str:
    """``"cook"`` -> ``"cooking"``, ``"bake"`` -> ``"baking"``, ``"swim"`` -> ``"swimming"`` (simple rules)."""
    v = verb.lower()
    if v.endswith("ie"):
        return verb[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        return verb[:-1] + "ing"
    vowels = "aeiou"
    if (
        len(v) >= 3
        and v[-1] not in vowels + "wxy"
        and v[-2] in vowels
        and v[-3] not in vowels
        and sum(1 for c in v if c in vowels) == 1
    ):
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _object(text: str) -> str | None:
    words = text.strip(" .,;:!?\"'").split()
    while words and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    if not words or len(words) > 8:
        return None
    if words[0].lower() == "to" and len(words) > 1:  # "loves to cook outdoors" -> "cooking outdoors"
        words = [_gerund(words[1]), *words[2:]]
    if all(w.lower() in _STOP_OBJECT for w in words):
        return None
    return _clean_text(" ".join(words))


def stated_preferences(sketch: str) -> tuple[list[str], list[str]]:
    """Likes and dislikes the sketch states about the person ("who hates alcohol" -> dislikes alcohol).

    Returns:
        ``(likes, dislikes)``: short phrases in the sketch's words, in order, without duplicates.
    """
    found: dict[str, list[tuple[int, str]]] = {"like": [], "dislike": []}
    for kind, pattern in (("like", _LIKE), ("dislike", _DISLIKE), ("like", _FAN_NOUN)):
        for match in pattern.finditer(sketch):
            value = _object(match.group("x"))
            if value and _about_self(sketch, match.start()):
                found[kind].append((match.start(), value))
    out: list[list[str]] = []
    for kind in ("like", "dislike"):
        values: list[str] = []
        for _, value in sorted(found[kind]):
            if value.lower() not in (v.lower() for v in values):
                values.append(value)
        out.append(values[:_MAX_LIST])
    return out[0], out[1]


def _who_facts(sketch: str) -> list[str]:
    """The "who ..." clauses about the person that are not a like, dislike or life stage."""
    facts = []
    for match in _WHO_CLAUSE.finditer(sketch):
        for clause in re.split(r"\s+and who\s+", match.group("c")):
            clause = clause.strip()
            words = clause.split()
            if len(words) < 2 or len(words) > _MAX_FACT_WORDS:
                continue
            if _LIKE.search(clause) or _DISLIKE.search(clause):
                continue  # a like or dislike: its own line
            if any(p.fullmatch(re.sub(r"^(?:is|was)\s+(?:an?\s+)?", "", clause)) for p, *_ in _HINTS):
                continue
            facts.append(clause)
    return facts


# ------------------------------------------------------------------------------------------------ reading


@dataclass
class SketchReading:
    """What a sketch says about a person, cleaned; the input of :func:`plan_draw`.

    Attributes:
        sketch: The sketch text.
        name: A name the sketch gives.
        age: An age the sketch states in digits.
        hint: Age range and life stage the sketch implies (:class:`AgeHint`).
        gender: ``"female"``, ``"male"``, ``"non-binary"`` or a stated free-text gender.
        occupation: The person's occupation (``None`` for a retiree, see ``former_occupation``).
        former_occupation: What a retired person used to do ("grocery store owner").
        city: A city; after :meth:`PlaceIndex.resolve`, as the tables spell it (or verbatim when unknown).
        region: A first-level region ("Colorado", "Telangana").
        country: A country, after resolution as the tables name it.
        origin: A country the person comes from but does not live in ("born in Mexico").
        likes: Things the person likes.
        dislikes: Things the person dislikes.
        facts: Other facts the sketch states ("always votes against TRS in assembly elections").
        place_words: Capitalised place-like words of the sketch that no table knows ("Kodad").
        notes: What was dropped or overridden, and why (added to the persona's warnings).
        resolved: Whether places were resolved against the tables.
    """

    sketch: str
    name: str | None = None
    age: int | None = None
    hint: AgeHint | None = None
    gender: str | None = None
    occupation: str | None = None
    former_occupation: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    origin: str | None = None
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    place_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resolved: bool = False

    def anchors(self) -> dict[str, Any]:
        """The demographic anchors the reading fixes (``name``, ``age``, ``gender``, ``occupation``, places)."""
        out = {key: getattr(self, key) for key in PERSON_FIELDS}
        return {key: value for key, value in out.items() if value is not None}

    def fact_lines(self) -> list[str]:
        """The facts to show the model as fixed ("Dislikes: alcohol", "Former occupation: grocery store owner")."""
        lines = []
        if self.former_occupation:
            lines.append(f"Former occupation: {self.former_occupation}")
        if self.origin:
            lines.append(f"Originally from: {self.origin}")
        if self.likes:
            lines.append("Likes: " + "; ".join(self.likes))
        if self.dislikes:
            lines.append("Dislikes: " + "; ".join(self.dislikes))
        lines.extend(f"Stated: {fact}" for fact in self.facts)
        return lines

    def extra_anchors(self) -> dict[str, Any]:
        """The non-demographic facts as anchors (``likes``, ``dislikes``, ``former_occupation`` ...)."""
        out: dict[str, Any] = {}
        if self.likes:
            out["likes"] = list(self.likes)
        if self.dislikes:
            out["dislikes"] = list(self.dislikes)
        if self.former_occupation:
            out["former_occupation"] = self.former_occupation
        if self.origin:
            out["origin"] = self.origin
        if self.facts:
            out["stated_facts"] = list(self.facts)
        return out

    def to_extracted(self) -> dict[str, Any]:
        """The mapping :meth:`ValueGenerator.extract_sketch` returns: the anchors, and this reading under
        :data:`SKETCH_KEY`."""
        return {**self.anchors(), SKETCH_KEY: self}


def _words_in(text: str, sketch_folded: str) -> bool:
    """Whether a content word of ``text`` (its first four letters) occurs in the folded sketch."""
    words = [w for w in _fold(text).split() if len(w) >= 3 and w not in _STOP_OBJECT]
    return any(w[:4] in sketch_folded for w in words)


def _clean_list(values: Any, sketch: str, sketch_folded: str, limit: int = _MAX_LIST) -> list[str]:
    items = values if isinstance(values, (list, tuple)) else [values] if values else []
    out: list[str] = []
    for item in items:
        text = _clean_text(item)
        if text is None or len(text.split()) > _MAX_FACT_WORDS:
            continue
        if _fold(text) == _fold(sketch) or len(_fold(text)) >= 0.8 * len(_fold(sketch)):
            continue  # the sketch copied, not a fact from it
        if not _words_in(text, sketch_folded):
            continue  # not in the sketch: a guess
        if not any(_fold(text) == _fold(o) for o in out):
            out.append(text)
    return out[:limit]


def _merge(first: Sequence[str], second: Sequence[str], limit: int = _MAX_LIST) -> list[str]:
    out = list(first)
    for item in second:
        folded = _fold(item)
        if not any(folded in _fold(o) or _fold(o) in folded for o in out):
            out.append(item)
    return out[:limit]


_NOT_OCCUPATIONS = frozenset(
    {
    "person", "people", "human", "individual", "someone", "somebody", "citizen", "resident", "voter", "man",
    "woman", "boy", "girl", "adult", "member", "local", "native", "guy", "lady"
    }
)  # fmt: skip
_RETIRED_PREFIX = re.compile(r"^(?:an?\s+)?(?:retired\s+|former\s+|ex-|ex\s+)", re.IGNORECASE)
_RETIRED_JOB = re.compile(
    r"\bretired\s+(?P<job>(?:[a-z][\w-]*\s+){0,3}?[a-z][\w-]*?)(?=\s+(?:from|in|of|at|who|with|living|based|and|"
    r"near|now)\b|[,.;!?]|$)",
    re.IGNORECASE,
)


def _model_age(value: Any) -> int | None:
    """A model's age as whole years (``45``, ``45.0``, ``"45"``, ``"45 years"``), or ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        age = int(value)
    else:
        match = re.fullmatch(r"\s*(\d{1,3})(?:\s*(?:years?|yrs?)(?:\s*old)?)?\s*", str(value))
        if match is None:
            return None
        age = int(match.group(1))
    return age if 0 <= age <= 110 else None


def clean_facts(reply: Any, sketch: str) -> SketchReading:
    """Clean a model's :class:`~deeppersona.generation.SketchFacts` against the sketch's own words.

    Args:
        reply: The model's reply (a ``SketchFacts`` or a mapping of its fields).
        sketch: The sketch text.

    Returns:
        The reading (places not yet resolved: see :meth:`PlaceIndex.resolve`).
    """
    data: dict[str, Any] = dict(reply.model_dump() if hasattr(reply, "model_dump") else dict(reply or {}))
    notes: list[str] = []
    folded = _fold(sketch)
    text = {
        key: _clean_text(data.get(key))
        for key in ("name", "gender", "occupation", "city", "region", "country")
    }
    placeholders = [
        f"{key}={data[key]!r}" for key in text if data.get(key) not in (None, "") and text[key] is None
    ]
    if placeholders:
        notes.append(f"sketch: ignored placeholders the model extracted ({', '.join(placeholders)})")

    name = text["name"]
    if name is not None and not re.search(rf"(?<!\w){re.escape(_fold(name))}(?!\w)", folded):
        notes.append(f"sketch: ignored the extracted name {name!r} (the sketch does not give it)")
        name = None

    age = explicit_age(sketch)
    model_age = _model_age(data.get("age"))
    if age is None and model_age is not None:
        if re.search(rf"(?<!\d){model_age}(?!\d)", sketch):
            age = model_age
        else:
            notes.append(f"sketch: ignored the extracted age {model_age} (the sketch states no such age)")

    hint = age_hint(sketch, _clean_text(data.get("age_hint")))
    if age is not None and hint is not None and hint.age_range is not None:
        lo, hi = hint.age_range
        if not lo <= age <= hi:
            hint = replace(hint, lo=None, hi=None)  # the stated age wins; the stage still holds

    gender = gender_hint(sketch)
    model_gender = _model_gender(text["gender"])
    if gender is None and model_gender is not None and name is not None:
        gender = model_gender  # from the name the sketch gives ("Amina, a baker"); otherwise a guess
    elif text["gender"] is not None and model_gender != gender:
        notes.append(
            f"sketch: ignored the extracted gender {text['gender']!r} "
            f"({'the sketch says ' + gender if gender else 'the sketch does not say'})"
        )

    occupation = text["occupation"]
    if occupation is not None and (
        _fold(occupation) in _NOT_OCCUPATIONS or len(occupation.split()) > 8 or _fold(occupation) == folded
    ):
        notes.append(f"sketch: ignored the extracted occupation {occupation!r} (not an occupation)")
        occupation = None
    former = None
    stage = hint.stage if hint else None
    if occupation is not None:
        bare = _RETIRED_PREFIX.sub("", occupation).strip()
        stage_word = _fold(bare) in ("retired", "retiree", "pensioner", "student", "unemployed", "homemaker")
        if stage_word or not bare:
            occupation = None
        elif stage in ("retired", "not employed") or bare != occupation:
            former, occupation = bare, None  # a retiree's or job seeker's occupation is a former one
    if stage == "retired" and former is None:
        match = _RETIRED_JOB.search(sketch)
        if match and _fold(match.group("job")) not in _NOT_OCCUPATIONS:
            former = match.group("job")

    likes, dislikes = stated_preferences(sketch)
    likes = _merge(likes, _clean_list(data.get("likes"), sketch, folded))
    dislikes = _merge(dislikes, _clean_list(data.get("dislikes"), sketch, folded))
    facts = _merge(_who_facts(sketch), _clean_list(data.get("other_facts"), sketch, folded, 3), 4)
    covered = [*likes, *dislikes]
    facts = [f for f in facts if not any(_fold(c) in _fold(f) for c in covered)]

    return SketchReading(
        sketch=sketch,
        name=name,
        age=age,
        hint=hint,
        gender=gender,
        occupation=occupation,
        former_occupation=former,
        city=text["city"],
        region=text["region"],
        country=text["country"],
        likes=likes,
        dislikes=dislikes,
        facts=facts,
        notes=notes,
    )


def reading_from_facts(facts: Mapping[str, Any], sketch: str) -> SketchReading:
    """A reading from a plain mapping of demographic facts (an ``extract_sketch`` override's return value).

    The facts are trusted except placeholders, which are dropped.
    """

    def text(key: str) -> str | None:
        return _clean_text(facts.get(key))

    return SketchReading(
        sketch=sketch,
        name=text("name"),
        age=_model_age(facts.get("age")),
        gender=text("gender"),
        occupation=text("occupation"),
        city=text("city"),
        region=text("region"),
        country=text("country"),
    )


# ------------------------------------------------------------------------------------------------ places

_KIND_RANK = {"country": 3, "region": 2, "city": 1, "demonym": 0}


@dataclass(frozen=True)
class PlaceMatch:
    """A place word of a sketch and the table rows it may stand for.

    Attributes:
        text: The words as they occur in the sketch (or as the model wrote them).
        kind: What the words name first: ``"country"``, ``"region"``, ``"city"`` or ``"demonym"``.
        candidates: ``(iso3, region, city, weight, kind)`` rows the words may stand for: the country
            itself, regions of that name, cities of that name (heaviest first within each kind).
        role: ``"home"`` where the person lives, ``"origin"`` where they come from ("born in", a demonym).
        source: ``"sketch"`` or ``"model"``.
    """

    text: str
    kind: str
    candidates: tuple[tuple[str, str | None, str | None, float, str], ...]
    role: str = "home"
    source: str = "sketch"

    @property
    def countries(self) -> set[str]:
        """The ISO-3 codes of the candidates."""
        return {c[0] for c in self.candidates}

    def rows(self, iso3: str, kind: str) -> list[tuple[str, str | None, str | None, float, str]]:
        """The candidates of one country and kind."""
        return [c for c in self.candidates if c[0] == iso3 and c[4] == kind]


_COUNTRY_CODE_ALIASES = frozenset({"us", "usa", "u s", "u s a", "uk", "u k", "uae", "drc", "prc"})
_GENERIC_PLACE_WORDS = frozenset(
    {
    "north", "south", "east", "west", "central", "centre", "centrale", "center", "northern", "southern",
    "eastern", "western", "northeast", "northwest", "southeast", "southwest", "capital", "coast", "coastal",
    "islands", "island", "lakes", "lake", "upper", "lower", "middle", "city", "state", "county", "province",
    "district", "department", "region", "national", "new", "old", "great", "greater", "and", "the", "of",
    "ouest", "est", "nord", "sud"
    }
)  # fmt: skip
_COMMON_WORDS = frozenset(
    {
    "of", "most", "police", "mobile", "nice", "reading", "bath", "hope", "orange", "split", "mission",
    "union", "independence", "liberty", "eagle", "buffalo", "victoria", "florence", "regina", "charlotte",
    "austin", "jackson", "lincoln", "madison", "eugene", "chelsea", "sydney", "paris", "a", "i", "it", "as",
    "at", "is", "in", "on", "or", "an", "be", "by", "we", "us", "so", "no", "do", "go", "he", "me", "my",
    "to", "up", "home", "best", "van", "man", "media", "mesa"
    }
)  # fmt: skip
_STOPWORDS = frozenset(
    {
    "a", "an", "the", "this", "that", "these", "those", "he", "she", "they", "it", "i", "we", "you", "his",
    "her", "their", "its", "my", "our", "your", "as", "at", "in", "on", "of", "for", "from", "with", "by",
    "to", "and", "or", "but", "who", "whose", "which", "what", "when", "where", "why", "how", "is", "was",
    "are", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "not", "no", "yes",
    "so", "very", "also", "just", "once", "each", "every", "all", "any", "some", "most", "many", "much",
    "more", "less", "few", "one", "two", "three", "first", "second", "new", "old", "young", "retired",
    "former"
    }
)  # fmt: skip
_INSTITUTION_WORDS = frozenset(
    {
    "school", "university", "college", "hospital", "company", "inc", "corp", "church", "club", "street",
    "road", "avenue", "park", "center", "centre", "bank", "group", "foundation", "institute", "academy",
    "department", "ministry", "party", "army", "navy", "force", "court", "team", "league", "association",
    "union", "museum", "library", "station", "airport", "market", "mall", "hotel", "restaurant", "cafe",
    "studio", "records"
    }
)  # fmt: skip
_LANGUAGE_NOUNS = frozenset(
    {
    "teacher", "tutor", "professor", "instructor", "lecturer", "translator", "interpreter", "major",
    "language", "literature", "lessons", "class", "classes", "speaker", "speaking", "food", "cuisine",
    "cooking", "restaurant", "dish", "dishes", "music", "films", "movies", "history", "studies", "student",
    "students"
    }
)  # fmt: skip
_HOME_CUE = re.compile(
    r"\b(?:from|in|near|at|of|based in|living in|lives in|live in|resident of|residing in|moved to|relocated to|"
    r"settled in|works in|working in|now in|hometown of)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_ORIGIN_CUE = re.compile(
    r"\b(?:born in|originally from|grew up in|raised in|native of|immigrant from|immigrated from|emigrated from|"
    r"refugee from|fled|hails from|descended from|roots in)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_LOWER_CUE = re.compile(
    r"\b(?:from|in|near|living in|lives in|based in|born in|originally from|grew up in)\s+(?:the\s+)?"
    r"(?P<w>[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2})"
)
_PLACE_SUFFIX = re.compile(
    r"^\s*(?:constituency|district|county|province|state|village|town|city|municipality|region|area|valley)\b",
    re.IGNORECASE,
)
_NON_PLACES = frozenset(
    {"south america", "latin america", "central america", "north america", "north africa", "south asia",
     "east asia", "southeast asia", "south east asia", "middle east", "west africa", "east africa",
     "sub saharan africa", "central asia", "western europe", "eastern europe", "latin american",
     "south american", "north american", "central american", "native american", "new world", "old world",
     "the west", "far east"}
)  # fmt: skip
_AMERICAN_HERITAGE = frozenset({"african american", "asian american", "mexican american", "chinese american",
                                "korean american", "italian american", "irish american", "indian american",
                                "japanese american", "filipino american", "vietnamese american", "arab american",
                                "cuban american", "puerto rican american"})  # fmt: skip
_IRREGULAR_DEMONYMS = {
    "american": "USA", "british": "GBR", "english": "GBR", "scottish": "GBR", "welsh": "GBR", "scot": "GBR",
    "dutch": "NLD", "french": "FRA", "spanish": "ESP", "swiss": "CHE", "thai": "THA", "greek": "GRC",
    "filipino": "PHL", "filipina": "PHL", "swedish": "SWE", "danish": "DNK", "finnish": "FIN",
    "polish": "POL", "turkish": "TUR", "irish": "IRL", "portuguese": "PRT", "peruvian": "PER",
    "kiwi": "NZL", "new zealander": "NZL", "argentine": "ARG", "argentinian": "ARG", "icelandic": "ISL",
    "norwegian": "NOR", "czech": "CZE", "slovak": "SVK", "lebanese": "LBN", "sudanese": "SDN",
    "congolese": "COD", "senegalese": "SEN", "nepali": "NPL", "nepalese": "NPL", "bangladeshi": "BGD",
    "pakistani": "PAK", "iraqi": "IRQ", "israeli": "ISR", "saudi": "SAU", "emirati": "ARE", "yemeni": "YEM",
    "kuwaiti": "KWT", "qatari": "QAT", "omani": "OMN", "afghan": "AFG", "uzbek": "UZB", "kazakh": "KAZ",
    "malagasy": "MDG", "somali": "SOM", "ghanaian": "GHA", "malaysian": "MYS", "vietnamese": "VNM",
    "chinese": "CHN", "japanese": "JPN", "taiwanese": "TWN", "burmese": "MMR", "sri lankan": "LKA",
    "south african": "ZAF", "south korean": "KOR", "korean": "KOR", "north korean": "PRK", "kenyan": "KEN",
    "nigerian": "NGA", "indian": "IND", "mexican": "MEX", "canadian": "CAN", "brazilian": "BRA",
    "german": "DEU", "italian": "ITA", "russian": "RUS", "ukrainian": "UKR", "egyptian": "EGY",
    "ethiopian": "ETH", "australian": "AUS", "indonesian": "IDN", "iranian": "IRN", "colombian": "COL",
    "chilean": "CHL", "cuban": "CUB", "jamaican": "JAM", "haitian": "HTI", "moroccan": "MAR",
    "algerian": "DZA", "tunisian": "TUN", "syrian": "SYR", "jordanian": "JOR", "ugandan": "UGA",
    "tanzanian": "TZA", "rwandan": "RWA", "zambian": "ZMB", "zimbabwean": "ZWE", "cameroonian": "CMR",
    "venezuelan": "VEN", "ecuadorian": "ECU", "bolivian": "BOL", "paraguayan": "PRY", "uruguayan": "URY",
    "austrian": "AUT", "belgian": "BEL", "hungarian": "HUN", "romanian": "ROU", "bulgarian": "BGR",
    "serbian": "SRB", "croatian": "HRV", "singaporean": "SGP", "mongolian": "MNG", "cambodian": "KHM",
    "laotian": "LAO", "guatemalan": "GTM", "honduran": "HND", "salvadoran": "SLV", "nicaraguan": "NIC",
    "panamanian": "PAN", "costa rican": "CRI", "dominican": "DOM", "puerto rican": "PRI", "libyan": "LBY",
}  # fmt: skip

_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+(?:['’][A-Za-z]+)?|\S")


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


class PlaceIndex:
    """Place names of the shipped demographic tables, folded for lookup (build with :meth:`for_tables`).

    Args:
        tables: The :class:`~deeppersona.demographics._tables.DemographicTables` a sampler draws from.
    """

    # A read-only memo (tables object -> its index) so that each persona of a run does not rebuild the
    # index of 34,000 places; entries go with their tables object. Nothing here is a setting.
    _cache: ClassVar[weakref.WeakKeyDictionary[Any, PlaceIndex]] = weakref.WeakKeyDictionary()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, tables: DemographicTables) -> None:
        countries = tables.countries
        self.country_names: dict[str, str] = {
            str(k): str(v) for k, v in zip(countries["iso3"], countries["name"], strict=True)
        }
        self.countries: dict[str, str] = {}
        for iso3, iso2, name, wpp, aliases in zip(
            countries["iso3"], countries["iso2"], countries["name"], countries["wpp_name"], countries["aliases"],
            strict=True,
        ):  # fmt: skip
            codes = {_fold(str(iso3)), _fold(str(iso2))}
            for alias in [name, wpp, *str(aliases).split("|")]:
                key = _fold(alias)
                if key and (key not in codes or key in _COUNTRY_CODE_ALIASES):
                    self.countries.setdefault(key, str(iso3))
            self.countries[_fold(name)] = str(iso3)
        self.demonyms: dict[str, str] = {
            k: v for k, v in _IRREGULAR_DEMONYMS.items() if v in self.country_names
        }
        for iso3, name in self.country_names.items():
            key = _fold(name)
            if " " not in key:
                for form in _demonym_forms(key):
                    self.demonyms.setdefault(form, iso3)
        self.regions: dict[str, dict[str, tuple[str, float]]] = {}
        self.cities: dict[str, list[tuple[str, str | None, str, float]]] = {}
        df = tables.cities
        for iso3, city, region, weight in zip(
            df["iso3"].tolist(),
            df["city"].tolist(),
            df["region"].tolist(),
            df["weight"].tolist(),
            strict=True,
        ):
            code, w = str(iso3), float(weight)
            key = _fold(city)
            if key:
                self.cities.setdefault(key, []).append((code, region or None, str(city), w))
            if not region:
                continue
            rkey = _fold(region)
            bare = re.sub(
                r"\s+(?:county|province|state|region|department|district|governorate|prefecture)$", "", rkey
            )
            for k in {rkey, bare} - {""}:
                entry = self.regions.setdefault(k, {})
                display, total = entry.get(code, (str(region), 0.0))
                entry[code] = (display, total + w)
        # "Cebu" names Cebu City and "Quezon" Quezon City, unless the bare word names a region or a country
        # ("Texas" is the state, not Texas City)
        for key, rows in list(self.cities.items()):
            bare = key[:-5]
            if (
                key.endswith(" city")
                and len(bare) > 3
                and bare not in self.regions
                and bare not in self.countries
            ):
                self.cities.setdefault(bare, []).extend(rows)
        for rows in self.cities.values():
            rows.sort(key=lambda r: -r[3])

    @classmethod
    def for_tables(cls, tables: DemographicTables) -> PlaceIndex:
        """The index of ``tables``, built once per tables object (a read-only memo that dies with it)."""
        with cls._lock:
            index = cls._cache.get(tables)
            if index is None:
                index = cls(tables)
                cls._cache[tables] = index
            return index

    # -------------------------------------------------------------------------- lookup
    def lookup(self, words: str) -> PlaceMatch | None:
        """Everything ``words`` may name in the tables (a country, regions, cities), or a demonym.

        Returns:
            The match, its ``kind`` the highest of country > region > city > demonym, or ``None``.
        """
        key = _fold(words)
        if not key or key in _NON_PLACES or all(w in _GENERIC_PLACE_WORDS for w in key.split()):
            return None
        cands: list[tuple[str, str | None, str | None, float, str]] = []
        iso3 = self.countries.get(key)
        if iso3 is not None:
            cands.append((iso3, None, None, float("inf"), "country"))
        regions = sorted(self.regions.get(key, {}).items(), key=lambda kv: -kv[1][1])
        cands += [(code, display, None, w, "region") for code, (display, w) in regions]
        cands += [(code, region, city, w, "city") for code, region, city, w in self.cities.get(key, [])]
        if not cands:
            iso3 = self.demonyms.get(key)
            if iso3 is None:
                return None
            cands.append((iso3, None, None, 0.0, "demonym"))
        kind = max((c[4] for c in cands), key=lambda k: _KIND_RANK[k])
        return PlaceMatch(words, kind, tuple(cands))

    def find(self, sketch: str, *, exclude: Sequence[str] = ()) -> tuple[list[PlaceMatch], list[str]]:
        """The places a sketch names, and its capitalised place-like words that no table knows.

        Only capitalised words count (a sentence's first word only as a country or demonym); single-word
        city names also need a cue ("from", "in", "near" ...) or a large population. ``exclude`` holds
        words that are not places here (the person's name).
        """
        tokens = [_Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(sketch)]
        excluded = {_fold(e) for e in exclude if e}
        matches: list[PlaceMatch] = []
        unknown: list[str] = []
        for run in _capitalised_runs(sketch, tokens):
            hit = False
            i = 0
            while i < len(run):
                step, match = self._longest(sketch, run, i, excluded)
                if step == 0:
                    i += 1
                    continue
                hit = True
                if match is not None:
                    cue = sketch[max(0, run[i].start - 40) : run[i].start]
                    heritage = _fold(match.text) in _AMERICAN_HERITAGE
                    origin = bool(_ORIGIN_CUE.search(cue)) or (match.kind == "demonym" and not heritage)
                    matches.append(replace(match, role="origin" if origin else "home"))
                i += step
            text = sketch[run[0].start : run[-1].end]
            if not hit and self._place_like(sketch, run, text):
                unknown.append(text)
        if not matches:  # an all-lower-case sketch ("a nurse from kenya"): countries and regions after a cue
            for lead in _LOWER_CUE.finditer(sketch):
                words = lead.group("w").split()
                for n in range(len(words), 0, -1):
                    phrase = " ".join(words[:n])
                    key = _fold(phrase)
                    if len(key) < 4 or key in _COMMON_WORDS or key in _STOPWORDS:
                        continue
                    place = self.lookup(phrase)
                    if place is not None and place.kind in ("country", "region"):
                        origin = bool(_ORIGIN_CUE.search(sketch[: lead.start("w")]))
                        matches.append(replace(place, role="origin" if origin else "home"))
                        break
        return matches, unknown

    def _longest(
        self, sketch: str, run: list[_Token], i: int, excluded: set[str]
    ) -> tuple[int, PlaceMatch | None]:
        """The longest place starting at ``run[i]``: (tokens it covers, match); (0, None) when none."""
        for j in range(min(len(run), i + 5), i, -1):
            words = run[i:j]
            text = sketch[words[0].start : words[-1].end]
            key = _fold(text)
            if key in _AMERICAN_HERITAGE:
                return j - i, PlaceMatch(text, "demonym", (("USA", None, None, 0.0, "demonym"),))
            if key in _NON_PLACES:
                return j - i, None
            if key in excluded:
                continue
            match = self.lookup(text)
            if match is not None and self._plausible(sketch, words, match):
                return j - i, match
        return 0, None

    def _plausible(self, sketch: str, words: list[_Token], match: PlaceMatch) -> bool:
        first = words[0]
        key = _fold(match.text)
        before = sketch[: first.start]
        at_start = not before.strip() or bool(re.search(r"[.!?]\s*$", before))
        after = sketch[words[-1].end :]
        next_word = re.match(r"[\s-]*([A-Za-z]+)", after)
        if match.kind == "demonym":
            return not (next_word and next_word.group(1).lower() in _LANGUAGE_NOUNS)
        if match.kind == "country":
            return True
        if at_start:
            return False
        cue = before[-40:]
        cued = bool(_HOME_CUE.search(cue) or _ORIGIN_CUE.search(cue))
        if len(words) == 1 and (key in _COMMON_WORDS or key in _STOPWORDS):
            return cued
        if match.kind == "region":
            return True
        big = max((c[3] for c in match.candidates), default=0.0) >= 100_000
        return cued or big or len(words) > 1 or bool(_PLACE_SUFFIX.match(after))

    @staticmethod
    def _place_like(sketch: str, run: list[_Token], text: str) -> bool:
        """Whether an unknown capitalised run reads as a place ("from Kodad", "Kodad constituency")."""
        folded = _fold(text).split()
        if not folded or any(w in _INSTITUTION_WORDS for w in folded) or all(w in _STOPWORDS for w in folded):
            return False
        if len(text) <= 4 and text.isupper():
            return False  # an acronym (TRS, MBA, NGO)
        before = sketch[max(0, run[0].start - 40) : run[0].start]
        after = sketch[run[-1].end :]
        cued = re.search(
            r"\b(?:from|in|near|living in|lives in|based in)\s+(?:the\s+)?$", before, re.IGNORECASE
        )
        return bool(cued) or bool(_PLACE_SUFFIX.match(after))

    def near(self, words: str) -> PlaceMatch | None:
        """A place the tables spell a little differently ("Kodad" -> GeoNames "Kodār", Telangana).

        Only for words of five letters or more that start like the place: one letter may be different
        (as transliterations differ), or, from nine letters on, two letters different, added or left out.
        A fictional "Narnia" is not read as the Italian town Narni. Returns the closest places (in all
        countries they occur in), or ``None``.
        """
        key = _fold(words)
        if len(key) < 5:
            return None
        limit = 1 if len(key) < 9 else 2
        buckets = self._buckets()
        hits: list[tuple[int, str]] = []
        for cand in buckets.get(key[:2], ()):
            same_length = len(cand) == len(key)
            if (
                cand[:3] == key[:3]
                and cand != key
                and (same_length or (limit > 1 and abs(len(cand) - len(key)) <= limit))
            ):
                d = _distance(key, cand, limit)
                if d <= limit:
                    hits.append((d, cand))
        if not hits:
            return None
        best = min(d for d, _ in hits)
        cands: list[tuple[str, str | None, str | None, float, str]] = []
        for d, cand in hits:
            match = self.lookup(cand) if d == best else None
            if match is not None and match.kind in ("region", "city"):
                cands += [c for c in match.candidates if c[4] in ("region", "city")]
        if not cands:
            return None
        cands.sort(key=lambda c: -c[3])
        kind = max((c[4] for c in cands), key=lambda k: _KIND_RANK[k])
        return PlaceMatch(words, kind, tuple(cands), source="near")

    def _buckets(self) -> dict[str, list[str]]:
        cached: dict[str, list[str]] | None = self.__dict__.get("_near_buckets")
        if cached is None:
            cached = {}
            for key in {*self.cities, *self.regions}:
                if len(key) >= 4:
                    cached.setdefault(key[:2], []).append(key)
            self.__dict__["_near_buckets"] = cached
        return cached

    # -------------------------------------------------------------------------- resolution
    def resolve(self, reading: SketchReading) -> SketchReading:
        """The reading with its places resolved against the tables (see the module docstring).

        The sketch's own place words decide (where the person lives before where they come from); the
        model's ``city``/``region``/``country`` break ties and are used alone only when the sketch names
        no place the tables know, and only when the tables know them. A model country that contradicts
        the sketch is dropped with a note; so is one the tables do not know ("None" never gets here).
        """
        notes = list(reading.notes)
        found, unknown = self.find(reading.sketch, exclude=[reading.name] if reading.name else [])
        model: list[PlaceMatch] = []
        for key in ("city", "region", "country"):
            value = getattr(reading, key)
            match = self.lookup(value) if value is not None else None
            if value is not None and (match is None or match.kind == "demonym"):
                if key == "country":
                    notes.append(
                        f"sketch: ignored the extracted country {value!r} (no such country in the tables)"
                    )
                continue
            if match is not None:
                wanted = {"city": ("city", "region"), "region": ("region",), "country": ("country",)}[key]
                cands = tuple(c for c in match.candidates if c[4] in wanted)
                if cands:
                    model.append(PlaceMatch(value, cands[0][4], cands, source="model"))
        home = [m for m in found if m.role == "home"]
        origin = [m for m in found if m.role == "origin"]
        model_countries = {c for m in model for c in m.countries}
        if not home and not origin:  # "from Kodad": the tables may spell it differently ("Kodār")
            for word in unknown:
                near = self.near(word)
                if near is not None and (not model_countries or model_countries & near.countries):
                    home.append(near)
                    row = near.candidates[0]
                    where = ", ".join(x for x in (row[2], row[1], self.country_names.get(row[0])) if x)
                    notes.append(f"sketch: read {word!r} as the place {where} of the demographic tables")
                    unknown = [w for w in unknown if w != word]
                    break
        basis = home or origin or model
        out = replace(reading, city=None, region=None, country=None, notes=notes, resolved=True)
        if not basis:
            free = [w for w in unknown if reading.city is None or _fold(w) == _fold(reading.city)] or unknown
            out.place_words = free
            if free:
                notes.append(
                    f"sketch: could not place {free[0]!r}: it is not in the demographic tables (GeoNames places "
                    "of 15,000+ people) and no known country was given"
                )
            return out
        iso3 = self._pick_country(basis, model_countries)
        out.country = self.country_names[iso3]
        pool = [m for m in basis if iso3 in m.countries]
        if basis is not model:
            pool += [m for m in model if iso3 in m.countries]
        region_match = next((m for m in pool if m.kind == "region" and m.rows(iso3, "region")), None)
        region = region_match.rows(iso3, "region")[0][1] if region_match is not None else None
        if region_match is not None:  # "from Lagos": Lagos State, and its city Lagos
            same = [r for r in region_match.rows(iso3, "city") if r[1] == region]
            if same:
                out.city = same[0][2]
        for m in pool:
            rows = [r for r in m.rows(iso3, "city") if region is None or r[1] == region]
            if rows and m.kind == "city" and out.city is None:
                out.city = m.text if m.source == "near" else rows[0][2]
                region = region or rows[0][1]
                break
        out.region = region
        for m in model:
            if m.kind == "country" and iso3 not in m.countries:
                notes.append(
                    f"sketch: ignored the extracted country {m.text!r}: the sketch places the person in {out.country}"
                )
        if out.city is None:
            free = [w for w in unknown if reading.city is None or _fold(w) == _fold(reading.city)]
            named = reading.city is not None and bool(
                re.search(rf"(?<!\w){re.escape(_fold(reading.city))}(?!\w)", _fold(reading.sketch))
            )
            if not free and named and reading.city is not None and self.lookup(reading.city) is None:
                free = [reading.city]
            if free:
                out.city = free[0]
                out.place_words = free
        logger.debug(
            "sketch %r placed in %s / %s / %s", reading.sketch[:60], out.city, out.region, out.country
        )
        foreign = [m for m in origin if iso3 not in m.countries]
        if foreign and home:
            source = self.country_names[self._pick_country(foreign, set())]
            out.origin = f"{source} ({foreign[0].text})" if foreign[0].kind == "demonym" else source
        return out

    @staticmethod
    def _pick_country(matches: Sequence[PlaceMatch], preferred: set[str]) -> str:
        """The country most matches support; then the model's; then a country over a region over a city;
        then the larger population."""
        scores: dict[str, tuple[int, int, int, float]] = {}
        for m in matches:
            best: dict[str, tuple[int, float]] = {}
            for iso3, _region, _city, weight, kind in m.candidates:
                rank, w = best.get(iso3, (-1, 0.0))
                best[iso3] = (max(rank, _KIND_RANK[kind]), max(w, weight))
            for iso3, (rank, w) in best.items():
                count, _, top, heaviest = scores.get(iso3, (0, 0, -1, 0.0))
                scores[iso3] = (count + 1, int(iso3 in preferred), max(top, rank), max(heaviest, w))
        return max(scores, key=lambda k: scores[k])


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it is certain to exceed ``limit``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _demonym_forms(name: str) -> list[str]:
    """Regular demonyms of a one-word country name ("kenya" -> "kenyan", "japan" -> "japanese")."""
    forms = [name + "n", name + "ian", name + "ese", name + "i", name + "an"]
    if name.endswith(("a", "o")):
        forms += [name[:-1] + "an", name[:-1] + "ian", name[:-1] + "ese"]
    if name.endswith("y"):
        forms += [name[:-1] + "ian", name[:-1] + "an"]
    if name.endswith("ia"):
        forms += [name[:-2] + "ian"]
    return forms


def _capitalised_runs(sketch: str, tokens: list[_Token]) -> list[list[_Token]]:
    """Runs of capitalised words ("New York City", "Rio de Janeiro"), split at punctuation."""
    runs: list[list[_Token]] = []
    current: list[_Token] = []
    connectors = {
        "de",
        "del",
        "da",
        "do",
        "dos",
        "das",
        "la",
        "le",
        "les",
        "of",
        "on",
        "upon",
        "am",
        "an",
        "der",
        "al",
        "el",
    }
    for i, tok in enumerate(tokens):
        word = tok.text
        capital = word[:1].isupper() and word.lower() not in ("i", "i'm")
        if capital:
            gap = sketch[current[-1].end : tok.start] if current else ""
            if current and gap not in (" ", "-"):
                runs.append(current)
                current = []
            current.append(tok)
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            current
            and word.lower() in connectors
            and nxt is not None
            and nxt.text[:1].isupper()
            and sketch[current[-1].end : tok.start] in (" ", "-")
        ):
            current.append(tok)
            continue
        if current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    cleaned = []
    for run in runs:
        while run and run[-1].text.lower() in connectors:
            run = run[:-1]
        while run and run[0].text.lower() in _STOPWORDS:
            run = run[1:]
        if run:
            cleaned.append(run)
    return cleaned


# ------------------------------------------------------------------------------------------------ binding


@dataclass
class SketchPlan:
    """How a reading binds one demographic draw.

    Attributes:
        facts: Anchors for :meth:`~deeppersona.demographics.DemographicSampler.draw` (the engine's own
            anchors win over them and are not repeated here).
        cohort: The run's cohort with the sketch's age range and life stage added (``None``: none).
        base: The run's cohort unchanged.
        age_range: The age range added, if any.
        stage: The life stage the person is in (a cohort occupation value such as ``"retired"``).
        notes: Why something could not be bound.
    """

    facts: dict[str, Any]
    cohort: Cohort | None
    base: Cohort | None
    age_range: tuple[int, int] | None = None
    stage: str | None = None
    notes: list[str] = field(default_factory=list)

    def attempts(self) -> Iterator[tuple[dict[str, Any], Cohort | None]]:
        """``(facts, cohort)`` to try in order: everything first, then the least important facts dropped
        (the stage from the cohort, the age range, city and region, all places, the occupation), then
        nothing."""
        from ..demographics import Cohort

        with_age = self.base
        if self.age_range is not None:
            base = self.base or Cohort()
            with_age = base.with_(age_range=self.age_range) if _cohort_ok(base, self.age_range) else self.base
        facts = self.facts
        no_city = {k: v for k, v in facts.items() if k not in ("city", "region")}
        no_place = {k: v for k, v in facts.items() if k not in ("city", "region", "country")}
        no_occupation = {k: v for k, v in no_place.items() if k != "occupation"}
        seen: list[tuple[Any, Any]] = []
        for usable, cohort in (
            (facts, self.cohort),
            (facts, with_age),
            (facts, self.base),
            (no_city, with_age),
            (no_place, with_age),
            (no_occupation, with_age),
            ({}, self.base),
        ):
            key = (sorted(usable.items(), key=str), cohort)
            if key in seen:
                continue
            seen.append(key)
            yield usable, cohort


def _cohort_ok(cohort: Cohort, age_range: tuple[int, int]) -> bool:
    try:
        cohort.with_(age_range=age_range)
    except Exception:  # DemographicsError for an impossible range
        return False
    return True


def plan_draw(reading: SketchReading, anchored: Mapping[str, Any], cohort: Cohort | None) -> SketchPlan:
    """Turn a (resolved) reading into anchors and cohort constraints for one draw.

    The engine's anchors and cohort win over the sketch: a sketch fact they contradict is left out,
    with a note. A stated age wins over an age hint; the hint's range is intersected with the cohort's.

    Args:
        reading: The sketch's facts.
        anchored: The engine's demographic anchors.
        cohort: The run's cohort, or ``None``.
    """
    from ..demographics import Cohort

    notes: list[str] = []
    facts = {k: v for k, v in reading.anchors().items() if k not in anchored}
    if "country" in anchored or (cohort is not None and cohort.country is not None):
        for key in ("city", "region", "country"):
            if key in facts and key not in anchored:
                facts.pop(key)
    for key in set(reading.anchors()) & set(anchored):
        if str(reading.anchors()[key]) != str(anchored[key]):
            notes.append(
                f"sketch: kept the anchored {key}={anchored[key]!r} over the sketch's {reading.anchors()[key]!r}"
            )
    hint = reading.hint
    age_range = None
    if hint is not None and hint.age_range is not None and "age" not in anchored and "age" not in facts:
        lo, hi = hint.age_range
        if cohort is not None and cohort.age_range is not None:
            lo, hi = max(lo, cohort.age_range[0]), min(hi, cohort.age_range[1])
        if cohort is not None and cohort.min_age is not None:
            lo = max(lo, cohort.min_age)
        if lo <= hi:
            age_range = (lo, hi)
        else:
            notes.append(
                f"sketch: '{hint.words}' (ages {hint.age_range}) is outside the cohort's ages; kept the cohort's"
            )
    stage = hint.stage if hint is not None else None
    if stage is not None and (
        "occupation" in anchored or (cohort is not None and cohort.occupation is not None)
    ):
        notes.append(
            f"sketch: '{hint.words if hint else stage}' not applied: the occupation is anchored or constrained"
        )
        stage = None
    staged = cohort
    if age_range is not None or stage is not None:
        base = cohort or Cohort()
        changes: dict[str, Any] = {}
        if age_range is not None and _cohort_ok(base, age_range):
            changes["age_range"] = age_range
        if stage is not None:
            changes["occupation"] = (stage,)
        staged = base.with_(**changes) if changes else cohort
    return SketchPlan(facts, staged, cohort, age_range, stage, notes)


_STAGE_LABELS = {
    "retired": ("retired", "Retired"),
    "not employed": ("not employed", "Not employed"),
    "school student": ("school student", "School student"),
    "tertiary student": ("tertiary student", "Student"),
    "child": ("child", "Child"),
}


def apply_stage(demographics: dict[str, Any], stage: str | None, *, keep_occupation: bool) -> bool:
    """Make the drawn demographics show the sketch's life stage (when the tables' rules could not).

    Args:
        demographics: The drawn demographics (changed in place).
        stage: The stage (a cohort occupation value such as ``"retired"`` or ``"student"``).
        keep_occupation: Keep the occupation (a sketch- or user-given one) instead of the stage's label.

    Returns:
        Whether the demographics now show the stage.
    """
    if stage is None:
        return False
    if stage == "student":
        stage = "school student" if int(demographics.get("age") or 0) <= 17 else "tertiary student"
    target = _STAGE_LABELS.get(stage)
    if target is None:
        return False
    life_stage, label = target
    if demographics.get("life_stage") == life_stage:
        return True
    demographics["life_stage"] = life_stage
    if not keep_occupation:
        demographics["occupation"] = label
        demographics["occupation_group"] = label
        if "occupation_source" in demographics:
            demographics["occupation_source"] = None  # stated by the sketch, not drawn from a table
    return True
