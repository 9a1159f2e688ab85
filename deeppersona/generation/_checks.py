"""Judge-free checks of one persona value: what makes a value unusable or shallow.

These rules are shared by generation (a value that has a *problem* is re-asked, never stored) and by
the quality report of :mod:`deeppersona.evaluation` (which counts the *shallow* ones), so that what
the generator refuses and what the report measures are the same thing.

Two levels:

- :func:`value_problem` returns why a value must not be stored: ``"empty"``, ``"placeholder"``,
  ``"junk"`` (no letter or digit, or a JSON fragment), ``"outside_options"``, ``"not_a_number"``,
  ``"echo"`` (the value only repeats the attribute's name), ``"sketch_copy"`` (the value is the
  sketch copied), ``"trivial"`` (a bare word such as "High" or "Yes" for a free-text attribute).
- :func:`is_one_word`, :func:`word_count` and :func:`normalise` are the measurements the quality
  report uses beyond that.

Explicit not-applicable answers (``"N/A: no partner"``) are recognised by :func:`not_applicable_reason`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "PLACEHOLDERS",
    "TRIVIAL_WORDS",
    "ValueProblem",
    "absence_reason",
    "bare_none",
    "content_words",
    "describe_problem",
    "invites_none",
    "is_cut_off",
    "is_echo",
    "is_first_person",
    "is_junk",
    "is_one_word",
    "is_placeholder",
    "is_trivial",
    "lists_options",
    "is_unfounded_reason",
    "looks_not_applicable",
    "may_be_absent",
    "clip_value",
    "FILL_STYLE_EXAMPLES",
    "copies_example",
    "copies_sketch",
    "core_problems",
    "na_restates_name",
    "repetitive_openings",
    "sentences",
    "speaks_of_the_prompt",
    "story_problem",
    "trim_story",
    "echoes_name",
    "normalise",
    "not_applicable_reason",
    "parse_number",
    "value_problem",
    "word_count",
]

ValueProblem = Literal[
    "empty",
    "placeholder",
    "junk",
    "outside_options",
    "not_a_number",
    "echo",
    "sketch_copy",
    "trivial",
    "unfounded_na",
    "repeated",
    "na_restates_name",
    "too_many_na",
    "one_word",
    "alternatives",
    "truncated",
    "example_copy",
    "out_of_range",
    "about_the_prompt",
]
"""Why a value is refused (see :func:`value_problem`; ``"repeated"`` is judged by the generator, which
sees the persona's other values, and ``"one_word"`` only on the first ask of a free-text value)."""

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "string",
        "str",
        "text",
        "value",
        "values",
        "answer",
        "your answer",
        "example",
        "insert value",
        "insert value here",
        "value here",
        "placeholder",
        "lorem ipsum",
        "n/a",
        "na",
        "n.a.",
        "none",
        "null",
        "nil",
        "nan",
        "undefined",
        "unknown",
        "not known",
        "not specified",
        "unspecified",
        "not applicable",
        "not available",
        "no data",
        "no information",
        "not mentioned",
        "not stated",
        "not provided",
        "tbd",
        "todo",
        "same as above",
        "none of the above",
        "all of the above",
        "none of these",
        "all of these",
        "not sure",
        "no idea",
        "see above",
        "as above",
        "etc",
        "various",
        "other",
        "others",
        "misc",
        "...",
        "-",
        "?",
    }
)
"""Normalised texts that stand for no value at all (:func:`normalise` is applied before comparing)."""

TRIVIAL_WORDS: frozenset[str] = frozenset(
    {
        "yes",
        "no",
        "y",
        "n",
        "true",
        "false",
        "high",
        "low",
        "medium",
        "mid",
        "moderate",
        "average",
        "normal",
        "typical",
        "standard",
        "good",
        "bad",
        "poor",
        "fair",
        "great",
        "excellent",
        "ok",
        "okay",
        "fine",
        "neutral",
        "positive",
        "negative",
        "mixed",
        "strong",
        "weak",
        "some",
        "many",
        "few",
        "little",
        "lot",
        "much",
        "often",
        "sometimes",
        "rarely",
        "never",
        "always",
        "frequently",
        "occasionally",
        "seldom",
        "usually",
        "regular",
        "irregular",
        "yes.",
        "no.",
        "important",
        "unimportant",
        "significant",
        "minimal",
        "limited",
        "basic",
        "advanced",
        "intermediate",
        "open",
        "closed",
        "active",
        "inactive",
        "present",
        "absent",
        "agree",
        "disagree",
        "likely",
        "unlikely",
    }
)
"""Words that, alone or with an intensifier, say nothing specific about a person."""

_INTENSIFIERS = frozenset(
    {
        "very",
        "quite",
        "fairly",
        "rather",
        "not",
        "somewhat",
        "extremely",
        "moderately",
        "really",
        "pretty",
        "slightly",
        "highly",
        "a",
        "an",
        "the",
        "bit",
        "so",
        "too",
        "more",
        "less",
        "most",
        "least",
        "or",
        "and",
        "than",
        "to",
        "usually",
        "mostly",
        "generally",
    }
)

