"""Ground-truth survey answers: loaders for the official file formats, plain arrays and histograms.

No survey data ship with deeppersona (the WVS and OpenPsychometrics terms forbid redistribution); download
them yourself:

* WVS wave 7 CSV (worldvaluessurvey.org): comma- or semicolon-separated, one row per respondent, the
  country in ``B_COUNTRY_ALPHA`` (ISO-3), one column per question (``Q45``, ``Q46`` …). Negative codes
  (don't know, no answer, not asked, missing) are missing values.
* IPIP-FFM ``data-final.csv`` (openpsychometrics.org): **tab**-separated, the country in ``country``
  (ISO-2), items ``EXT1`` … ``OPN10`` scored 1–5; ``0`` means unanswered.

Any value that is not one of an item's valid codes is read as missing, and counted in ``invalid``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataFileError, DataFileNotFoundError, EvaluationError
from ._surveys import Instrument

if TYPE_CHECKING:
    import pandas as pd

from ..demographics._countries import country_aliases, country_name

__all__ = ["GroundTruth", "country_aliases", "country_name", "load_csv"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundTruth:
    """Real answers to an instrument, for one country (or all rows).

    Attributes:
        instrument: The instrument the answers belong to.
        counts: Item id → counts over the item's codes (always present).
        responses: One row per respondent, one float column per item (NaN = missing), when the answers came
            from individual records; ``None`` when built from histograms.
        country: The country as asked for (``None`` = every row).
        source: Where the answers came from (a path, ``"arrays"`` or ``"histograms"``).
        invalid: Item id → number of values read as missing because they were not valid codes.
    """

    instrument: Instrument
    counts: dict[str, np.ndarray]
    responses: pd.DataFrame | None = None
    country: str | None = None
    source: str = ""
    invalid: dict[str, int] = field(default_factory=dict)

    @property
    def country_name(self) -> str | None:
        """A readable country name (for prompts such as Cultural Prompting)."""
        return None if self.country is None else country_name(self.country)

    @property
    def n(self) -> dict[str, int]:
        """Valid answers per item."""
        return {k: int(v.sum()) for k, v in self.counts.items()}

    def histogram(self, item_id: str) -> dict[int, float]:
        """Code → count for one item."""
        it = self.instrument.item(item_id)
        return {code: float(c) for code, c in zip(it.codes, self.counts[it.id], strict=True)}

    def samples(self, item_id: str) -> np.ndarray:
        """The answers to ``item_id`` without missing values (expanded from counts when needed)."""
        it = self.instrument.item(item_id)
        if self.responses is not None:
            col = self.responses[it.id].to_numpy(dtype=float)
            return col[~np.isnan(col)]
        return np.repeat(np.asarray(it.codes, dtype=float), np.round(self.counts[it.id]).astype(int))

    def trait_scores(self) -> pd.DataFrame:
        """Per-respondent trait means (personality inventories; needs individual records)."""
        if self.responses is None:
            raise EvaluationError(
                "trait scores need individual answers; this ground truth holds histograms only"
            )
        return self.instrument.trait_scores(self.responses)

    def recoded(self) -> GroundTruth:
        """The same answers with the instrument :meth:`~deeppersona.evaluation.Instrument.recoded`.

        Items whose prompt offers other codes than the official data are then compared on the data's
        codes (simulated answers are mapped with the item's documented ``recode``), so they count in the
        across-item average. The real answers are kept; values outside an item's real codes become missing
        (counted in ``invalid``).

        Raises:
            EvaluationError: Histogram counts on codes that the real scale does not have.
        """
        instrument = self.instrument.recoded()
        if instrument.items == self.instrument.items:
            return self
        if self.responses is not None:
            gt = GroundTruth.from_frame(instrument, self.responses, country=self.country, source=self.source)
            invalid = {k: self.invalid.get(k, 0) + gt.invalid.get(k, 0) for k in gt.invalid}
            return GroundTruth(instrument, gt.counts, gt.responses, self.country, self.source, invalid)
        counts: dict[str, np.ndarray] = {}
        for old, new in zip(self.instrument, instrument, strict=True):
            hist = dict(zip(old.codes, self.counts[old.id], strict=True))
            outside = {c: v for c, v in hist.items() if c not in new.codes and v > 0}
            if outside:
                raise EvaluationError(
                    f"{old.id}: the real data are to be on codes {list(new.codes)} but the histogram has counts "
                    f"on {sorted(outside)}; it cannot be recoded"
                )
            counts[new.id] = np.array([hist.get(c, 0.0) for c in new.codes], dtype=float)
        return GroundTruth(instrument, counts, None, self.country, self.source, dict(self.invalid))

    @classmethod
    def from_frame(
        cls, instrument: Instrument, frame: pd.DataFrame, *, country: str | None = None, source: str = "frame"
    ) -> GroundTruth:
        """Ground truth from a table with one column per item id (invalid codes become missing)."""
        import pandas as pd

        missing_cols = [it.id for it in instrument if it.id not in frame.columns]
        if missing_cols:
            raise DataFileError(
                f"{source}: columns {missing_cols} of instrument {instrument.name!r} are missing "
                f"(found {list(frame.columns)[:12]}...)"
            )
        cleaned: dict[str, np.ndarray] = {}
        counts: dict[str, np.ndarray] = {}
        invalid: dict[str, int] = {}
        for it in instrument:
            col = pd.to_numeric(frame[it.id], errors="coerce").to_numpy(dtype=float)
            ok = np.isin(col, it.codes)
            bad = int(np.sum(~ok & ~np.isnan(col) & (col >= 0) & (col != 0)))
            col = np.where(ok, col, np.nan)
            cleaned[it.id] = col
            invalid[it.id] = bad
            counts[it.id] = np.array([np.sum(col == c) for c in it.codes], dtype=float)
        responses = pd.DataFrame(cleaned, index=frame.index).reset_index(drop=True)
        return cls(instrument, counts, responses, country, source, invalid)

    @classmethod
    def from_arrays(
        cls, instrument: Instrument, data: Mapping[str, Any], *, country: str | None = None
    ) -> GroundTruth:
        """Ground truth from plain arrays: item id → answers (NaN = missing). Arrays may differ in length."""
        import pandas as pd

        if not data:
            raise EvaluationError("no answer arrays given")
        series = {k: pd.Series(np.asarray(v, dtype=float).ravel()) for k, v in data.items()}
        frame = pd.DataFrame(series)
        inst = instrument.subset([k for k in data]) if set(data) != set(instrument.ids) else instrument
        return cls.from_frame(inst, frame, country=country, source="arrays")

    @classmethod
    def from_histograms(
        cls, instrument: Instrument, data: Mapping[str, Mapping[Any, float]], *, country: str | None = None
    ) -> GroundTruth:
        """Ground truth from histograms: item id → {code: count}. Codes outside the item are rejected."""
        if not data:
            raise EvaluationError("no histograms given")
        inst = instrument.subset(list(data)) if set(data) != set(instrument.ids) else instrument
        counts: dict[str, np.ndarray] = {}
        for it in inst:
            hist = {int(float(k)): float(v) for k, v in data[it.id].items()}
            extra = sorted(set(hist) - set(it.codes))
            if extra:
                raise EvaluationError(
                    f"histogram of {it.id} has codes {extra} outside the valid codes {it.codes}"
                )
            arr = np.array([hist.get(c, 0.0) for c in it.codes], dtype=float)
            if np.any(arr < 0) or arr.sum() <= 0:
                raise EvaluationError(
                    f"histogram of {it.id} must have non-negative counts and a positive total"
                )
            counts[it.id] = arr
        return cls(inst, counts, None, country, "histograms", {})

    def __repr__(self) -> str:
        where = self.country or "all countries"
        return f"GroundTruth({self.instrument.name!r}, {where}, n={max(self.n.values(), default=0)})"


def _sniff_sep(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    return max(("\t", ",", ";"), key=header.count)


def load_csv(
    instrument: Instrument,
    path: str | Path,
    *,
    country: str | None = None,
    country_column: str | None = None,
    sep: str | None = None,
) -> GroundTruth:
    """Read an instrument's answers from a delimited file (WVS-7 CSV, IPIP ``data-final.csv`` …).

    Only the needed columns are read, so the full WVS file (≈100k rows, 600+ columns) loads quickly.

    Args:
        instrument: The instrument whose item ids name the columns.
        path: The file.
        country: Keep only this country (ISO-2, ISO-3 or name, matched against the file's codes).
        country_column: Overrides ``instrument.country_column``.
        sep: The delimiter; sniffed from the header when ``None``.

    Returns:
        The :class:`GroundTruth`.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: Columns are missing or the file cannot be parsed.
        EvaluationError: ``country`` has no rows in the file (the message lists the countries present).
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"survey data file {str(p)!r} does not exist")
    delimiter = sep or _sniff_sep(p)
    ccol = country_column or instrument.country_column
    try:
        header = pd.read_csv(p, sep=delimiter, nrows=0).columns
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot parse {str(p)!r}: {exc}") from exc
    wanted = [it.id for it in instrument]
    absent = [c for c in wanted if c not in header]
    if absent:
        raise DataFileError(
            f"{str(p)!r} lacks the item columns {absent} of {instrument.name!r}; is this the right file "
            f"(and delimiter {delimiter!r})?"
        )
    usecols = list(wanted)
    if country is not None:
        if not ccol or ccol not in header:
            raise DataFileError(f"{str(p)!r} has no country column {ccol!r}; pass country_column=")
        usecols.append(ccol)
    try:
        frame = pd.read_csv(
            p, sep=delimiter, usecols=usecols, dtype={ccol: str} if ccol else None, low_memory=False
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot parse {str(p)!r}: {exc}") from exc
    if country is not None and ccol is not None:
        codes = frame[ccol].astype(str).str.strip().str.upper()
        mask = codes.isin(country_aliases(country))
        if not mask.any():
            present = sorted(set(codes.dropna()) - {"NAN", "NONE", ""})
            raise EvaluationError(
                f"country {country!r} has no rows in {str(p)!r} (column {ccol!r}); countries present: "
                f"{', '.join(present[:40])}{' …' if len(present) > 40 else ''}"
            )
        frame = frame[mask]
    gt = GroundTruth.from_frame(
        instrument, frame.drop(columns=[ccol] if country is not None else []), country=country, source=str(p)
    )
    logger.info("loaded %s answers for %s from %s", len(frame), country or "all countries", p)
    return gt
