"""Survey instruments as data: items, valid codes, answer parsing, keyed scoring.

The packaged instruments live as JSON under ``deeppersona/data/surveys/`` and are read on first use:

* ``wvs7``: the six World Values Survey wave-7 questions of the paper (Appendix A.4 wording).
* ``ipip50``: the 50 IPIP Big-Five factor markers (public domain), ids as in OpenPsychometrics'
  ``data-final.csv`` (``EXT1`` … ``OPN10``), scored 1–5, with reverse-keyed items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from ..errors import ConfigError, DataFileError, EvaluationError

if TYPE_CHECKING:
    import pandas as pd

    from ._loaders import GroundTruth

__all__ = ["AnswerReading", "Instrument", "SurveyItem", "packaged_instrument", "read_likert"]


_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?(?!\.?\d)")
# Scale ranges and "out of" phrases echoed from the prompt ("from 1 to 5", "1-10", "4 out of 5", "4/5"):
# their numbers are not answers.
_RANGE = re.compile(
    r"\b(?:from\s+|between\s+)?\d+\s*(?:-|–|to|and)\s*\d+\b|\bout\s+of\s+\d+\b|(?<=\d)\s*/\s*\d+\b"
)
_NUMBER_WORDS = dict(
    zip(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
        range(1, 11),
        strict=True,
    )
)

# --- Likert text reading ------------------------------------------------------------------------------
# Text is lower-cased, contractions expanded, and split into words; intensity modifiers are mapped to two
# canonical words ("strongly", "somewhat"), so labels and replies are compared in the same vocabulary.
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
)
_APOSTROPHES = str.maketrans("’‘`", "'''")
_WORD = re.compile(r"[a-z0-9]+")
_STRONG, _MILD = "strongly", "somewhat"
_STRONG_WORDS = re.compile(
    r"\b(?:very much|very strongly|strongly|completely|totally|absolutely|fully|entirely|extremely|"
    r"definitely|highly|very)\b"
)
_MILD_WORDS = re.compile(
    r"\b(?:a little bit|a little|a bit|kind of|sort of|tend to|somewhat|slightly|moderately|mildly|partly|"
    r"partially|mostly|quite|fairly|rather|pretty)\b"
)
_FILLERS = re.compile(r"\b(?:really|actually|honestly|just|personally|generally|overall)\b")
_REPEATED = re.compile(r"\b(strongly|somewhat)(?: \1)+\b")
_NOT_AT_ALL = re.compile(r"\bnot (\w+) at all\b")  # "not important at all" -> "not at all important"
# Bipolar scales whose poles are one word each: "not agree" means "disagree", and the unlabelled codes
# between the poles are "somewhat" answers. Other scales are read through their labels only.
_POLES: tuple[tuple[str, str], ...] = (
    ("agree", "disagree"),
    ("accurate", "inaccurate"),
    ("approve", "disapprove"),
    ("likely", "unlikely"),
    ("satisfied", "dissatisfied"),
)
_POST_MODIFIER = re.compile(
    r"\b(" + "|".join(w for pair in _POLES for w in pair) + r") (strongly|somewhat)\b"
)
_NEGATIONS = frozenset({"not", "never", "no"})
_ARTICLES = frozenset({"a", "an", "the"})
_NEUTRAL_PHRASES: tuple[tuple[str, ...], ...] = (
    ("neutral",),
    ("undecided",),
    ("neither",),
    ("in", "the", "middle"),
    ("in", "between"),
)


def _canonical_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` in the parser's canonical vocabulary (see the module notes)."""
    s = text.lower().translate(_APOSTROPHES)
    for pattern, repl in _CONTRACTIONS:
        s = pattern.sub(repl, s)
    s = " ".join(_WORD.findall(s))
    s = _FILLERS.sub(" ", s)
    s = _STRONG_WORDS.sub(_STRONG, s)
    s = _MILD_WORDS.sub(_MILD, s)
    s = " ".join(s.split())
    s = _REPEATED.sub(r"\1", s)
    s = _NOT_AT_ALL.sub(r"not at all \1", s)
    s = _POST_MODIFIER.sub(r"\2 \1", s)
    return s.split()


