"""Names from Faker's locale for a country (Faker is imported on first use)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MissingDependencyError

#: Faker locales whose region part is not an ISO 3166 country (Catalan in Spain, Quebec).
_NOT_COUNTRIES = frozenset({"es_CA", "fr_QC", "ar_AA"})
_FAMILY_FIRST_NO_SPACE = ("zh_", "ja_", "ko_")
_FAMILY_FIRST = ("hu_", "vi_")


class NameMaker:
    """Makes names per country with the Faker locales of that country; caches Faker objects."""

    def __init__(self) -> None:
        self._by_country: dict[str, tuple[str, ...]] | None = None
        self._fakers: dict[str, Any] = {}

    def locales(self, iso2: str) -> tuple[str, ...]:
        """Faker locales for an ISO-2 country code (empty when Faker has none)."""
        if self._by_country is None:
            try:
                from faker.config import AVAILABLE_LOCALES
            except ImportError as exc:  # pragma: no cover - faker is a core dependency
                raise MissingDependencyError("names need Faker: pip install faker") from exc
            table: dict[str, list[str]] = {}
            for loc in sorted(AVAILABLE_LOCALES):
                if "_" in loc and loc not in _NOT_COUNTRIES:
                    table.setdefault(loc.split("_", 1)[1], []).append(loc)
            self._by_country = {k: tuple(v) for k, v in table.items()}
        return self._by_country.get(iso2.upper(), ())

    def _faker(self, locale: str) -> Any:
        fake = self._fakers.get(locale)
        if fake is None:
            from faker import Faker

            fake = Faker(locale)
            self._fakers[locale] = fake
        return fake

    def names(self, iso2: str, genders: np.ndarray, seed: int) -> list[str | None]:
        """One name per gender value, reproducible from ``seed``; ``None`` where no locale exists."""
        locales = self.locales(iso2)
        if not locales:
            return [None] * len(genders)
        rng = np.random.default_rng(seed)
        picks = rng.integers(len(locales), size=len(genders))
        out: list[str | None] = [None] * len(genders)
        for k, loc in enumerate(locales):
            fake = self._faker(loc)
            fake.seed_instance(int(rng.integers(2**32)))
            for i in np.flatnonzero(picks == k):
                out[int(i)] = _one(fake, str(genders[i]), loc)
        return out


def _one(fake: Any, gender: str, locale: str) -> str:
    """A given and a family name in the locale's order (no titles or suffixes), gendered where possible."""
    method = {
        "female": "first_name_female",
        "male": "first_name_male",
        "non-binary": "first_name_nonbinary",
    }.get(gender)
    first: str | None = None
    if method is not None and hasattr(fake, method):
        try:
            first = str(getattr(fake, method)())
        except AttributeError:  # some Faker locales lack gendered name lists (e.g. es_AR)
            first = None
    if first is None:
        first = str(fake.first_name())
    last = str(fake.last_name())
    if locale.startswith(_FAMILY_FIRST_NO_SPACE):
        return f"{last}{first}"
    if locale.startswith(_FAMILY_FIRST):
        return f"{last} {first}"
    return f"{first} {last}"
