"""`DemographicSampler`: seeded, vectorised draws of country, city, age, gender, occupation and name."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import AnchorError, ConfigError, DemographicsError
from ._models import (
    LIFE_STAGES,
    MAX_AGE,
    MIN_AGE,
    STAGE_OCCUPATION,
    Cohort,
    Demographics,
    LifeStageRules,
)
from ._names import NameMaker
from ._occupations import (
    EMPLOYED,
    SOURCE_LIFE_STAGE,
    OccupationTable,
    builtin_table,
    read_user_table,
    stage_matrix,
    user_table_for,
)
from ._tables import DemographicTables
from ._text import did_you_mean, norm

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "country",
    "country_code",
    "region",
    "city",
    "age",
    "gender",
    "occupation",
    "occupation_group",
    "life_stage",
    "name",
    "occupation_source",
)
_GENDER_ALIASES: dict[str, str] = {
    "f": "female", "female": "female", "woman": "female", "women": "female", "girl": "female",
    "m": "male", "male": "male", "man": "male", "men": "male", "boy": "male",
    "non binary": "non-binary", "nonbinary": "non-binary", "nb": "non-binary", "enby": "non-binary",
}  # fmt: skip
_WORLD_NAMES = frozenset({"world", "wld", "global", "earth", "all"})
_PLAN_CACHE_SIZE = 64
_DEMOGRAPHIC_ANCHORS = frozenset(
    {"country", "country_code", "region", "city", "age", "gender", "occupation", "name"}
)


def normalize_gender(value: str) -> str:
    """Fold common spellings: ``"F"``/``"woman"`` -> ``"female"``, ``"nonbinary"`` -> ``"non-binary"``.

    Unknown values are returned stripped, unchanged otherwise.
    """
    return _GENDER_ALIASES.get(norm(value), str(value).strip())


@dataclass(frozen=True)
class _Spec:
    """Everything that shapes the sampling distribution (hashable: the plan-cache key)."""

    countries: tuple[str, ...] | None
    region: str | None
    city: str | None
    age_lo: int
    age_hi: int
    genders: tuple[str, ...] | None
    occupations: tuple[str, ...] | None
    employed_only: bool


@dataclass
class _CountryPlan:
    age_cum: np.ndarray
    stage_cum: np.ndarray  # (111, 6) cumulative along stages
    titles: np.ndarray
    groups: np.ndarray
    occ_cum: np.ndarray
    occ_source: str
    city_names: np.ndarray
    city_regions: np.ndarray
    city_cum: np.ndarray


@dataclass
class _Plan:
    spec: _Spec
    country_rows: np.ndarray  # table row indices with positive weight
    country_cum: np.ndarray
    country_weight: np.ndarray  # normalised, aligned with country_rows
    gender_values: np.ndarray
    gender_cum: np.ndarray
    per_country: dict[int, _CountryPlan] = field(default_factory=dict)


class DemographicSampler:
    """Draw core demographics from real population tables.

    Country by population (UN WPP 2022), city within country by GeoNames population (outliers capped),
    age from the country's five-year age structure for ``year`` (uniform within a group), gender from
    configurable shares, occupation from life-stage rules and employment weights (BLS OEWS for the US,
    an approximate O*NET/ISCO-08 fallback elsewhere, or your own table), and optionally a name from
    one Faker locale chosen for the country and region (India uses Latin-script ``en_IN``, Quebec
    ``fr_CA``; countries whose locales lack names of their own get ``None``; see the demographics guide).

    Constructors only store parameters; tables load on first use and are cached on the instance.

    Args:
        year: Year of the age structure (1950-2100; WPP estimates up to 2021, medium variant after).
        min_age: Default minimum age (0-110) for cohorts that set neither ``min_age`` nor ``age_range``.
        gender_shares: Mapping of gender to share, e.g. ``{"female": 0.49, "male": 0.49,
            "non-binary": 0.02}``; default female/male 50/50. Shares are normalised.
        occupation_table: A DataFrame or CSV path with ``occupation`` and ``weight`` columns (optional
            ``country`` and ``group``) that replaces the built-in job tables (for the countries it covers;
            rows without a country apply everywhere).
        seed: Default randomness for :meth:`sample` when it gets no seed (``int``, ``Generator`` or ``None``).
        life_stages: :class:`LifeStageRules` (or a mapping of its fields) for students, retirees, etc.
        names: Whether to draw names with Faker (imported on first use).
        max_attempts: Cap on rejected draws per accepted draw when a cohort has a predicate.
        data_dir: Folder with rebuilt tables (default: the shipped package data).

    Raises:
        ConfigError: A bad argument.
    """

    def __init__(
        self,
        year: int = 2025,
        min_age: int = 18,
        gender_shares: Mapping[str, float] | None = None,
        occupation_table: pd.DataFrame | str | Path | None = None,
        seed: int | np.random.Generator | None = None,
        *,
        life_stages: LifeStageRules | Mapping[str, Any] | None = None,
        names: bool = True,
        max_attempts: int = 1000,
        data_dir: str | Path | None = None,
    ) -> None:
        if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
            raise ConfigError(f"year must be an integer, got {year!r}")
        if (
            isinstance(min_age, bool)
            or not isinstance(min_age, (int, np.integer))
            or not MIN_AGE <= min_age <= MAX_AGE
        ):
            raise ConfigError(f"min_age must be an integer within {MIN_AGE}-{MAX_AGE}, got {min_age!r}")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts}")
        self.year = int(year)
        self.min_age = int(min_age)
        self.gender_shares = self._check_gender_shares(gender_shares)
        self.occupation_table = occupation_table
        self.seed = seed
        try:
            self.life_stages = (
                life_stages
                if isinstance(life_stages, LifeStageRules)
                else LifeStageRules(**dict(life_stages or {}))
            )
        except Exception as exc:
            raise ConfigError(f"invalid life_stages: {exc}") from exc
        self.names = bool(names)
        self.max_attempts = int(max_attempts)
        self.tables = DemographicTables(data_dir)
        self._rng = np.random.default_rng(seed)
        self._plans: OrderedDict[tuple[_Spec, bool], _Plan] = OrderedDict()
        self._occupation_tables: dict[str, OccupationTable] = {}
        self._builtin_cache: dict[str, Any] = {}
        self._user_df: pd.DataFrame | None = None
        self._age_pmf: np.ndarray | None = None
        self._stages: np.ndarray | None = None
        self._names = NameMaker()

    def __repr__(self) -> str:
        return (
            f"DemographicSampler(year={self.year}, min_age={self.min_age}, gender_shares={self.gender_shares}, "
            f"occupation_table={'custom' if self.occupation_table is not None else None})"
        )

    # ------------------------------------------------------------------ validation helpers
    @staticmethod
    def _check_gender_shares(shares: Mapping[str, float] | None) -> dict[str, float]:
        if shares is None:
            return {"female": 0.5, "male": 0.5}
        if not isinstance(shares, Mapping) or not shares:
            raise ConfigError(
                "gender_shares must be a non-empty mapping such as {'female': 0.5, 'male': 0.5}"
            )
        out: dict[str, float] = {}
        for key, value in shares.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"gender share for {key!r} must be a number, got {value!r}") from None
            if not np.isfinite(v) or v < 0:
                raise ConfigError(f"gender share for {key!r} must be finite and >= 0, got {value!r}")
            g = normalize_gender(str(key))
            out[g] = out.get(g, 0.0) + v
        total = sum(out.values())
        if total <= 0:
            raise ConfigError("gender_shares sum to 0")
        return {k: v / total for k, v in out.items()}

    # ------------------------------------------------------------------ table access
    def resolve_country(self, name: str | None) -> str | None:
        """Resolve a country name, ISO-2/ISO-3 code or alias to its ISO-3 code (``None`` = world).

        Raises:
            DemographicsError: The name matches no country; the message lists the closest matches.
        """
        if name is None:
            return None
        key = norm(str(name))
        if key in _WORLD_NAMES:
            return None
        iso3 = self.tables.country_lookup.get(key)
        if iso3 is None:
            choices = list(self.tables.countries["name"]) + list(self.tables.countries["iso3"])
            raise DemographicsError(
                f"unknown country {name!r}.{did_you_mean(str(name), choices)} "
                "Use a name, an ISO 3166 alpha-2/alpha-3 code or a common alias; see DemographicSampler.countries()."
            )
        return iso3

    def countries(self) -> pd.DataFrame:
        """Countries with age tables and cities: ISO codes, name, population in the sampler's year."""
        df = self.tables.countries[["iso3", "iso2", "name"]].reset_index(drop=True).copy()
        df["population"] = self._pmf().sum(axis=1) * 1000.0
        df["cities"] = df["iso3"].map(self._city_rows_by_country()).map(len)
        return df

    def cities(self, country: str) -> pd.DataFrame:
        """Cities of a country with region, raw GeoNames population, capped weight and share."""
        iso3 = self._require_country(country)
        rows = self._city_rows_by_country()[iso3]
        df = self.tables.cities.iloc[rows].reset_index(drop=True)
        out = df[["city", "region", "population", "weight", "capped"]].copy()
        out["share"] = out["weight"] / out["weight"].sum()
        return out.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)

    def occupations(self, country: str) -> pd.DataFrame:
        """The job distribution among employed people of a country, with its ``source`` column."""
        iso3 = self._require_country(country)
        table = self._occupation_table(iso3)
        df = table.to_frame()
        df["source"] = table.source
        return df

    def age_distribution(
        self, country: str | None = None, *, age_range: tuple[int, int] | None = None
    ) -> pd.Series:
        """Population share by single year of age (the source distribution the sampler reproduces).

        Args:
            country: A country, or ``None`` for the world (the sum of the countries sampled).
            age_range: Inclusive bounds; default ``(min_age, 110)``.
        """
        lo, hi = age_range if age_range is not None else (self.min_age, MAX_AGE)
        pmf = self._pmf()
        iso3 = self.resolve_country(country)
        vec = pmf.sum(axis=0) if iso3 is None else pmf[self._country_row(iso3)]
        vec = vec.copy()
        vec[:lo] = 0
        vec[hi + 1 :] = 0
        total = vec.sum()
        if total <= 0:
            raise DemographicsError(f"no population aged {lo}-{hi} in {country or 'the world'}")
        return pd.Series(vec / total, index=pd.RangeIndex(0, MAX_AGE + 1, name="age"), name="share")

    def _country_name(self, iso3: str) -> str:
        return str(self.tables.countries["name"].iloc[self._country_row(iso3)])

    def _require_country(self, country: str) -> str:
        iso3 = self.resolve_country(country)
        if iso3 is None:
            raise DemographicsError("name one country here, not the world")
        return iso3

    def _pmf(self) -> np.ndarray:
        if self._age_pmf is None:
            self._age_pmf = self.tables.age_pmf(self.year)
        return self._age_pmf

    def _stage_matrix(self) -> np.ndarray:
        if self._stages is None:
            self._stages = stage_matrix(self.life_stages)
        return self._stages

    def _country_row(self, iso3: str) -> int:
        loc = self.tables.countries.index.get_loc(iso3)
        assert isinstance(loc, (int, np.integer)), f"duplicate country code {iso3}"
        return int(loc)

    def _city_rows_by_country(self) -> dict[str, np.ndarray]:
        cached = self.__dict__.get("_city_groups")
        if cached is None:
            cached = {
                k: np.asarray(v) for k, v in self.tables.cities.groupby("iso3", sort=False).indices.items()
            }
            self.__dict__["_city_groups"] = cached
        return cached

    def _city_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The city table's name, region and weight columns as arrays (read from the frame once: a
        column's ``to_numpy`` costs about a millisecond, and a plan is made per country drawn)."""
        cached = self.__dict__.get("_city_column_arrays")
        if cached is None:
            df = self.tables.cities
            cached = (
                df["city"].to_numpy(dtype=object),
                df["region"].to_numpy(dtype=object),
                df["weight"].to_numpy(dtype=float),
            )
            self.__dict__["_city_column_arrays"] = cached
        return cached

    def _city_norms(self) -> tuple[np.ndarray, np.ndarray]:
        cached = self.__dict__.get("_city_norm_arrays")
        if cached is None:
            df = self.tables.cities
            cached = (
                np.array([norm(c) for c in df["city"]], dtype=object),
                np.array([norm(r) if r else "" for r in df["region"]], dtype=object),
            )
            self.__dict__["_city_norm_arrays"] = cached
        return cached

    def _occupation_table(self, iso3: str) -> OccupationTable:
        table = self._occupation_tables.get(iso3)
        if table is None:
            table = None
            if self.occupation_table is not None:
                if self._user_df is None:
                    self._user_df = read_user_table(self.occupation_table)
                table = user_table_for(self._user_df, iso3, self.resolve_country)
            if table is None:
                table = builtin_table(self.tables, iso3, self._builtin_cache)
            self._occupation_tables[iso3] = table
        return table

    # ------------------------------------------------------------------ constraints
    def _make_cohort(self, cohort: Cohort | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> Cohort:
        if cohort is None:
            return Cohort(**fields)
        if isinstance(cohort, Mapping):
            return Cohort(**{**dict(cohort), **fields})
        if not isinstance(cohort, Cohort):
            raise ConfigError(f"cohort must be a Cohort or a mapping, got {type(cohort).__name__}")
        return cohort.with_(**fields) if fields else cohort

    def _spec(self, cohort: Cohort, anchors: Mapping[str, Any] | None) -> tuple[_Spec, dict[str, Any]]:
        """Turn a cohort plus anchors into a sampling spec and the free-text values to fix afterwards."""
        anchors = {
            k: v for k, v in dict(anchors or {}).items() if k in _DEMOGRAPHIC_ANCHORS and v is not None
        }
        fixed: dict[str, Any] = {}

        # ---- country
        countries: tuple[str, ...] | None = None
        cohort_iso = self.resolve_country(cohort.country)
        if cohort_iso is not None:
            countries = (cohort_iso,)
        for key in ("country", "country_code"):
            if key in anchors:
                iso = self.resolve_country(str(anchors[key]))
                if iso is None:
                    continue
                if countries is not None and countries != (iso,):
                    raise DemographicsError(
                        f"anchor {key}={anchors[key]!r} contradicts the cohort's country {cohort.country!r}"
                    )
                countries = (iso,)

        # ---- age
        explicit = cohort.age_range is not None or cohort.min_age is not None
        lo = cohort.min_age if cohort.min_age is not None else (MIN_AGE if cohort.age_range else self.min_age)
        hi = MAX_AGE
        if cohort.age_range is not None:
            lo, hi = max(lo, cohort.age_range[0]), cohort.age_range[1]
        if "age" in anchors:
            age = _anchor_age(anchors["age"])
            if explicit and not lo <= age <= hi:
                raise DemographicsError(f"anchor age={age} is outside the cohort's ages {lo}-{hi}")
            lo = hi = age

        # ---- gender
        genders: tuple[str, ...] | None = None
        if cohort.gender is not None:
            genders = tuple(sorted({normalize_gender(g) for g in cohort.gender}))
            possible = [g for g in genders if self.gender_shares.get(g, 0.0) > 0]
            if not possible and "gender" not in anchors:
                raise DemographicsError(
                    f"cohort gender {list(cohort.gender)} has share 0 in gender_shares={self.gender_shares}; "
                    "pass gender_shares including it"
                )
        if "gender" in anchors:
            g = normalize_gender(str(anchors["gender"]))
            if genders is not None and g not in genders:
                raise DemographicsError(
                    f"anchor gender={anchors['gender']!r} contradicts cohort gender {list(genders)}"
                )
            fixed["gender"] = g
            genders = None

        # ---- places
        region = norm(cohort.region) if cohort.region else None
        city = norm(cohort.city) if cohort.city else None
        for key in ("region", "city"):
            if key in anchors:
                value = str(anchors[key]).strip()
                constraint = region if key == "region" else city
                if constraint is not None and norm(value) != constraint:
                    raise DemographicsError(
                        f"anchor {key}={value!r} contradicts the cohort's {key} {getattr(cohort, key)!r}"
                    )
                if self._place_exists(key, norm(value), countries):
                    if key == "region":
                        region = norm(value)
                    else:
                        city = norm(value)
                else:
                    fixed[key] = value
        if "city" in fixed and "region" not in anchors and region is None:
            fixed["region"] = None  # a free-text city: do not invent its region
        if "region" in fixed and "city" not in anchors and city is None:
            fixed["city"] = None  # a free-text region: a drawn city would contradict it
        countries = self._check_places(countries, region, city, cohort)

        # ---- occupation
        occupations = tuple(sorted({norm(o) for o in cohort.occupation})) if cohort.occupation else None
        employed_only = False
        if "occupation" in anchors:
            fixed["occupation_source"] = None  # anchored, not drawn: claim no table
            value = str(anchors["occupation"]).strip()
            known = self._occupation_known(norm(value), countries)
            # the anchor must itself satisfy the cohort
            if (
                occupations is not None
                and norm(value) not in occupations
                and (not known or not self._occupation_within(norm(value), occupations, countries))
            ):
                raise DemographicsError(
                    f"anchor occupation={value!r} contradicts the cohort's occupation {list(cohort.occupation or ())}"
                )
            if known:
                occupations = (norm(value),)
            else:
                fixed["occupation"] = value
                fixed["occupation_group"] = None
                fixed["life_stage"] = "employed"
                employed_only = True
        if "name" in anchors:
            fixed["name"] = str(anchors["name"])

        spec = _Spec(countries, region, city, int(lo), int(hi), genders, occupations, employed_only)
        return spec, fixed

    def _place_exists(self, key: str, value: str, countries: tuple[str, ...] | None) -> bool:
        city_norm, region_norm = self._city_norms()
        arr = city_norm if key == "city" else region_norm
        if countries is None:
            return bool((arr == value).any())
        groups = self._city_rows_by_country()
        return any(bool((arr[groups[c]] == value).any()) for c in countries if c in groups)

    def _check_places(
        self, countries: tuple[str, ...] | None, region: str | None, city: str | None, cohort: Cohort
    ) -> tuple[str, ...] | None:
        if region is None and city is None:
            return countries
        df = self.tables.cities
        city_norm, region_norm = self._city_norms()
        mask = np.ones(len(df), dtype=bool)
        if countries is not None:
            mask &= df["iso3"].isin(countries).to_numpy()
        scope = "" if countries is None else f" in {self._country_name(countries[0])}"
        for key, value, arr, column in (
            ("region", region, region_norm, "region"),
            ("city", city, city_norm, "city"),
        ):
            if value is None:
                continue
            hit = mask & (arr == value)
            if not hit.any():
                names = df.loc[mask, column].dropna().unique()
                shown = getattr(cohort, key) or value
                raise DemographicsError(
                    f"no {key} {shown!r}{scope} in the GeoNames tables.{did_you_mean(shown, names)}"
                )
            mask = hit
        if countries is None:
            found = tuple(sorted(set(df.loc[mask, "iso3"])))
            return found
        return countries

    def _occupation_known(self, value: str, countries: tuple[str, ...] | None) -> bool:
        codes = countries if countries is not None else ("USA", self.tables.country_codes[0])
        for iso3 in codes:
            _, _all_emp, _mask, unmatched = self._occupation_table(iso3).match([value])
            if not unmatched:
                return True
        return False

    def _occupation_within(
        self, value: str, allowed: tuple[str, ...], countries: tuple[str, ...] | None
    ) -> bool:
        codes = countries if countries is not None else ("USA",)
        for iso3 in codes:
            table = self._occupation_table(iso3)
            s1, e1, m1, _ = table.match([value])
            s2, e2, m2, _ = table.match(allowed)
            if (s1 <= s2) and (not m1.any() or e2 or bool((m1 <= m2).all())) and (not e1 or e2):
                return True
        return False

    # ------------------------------------------------------------------ plans
    def _plan(self, spec: _Spec, cohort: Cohort) -> _Plan:
        key = (spec, False)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
            return plan
        plan = self._build_plan(spec, cohort)
        self._plans[key] = plan
        if len(self._plans) > _PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    def _allowed_stages(self, spec: _Spec, iso3: str) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        """Stage weights (6,) where the employed entry is the matching share of jobs, the job mask,
        and the values that matched nothing."""
        allowed = np.ones(len(LIFE_STAGES))
        if spec.employed_only:
            allowed[:] = 0.0
            allowed[EMPLOYED] = 1.0
            return allowed, None, []
        if spec.occupations is None:
            return allowed, None, []
        table = self._occupation_table(iso3)
        stages, all_employed, mask, unmatched = table.match(spec.occupations)
        allowed = np.array([1.0 if s in stages else 0.0 for s in LIFE_STAGES])
        allowed[EMPLOYED] = 1.0 if all_employed else float(table.probs[mask].sum())
        return allowed, (None if all_employed else mask), unmatched

    def _build_plan(self, spec: _Spec, cohort: Cohort) -> _Plan:
        codes = self.tables.country_codes
        rows = (
            np.arange(len(codes))
            if spec.countries is None
            else np.array([self._country_row(c) for c in spec.countries])
        )
        pmf = self._pmf()[rows]
        age_mask = np.zeros(MAX_AGE + 1)
        age_mask[spec.age_lo : spec.age_hi + 1] = 1.0
        weights = pmf * age_mask
        if spec.occupations is not None or spec.employed_only:
            stages = self._stage_matrix()
            unmatched_everywhere: set[str] | None = None
            for i, r in enumerate(rows):
                allowed, _, unmatched = self._allowed_stages(spec, str(codes[r]))
                weights[i] *= stages @ allowed
                unmatched_everywhere = (
                    set(unmatched) if unmatched_everywhere is None else unmatched_everywhere & set(unmatched)
                )
            if unmatched_everywhere:
                self._raise_unknown_occupation(sorted(unmatched_everywhere), spec)
        city_factor = np.ones(len(rows))
        if spec.region is not None or spec.city is not None:
            groups = self._city_rows_by_country()
            city_norm, region_norm = self._city_norms()
            w = self.tables.cities["weight"].to_numpy(dtype=float)
            for i, r in enumerate(rows):
                idx = groups.get(str(codes[r]), np.array([], dtype=int))
                ok = np.ones(len(idx), dtype=bool)
                if spec.region is not None:
                    ok &= region_norm[idx] == spec.region
                if spec.city is not None:
                    ok &= city_norm[idx] == spec.city
                total = w[idx].sum()
                city_factor[i] = w[idx][ok].sum() / total if total > 0 else 0.0
        country_w = weights.sum(axis=1) * city_factor
        keep = country_w > 0
        if not keep.any():
            self._raise_infeasible(spec, cohort)
        genders = self.gender_shares
        values = [g for g in genders if genders[g] > 0 and (spec.genders is None or g in spec.genders)]
        if not values:
            values = list(spec.genders or genders)  # fixed by an anchor later; any placeholder works
        gw = np.array([genders.get(g, 1.0) for g in values])
        return _Plan(
            spec=spec,
            country_rows=rows[keep],
            country_cum=np.cumsum(country_w[keep]),
            country_weight=country_w[keep] / country_w[keep].sum(),
            gender_values=np.array(values, dtype=object),
            gender_cum=np.cumsum(gw),
        )

    def _country_plan(self, plan: _Plan, row: int) -> _CountryPlan:
        cp = plan.per_country.get(row)
        if cp is not None:
            return cp
        spec = plan.spec
        iso3 = str(self.tables.country_codes[row])
        stages = self._stage_matrix()
        allowed, mask, _ = self._allowed_stages(spec, iso3)
        age_w = self._pmf()[row].copy()
        age_w[: spec.age_lo] = 0.0
        age_w[spec.age_hi + 1 :] = 0.0
        stage_w = stages * allowed
        age_w *= stage_w.sum(axis=1)
        table = self._occupation_table(iso3)
        probs = table.probs if mask is None else np.where(mask, table.probs, 0.0)
        idx = self._city_rows_by_country()[iso3]
        city_norm, region_norm = self._city_norms()
        ok = np.ones(len(idx), dtype=bool)
        if spec.region is not None:
            ok &= region_norm[idx] == spec.region
        if spec.city is not None:
            ok &= city_norm[idx] == spec.city
        idx = idx[ok]
        city_names, city_regions, city_weights = self._city_columns()
        cp = _CountryPlan(
            age_cum=np.cumsum(age_w),
            stage_cum=np.cumsum(stage_w, axis=1),
            titles=table.titles,
            groups=table.groups,
            occ_cum=np.cumsum(probs),
            occ_source=table.source,
            city_names=city_names[idx],
            city_regions=city_regions[idx],
            city_cum=np.cumsum(city_weights[idx]),
        )
        plan.per_country[row] = cp
        return cp

    def _raise_unknown_occupation(self, values: list[str], spec: _Spec) -> None:
        iso3 = spec.countries[0] if spec.countries else "USA"
        table = self._occupation_table(iso3)
        choices = [*table.titles, *set(table.groups), *STAGE_OCCUPATION.values(), "employed", "student"]
        hints = " ".join(f"{v!r}:{did_you_mean(v, choices) or ' no close match.'}" for v in values)
        raise DemographicsError(
            f"unknown occupation(s) {values} — use a job title, an ISCO-08 major group or a life stage "
            f"(student, retired, employed, not employed, child); see DemographicSampler.occupations(). {hints}"
        )

    def _raise_infeasible(self, spec: _Spec, cohort: Cohort) -> None:
        where = "the world" if spec.countries is None else ", ".join(spec.countries)
        parts = [f"ages {spec.age_lo}-{spec.age_hi}"]
        if spec.occupations:
            parts.append(f"occupation {list(spec.occupations)}")
        if spec.employed_only:
            parts.append("employed (free-text occupation anchor)")
        if spec.region:
            parts.append(f"region {cohort.region or spec.region!r}")
        if spec.city:
            parts.append(f"city {cohort.city or spec.city!r}")
        hint = ""
        if spec.occupations or spec.employed_only:
            r = self.life_stages
            hint = (
                f" Under the life-stage rules (children 0-{r.child_max_age}, school students up to "
                f"{r.school_max_age}, tertiary students up to {r.tertiary_max_age}, retirement from "
                f"{r.retirement_age}) nobody with these ages has that occupation; widen the age range or "
                "change life_stages."
            )
        elif spec.region and spec.city:
            hint = " The city is not in that region."
        raise DemographicsError(
            f"the cohort is impossible: nobody in {where} matches {', '.join(parts)}.{hint}"
        )

    # ------------------------------------------------------------------ drawing
    def _draw_arrays(self, plan: _Plan, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        codes = self.tables.country_codes
        names_col = self.tables.country_names
        if len(plan.country_rows) == 1:
            rows = np.full(n, plan.country_rows[0])
        else:
            u = rng.random(n) * plan.country_cum[-1]
            rows = plan.country_rows[
                np.minimum(np.searchsorted(plan.country_cum, u, side="right"), len(plan.country_rows) - 1)
            ]
        ages = np.empty(n, dtype=np.int64)
        stage = np.empty(n, dtype=np.int64)
        occupation = np.empty(n, dtype=object)
        group = np.empty(n, dtype=object)
        source = np.full(n, SOURCE_LIFE_STAGE, dtype=object)
        city = np.empty(n, dtype=object)
        region = np.empty(n, dtype=object)
        labels = np.array([STAGE_OCCUPATION.get(s, "") for s in LIFE_STAGES], dtype=object)
        for row in np.unique(rows):
            sel = np.flatnonzero(rows == row)
            m = len(sel)
            cp = self._country_plan(plan, int(row))
            a = np.searchsorted(cp.age_cum, rng.random(m) * cp.age_cum[-1], side="right")
            a = np.minimum(a, MAX_AGE)
            cum = cp.stage_cum[a]
            s = (rng.random(m)[:, None] * cum[:, -1:] >= cum).sum(axis=1)
            s = np.minimum(s, len(LIFE_STAGES) - 1)
            ages[sel], stage[sel] = a, s
            occupation[sel] = labels[s]
            group[sel] = labels[s]
            emp = np.flatnonzero(s == EMPLOYED)
            if len(emp):
                t = np.searchsorted(cp.occ_cum, rng.random(len(emp)) * cp.occ_cum[-1], side="right")
                t = np.minimum(t, len(cp.titles) - 1)
                occupation[sel[emp]] = cp.titles[t]
                group[sel[emp]] = cp.groups[t]
                source[sel[emp]] = cp.occ_source
            j = np.searchsorted(cp.city_cum, rng.random(m) * cp.city_cum[-1], side="right")
            j = np.minimum(j, len(cp.city_names) - 1)
            city[sel] = cp.city_names[j]
            region[sel] = cp.city_regions[j]
        g = np.searchsorted(plan.gender_cum, rng.random(n) * plan.gender_cum[-1], side="right")
        gender = plan.gender_values[np.minimum(g, len(plan.gender_values) - 1)]
        return {
            "country": names_col[rows],
            "country_code": codes[rows],
            "region": region,
            "city": city,
            "age": ages,
            "gender": gender,
            "occupation": occupation,
            "occupation_group": group,
            "life_stage": np.array(LIFE_STAGES, dtype=object)[stage],
            "occupation_source": source,
        }

    def _add_names(
        self, arrays: dict[str, np.ndarray], fixed: Mapping[str, Any], rng: np.random.Generator, names: bool
    ) -> None:
        n = len(arrays["age"])
        out = np.full(n, None, dtype=object)
        if names and "name" not in fixed:
            gender = arrays["gender"] if "gender" not in fixed else np.full(n, fixed["gender"], dtype=object)
            iso2 = self.tables.countries["iso2"]
            for code in sorted(set(arrays["country_code"])):
                sel = np.flatnonzero(arrays["country_code"] == code)
                seed = int(rng.integers(2**32))
                regions = (
                    arrays["region"][sel]
                    if "region" not in fixed
                    else np.full(len(sel), fixed["region"], dtype=object)
                )
                out[sel] = self._names.names(str(iso2[code]), gender[sel], seed, regions)
        arrays["name"] = out

    def _apply_fixed(self, arrays: dict[str, np.ndarray], fixed: Mapping[str, Any]) -> None:
        n = len(arrays["age"])
        for key, value in fixed.items():
            arrays[key] = np.full(n, value, dtype=object)

    def draw(
        self,
        rng: np.random.Generator | int | None = None,
        cohort: Cohort | Mapping[str, Any] | None = None,
        anchors: Mapping[str, Any] | None = None,
    ) -> Demographics:
        """Draw one person (used by the engine once per persona).

        Anchors fix fields: ``country``/``country_code``, ``region``, ``city``, ``age``, ``gender``,
        ``occupation`` and ``name``. Values found in the tables also condition the other fields (a
        ``"Registered Nurses"`` anchor gives a working-age person); free-text values are kept verbatim.
        Other anchor keys are ignored.

        Args:
            rng: Randomness (a ``Generator``, a seed or ``None`` for the sampler's own generator).
            cohort: Constraints (a :class:`Cohort` or a mapping of its fields).
            anchors: Field values to fix.

        Raises:
            DemographicsError: Unknown country/place/occupation, contradictory constraints, or a
                predicate that rejected ``max_attempts`` draws.
            AnchorError: An anchor of the wrong type (e.g. a non-integer age).
        """
        gen = self._rng if rng is None else np.random.default_rng(rng)
        c = self._make_cohort(cohort, {})
        spec, fixed = self._spec(c, anchors)
        plan = self._plan(spec, c)
        for _ in range(self.max_attempts if c.predicate is not None else 1):
            arrays = self._draw_arrays(plan, 1, gen)
            self._add_names(arrays, fixed, gen, self.names)
            self._apply_fixed(arrays, fixed)
            person = Demographics(**{k: _py(arrays[k][0]) for k in COLUMNS})
            if c.predicate is None or c.predicate(person):
                return person
        raise DemographicsError(
            f"the cohort predicate rejected {self.max_attempts} draws in a row; loosen it, or express the "
            "constraint with cohort fields (country, city, age_range, gender, occupation)"
        )

    def sample(
        self,
        n: int,
        *,
        seed: int | np.random.Generator | None = None,
        cohort: Cohort | Mapping[str, Any] | None = None,
        anchors: Mapping[str, Any] | None = None,
        names: bool | None = None,
        **cohort_fields: Any,
    ) -> pd.DataFrame:
        """Draw ``n`` people as a DataFrame (one row each, columns as :class:`Demographics`).

        Args:
            n: Number of rows.
            seed: Randomness for this call; ``None`` uses the sampler's generator (seeded by ``seed=``).
            cohort: Constraints; ``**cohort_fields`` (``country="Kenya"``, ``age_range=(30, 40)``, ...)
                are merged into it.
            anchors: Fields fixed for every row (see :meth:`draw`).
            names: Override the sampler's ``names`` setting for this call.

        Raises:
            ConfigError: A negative ``n`` or an unknown cohort field.
            DemographicsError: Unknown country/place/occupation or an impossible cohort.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"n must be a non-negative integer, got {n!r}")
        gen = self._rng if seed is None else np.random.default_rng(seed)
        c = self._make_cohort(cohort, cohort_fields)
        spec, fixed = self._spec(c, anchors)
        plan = self._plan(spec, c)
        use_names = self.names if names is None else bool(names)
        if c.predicate is None:
            arrays = self._draw_arrays(plan, int(n), gen)
            self._add_names(arrays, fixed, gen, use_names)
            self._apply_fixed(arrays, fixed)
            return _frame(arrays)
        return self._sample_with_predicate(plan, int(n), gen, c, fixed, use_names)

    def _sample_with_predicate(
        self,
        plan: _Plan,
        n: int,
        gen: np.random.Generator,
        cohort: Cohort,
        fixed: Mapping[str, Any],
        names: bool,
    ) -> pd.DataFrame:
        assert cohort.predicate is not None
        frames: list[pd.DataFrame] = []
        accepted, tried = 0, 0
        budget = self.max_attempts * max(n, 1)
        batch = max(64, n)
        while accepted < n:
            if tried >= budget:
                raise DemographicsError(
                    f"the cohort predicate accepted {accepted} of {tried} draws (needed {n}); loosen it or "
                    "express the constraint with cohort fields"
                )
            arrays = self._draw_arrays(plan, batch, gen)
            self._add_names(arrays, fixed, gen, names)
            self._apply_fixed(arrays, fixed)
            df = _frame(arrays)
            keep = [
                bool(cohort.predicate(Demographics(**{k: _py(arrays[k][i]) for k in COLUMNS})))
                for i in range(batch)
            ]
            df = df[keep]
            frames.append(df)
            accepted += len(df)
            tried += batch
        return pd.concat(frames, ignore_index=True).iloc[:n].reset_index(drop=True)

    # ------------------------------------------------------------------ population views
    def expected_marginals(
        self, cohort: Cohort | Mapping[str, Any] | None = None, **cohort_fields: Any
    ) -> dict[str, pd.Series]:
        """The exact marginal distributions the sampler draws from for a cohort (predicates ignored).

        Returns:
            ``{"country", "age_group", "gender", "life_stage", "occupation_group", "occupation",
            "city"}`` -> shares indexed by category (``city`` indexed by ``"City, ISO3"``).
        """
        from ._marginals import expected_marginals

        return expected_marginals(self, self._make_cohort(cohort, cohort_fields))

    def compare_marginals(
        self,
        sample: pd.DataFrame | None = None,
        *,
        n: int = 20_000,
        seed: int | np.random.Generator | None = None,
        cohort: Cohort | Mapping[str, Any] | None = None,
        top: int | None = 20,
        **cohort_fields: Any,
    ) -> pd.DataFrame:
        """Compare a sample's marginals with the source tables.

        Args:
            sample: Rows from :meth:`sample` for the same cohort; drawn (``n`` rows, ``seed``) when ``None``.
            n: Sample size when drawing.
            seed: Seed when drawing.
            cohort: The cohort the sample was drawn for.
            top: Keep the ``top`` most likely categories per variable (``None`` keeps all).

        Returns:
            Columns ``variable``, ``category``, ``expected``, ``observed``, ``difference``, ``se``
            (binomial standard error at the sample size) and ``z``.
        """
        from ._marginals import compare_marginals

        c = self._make_cohort(cohort, cohort_fields)
        return compare_marginals(self, sample, n=n, seed=seed, cohort=c, top=top)

    def plot_marginals(
        self,
        sample: pd.DataFrame | None = None,
        *,
        n: int = 5_000,
        seed: int | np.random.Generator | None = None,
        cohort: Cohort | Mapping[str, Any] | None = None,
        top: int = 10,
        **cohort_fields: Any,
    ) -> Figure:
        """Plot sampled marginals against the tables (age, gender, life stage, occupation group, city, country).

        Args:
            sample: Rows from ``sample()`` for the same cohort; drawn (``n`` rows, ``seed``) when ``None``.
            n: Sample size when drawing.
            seed: Seed when drawing.
            cohort: The cohort the sample was drawn for.
            top: Show the ``top`` most likely categories per variable.
            **cohort_fields: Cohort fields, as for ``sample()``.

        Returns:
            A matplotlib ``Figure`` of six panels, 1,500 pixels wide at the default dpi; save it with
            ``fig.savefig("marginals.png")``. It is built without pyplot and renders inline in a notebook.
        """
        from ._plot import plot_comparison

        table = self.compare_marginals(sample, n=n, seed=seed, cohort=cohort, top=top, **cohort_fields)
        return plot_comparison(table)


def _anchor_age(value: Any) -> int:
    if isinstance(value, bool):
        raise AnchorError(f"age anchor must be an integer, got {value!r}")
    try:
        age = int(value)
        if isinstance(value, float) and value != age:
            raise ValueError
    except (TypeError, ValueError):
        raise AnchorError(f"age anchor must be a whole number of years, got {value!r}") from None
    if not MIN_AGE <= age <= MAX_AGE:
        raise DemographicsError(f"age anchor {age} is outside {MIN_AGE}-{MAX_AGE}")
    return age


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _frame(arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    df = pd.DataFrame({k: arrays[k] for k in COLUMNS})
    df["age"] = df["age"].astype("int64")
    return df


__all__: Sequence[str] = ["DemographicSampler", "normalize_gender"]