def _likert_lexicon(
    codes: Sequence[int], labels: Mapping[int, str]
) -> tuple[dict[tuple[str, ...], int | None], int | None]:
    """Phrase → code for a scale (``None`` marks a phrase two codes share), and the middle code if any."""
    lexicon: dict[tuple[str, ...], int | None] = {}
    for code, label in labels.items():
        words = tuple(_canonical_words(label))
        if words:
            lexicon[words] = code if lexicon.get(words, code) == code else None
    lo, hi = min(codes), max(codes)
    twice_mid = lo + hi
    mid = twice_mid // 2 if twice_mid % 2 == 0 and twice_mid // 2 in codes else None

    def end(side: int) -> int:
        return hi if side > 0 else lo

    def mild(side: int) -> int:
        return min((c for c in codes if (2 * c - twice_mid) * side > 0), key=lambda c: abs(2 * c - twice_mid))

    for pos, neg in _POLES:
        # Which side each pole is on ("Neither agree nor disagree" names both and tells nothing).
        pos_codes = [c for w, c in lexicon.items() if c is not None and pos in w and neg not in w]
        neg_codes = [c for w, c in lexicon.items() if c is not None and neg in w and pos not in w]
        if not pos_codes or not neg_codes:
            continue
        if min(pos_codes) > max(neg_codes):
            pos_side = 1
        elif max(pos_codes) < min(neg_codes):
            pos_side = -1
        else:
            continue
        derived: dict[tuple[str, ...], int] = {}
        for word, side in ((pos, pos_side), (neg, -pos_side)):
            derived[(_STRONG, word)] = end(side)
            derived[(_MILD, word)] = mild(side)
            derived[("not", "at", "all", word)] = end(-side)
        plain_neg = lexicon.get((neg,))
        if plain_neg is not None:
            derived[("not", pos)] = plain_neg
        if mid is not None:
            derived[("neither", pos, "nor", neg)] = derived[("neither", neg, "nor", pos)] = mid
            for phrase in _NEUTRAL_PHRASES:
                derived[phrase] = mid
        for words, code in derived.items():
            lexicon.setdefault(words, code)
    return lexicon, mid


class AnswerReading(NamedTuple):
    """How a reply was read: the code (``None`` when none) and why.

    ``status`` is ``"code"`` (a valid code, as a number or in the text), ``"label"`` (read from the
    answer labels), ``"ambiguous"`` (several different codes, or a negated or unresolvable phrase) or
    ``"unparsed"`` (nothing recognisable).
    """

    code: int | None
    status: Literal["code", "label", "ambiguous", "unparsed"]


