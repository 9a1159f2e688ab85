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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..errors import ConfigError, DataFileError, EvaluationError

if TYPE_CHECKING:
    import pandas as pd

    from ._loaders import GroundTruth

__all__ = ["Instrument", "SurveyItem", "packaged_instrument"]

_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?(?!\.?\d)")


class SurveyItem(BaseModel):
    """One survey question with its valid answer codes.

    Attributes:
        id: The item id, which is also its column in the official data file (``Q45``, ``EXT1``).
        label: A short label (the WVS topic, or the IPIP statement).
        prompt: The full question text the simulated respondent sees.
        codes: The valid answer codes, ascending.
        code_labels: Labels of (some) codes, e.g. ``{1: "Very happy"}``.
        trait: For personality items, the trait the item measures.
        keyed: ``"+"`` or ``"-"`` (reverse-keyed) for personality items.
        note: A caveat about the item (e.g. a prompt/data scale mismatch).
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

    @property
    def scale(self) -> tuple[int, int]:
        """``(min, max)`` of the answer codes."""
        return (min(self.codes), max(self.codes))

    def parse(self, text: object) -> int | None:
        """Read an answer code from a reply; ``None`` when there is none or it is ambiguous.

        Accepts a bare code (``"2"``), a code inside text (``"My answer: 2."``), a JSON object with an
        ``answer`` field, or a code label (``"Quite happy"``). A reply naming two different valid codes is
        ambiguous and gives ``None``.

        Args:
            text: The model's reply (str, int, or a mapping with ``"answer"``).

        Returns:
            A valid code, or ``None``.
        """
        if isinstance(text, bool):
            return None
        if isinstance(text, (int, float)):
            return int(text) if float(text).is_integer() and int(text) in self.codes else None
        if isinstance(text, Mapping):
            return self.parse(text.get("answer")) if "answer" in text else None
        if not isinstance(text, str):
            return None
        found = {float(m) for m in _NUMBER.findall(text)}
        valid = {int(v) for v in found if v.is_integer() and int(v) in self.codes}
        if len(valid) == 1:
            return valid.pop()
        if valid:
            return None
        lowered = text.strip().lower()
        hits = {code for code, label in self.code_labels.items() if label.lower() in lowered}
        # Prefer the longest matching label ("Not very happy" also contains "very happy").
        if hits:
            best = max(hits, key=lambda c: len(self.code_labels[c]))
            return best
        return None

    def answer_model(self) -> type[BaseModel]:
        """A pydantic model whose ``answer`` field only accepts this item's codes (a ``Literal`` enum)."""
        literal: Any = Literal.__getitem__(tuple(self.codes))
        name = "Answer_" + re.sub(r"\W", "_", self.id)
        model: type[BaseModel] = create_model(
            name,
            __config__=ConfigDict(extra="ignore"),
            answer=(literal, Field(description=f"one of the codes {list(self.codes)}")),
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
