"""Read the compact demographic tables shipped as package data (lazily, cached per instance)."""

from __future__ import annotations

import gzip
import io
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataFileError
from ._models import MAX_AGE
from ._text import norm

N_AGES = MAX_AGE + 1
#: Five-year WPP groups: (first age, last age). The open group 100+ is spread over 100-110.
AGE_GROUPS: tuple[tuple[int, int], ...] = (*((a, a + 4) for a in range(0, 100, 5)), (100, MAX_AGE))
AGE_GROUP_LABELS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 100, 5)), "100+")
ISCO_MAJOR: dict[int, str] = {
    0: "Armed forces occupations",
    1: "Managers",
    2: "Professionals",
    3: "Technicians and associate professionals",
    4: "Clerical support workers",
    5: "Service and sales workers",
    6: "Skilled agricultural, forestry and fishery workers",
    7: "Craft and related trades workers",
    8: "Plant and machine operators, and assemblers",
    9: "Elementary occupations",
}
WORLD = "WLD"


def _default_dir() -> Traversable:
    return resources.files("deeppersona") / "data" / "demographics"


class DemographicTables:
    """The shipped tables, each read on first use and kept on this object.

    Args:
        data_dir: Folder holding the tables (default: the package data). Useful for tables rebuilt
            with ``scripts/build_demographics.py --out DIR``.
    """

    def __init__(self, data_dir: str | Path | Traversable | None = None) -> None:
        self.data_dir: Traversable | Path = (
            Path(data_dir)
            if isinstance(data_dir, (str, Path))
            else (data_dir if data_dir is not None else _default_dir())
        )

    def __repr__(self) -> str:
        return f"deeppersona.demographics.DemographicTables(data_dir={str(self.data_dir)!r})"

    def _read(self, name: str, dtype: dict[str, type] | None = None) -> pd.DataFrame:
        entry = self.data_dir / name
        try:
            raw = entry.read_bytes()
        except FileNotFoundError:
            raise DataFileError(
                f"demographic table {name!r} is missing from {self.data_dir}; rebuild the tables with "
                "`python scripts/build_demographics.py` or reinstall deeppersona"
            ) from None
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return pd.read_csv(io.BytesIO(raw), keep_default_na=False, dtype=dtype)

    # ------------------------------------------------------------------ countries
    @cached_property
    def countries(self) -> pd.DataFrame:
        """One row per country: ``iso3`` (index), ``iso2``, ``name``, ``wpp_name``, population, aliases."""
        df = self._read("countries.csv", dtype={"iso2": str, "iso3": str})
        return df.set_index("iso3", drop=False)

    @cached_property
    def country_codes(self) -> np.ndarray:
        """ISO-3 codes in table order (the sampler's country index)."""
        return self.countries["iso3"].to_numpy(dtype=object)

    @cached_property
    def country_names(self) -> np.ndarray:
        """Country names in table order, aligned with :attr:`country_codes`."""
        return self.countries["name"].to_numpy(dtype=object)

    @cached_property
    def country_lookup(self) -> dict[str, str]:
        """Folded alias -> ISO-3 (codes, names, official and common names, hand-written aliases)."""
        lookup: dict[str, str] = {}
        for iso3, aliases in zip(self.countries["iso3"], self.countries["aliases"], strict=True):
            for alias in str(aliases).split("|"):
                key = norm(alias)
                if key:
                    lookup.setdefault(key, iso3)
        for iso3, name in zip(self.countries["iso3"], self.countries["name"], strict=True):
            lookup[norm(name)] = iso3  # display names always win
        return lookup

    # ------------------------------------------------------------------ ages
    @cached_property
    def _age(self) -> pd.DataFrame:
        return self._read("age_structure.csv.gz", dtype={"iso3": str})

    @cached_property
    def years(self) -> tuple[int, int]:
        """First and last year of the age tables (1950, 2100 for WPP 2022)."""
        years = self._age["year"]
        return int(years.min()), int(years.max())

    def age_groups(self, year: int) -> pd.DataFrame:
        """Population (thousands) by five-year group for ``year``: rows ISO-3 (and ``WLD``), 21 columns."""
        lo, hi = self.years
        if not lo <= year <= hi:
            raise ConfigError(f"year {year} is outside the age tables ({lo}-{hi}, UN WPP 2022)")
        df = self._age[self._age["year"] == year].set_index("iso3")
        return df[list(AGE_GROUP_LABELS)].astype(float)

    def age_pmf(self, year: int) -> np.ndarray:
        """Population by single year of age (0-110) per country, rows in :attr:`country_codes` order.

        Each five-year group is spread uniformly over its ages (the open 100+ group over 100-110).
        """
        groups = self.age_groups(year).reindex(self.country_codes).fillna(0.0).to_numpy()
        return spread_groups(groups)

    def world_age_pmf(self, year: int) -> np.ndarray:
        """The world's population by single year of age (WPP's own world aggregate)."""
        return spread_groups(self.age_groups(year).loc[[WORLD]].to_numpy())[0]

    # ------------------------------------------------------------------ cities
    @cached_property
    def cities(self) -> pd.DataFrame:
        """GeoNames places: ``iso3``, ``city``, ``region``, ``population``, capped ``weight``, ``capped``."""
        df = self._read("cities.csv.gz", dtype={"iso3": str, "city": str, "region": str})
        df["region"] = df["region"].astype(object).where(df["region"] != "", None)
        return df

    # ------------------------------------------------------------------ occupations
    @cached_property
    def us_occupations(self) -> pd.DataFrame:
        """BLS OEWS detailed occupations: ``soc_code``, ``title``, ``isco_major``, ``employment``."""
        return self._read("occupations_us_oews.csv", dtype={"soc_code": str, "title": str})

    @cached_property
    def onet_occupations(self) -> pd.DataFrame:
        """O*NET titles with ISCO-08 major group and within-group ``weight``."""
        return self._read("occupations_onet_isco.csv", dtype={"onet_code": str, "title": str})

    @cached_property
    def group_shares(self) -> pd.DataFrame:
        """Approximate ISCO-08 major-group employment shares per country (index ISO-3, columns 1-9)."""
        df = self._read("occupation_group_shares.csv", dtype={"iso3": str}).set_index("iso3")
        shares = df[[f"isco_{g}" for g in range(1, 10)]].astype(float)
        shares.columns = list(range(1, 10))
        return shares

    def provenance(self) -> str:
        """The text of ``PROVENANCE.md`` (sources, versions, licences, rules)."""
        return (self.data_dir / "PROVENANCE.md").read_text(encoding="utf-8")


def spread_groups(groups: np.ndarray) -> np.ndarray:
    """Spread (rows x 21) five-year group counts over single ages 0-110 (rows x 111)."""
    out = np.zeros((groups.shape[0], N_AGES))
    for g, (lo, hi) in enumerate(AGE_GROUPS):
        out[:, lo : hi + 1] = groups[:, g : g + 1] / (hi - lo + 1)
    return out
