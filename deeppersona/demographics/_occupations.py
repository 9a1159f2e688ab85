"""Occupation tables per country, life-stage probabilities and occupation matching."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFileError, DataFileNotFoundError
from ._models import LIFE_STAGES, STAGE_OCCUPATION, LifeStageRules
from ._tables import ISCO_MAJOR, N_AGES, DemographicTables
from ._text import norm

EMPLOYED = LIFE_STAGES.index("employed")
US = "USA"
SOURCE_US = "BLS OEWS (US national employment by detailed occupation)"
SOURCE_FALLBACK = (
    "approximate: US occupation mix (BLS OEWS / O*NET titles by ISCO-08 major group) "
    "with a farming-share heuristic for ISCO group 6, not this country's data (see docs)"
)
"""Source label of the non-US built-in table (no per-country occupation table ships with the library)."""
SOURCE_USER = "user occupation table"
SOURCE_LIFE_STAGE = "life-stage rules by age (LifeStageRules, the same for every country)"
"""Source label of a life-stage occupation (child, student, not employed, retired): no job table is used."""

#: Folded words that select life stages in a cohort's ``occupation`` field.
STAGE_ALIASES: dict[str, frozenset[str]] = {
    "child": frozenset({"child"}),
    "children": frozenset({"child"}),
    "school student": frozenset({"school student"}),
    "pupil": frozenset({"school student"}),
    "student": frozenset({"school student", "tertiary student"}),
    "students": frozenset({"school student", "tertiary student"}),
    "tertiary student": frozenset({"tertiary student"}),
    "university student": frozenset({"tertiary student"}),
    "college student": frozenset({"tertiary student"}),
    "employed": frozenset({"employed"}),
    "working": frozenset({"employed"}),
    "worker": frozenset({"employed"}),
    "not employed": frozenset({"not employed"}),
    "unemployed": frozenset({"not employed"}),
    "retired": frozenset({"retired"}),
    "retiree": frozenset({"retired"}),
    "pensioner": frozenset({"retired"}),
}


@dataclass(frozen=True)
class OccupationTable:
    """The job distribution of employed people in one country.

    Attributes:
        titles: Job titles.
        groups: Group of each title (ISCO-08 major group name, or the user table's ``group``).
        probs: Probability of each title among the employed (sums to 1).
        source: Where the weights come from.
        approximate: ``True`` for the documented non-US fallback.
    """

    titles: np.ndarray
    groups: np.ndarray
    probs: np.ndarray
    source: str
    approximate: bool
    norms: tuple[np.ndarray, np.ndarray] | None = None

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame sorted by probability."""
        df = pd.DataFrame(
            {"occupation": self.titles, "occupation_group": self.groups, "probability": self.probs}
        )
        return df.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)

    def match(self, values: Iterable[str]) -> tuple[frozenset[str], bool, np.ndarray, list[str]]:
        """Resolve folded cohort values against this table.

        Returns:
            (non-job stages selected, whether every employed person matches, mask over titles,
            values that matched nothing here).
        """
        stages: set[str] = set()
        all_employed = False
        mask = np.zeros(len(self.titles), dtype=bool)
        title_norm = self._title_norm
        group_norm = self._group_norm
        unmatched: list[str] = []
        for v in values:
            hit = False
            if v in STAGE_ALIASES:
                chosen = STAGE_ALIASES[v]
                stages |= chosen - {"employed"}
                all_employed = all_employed or "employed" in chosen
                hit = True
            for stage, label in STAGE_OCCUPATION.items():
                if v == norm(label):
                    stages.add(stage)
                    hit = True
            m = (title_norm == v) | (group_norm == v)
            if m.any():
                mask |= m
                hit = True
            if not hit:
                unmatched.append(v)
        if all_employed:
            mask[:] = True
        return frozenset(stages), all_employed, mask, unmatched

    @property
    def _title_norm(self) -> np.ndarray:
        if self.norms is not None:
            return self.norms[0]
        cached = self.__dict__.get("_tn")
        if cached is None:
            cached = np.array([norm(t) for t in self.titles], dtype=object)
            object.__setattr__(self, "_tn", cached)
        return cached

    @property
    def _group_norm(self) -> np.ndarray:
        if self.norms is not None:
            return self.norms[1]
        cached = self.__dict__.get("_gn")
        if cached is None:
            cached = np.array([norm(g) for g in self.groups], dtype=object)
            object.__setattr__(self, "_gn", cached)
        return cached


def stage_matrix(rules: LifeStageRules) -> np.ndarray:
    """Probability of each life stage (columns, :data:`LIFE_STAGES` order) at each age 0-110 (rows)."""
    out = np.zeros((N_AGES, len(LIFE_STAGES)))
    u, s, r = rules.not_employed_share, rules.tertiary_share, rules.retired_share
    for age in range(N_AGES):
        if age <= rules.child_max_age:
            out[age, 0] = 1.0
        elif age <= rules.school_max_age:
            out[age, 1] = 1.0
        elif age <= rules.tertiary_max_age:
            out[age] = [0, 0, s, (1 - s) * (1 - u), (1 - s) * u, 0]
        elif age < rules.retirement_age:
            out[age] = [0, 0, 0, 1 - u, u, 0]
        else:
            out[age] = [0, 0, 0, (1 - r) * (1 - u), (1 - r) * u, r]
    return out