def _read_labels(words: list[str], codes: Sequence[int], labels: Mapping[int, str]) -> AnswerReading:
    lexicon, mid = _likert_lexicon(codes, labels)
    longest = max((len(p) for p in lexicon), default=0)

    def phrase_at(i: int) -> tuple[int, int | None] | None:
        """The longest lexicon phrase starting at word ``i``: (length, code)."""
        for n in range(min(longest, len(words) - i), 0, -1):
            words_i = tuple(words[i : i + n])
            if words_i in lexicon:
                return n, lexicon[words_i]
        return None

    # Candidate spans: (start, end, kind, code); kind "phrase", "neither" (resolved), "ambiguous", "ignore".
    spans: list[tuple[int, int, str, int | None]] = []
    for i in range(len(words)):
        for n in range(1, min(longest, len(words) - i) + 1):
            key = tuple(words[i : i + n])
            if key in lexicon:
                code = lexicon[key]
                spans.append((i, i + n, "phrase" if code is not None else "ambiguous", code))
    # "neither X nor Y": the middle code when X and Y lie on opposite sides of it; never X or Y alone.
    for i, w in enumerate(words):
        if w != "neither" or "nor" not in words[i + 1 : i + 9]:
            continue
        j = words.index("nor", i + 1)
        left = [x for x in words[i + 1 : j] if x not in _ARTICLES] if j > i + 1 else []
        k = j + 1
        while k < len(words) and words[k] in _ARTICLES:
            k += 1
        right = phrase_at(k) if k < len(words) else None
        x_code = lexicon.get(tuple(left)) if tuple(left) in lexicon else None
        y_code = right[1] if right is not None else None
        stop = k + (right[0] if right is not None else 1)
        if (
            x_code is not None
            and y_code is not None
            and mid is not None
            and (x_code - mid) * (y_code - mid) < 0
        ):
            spans.append((i, stop, "neither", mid))
        elif tuple(left) not in lexicon and right is None:
            spans.append((i, stop, "ignore", None))  # "neither rich nor poor": not about the scale
        else:
            spans.append((i, stop, "ambiguous", None))
    chosen: list[tuple[int, int, str, int | None]] = []
    taken: set[int] = set()
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if taken.isdisjoint(range(span[0], span[1])):
            chosen.append(span)
            taken.update(range(span[0], span[1]))
    found: set[int] = set()
    ambiguous = False
    for start, _stop, kind, code in chosen:
        if kind == "ignore":
            continue
        if kind == "ambiguous" or code is None:
            ambiguous = True
            continue
        before = start - 1
        while before >= 0 and words[before] in _ARTICLES:
            before -= 1
        negated = (before >= 0 and words[before] in _NEGATIONS) or words[max(0, before - 2) : before + 1] == [
            "not",
            "at",
            "all",
        ]
        if kind == "phrase" and negated and words[start] != "not":
            ambiguous = True  # "not a good thing", "not quite happy": no label says what that is
            continue
        found.add(code)
    if ambiguous or len(found) > 1:
        return AnswerReading(None, "ambiguous")
    if found:
        return AnswerReading(found.pop(), "label")
    return AnswerReading(None, "unparsed")


def read_likert(text: str, codes: Sequence[int], labels: Mapping[int, str] | None = None) -> AnswerReading:
    """Read an answer code from a free-text reply on a rating scale.

    Numbers come first: a reply naming exactly one valid code (``"4"``, ``"My answer: 4."``, ``"4 out of
    5"``, ``"on a scale from 1 to 5, I'd say 4"``) gives that code; several different valid codes are
    ambiguous. Without a valid number the reply is read through the labels, after lower-casing,
    expanding contractions (``"don't"`` → ``"do not"``) and mapping intensity words to two canonical ones:
    ``"very"``, ``"very much"``, ``"completely"``, ``"totally"``, ``"absolutely"``, ``"extremely"`` … to
    ``"strongly"``; ``"slightly"``, ``"moderately"``, ``"a little"``, ``"tend to"``, ``"quite"``,
    ``"fairly"``, ``"rather"`` … to ``"somewhat"``. ``"not X at all"`` reads as ``"not at all X"``.

    Phrases match whole words and the longest wins, so ``"agree"`` inside ``"disagree"`` or ``"very
    happy"`` inside ``"not very happy"`` never count. On bipolar scales (``agree``/``disagree`` and a
    few others) the missing rungs are derived: ``"strongly agree"`` is the end of the agree side,
    ``"somewhat agree"`` the code next to the middle on that side, ``"not agree"`` the ``disagree``
    label, ``"not at all agree"`` the other end, and ``"neutral"`` or ``"neither agree nor disagree"``
    the middle code. ``"neither X nor Y"`` with ``X`` and ``Y`` on opposite sides of the middle gives
    the middle code. A phrase preceded by a negation that no label spells out (``"not a good thing"``)
    and a reply that names several different codes are ambiguous.

    Args:
        text: The reply.
        codes: The valid codes.
        labels: Labels of (some) codes.

    Returns:
        An :class:`AnswerReading`; its code is ``None`` when the reply is ambiguous or unreadable.
    """
    cleaned = _RANGE.sub(" ", text)
    had_range = cleaned != text
    found = {float(m) for m in _NUMBER.findall(cleaned)}
    valid = {int(v) for v in found if v.is_integer() and int(v) in codes}
    if len(valid) == 1:
        return AnswerReading(valid.pop(), "code")
    if valid:
        return AnswerReading(None, "ambiguous")
    words = _canonical_words(cleaned)
    if len(words) == 1 and _NUMBER_WORDS.get(words[0]) in codes:
        return AnswerReading(_NUMBER_WORDS[words[0]], "code")
    reading = _read_labels(words, codes, labels or {}) if words else AnswerReading(None, "unparsed")
    if reading.status == "unparsed" and had_range:
        return AnswerReading(None, "ambiguous")  # "3-4", "between 2 and 3"
    return reading