_FILLER = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "to",
        "for",
        "with",
        "my",
        "his",
        "her",
        "their",
        "i",
        "he",
        "she",
        "they",
        "is",
        "are",
        "was",
        "has",
        "have",
        "had",
        "having",
        "no",
        "not",
        "never",
        "any",
        "none",
        "yes",
        "does",
        "do",
        "did",
        "dont",
        "doesnt",
        "didnt",
        "very",
        "some",
        "own",
        "it",
        "its",
        "this",
        "that",
        "level",
        "type",
        "status",
    }
)

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
"""A word: a run of letters or digits, with an inner apostrophe."""
_NA = re.compile(
    r"^\s*(?:n\s*/\s*a|not\s+applicable|does\s+not\s+apply|doesn['’]t\s+apply|na)\s*"
    r"(?:[:\-–—(,;]\s*|\s+(?:because|as|since)\s+)(?P<reason>.+?)\)?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@lru_cache(maxsize=8192)
def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    stripped = text.strip(" .,:;!\"'`“”‘’()[]{}")
    return stripped if stripped else text


def normalise(text: str) -> str:
    """Lower-case, Unicode-normalised text with runs of spaces collapsed and outer punctuation removed.

    Memoised (the gates normalise the same option and attribute names for every persona)."""
    return _normalise(str(text))


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(text))


@lru_cache(maxsize=4096)
def _lower_words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(text.lower()))


