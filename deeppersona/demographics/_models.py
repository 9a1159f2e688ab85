"""Value objects: the drawn :class:`Demographics`, the :class:`Cohort` constraints and the life-stage rules."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, DemographicsError

MIN_AGE, MAX_AGE = 0, 110

#: Life stages, in the order used by the samplers' probability tables.
LIFE_STAGES: tuple[str, ...] = (
    "child",
    "school student",
    "tertiary student",
    "employed",
    "not employed",
    "retired",
)
#: The ``occupation`` (and ``occupation_group``) label of each life stage that is not a job.
STAGE_OCCUPATION: dict[str, str] = {
    "child": "Child",
    "school student": "School student",
    "tertiary student": "Student",
    "not employed": "Not employed",
    "retired": "Retired",
}


PERSON_FIELDS: tuple[str, ...] = ("name", "age", "gender", "occupation", "city", "region", "country")
"""The demographic fields that describe a person, in the order they are shown and asked for (a sketch
states them, a profile lists them, the evaluator reads them): the one list of them."""


class Demographics(BaseModel):
    """The core demographic fields of one persona.

    Attributes:
        country: Country or area name (e.g. ``"Kenya"``).
        country_code: ISO 3166-1 alpha-3 code (``"KEN"``).
        region: First-level administrative area of the city, when known.
        city: City (a GeoNames place of 15,000+ inhabitants), or an anchored free-text place.
        age: Age in whole years, 0-110.
        gender: ``"female"``, ``"male"``, ``"non-binary"`` or an anchored free-text value.
        occupation: Job title for employed people; otherwise the life-stage label
            (``"Student"``, ``"Retired"``, ``"Not employed"``, ...).
        occupation_group: ISCO-08 major group of the job (or the life-stage label); ``None`` for
            an anchored free-text occupation.
        life_stage: One of ``child``, ``school student``, ``tertiary student``, ``employed``,
            ``not employed``, ``retired``.
        name: A full name from the Faker locale chosen for the country and region, when one exists and
            names are on.
        occupation_source: Where a drawn occupation comes from: the job table's source label (for
            example the approximate US-mix fallback used outside the US, or ``"user occupation table"``)
            or the life-stage rules; ``None`` when the occupation was anchored rather than drawn.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str
    country_code: str
    region: str | None = None
    city: str | None = None
    age: int = Field(ge=MIN_AGE, le=MAX_AGE)
    gender: str
    occupation: str
    occupation_group: str | None = None
    life_stage: str
    name: str | None = None
    occupation_source: str | None = None