def builtin_table(
    tables: DemographicTables, iso3: str, cache: dict[str, Any] | None = None
) -> OccupationTable:
    """BLS OEWS for the US; elsewhere O*NET titles weighted by approximate ISCO-08 group shares.

    ``cache`` (a dict owned by the caller) keeps the country-independent parts of the fallback.
    """
    if iso3 == US:
        df = tables.us_occupations
        w = df["employment"].to_numpy(dtype=float)
        groups = df["isco_major"].map(ISCO_MAJOR).to_numpy(dtype=object)
        return OccupationTable(df["title"].to_numpy(dtype=object), groups, w / w.sum(), SOURCE_US, False)
    cache = {} if cache is None else cache
    if "onet" not in cache:
        df = tables.onet_occupations
        g = df["isco_major"].to_numpy(dtype=int)
        w = df["weight"].to_numpy(dtype=float)
        within = np.zeros_like(w)
        for grp in np.unique(g):
            sel = g == grp
            within[sel] = w[sel] / w[sel].sum()
        titles = df["title"].to_numpy(dtype=object)
        groups = np.array([ISCO_MAJOR[int(x)] for x in g], dtype=object)
        norms = (
            np.array([norm(t) for t in titles], dtype=object),
            np.array([norm(x) for x in groups], dtype=object),
        )
        cache["onet"] = (g, within, titles, groups, norms)
    g, within, titles, groups, norms = cache["onet"]
    shares = tables.group_shares
    row = shares.loc[iso3] if iso3 in shares.index else shares.mean(axis=0)
    values = dict(zip(row.index, row.to_numpy(dtype=float), strict=True))
    lookup = np.array([values.get(k, 0.0) for k in range(10)])
    probs = within * lookup[g]
    return OccupationTable(titles, groups, probs / probs.sum(), SOURCE_FALLBACK, True, norms)


def read_user_table(table: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Validate a user occupation table: columns ``occupation`` (or ``title``), ``weight``,
    optional ``country`` and ``group``."""
    if isinstance(table, (str, Path)):
        path = Path(table)
        if not path.exists():
            raise DataFileNotFoundError(f"occupation table {path} does not exist")
        try:
            df = pd.read_csv(path, keep_default_na=False)
        except Exception as exc:  # pandas raises several parser errors
            raise DataFileError(f"cannot read occupation table {path}: {exc}") from exc
    elif isinstance(table, pd.DataFrame):
        df = table.copy()
    else:
        raise DataFileError(
            f"occupation_table must be a pandas DataFrame or a CSV path, got {type(table).__name__}"
        )
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "occupation" not in df.columns and "title" in df.columns:
        df = df.rename(columns={"title": "occupation"})
    missing = {"occupation", "weight"} - set(df.columns)
    if missing:
        raise DataFileError(
            f"occupation table lacks column(s) {sorted(missing)}; it needs 'occupation' and 'weight' "
            f"(optional 'country', 'group'); got {list(df.columns)}"
        )
    if df.empty:
        raise DataFileError("occupation table is empty")
    weights = pd.to_numeric(df["weight"], errors="coerce")
    if weights.isna().any() or (weights < 0).any() or not np.isfinite(weights).all():
        raise DataFileError("occupation table weights must be finite numbers >= 0")
    df["weight"] = weights.astype(float)
    df["occupation"] = df["occupation"].astype(str).str.strip()
    if (df["occupation"] == "").any():
        raise DataFileError("occupation table has empty occupation names")
    if "group" not in df.columns:
        df["group"] = df["occupation"]
    df["group"] = df["group"].astype(str)
    if "country" not in df.columns:
        df["country"] = ""
    df["country"] = df["country"].fillna("").astype(str).str.strip()
    return df[["occupation", "weight", "group", "country"]]


def user_table_for(
    df: pd.DataFrame, iso3: str, resolve: Callable[[str], str | None]
) -> OccupationTable | None:
    """The rows of a validated user table that apply to ``iso3`` (country rows, else rows without a
    country), or ``None`` when none apply."""
    codes = df["country"].map(lambda c: resolve(c) if c else "")
    rows = df[codes == iso3]
    if rows.empty:
        rows = df[codes == ""]
    if rows.empty:
        return None
    agg = rows.groupby(["occupation", "group"], sort=True, as_index=False)["weight"].sum()
    w = agg["weight"].to_numpy(dtype=float)
    if w.sum() <= 0:
        raise DataFileError(f"occupation table weights for {iso3} sum to 0")
    return OccupationTable(
        agg["occupation"].to_numpy(dtype=object),
        agg["group"].to_numpy(dtype=object),
        w / w.sum(),
        SOURCE_USER,
        False,
    )