def _mapping_text(mapping: Mapping[int, int]) -> str:
    return ", ".join(f"{k}→{v}" for k, v in sorted(mapping.items()))


class SurveyItem(BaseModel):
    """One survey question with its valid answer codes.

    An item whose official data use another scale than its prompt (the paper's four-option Q57 against
    WVS-7's two codes) declares that scale in ``real_codes`` together with a documented ``recode`` mapping.
    Such an item has :attr:`scale_mismatch`: reports show it with a warning and leave it out of the
    across-item average, unless it is :meth:`recoded` onto the real scale.

    Attributes:
        id: The item id, which is also its column in the official data file (``Q45``, ``EXT1``).
        label: A short label (the WVS topic, or the IPIP statement).
        prompt: The full question text the simulated respondent sees.
        codes: The valid answer codes, ascending: what answers are recorded and compared as.
        code_labels: Labels of (some) codes, e.g. ``{1: "Very happy"}``.
        trait: For personality items, the trait the item measures.
        keyed: ``"+"`` or ``"-"`` (reverse-keyed) for personality items.
        note: A caveat about the item (shown as a warning in reports).
        real_codes: The codes of the official data when they differ from ``codes``.
        real_labels: Labels of ``real_codes``.
        recode: Documented mapping from the prompt's codes to ``real_codes``.
        asked_codes: For a recoded item, the codes the prompt offers (answers are read on this scale and
            mapped to ``codes`` with ``recode``); ``None`` otherwise.
        asked_labels: Labels of ``asked_codes``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    prompt: str
    codes: tuple[int, ...]
    code_labels: dict[int, str] = Field(default_factory=dict)
    trait: str | None = None
    keyed: Literal["+", "-"] | None = None
    note: str | None = None
    real_codes: tuple[int, ...] | None = None
    real_labels: dict[int, str] = Field(default_factory=dict)
    recode: dict[int, int] = Field(default_factory=dict)
    asked_codes: tuple[int, ...] | None = None
    asked_labels: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_scales(self) -> SurveyItem:
        if not self.codes:
            raise ValueError(f"item {self.id!r} has no codes")
        if self.recode:
            source = self.asked_codes if self.asked_codes is not None else self.codes
            target = self.codes if self.asked_codes is not None else (self.real_codes or ())
            if set(self.recode) != set(source) or not set(self.recode.values()) <= set(target):
                raise ValueError(
                    f"item {self.id!r}: recode {self.recode} must map every code of {list(source)} "
                    f"to one of {list(target)}"
                )
        elif self.asked_codes is not None:
            raise ValueError(f"item {self.id!r}: asked_codes need a recode mapping")
        return self

    @property
    def scale(self) -> tuple[int, int]:
        """``(min, max)`` of the answer codes."""
        return (min(self.codes), max(self.codes))

    @property
    def scale_mismatch(self) -> bool:
        """Whether the official data use other codes than the prompt (and the item is not recoded)."""
        return self.real_codes is not None and set(self.real_codes) != set(self.codes)

    @property
    def answer_codes(self) -> tuple[int, ...]:
        """The codes a respondent may answer (the prompt's; ``asked_codes`` for a recoded item)."""
        return self.asked_codes if self.asked_codes is not None else self.codes

    def recoded(self) -> SurveyItem:
        """This item compared on the official data's scale: answers are mapped with ``recode``.

        The prompt and the answer options are unchanged; :meth:`parse` returns the mapped code. Items
        without a scale mismatch are returned as they are.

        Raises:
            ConfigError: The item has a scale mismatch but no ``recode`` mapping.
        """
        if not self.scale_mismatch:
            return self
        if not self.recode:
            raise ConfigError(f"item {self.id!r} has no recode mapping onto its real codes {self.real_codes}")
        assert self.real_codes is not None
        data = self.model_dump()
        data.update(
            codes=tuple(sorted(self.real_codes)),
            code_labels=dict(self.real_labels),
            asked_codes=self.codes,
            asked_labels=dict(self.code_labels),
            real_codes=None,
            real_labels={},
        )
        return SurveyItem(**data)

    def warning(self) -> str | None:
        """What a report should say about this item: its note plus how a scale mismatch is handled."""
        parts = [self.note] if self.note else []
        if self.scale_mismatch:
            fix = f" (recode available: {_mapping_text(self.recode)})" if self.recode else ""
            parts.append(
                f"The prompt offers codes {list(self.codes)} but the real data use {list(self.real_codes or ())}: "
                f"{self.id} is left out of the average{fix}."
            )
        elif self.asked_codes is not None:
            parts.append(
                f"Answers to the prompt's codes {list(self.asked_codes)} are recoded onto the real data's "
                f"codes {list(self.codes)} ({_mapping_text(self.recode)}) and compared on that scale."
            )
        return f"{self.id}: " + " ".join(parts) if parts else None

    def read(self, text: object) -> AnswerReading:
        """Read an answer code from a reply, saying how (see :func:`read_likert` for text).

        Accepts a code (``2``), a JSON object with an ``answer`` field, or text: a code inside it
        (``"My answer: 2."``) or a label (``"Quite happy"``, ``"somewhat agree"``). For a recoded item the
        reply is read on the prompt's scale and mapped to the real one.

        Args:
            text: The model's reply (str, int, or a mapping with ``"answer"``).

        Returns:
            An :class:`AnswerReading`.
        """
        reading = self._read_asked(text)
        if reading.code is not None and self.asked_codes is not None:
            return AnswerReading(self.recode[reading.code], reading.status)
        return reading

    def _read_asked(self, text: object) -> AnswerReading:
        codes = self.answer_codes
        if isinstance(text, bool) or text is None:
            return AnswerReading(None, "unparsed")
        if isinstance(text, (int, float)):
            ok = float(text).is_integer() and int(text) in codes
            return AnswerReading(int(text), "code") if ok else AnswerReading(None, "unparsed")
        if isinstance(text, Mapping):
            return (
                self._read_asked(text.get("answer")) if "answer" in text else AnswerReading(None, "unparsed")
            )
        if not isinstance(text, str):
            return AnswerReading(None, "unparsed")
        labels = self.asked_labels if self.asked_codes is not None else self.code_labels
        return read_likert(text, codes, labels)

    def parse(self, text: object) -> int | None:
        """Read an answer code from a reply; ``None`` when there is none or it is ambiguous.

        Args:
            text: The model's reply (str, int, or a mapping with ``"answer"``).

        Returns:
            A valid code, or ``None`` (see :meth:`read` for why).
        """
        return self.read(text).code

    def answer_model(self) -> type[BaseModel]:
        """A pydantic model whose ``answer`` field only accepts this item's answer codes (a ``Literal`` enum)."""
        literal: Any = Literal.__getitem__(tuple(self.answer_codes))
        name = "Answer_" + re.sub(r"\W", "_", self.id)
        model: type[BaseModel] = create_model(
            name,
            __config__=ConfigDict(extra="ignore"),
            answer=(literal, Field(description=f"one of the codes {list(self.answer_codes)}")),
        )
        return model

    def score(self, values: Any) -> Any:
        """Keyed score: the value itself for ``+`` items, ``min + max - value`` for reverse-keyed ones."""
        lo, hi = self.scale
        arr = np.asarray(values, dtype=np.float64)
        return (lo + hi) - arr if self.keyed == "-" else arr


class Instrument:
    """A survey: an ordered set of :class:`SurveyItem` plus how its official data file is laid out.

    Args:
        name: Short name (``"wvs7"``, ``"ipip50"``).
        items: The items, in order.
        title: A human-readable title.
        source: Where the wording and codes come from.
        traits: Trait id → label, for personality inventories.
        country_column: The country column of the official data file.
    """

    def __init__(
        self,
        name: str,
        items: Sequence[SurveyItem],
        *,
        title: str = "",
        source: str = "",
        traits: Mapping[str, str] | None = None,
        country_column: str | None = None,
    ) -> None:
        if not items:
            raise ConfigError(f"instrument {name!r} has no items")
        ids = [it.id for it in items]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"instrument {name!r} has duplicate item ids")
        self.name = name
        self.items: tuple[SurveyItem, ...] = tuple(items)
        self.title = title
        self.source = source
        self.traits: dict[str, str] = dict(traits or {})
        self.country_column = country_column

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instrument:
        """Build an instrument from its JSON form (see the packaged files)."""
        try:
            items = [
                SurveyItem(**{**it, "code_labels": {int(k): v for k, v in it.get("code_labels", {}).items()}})
                for it in data["items"]
            ]
            return cls(
                data["name"],
                items,
                title=data.get("title", ""),
                source=data.get("source", ""),
                traits=data.get("traits"),
                country_column=data.get("country_column"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(f"invalid instrument definition: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> Instrument:
        """Read an instrument from a JSON file in the packaged format."""
        p = Path(path)
        if not p.is_file():
            raise DataFileError(f"instrument file {str(p)!r} does not exist")
        return cls.from_dict(json.loads(p.read_text(encoding="utf-8")))

    @property
    def ids(self) -> list[str]:
        """Item ids in order."""
        return [it.id for it in self.items]

    def item(self, item_id: str) -> SurveyItem:
        """The item called ``item_id``.

        Raises:
            EvaluationError: No such item.
        """
        for it in self.items:
            if it.id.lower() == item_id.lower():
                return it
        raise EvaluationError(f"{self.name} has no item {item_id!r}; items: {', '.join(self.ids)}")

    def subset(self, item_ids: Sequence[str]) -> Instrument:
        """A new instrument holding only ``item_ids`` (in that order)."""
        return self._replace([self.item(i) for i in item_ids])

    def with_items(self, items: Sequence[SurveyItem]) -> Instrument:
        """A new instrument where ``items`` replace the items of the same id (others are appended)."""
        by_id = {it.id: it for it in items}
        merged = [by_id.pop(it.id, it) for it in self.items]
        return self._replace(merged + list(by_id.values()))

    def recoded(self) -> Instrument:
        """A new instrument where every item with a scale mismatch is :meth:`SurveyItem.recoded`.

        Recoded items keep their prompt and answer options; answers are mapped onto the official data's
        codes and compared on that scale, so they count in the across-item average.

        Raises:
            ConfigError: An item with a scale mismatch has no recode mapping.
        """
        return self._replace([it.recoded() for it in self.items])

    @property
    def scale_mismatches(self) -> list[SurveyItem]:
        """Items whose official data use other codes than the prompt (left out of averages)."""
        return [it for it in self.items if it.scale_mismatch]

    def warnings(self) -> list[str]:
        """One line per item with a note, a scale mismatch or a recoding (see :meth:`SurveyItem.warning`)."""
        return [w for w in (it.warning() for it in self.items) if w]

    def trait_items(self, trait: str) -> list[SurveyItem]:
        """The items of ``trait`` (personality inventories)."""
        found = [it for it in self.items if it.trait == trait]
        if not found:
            raise EvaluationError(
                f"{self.name} has no items for trait {trait!r}; traits: {list(self.traits)}"
            )
        return found

    def trait_scores(self, responses: pd.DataFrame) -> pd.DataFrame:
        """Mean keyed score per trait for each respondent (rows with any missing item of a trait are NaN).

        Args:
            responses: Answers with one column per item id.

        Returns:
            One column per trait, values on the item scale (1–5 for IPIP).
        """
        import pandas as pd

        out = {}
        for trait in self.traits or sorted({it.trait for it in self.items if it.trait}):
            its = [it for it in self.items if it.trait == trait and it.id in responses.columns]
            if not its:
                continue
            scored = np.column_stack([it.score(responses[it.id].to_numpy(dtype=float)) for it in its])
            out[trait] = scored.mean(axis=1)  # NaN propagates: a trait score needs all its items
        return pd.DataFrame(out, index=responses.index)

    def trait_support(self, trait: str) -> np.ndarray:
        """Every value a trait mean can take (a grid of step ``1/m`` for ``m`` items)."""
        its = self.trait_items(trait)
        lo = sum(it.scale[0] for it in its)
        hi = sum(it.scale[1] for it in its)
        return np.round(np.arange(lo, hi + 1) / len(its), 10)

    def load(self, path: str | Path, country: str | None = None, **kwargs: Any) -> GroundTruth:
        """Read real answers from the instrument's official data file.

        ``wvs7`` reads the WVS-7 CSV (``B_COUNTRY_ALPHA``, ``Q45`` …); ``ipip50`` reads OpenPsychometrics'
        tab-separated ``data-final.csv`` (``country``, ``EXT1`` …). Other instruments read any CSV with
        one column per item id (and ``country_column`` if given).

        Args:
            path: The data file.
            country: Keep only this country (ISO-2, ISO-3 or name); all rows when ``None``.
            **kwargs: Passed to the loader (e.g. ``sep``).

        Returns:
            A :class:`~deeppersona.evaluation.GroundTruth`.
        """
        from ._loaders import load_csv

        return load_csv(self, path, country=country, **kwargs)

    def from_arrays(self, data: Mapping[str, Any], *, country: str | None = None) -> GroundTruth:
        """Ground truth from plain answer arrays, one per item id (NaN = missing)."""
        from ._loaders import GroundTruth

        return GroundTruth.from_arrays(self, data, country=country)

    def from_histograms(
        self, data: Mapping[str, Mapping[Any, float]], *, country: str | None = None
    ) -> GroundTruth:
        """Ground truth from answer histograms: item id → {code: count (or weight)}."""
        from ._loaders import GroundTruth

        return GroundTruth.from_histograms(self, data, country=country)

    def _replace(self, items: Sequence[SurveyItem]) -> Instrument:
        return Instrument(
            self.name,
            items,
            title=self.title,
            source=self.source,
            traits=self.traits,
            country_column=self.country_column,
        )

    def __iter__(self) -> Iterator[SurveyItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Instrument({self.name!r}, {len(self.items)} items)"


def packaged_instrument(name: str) -> Instrument:
    """Read a packaged instrument (``"wvs7"`` or ``"ipip50"``) from package data.

    Raises:
        ConfigError: No packaged instrument of that name.
    """
    root = resources.files("deeppersona").joinpath("data", "surveys")
    entry = root.joinpath(f"{name}.json")
    if not entry.is_file():
        available = sorted(e.name.removesuffix(".json") for e in root.iterdir() if e.name.endswith(".json"))
        raise ConfigError(f"no packaged survey instrument {name!r}; available: {available}")
    return Instrument.from_dict(json.loads(entry.read_text(encoding="utf-8")))