def _as_tuple(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        items = tuple(str(v) for v in value)
        if not items:
            raise ValueError(f"{field} must not be empty")
        return items
    raise ValueError(f"{field} must be a string or a sequence of strings, got {type(value).__name__}")


class Cohort(BaseModel):
    """Constraints on who is drawn. Every field is optional; unset fields are unconstrained.

    Args:
        country: A country name, ISO-2 or ISO-3 code or alias (``"Kenya"``, ``"KE"``, ``"KEN"``,
            ``"UK"``, ``"Cote d'Ivoire"``). ``None`` or ``"world"`` samples the world by population.
        region: First-level administrative area (``"Nairobi County"``, ``"California"``).
        city: City name (within ``country`` when it is set; otherwise any country with that city).
        age_range: Inclusive ``(low, high)`` ages within 0-110.
        gender: One gender or a sequence of allowed genders.
        occupation: A job title, an ISCO-08 major group name, a life stage (``"student"``,
            ``"retired"``, ``"employed"``, ``"not employed"``, ``"child"``), or a sequence of them.
        min_age: Minimum age; overrides the sampler's ``min_age``. When ``age_range`` is given
            the sampler's ``min_age`` is ignored (so minors can be asked for explicitly).
        predicate: Any ``Callable[[Demographics], bool]``; draws it rejects are redrawn, up to a cap.

    Raises:
        ConfigError: An unknown field name.
        DemographicsError: An age outside 0-110, a reversed age range, or an empty field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    country: str | None = None
    region: str | None = None
    city: str | None = None
    age_range: tuple[int, int] | None = None
    gender: tuple[str, ...] | None = None
    occupation: tuple[str, ...] | None = None
    min_age: int | None = None
    predicate: Callable[[Demographics], bool] | None = None

    def __init__(self, country: str | None = None, /, **fields: Any) -> None:
        if country is not None:
            if "country" in fields:
                raise ConfigError("Cohort got the country twice (positionally and by keyword)")
            fields["country"] = country
        unknown = sorted(set(fields) - set(type(self).model_fields))
        if unknown:
            known = list(type(self).model_fields)
            hints = "; ".join(
                f"{u!r}"
                + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, known, 1)) else "")
                for u in unknown
            )
            raise ConfigError(f"unknown cohort field(s): {hints}. Known fields: {', '.join(known)}")
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "cohort"
            raise DemographicsError(f"invalid cohort {where}: {first.get('msg', exc)}") from None

    @field_validator("gender", "occupation", mode="before")
    @classmethod
    def _to_tuple(cls, value: Any, info: Any) -> tuple[str, ...] | None:
        return _as_tuple(value, info.field_name)

    @field_validator("country", "region", "city", mode="before")
    @classmethod
    def _non_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("min_age")
    @classmethod
    def _check_min_age(cls, value: int | None) -> int | None:
        if value is not None and not MIN_AGE <= value <= MAX_AGE:
            raise ValueError(f"min_age {value} is outside {MIN_AGE}-{MAX_AGE}")
        return value

    @field_validator("age_range")
    @classmethod
    def _check_age_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is None:
            return None
        lo, hi = value
        if not (MIN_AGE <= lo <= MAX_AGE and MIN_AGE <= hi <= MAX_AGE):
            raise ValueError(f"age_range {value} must lie within {MIN_AGE}-{MAX_AGE}")
        if lo > hi:
            raise ValueError(f"age_range {value} is reversed: use (low, high)")
        return value

    @model_validator(mode="after")
    def _check_min_vs_range(self) -> Cohort:
        if self.age_range is not None and self.min_age is not None and self.min_age > self.age_range[1]:
            raise ValueError(f"min_age {self.min_age} is above age_range {self.age_range}")
        return self

    def with_(self, **changes: Any) -> Cohort:
        """Return a copy with some fields replaced (validated like the constructor)."""
        data = {k: getattr(self, k) for k in type(self).model_fields}
        data.update(changes)
        return Cohort(**data)


class LifeStageRules(BaseModel):
    """Age rules and probabilities that decide who is a student, employed, not employed or retired.

    The same rules apply to every country (no offline per-country enrolment or labour-force tables
    are shipped); change them to match the population you model.

    Attributes:
        child_max_age: Ages ``0..child_max_age`` are ``child``.
        school_max_age: Ages up to this are ``school student``.
        tertiary_max_age: Ages ``school_max_age+1..tertiary_max_age`` are ``tertiary student``
            with probability ``tertiary_share``.
        tertiary_share: Probability of being a tertiary student in that age band.
        retirement_age: From this age people are ``retired`` with probability ``retired_share``.
        retired_share: Probability of being retired from ``retirement_age`` on.
        not_employed_share: Among adults who are neither students nor retired, the probability of
            being ``not employed`` (unemployed, homemaker, carer, unable to work).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    child_max_age: int = Field(default=5, ge=0, le=MAX_AGE)
    school_max_age: int = Field(default=17, ge=0, le=MAX_AGE)
    tertiary_max_age: int = Field(default=24, ge=0, le=MAX_AGE)
    tertiary_share: float = Field(default=0.3, ge=0.0, le=1.0)
    retirement_age: int = Field(default=65, ge=0, le=MAX_AGE + 1)
    retired_share: float = Field(default=0.85, ge=0.0, le=1.0)
    not_employed_share: float = Field(default=0.3, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> LifeStageRules:
        if not self.child_max_age <= self.school_max_age <= self.tertiary_max_age < self.retirement_age:
            raise ValueError(
                "need child_max_age <= school_max_age <= tertiary_max_age < retirement_age, got "
                f"{self.child_max_age}, {self.school_max_age}, {self.tertiary_max_age}, {self.retirement_age}"
            )
        return self