def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` (:data:`WORD`), memoised: the value gates look at one value several times."""
    return _words(str(text))


def lower_words(text: str) -> tuple[str, ...]:
    """The lower-case words of ``text``, memoised like :func:`words`."""
    return _lower_words(str(text))


def word_count(text: str) -> int:
    """The number of words (runs of letters or digits) in ``text``."""
    return len(words(text))


def is_one_word(text: str) -> bool:
    """Whether ``text`` holds exactly one word."""
    return word_count(text) == 1


def is_placeholder(text: str) -> bool:
    """Whether ``text`` is a stand-in for a value ("N/A", "string", "unknown", "...")."""
    return normalise(text) in PLACEHOLDERS


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]{3,}")
_DANGLING = re.compile(
    r"(?:\b(?:and|or|but|the|a|an|her|his|their|my|its|because|than)"
    r"|\b(?:and|or|but|that|which|who)\s+(?:(?:he|she|they|it|we|i|you)\s+)?(?:has|have|had|is|was|are|were))\s*$",
    re.IGNORECASE,
)
"""Endings no phrase can have (an article, a conjunction, "and has"); prepositions can end one ("what
she stands for"), so they are not here."""


_DANGLING_LAST = frozenset(
    [
        "and",
        "or",
        "but",
        "the",
        "a",
        "an",
        "her",
        "his",
        "their",
        "my",
        "its",
        "because",
        "than",
        "has",
        "have",
        "had",
        "is",
        "was",
        "are",
        "were",
    ]
)
"""The last words a :data:`_DANGLING` ending can have."""

_DANGLING_SPAN = 64
"""Characters at the end of a text that can hold a :data:`_DANGLING` ending (at most "which they
were" and the spaces around it)."""


_ABOUT_THE_PROMPT = re.compile(
    r"\b(?:is|are|was|were)\s*(?:not|n['’]t)\s+mentioned\b|\b(?:does|do|did)\s*(?:not|n['’]t)\s+mention\b"
    r"|\bnot\s+mentioning\b|\bno\s+mention\s+of\b|\bassumed\s+to\s+be\b"
    r"|\b(?:no\s*one|nobody)\s+(?:has\s+|had\s+)?mentioned\s+anything\b"
    r"|\bno\s+specific\s+(?:details|information)\s+(?:about|on|given|provided|available)\b"
    r"|\b(?:in|from)\s+the\s+(?:given\s+|provided\s+|above\s+)?(?:text|profile|conversation|prompt|context)\b",
    re.IGNORECASE,
)


def speaks_of_the_prompt(text: str) -> bool:
    """Whether a value talks about the request instead of the person: "balance is not mentioned in the
    given text, it is assumed to be zero", "The individual does not mention any documentation habits".
    Nothing about a person being created is "not mentioned": such a text stands for no value (the
    embedded model wrote 33 of them for one persona of 60 values, stored as values)."""
    return bool(_ABOUT_THE_PROMPT.search(str(text)))


def is_cut_off(text: str) -> bool:
    """Whether ``text`` stops on a word that cannot end a phrase ("derived from the Germanic word for"):
    a value stopped by a length limit."""
    text = str(text).strip()
    # every ending of the pattern is one of a few words: most values are decided by their last word
    end = len(text)
    while end and (text[end - 1].isalnum() or text[end - 1] == "_"):  # the last run of ``\w``
        end -= 1
    if text[end:].lower() not in _DANGLING_LAST:
        return False
    # the pattern ends the text and spans a few words: searching the tail is enough (``\b`` still sees
    # the character before it)
    return bool(_DANGLING.search(text, max(0, len(text) - _DANGLING_SPAN)))


def is_junk(text: str) -> bool:
    """Whether ``text`` has no letter or digit, or is a fragment of JSON (``{``, ``"key":``)."""
    stripped = str(text).strip()
    if not WORD.search(stripped):
        return True
    if stripped[:1] in "{[" and stripped[-1:] not in "}]":
        return True
    if _CJK.search(stripped) and len(_LATIN.findall(stripped)) >= 3:
        return True  # a stray character of another script inside an English value ("spending time读书")
    return bool(re.match(r'^"?[\w ]+"?\s*:\s*["{\[]', stripped)) and stripped.count('"') >= 2


def is_trivial(text: str) -> bool:
    """Whether ``text`` is a bare word such as "High", "Yes", "very low" or "Moderate to High" (at most four
    words, all level words or intensifiers)."""
    words = lower_words(text)
    if not words or len(words) > 4:
        return False
    core = [w for w in words if w not in _INTENSIFIERS]
    if not core:
        return True
    return all(w in TRIVIAL_WORDS for w in core)


@lru_cache(maxsize=32768)
def _stem(word: str) -> str:
    """A light plural stem: stories -> story, boxes -> box, experiences -> experience, grass stays."""
    word = word.lower().replace("’", "'").replace("'", "")
    if len(word) <= 4 or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


@lru_cache(maxsize=32768)
def _root(word: str) -> str:
    """A rougher stem for comparing a value with its attribute's name: paying/pays -> pay,
    experienced/experience -> experienc (used by :func:`echoes_name` only)."""
    word = _stem(word)
    for suffix in ("ing", "ed", "e"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


_LEVEL_ROOTS = frozenset(_root(w) for w in TRIVIAL_WORDS | _INTENSIFIERS)
"""Level words ("high", "very", "moderate"), as :func:`echoes_name` compares them."""


def content_words(text: str) -> list[str]:
    """The stemmed words of ``text`` without filler words ("never had grief process" -> grief, process)."""
    return list(_content_words(str(text)))


@lru_cache(maxsize=4096)
def _content_words(text: str) -> tuple[str, ...]:
    return tuple(_stem(w) for w in _lower_words(text) if w not in _FILLER)


_VAGUE = frozenset(
    {"specific", "particular", "special", "certain", "real", "clear", "defined", "clearly", "really",
     "notable", "significant", "any", "much", "many", "kind", "sort", "form", "use", "spend", "identify",
     "get", "make", "take", "feel", "practice", "practise", "engage", "follow", "show", "pay", "own",
     "believe", "think", "care", "involve", "involvement", "interest", "interested", "about", "with",
     "activity", "activities", "none", "participate", "participation", "experience", "experiences",
     "aware", "positive", "negative", "strong", "good", "great", "level", "sense"}
)  # fmt: skip
"""Words that say nothing about the person when a value only negates its attribute ("does not use any
conversational pause norms"), compared by root."""

_VAGUE_ROOTS = frozenset(_root(w) for w in _VAGUE)


_CLAUSE_END = re.compile(r"[.;,]\s|\s(?:and|but|which|so|as|because)\s", re.IGNORECASE)


def _first_clause(text: str) -> str:
    """The text up to its first clause boundary (". ", ", ", " and ", " but " ...)."""
    match = _CLAUSE_END.search(str(text))
    return str(text)[: match.start()] if match else str(text)


_NEGATION_WORD = re.compile(r"\b(?:not|no|never|none|without)\b|n['’]t\b", re.IGNORECASE)


def _negated_echo(text: str, name: str, ignore: Collection[str]) -> bool:
    """Whether the value opens with a clause that only negates its attribute ("Mary does not have any
    shame proneness and does not feel ashamed. She is always happy ...": the rest is padding)."""
    clause = _first_clause(text)
    return (
        clause != str(text)
        and bool(_NEGATION_WORD.search(clause))
        and echoes_name(clause, name, ignore=ignore)
    )


def is_echo(text: str, name: str, *, ignore: Collection[str] = ()) -> bool:
    """Whether a value only repeats its attribute's name (:func:`echoes_name`), or opens with a clause
    that only negates it and pads the rest ("Mary does not have any shame proneness and does not feel
    ashamed. She is always happy"). What generation refuses and the quality report counts as an echo."""
    return echoes_name(text, name, ignore=ignore) or _negated_echo(text, name, ignore)


@lru_cache(maxsize=4096)
def _name_roots(name: str) -> frozenset[str]:
    """The roots of the content words of an attribute name (memoised: names recur in every persona)."""
    return frozenset(_root(w) for w in content_words(name))


@lru_cache(maxsize=1024)
def _skip_roots(ignore: frozenset[str]) -> frozenset[str]:
    """:data:`_VAGUE_ROOTS` and the roots of the words in ``ignore`` (one persona's name)."""
    return _VAGUE_ROOTS.union(_root(w) for w in ignore)


def echoes_name(text: str, name: str, *, ignore: Collection[str] = ()) -> bool:
    """Whether the value only repeats its attribute's name ("Grief Process: never had grief process",
    "Creative Confidence: Mary Jepchirchir does not have any specific creative confidence").

    True when every content word of the value also occurs in the name (after light stemming), so the
    value adds nothing the name did not already say. Vague words ("specific", "particular"), level words
    ("High sociability drive") and the words in ``ignore`` (the person's own name) are not counted.
    """
    skip = _skip_roots(frozenset(ignore)) if ignore else _VAGUE_ROOTS
    words = _content_words(str(text))
    value_words = [r for r in map(_root, words) if r not in skip]
    name_words = _name_roots(str(name))
    if not value_words:
        return bool(words) and bool(name_words) and word_count(text) > 1
    # a level word adds nothing either: "High sociability drive" for "Sociability Drive" is "High"
    rest = [w for w in value_words if w not in _LEVEL_ROOTS] or value_words
    return bool(name_words) and set(rest) <= name_words


_FIRST_PERSON_START = re.compile(
    r"^\W*(?:i|i['’]m|i['’]ve|i['’]d|i['’]ll|my|me|myself|we|we['’]re|our)\b", re.IGNORECASE
)
_FIRST_PERSON_INSIDE = re.compile(
    r"\b(?:I['’](?:m|ve|d|ll)|[Mm]y|[Mm]yself|I(?= (?:am|was|have|had|do|did|don['’]t|didn['’]t|can|"
    r"can['’]t|will|would|usually|always|never|often|sometimes|also|just|really|love|like|enjoy|feel|think|"
    r"prefer|try|go|live|work|spend|use|get|keep|make|take|believe|know|need|want|still|rarely|only|"
    r"[a-z]+ed)\b))\b"
)


def is_first_person(text: str) -> bool:
    """Whether ``text`` is written as the person speaking ("I'm confident in who I am", "my sister's
    farm") rather than about them. Inside a text a capital "I" counts only before a verb ("In 2004 I
    moved"), so "World War I veteran" does not."""
    text = str(text)
    return bool(_FIRST_PERSON_START.match(text) or _FIRST_PERSON_INSIDE.search(text))


def is_first_person_narrative(text: str) -> bool:
    """Whether a narrative is written as the person speaking ("I am Marius Pruschke, a sales manager
    ..."): its first sentence is, or more than half of its sentences are, quotations aside. A
    third-person portrait that quotes the person ("She says: 'I never lend money'") is not."""
    unquoted = _QUOTED.sub('""', str(text))  # the person's own words, quoted, are not the voice
    parts = [p for p in SENTENCE_END.split(unquoted) if p.strip()]
    if not parts:
        return False
    return is_first_person(parts[0]) or 2 * sum(is_first_person(p) for p in parts) > len(parts)


_QUOTED = re.compile(r'"[^"]*"|“[^”]*”')


def copies_sketch(text: str, sketch: str | None) -> bool:
    """Whether the value is the sketch copied: the sketch itself, or a run of at least four of its words
    covering at least 40% of it ("Local Economy: retired grocery store owner from Colorado")."""
    if not sketch:
        return False
    value = " ".join(lower_words(text))
    source = " ".join(lower_words(sketch))
    if not value or not source:
        return False
    if value == source:
        return True
    words = value.count(" ") + 1
    return words >= 4 and f" {value} " in f" {source} " and words >= 0.4 * (source.count(" ") + 1)


FILL_STYLE_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("commute", "25 minutes on a crowded minibus, paid daily"),
    ("debt_stress", "lies awake over a loan taken for a child's school fees"),
    ("comfort_foods", "fried fish with rice, eaten at a roadside stall"),
)
"""The style examples the fill prompt shows (key, value): examples of the form, about nobody. A small
model copies their facts into the persona ("Signature Dishes: fried fish with rice"), so a value that
reuses them is refused (:func:`copies_example`)."""


def _trigrams(text: str) -> set[tuple[str, str, str]]:
    words = lower_words(text)
    return {
        (a, b, c)
        for a, b, c in zip(words, words[1:], words[2:], strict=False)
        if sum(w not in _FILLER for w in (a, b, c)) >= 2
    }


_EXAMPLE_TRIGRAMS = frozenset(g for _, value in FILL_STYLE_EXAMPLES for g in _trigrams(value))
_EXAMPLE_WORDS = frozenset(w for g in _EXAMPLE_TRIGRAMS for w in g if w not in _FILLER)
_EXAMPLE_LEAST_SHARED = min((len({w for w in g if w not in _FILLER}) for g in _EXAMPLE_TRIGRAMS), default=1)
"""The fewest distinct content words an example trigram has: a value sharing fewer with the examples
copies none of them."""


def copies_example(text: str) -> bool:
    """Whether the value reuses a fill style example: three words in a row of one of
    :data:`FILL_STYLE_EXAMPLES`, two of them content words ("fried fish with rice", "a crowded minibus")."""
    words = lower_words(text)
    if len(_EXAMPLE_WORDS.intersection(words)) < _EXAMPLE_LEAST_SHARED:  # the usual case, at C speed
        return False
    return any(g in _EXAMPLE_TRIGRAMS for g in zip(words, words[1:], words[2:], strict=False))


def not_applicable_reason(value: Any) -> str | None:
    """The reason of an explicit not-applicable answer (``"N/A: has no children"``), or ``None``.

    A bare "N/A" without a reason is not accepted as not-applicable: it is a placeholder.
    """
    if not isinstance(value, str):
        return None
    match = _NA.match(value)
    if not match:
        return None
    reason = match.group("reason").strip(" .")
    if word_count(reason) < 2 or is_placeholder(reason) or is_unfounded_reason(reason):
        return None
    return reason


_UNFOUNDED = re.compile(
    r"\b(?:mention\w*|given|information|info|specif\w*|provided|stated|known|unknown|data|details?|"
    r"profile|context|described|indicated|available|clear|sure|enough)\b",
    re.IGNORECASE,
)


def is_unfounded_reason(reason: str) -> bool:
    """Whether a not-applicable reason only says the value was not given ("not mentioned in the profile").

    Such a reason is no reason: the persona is being created, so the value is to be decided, not found.
    """
    return bool(_UNFOUNDED.search(reason))


def looks_not_applicable(value: Any) -> bool:
    """Whether ``value`` is a not-applicable answer of any kind (with or without an acceptable reason)."""
    return isinstance(value, str) and bool(_NA_START.match(value))


_NA_START = re.compile(
    r"^\s*(?:n\s*/\s*a\b|not\s+applicable|does\s*n[o']t\s+apply|na\s*[:\-–—(])", re.IGNORECASE
)


_NUMBER = re.compile(
    r"(?<![\w.,])[-+−]?(?:\d{1,3}(?:[.,\u00a0\u202f' ]\d{3})+|\d+)(?:[.,]\d+)?(?![\w])|[-+−]?\.\d+"
)


def parse_number(value: Any) -> float | None:
    """Read one number from a value: ``1200``, ``"1,200 people"``, ``"2.5 hours"``, ``"3,5"``, ``"1 200"``.

    Thousands separators (``,``, space, thin space, apostrophe) are understood when they group digits
    by three; a single comma followed by one, two or four or more digits is a decimal comma.

    Returns:
        The number, or ``None`` when the value holds no number or several conflicting ones.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip().replace("−", "-")
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    token = matches[0].replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    if re.fullmatch(r"[-+]?\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?", token):
        token = token.replace(",", "").replace(" ", "")  # grouped thousands, maybe a decimal point
    elif re.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3}){2,}", token):
        token = token.replace(".", "")  # 1.234.567
    elif re.fullmatch(r"[-+]?\d{1,3}(?:[. ]\d{3})+,\d+", token):
        token = token.replace(".", "").replace(" ", "").replace(",", ".")  # 1.234,5 (European)
    else:
        token = token.replace(" ", "").replace(",", ".")
    try:
        number = float(token)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def value_problem(
    value: Any,
    *,
    kind: str = "text",
    options: Sequence[str] = (),
    name: str = "",
    sketch: str | None = None,
    ignore: Collection[str] = (),
) -> ValueProblem | None:
    """Why ``value`` must not be stored for an attribute of type ``kind``, or ``None`` when it is usable.

    Args:
        value: The value as the model wrote it (already unwrapped from JSON).
        kind: The attribute's value kind: ``"text"``, ``"categorical"``, ``"number"`` or ``"list"``.
        options: The allowed options of a categorical attribute.
        name: The attribute's (leaf) name, to catch values that only repeat it.
        sketch: The persona's sketch, to catch values that copy it.
        ignore: Words that do not count as content (the person's own name: "Mary Wanjiru does not
            have any specific storytelling traditions" only echoes "Storytelling Traditions").
    """
    if value is None:
        return "empty"
    if kind == "number":
        return None if parse_number(value) is not None else "not_a_number"
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        texts = [str(v) for v in items if str(v).strip()]
        if not texts:
            return "empty"
        for text in texts:
            problem = value_problem(text, kind="item", name=name, sketch=sketch, ignore=ignore)
            if problem is not None:
                return problem
        return None
    text = str(value).strip()
    if not text:
        return "empty"
    if kind == "categorical":
        wanted = normalise(text)
        return None if any(normalise(o) == wanted for o in options) else "outside_options"
    if is_placeholder(text):
        return "placeholder"
    if is_junk(text):
        return "junk"
    if looks_not_applicable(text) and not_applicable_reason(text) is None:
        return "unfounded_na"
    if speaks_of_the_prompt(text):
        return "about_the_prompt"
    if sketch and copies_sketch(text, sketch):
        return "sketch_copy"
    if copies_example(text):
        return "example_copy"
    if name and is_echo(text, name, ignore=ignore):
        return "echo"
    if is_cut_off(text):
        return "truncated"
    if kind == "text" and lists_options(text):
        return "alternatives"
    if kind == "text" and (is_trivial(text) or not _content_words(text)):
        return "trivial"  # a bare word, or only filler ("does not have any")
    return None


_ONE_OF = re.compile(r"\s*one of\s*:", re.IGNORECASE)
"""The opening of a value that lists the options it was given ("One of: a, b, c")."""


def lists_options(text: str) -> bool:
    """Whether a free-text value lists options instead of deciding one: "Single | Divorced", or the
    hint's own words, "One of: hierarchical, relaxed, competitive" (the embedded model, k=220)."""
    return "|" in text or _ONE_OF.match(text) is not None


_PROBLEM_TEXT: dict[str, str] = {
    "empty": "it was empty",
    "placeholder": "it was a placeholder, not a value",
    "about_the_prompt": (
        "it talked about the text instead of the person ('not mentioned in the given text', 'assumed to "
        "be'); you are creating this person: decide a plausible, specific value"
    ),
    "junk": "it was not text (no words, or a piece of JSON)",
    "outside_options": "it was not one of the allowed options",
    "not_a_number": "it held no number",
    "echo": (
        "it only repeated the attribute's name, or only said the person lacks it (everyone has it to "
        "some degree; a level such as 'high' adds nothing); say what this person does, has or did that "
        "shows it"
    ),
    "sketch_copy": "it copied the sketch instead of saying something new",
    "out_of_range": "the number was outside the plausible range given",
    "example_copy": "it reused the facts of the style example; give this person's own",
    "trivial": "a bare word like that says nothing specific; write a concrete phrase of 3-15 words",
    "na_restates_name": (
        "that reason only says the attribute is absent; this attribute applies to almost everyone, so "
        "decide a specific value (N/A is for a missing precondition, such as having no partner)"
    ),
    "too_many_na": (
        "this person already has many attributes marked N/A; almost every attribute applies to "
        "everyone, so decide a specific value"
    ),
    "unfounded_na": (
        "nothing about this person is unknown or 'not mentioned': you are creating them, so decide a "
        "plausible, specific value that fits them"
    ),
    "truncated": "the reply was cut off before this value was complete",
    "continuation": (
        "it went on with the sentence of the value before it; write a short phrase about this attribute alone"
    ),
    "repeated": (
        "the same value, sentence or opening words were given to several attributes; give each its own "
        "specific value, worded differently"
    ),
    "alternatives": "it listed alternatives ('A | B'); decide one specific value for this person",
    "one_word": "one word says almost nothing about this person; write a concrete phrase of 3-15 words",
}


def describe_problem(problem: str, *, options: Sequence[str] = (), unit: str | None = None) -> str:
    """The feedback sentence shown to the model for ``problem`` (options or unit added where useful)."""
    text = _PROBLEM_TEXT.get(problem, problem)
    if problem == "outside_options" and options:
        text += " (" + " | ".join(options) + ")"
    if problem == "not_a_number" and unit:
        text += f"; give a number of {unit}"
    return text


_POLARITY_WORDS = frozenset({"positive", "negative", "neutral", "mixed"})


def core_problems(
    data: dict[str, Any],
    *,
    num_stories: int,
    num_interests: int,
    story_words: tuple[int, int],
    tolerance: tuple[float, float] = (0.75, 1.5),
    facts: Sequence[str] = (),
) -> dict[str, str]:
    """What is wrong with a core chain, field by field (an empty dict when nothing is).

    The rules (each field must meet its own spec):

    - ``values_orientation``: a phrase of at least 3 words, not a label such as "Neutral" or "High", and
      not mostly words of the given ``facts`` ("without paid work" is an occupation, not a value);
    - ``attitude`` and ``coping_mechanism``: a sentence of at least 4 words;
    - ``attitude_details``: a sentence of at least 8 words;
    - ``life_stories``: exactly ``num_stories``, each between ``tolerance[0] * low`` and
      ``tolerance[1] * high`` words of ``story_words``, none repeating another;
    - ``interests``: exactly ``num_interests``, each 1-8 words and one hobby (not "reading, hiking and
      cooking"), none repeating another;
    - no text field is empty, a placeholder or junk.

    Args:
        data: The core chain's fields (as the model wrote them).
        num_stories: Stories asked for.
        num_interests: Interests asked for.
        story_words: ``(low, high)`` words asked per story.
        tolerance: Accepted story length as factors of ``low`` and ``high``.
        facts: The person's given facts (demographics as shown to the model).

    Returns:
        Field name → feedback sentence for the model.
    """
    problems: dict[str, str] = {}
    minimum = {"values_orientation": 3, "attitude": 4, "attitude_details": 8, "coping_mechanism": 4}
    for name, least in minimum.items():
        text = str(data.get(name) or "").strip()
        problem = value_problem(text, kind="item")
        if problem is not None:
            problems[name] = describe_problem(problem)
        elif name == "values_orientation" and (
            normalise(text) in _POLARITY_WORDS or is_trivial(text) or word_count(text) < least
        ):
            problems[name] = (
                f"{text!r} is a label; write a phrase of {least}-12 words naming what this person values"
            )
        elif name == "values_orientation" and _only_facts(text, facts):
            problems[name] = (
                f"{text!r} only repeats facts about the person; write a phrase naming what they value"
            )
        elif word_count(text) < least:
            problems[name] = f"{text!r} is too short; write a full sentence of at least {least} words"
        elif name != "values_orientation" and _repeats_field(text, name, data):
            problems[name] = "it repeats another field word for word; write something new for this field"
    stories = [str(s).strip() for s in (data.get("life_stories") or [])]
    story_notes = []
    if len(stories) != num_stories:
        story_notes.append(f"give exactly {num_stories} (got {len(stories)})")
    for i, story in enumerate(stories, 1):
        note = story_problem(story, stories[: i - 1], story_words=story_words, tolerance=tolerance)
        if note is not None:
            story_notes.append(f"story {i} {note}")
    if story_notes:
        problems["life_stories"] = "; ".join(story_notes)
    interests = [str(s).strip() for s in (data.get("interests") or [])]
    interest_notes = []
    if len(interests) != num_interests:
        interest_notes.append(f"give exactly {num_interests} (got {len(interests)})")
    seen: set[str] = set()
    for i, interest in enumerate(interests, 1):
        problem = value_problem(interest, kind="item") if interest else "empty"
        if problem is not None:
            interest_notes.append(f"interest {i} {describe_problem(problem)}")
        elif word_count(interest) > 8:
            interest_notes.append(f"interest {i} is too long; name it in 2-5 words")
        elif _LIST.search(interest):
            interest_notes.append(f"interest {i} lists several; name one hobby per item")
        elif normalise(interest) in seen:
            interest_notes.append(f"interest {i} repeats another")
        seen.add(normalise(interest))
    if interest_notes:
        problems["interests"] = "; ".join(interest_notes)
    return problems


_LIST = re.compile(r",\s*\S.*(?:,|\band\b|&)", re.IGNORECASE)
"""Three or more items in one string ("Reading, hiking, and cooking")."""


def _repeats_field(text: str, name: str, data: dict[str, Any]) -> bool:
    """Whether ``text`` (core field ``name``) equals an earlier short core field or shares a sentence with it."""
    order = ("values_orientation", "attitude", "attitude_details", "coping_mechanism")
    earlier = [str(data.get(f) or "") for f in order[: order.index(name)]] if name in order else []
    own = set(sentences(text))
    return any(normalise(text) == normalise(e) or own & set(sentences(e)) for e in earlier if e.strip())


def _only_facts(text: str, facts: Sequence[str]) -> bool:
    """Whether ``text`` is mostly (60% or more of its content words) words of ``facts``."""
    words = [_root(w) for w in content_words(text)]
    known = {_root(w) for fact in facts for w in content_words(fact)}
    return bool(words) and bool(known) and sum(w in known for w in words) >= 0.6 * len(words)


def story_problem(
    story: str,
    earlier: Sequence[str] = (),
    *,
    story_words: tuple[int, int],
    tolerance: tuple[float, float] = (0.75, 1.5),
) -> str | None:
    """What is wrong with one life story (see :func:`core_problems`), or ``None``."""
    story = str(story or "").strip()
    found = value_problem(story, kind="item") if story else "empty"
    if found is not None:
        return describe_problem(found)
    lo, hi = story_words
    low, high = int(lo * tolerance[0]), int(hi * tolerance[1] + 0.5)
    words = word_count(story)
    if not low <= words <= high:
        return f"has {words} words, it needs {lo}-{hi}"
    if normalise(story) in {normalise(s) for s in earlier}:
        return "repeats an earlier one"
    if _shared_sentence(story, earlier) or shares_run(story, earlier, STORY_RUN):
        return "repeats sentences of an earlier story; tell a different event"
    return None


STORY_RUN = 8
"""Words in a row that two life stories of one person may not share: a small model asked for another
story often starts it like the first ("Mary, who had always dreamed of owning a car, decided to ...")."""


def shares_run(text: str, others: Sequence[str], words: int) -> bool:
    """Whether ``text`` holds a run of ``words`` words in a row (case and punctuation aside) of one of
    ``others``."""

    def runs(t: str) -> set[tuple[str, ...]]:
        ws = [w.lower() for w in WORD.findall(str(t))]
        return {tuple(ws[i : i + words]) for i in range(len(ws) - words + 1)}

    seen = set().union(*(runs(o) for o in others)) if others else set()
    return bool(seen) and not seen.isdisjoint(runs(text))


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
"""Where a sentence ends (after ``.``, ``!`` or ``?``), for ``re.split``."""


def clip_value(text: str, *, words: int = 30, limit: int | None = None) -> str:
    """A free-text value longer than ``words``, cut after its last whole sentence within that many words.

    The fill asks for phrases of 3-15 words; a small model asked again sometimes answers with a paragraph
    whose first sentence is the value ("Greys early at the temples. This is a normal part of ...").
    The text is returned unchanged when it is short enough or its first sentence alone is longer.

    A value of ``limit`` characters or more (the schema's ``maxLength``: a grammar-constrained model was
    stopped there, often inside a word) is first cut back to its last clause boundary (``.``, ``;``,
    ``,``) when at least three words remain.
    """
    text = str(text).strip()
    if limit is not None and len(text) >= limit - 3 and text[-1:] not in ".!?)\"'":
        body = text.rstrip(" ,;:-")  # the grammar's stop may fall just after a comma: "..., but they were,"
        cut = max(body.rfind(mark) for mark in (". ", "; ", ", ", ".", ";", ","))
        head = body[:cut].rstrip(" ,;") if cut > 0 else ""
        if word_count(head) >= 3:
            text = head
    if word_count(text) <= words:
        return text
    head, _ = _leading_sentences(text, words)
    return head or text


def _leading_sentences(text: str, words: int) -> tuple[str, int]:
    """The whole sentences that open ``text`` within ``words`` words, and their word count."""
    kept: list[str] = []
    total = 0
    for sentence in SENTENCE_END.split(text):
        count = word_count(sentence)
        if total + count > words:
            break
        kept.append(sentence)
        total += count
    return " ".join(kept), total


def trim_story(
    story: str, *, story_words: tuple[int, int], tolerance: tuple[float, float] = (0.75, 1.5)
) -> str:
    """A story that is too long, cut after its last whole sentence within ``story_words``' upper bound.

    Small models often write a good event at three times the asked length; its opening sentences are a
    story of the right length, and asking again mostly brings the same long text back. The story is
    returned unchanged when it is not too long, or when its leading whole sentences within the bound
    would be shorter than the accepted minimum (then :func:`story_problem` refuses it as before).
    """
    text = " ".join(str(story or "").split())
    lo, hi = story_words
    if word_count(text) <= int(hi * tolerance[1] + 0.5):
        return str(story or "").strip()
    head, total = _leading_sentences(text, hi)
    return head if total >= int(lo * tolerance[0]) else str(story or "").strip()


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after ``.``, ``!`` or ``?``), normalised, of at least 6 words."""
    return [normalise(s) for s in SENTENCE_END.split(str(text)) if word_count(s) >= 6]


def _shared_sentence(text: str, others: Sequence[str]) -> bool:
    seen = {s for other in others for s in sentences(other)}
    return any(s in seen for s in sentences(text))


def repetitive_openings(text: str, *, words: int = 4, limit: int = 3) -> str | None:
    """The sentence opening that ``text`` repeats ``limit`` times or more ("She is a lover of"), or ``None``."""
    counts: dict[str, int] = {}
    for sentence in SENTENCE_END.split(str(text)):
        opening = " ".join(w.lower() for w in WORD.findall(sentence)[:words])
        if opening.count(" ") == words - 1:
            counts[opening] = counts.get(opening, 0) + 1
    worst = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
    return worst[0] if worst[1] >= limit else None


def na_restates_name(reason: str, name: str) -> bool:
    """Whether a not-applicable reason only negates the attribute ("Mood Variability: N/A: she does not
    have mood variability ..."): it holds at least two thirds of the name's words. Such an attribute
    applies to everyone; a real reason names a missing precondition ("she has no partner")."""
    name_words = set(content_words(name))
    if not name_words:
        return False
    reason_words = set(content_words(reason))
    reason_words |= {w[:-2] for w in reason_words if w.endswith("ed")}  # experienced -> experienc(e)
    hits = sum(1 for w in name_words if w in reason_words or w.rstrip("e") in reason_words)
    return hits / len(name_words) >= 2 / 3


_EVERYONE_HAS_ROOTS = frozenset(
    {
        "Psychological and Cognitive Aspects",
        "Emotional and Relational Skills",
        "Core Values, Beliefs, and Philosophy",
    }
)
"""Root categories of the default taxonomy whose attributes every person has to some degree (traits,
skills, values): "does not have any bias awareness" is no answer there."""

_EVERYONE_HAS_BRANCHES = frozenset(
    {"Body Build", "Facial Features", "Hair Characteristics", "Skin Characteristics", "Personality Traits",
     "Temperament", "Life Attitude"}
)  # fmt: skip
"""Branches (at any level) whose attributes every person has: an appearance or a temperament."""

_TRAIT_WORDS = re.compile(
    r"\b(?:awareness|tendency|tendencies|proneness|drive|clarity|style|approach|tolerance|sensitivity|"
    r"reactivity|regulation|orientation|identity|attitudes?|process|needs?|handling|management|"
    r"temperament|personality|traits?|outlook|level|capacity|ability|self-\w+)\b",
    re.IGNORECASE,
)
"""Leaf-name words of a trait, a way of doing things or a capacity, which every person has."""


_CIRCUMSTANCE_WORDS = re.compile(
    r"\b(?:long[- ]distance|partners?|spouses?|husband|wife|marriage|marital|dating|romantic|children|"
    r"child(?:care|ren's)?|parenting|grandchildren|siblings?|pets?|memberships?|clubs?|teams?|leagues?|"
    r"ownership|vehicles?|cars?|driving|religious|church|faith|prayer|military|pregnancy|retirement|"
    r"caregiving|divorce|widowhood|debts?|loans?|mortgage|tattoos?|piercings?)\b",
    re.IGNORECASE,
)
"""Words of a circumstance that not everyone is in (a partner, children, a pet, a religion, a car ...):
its attributes may be absent even under a trait root ("Long-Distance Relationship Maintenance")."""


def may_be_absent(
    path: Sequence[str], conditions: Collection[str] = (), description: str | None = None
) -> bool:
    """Whether a person may honestly have none of this attribute (``path``: its names from the root).

    True for what someone may simply not have or do: an activity, a membership, a possession, a
    relationship, an experience ("Hosting Dinner Parties", "Athletic Role Models", "Pet Ownership").
    False for what every person has to some degree: attributes under the trait roots
    (:data:`_EVERYONE_HAS_ROOTS`) or appearance and temperament branches, and leaves named as a trait,
    a style or a capacity ("Bias Awareness", "Catastrophizing Tendency", "Deadline Handling").
    For those, "does not have any ..." says nothing and stays refused. A leaf (or its parent) about a
    circumstance not everyone is in may be absent wherever it stands ("Long-Distance Relationship
    Maintenance", "Partner Communication Style", "Religious Doubts"), and so may a leaf with
    applicability ``conditions`` (the taxonomy says it only applies to some people) or whose
    ``description`` allows "none" ("Which thrilling activities the person has done ..., or \"none\"")."""
    if conditions or invites_none(description):
        return True
    names = [str(n) for n in path]
    if not names:
        return False
    if any(_CIRCUMSTANCE_WORDS.search(n) for n in names[-2:] if n != names[0] or len(names) == 1):
        return True
    if names[0] in _EVERYONE_HAS_ROOTS or any(n in _EVERYONE_HAS_BRANCHES for n in names):
        return False
    return not _TRAIT_WORDS.search(names[-1])


_INVITES_NONE = re.compile(
    r"""\bor none\b|["'“]none["'”]|\bnone if\b|\bor never\b|\bif any\b""", re.IGNORECASE
)

_BARE_NONE = frozenset({"none", "none of the above", "none of these", "nothing", "never", "no", "not any"})


def invites_none(description: str | None) -> bool:
    """Whether an attribute's description allows "none" as its answer ("..., or none", "if any")."""
    return bool(description) and _invites_none(str(description))


@lru_cache(maxsize=4096)
def _invites_none(description: str) -> bool:
    return bool(_INVITES_NONE.search(description))


def bare_none(value: Any) -> bool:
    """Whether ``value`` only says "none" ("None", "None of the above", ``["none"]``)."""
    items = value if isinstance(value, list) else [value]
    texts = [normalise(str(v)) for v in items if str(v).strip()]
    return bool(texts) and all(t in _BARE_NONE for t in texts)


_NONE_PREFIX = re.compile(r"^\s*(?:none|nothing|n/?a)\s*[,.:;\-–—]\s*", re.IGNORECASE)


def absence_reason(
    text: str,
    path: Sequence[str],
    *,
    ignore: Collection[str] = (),
    conditions: Collection[str] = (),
    description: str | None = None,
) -> str | None:
    """The value as an honest "none" (kept as not applicable, with the value as its reason), or ``None``.

    A value that only negates its attribute ("None, does not have any hosting dinner party activities",
    "Has never had an athletic role model; prefers to watch the village football on Sundays") is an
    echo (:func:`is_echo`). For an attribute a person may lack (:func:`may_be_absent`) it is a true
    answer: the person has none. It is then kept as not applicable (counted apart by the quality report,
    and within the persona's not-applicable budget) instead of being re-asked until the model invents
    something. For traits everyone has it stays refused, and so does a negation padded with more
    sentences ("Mary does not have any honorific use and does not feel entitled. She is always happy
    and content with her life", written for twenty attributes in a row: a collapsed batch, re-asked)."""
    if (
        not path
        or not may_be_absent(path, conditions, description)
        or len([p for p in SENTENCE_END.split(str(text).strip()) if WORD.search(p)]) > 1
    ):
        return None
    clause = _first_clause(text)
    if not _NEGATION_WORD.search(clause) or not is_echo(text, str(path[-1]), ignore=ignore):
        return None
    reason = _NONE_PREFIX.sub("", str(text)).strip(" .")
    return reason if word_count(reason) >= 2 else None
