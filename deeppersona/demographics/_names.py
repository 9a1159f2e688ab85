"""Names from Faker's locale for a country (Faker is imported on first use)."""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from typing import Any

import numpy as np

from ..errors import MissingDependencyError

#: Faker locales whose region part is not an ISO 3166 country (Catalan in Spain, Quebec).
_NOT_COUNTRIES = frozenset({"es_CA", "fr_QC", "ar_AA"})

#: The locale used for a country that Faker covers with several locales: the most widely used
#: language, and a Latin-script English locale where many languages (and scripts) share a country
#: (India, Nigeria), so that one narrative never mixes, say, a Gujarati persona with
#: a Tamil-script name.
PREFERRED_LOCALE: dict[str, str] = {
    "BD": "bn_BD",
    "BE": "nl_BE",
    "CA": "en_CA",
    "CH": "de_CH",
    "DK": "da_DK",
    "DZ": "ar_DZ",
    "IE": "en_IE",
    "IN": "en_IN",
    "LU": "de_LU",
    "NG": "en_NG",
    "TH": "th_TH",
}

#: First-level regions whose main language differs from the country's preferred locale
#: (``(ISO-2, canonical region name) -> locale``; region names as in ``cities.csv.gz``).
REGION_LOCALE: dict[tuple[str, str], str] = {
    ("CA", "quebec"): "fr_CA",
    ("BE", "wallonia"): "fr_BE",
    ("BE", "brussels capital"): "fr_BE",
    ("CH", "geneva"): "fr_CH",
    ("CH", "vaud"): "fr_CH",
    ("CH", "neuchatel"): "fr_CH",
    ("CH", "jura"): "fr_CH",
    ("CH", "fribourg"): "fr_CH",
    ("CH", "valais"): "fr_CH",
    ("CH", "ticino"): "it_IT",  # Faker's it_CH has no names of its own
}

#: Locales without a person provider of their own whose fallback (US English names) still suits the
#: country. Every other locale that lacks its own names is skipped, so that, for example, Egypt
#: (``ar_EG`` falls back to US names) gets no name rather than an American one.
_ENGLISH_FALLBACK_OK = frozenset({"en_AU", "en_CA"})
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

    def locale_for(self, iso2: str, region: str | None = None) -> str | None:
        """The one Faker locale used for a person in ``iso2`` (and ``region``), or ``None``.

        The rule: a region-specific locale where the region's main language differs from the
        country's (:data:`REGION_LOCALE`, e.g. Quebec -> ``fr_CA``); else the country's preferred
        locale (:data:`PREFERRED_LOCALE`, e.g. India -> ``en_IN``); else the country's only locale.
        """
        usable = [loc for loc in self.locales(iso2) if has_own_names(loc)]
        if not usable:
            return None
        code = iso2.upper()
        if region:
            by_region = REGION_LOCALE.get((code, _region_key(region)))
            if by_region is not None and has_own_names(by_region):
                return by_region
        preferred = PREFERRED_LOCALE.get(code)
        return preferred if preferred in usable else usable[0]

    def _faker(self, locale: str) -> Any:
        fake = self._fakers.get(locale)
        if fake is None:
            from faker import Faker

            # the person provider alone: names come out the same, and it loads in 0.1 ms instead of ~10 ms
            fake = Faker(locale, providers=["faker.providers.person"])
            self._fakers[locale] = fake
        return fake

    def names(
        self, iso2: str, genders: np.ndarray, seed: int, regions: np.ndarray | None = None
    ) -> list[str | None]:
        """One name per gender value, reproducible from ``seed``; ``None`` where no locale exists.

        Args:
            iso2: The country's ISO-2 code.
            genders: One gender value per person.
            seed: Seeds the Faker instances.
            regions: One first-level region (or ``None``) per person, to pick a regional locale.
        """
        n = len(genders)
        if not self.locales(iso2):
            return [None] * n
        region_list = [None] * n if regions is None else list(regions)
        picked = [self.locale_for(iso2, r if isinstance(r, str) else None) for r in region_list]
        rng = np.random.default_rng(seed)
        out: list[str | None] = [None] * n
        for loc in sorted({p for p in picked if p is not None}):
            fake = self._faker(loc)
            fake.seed_instance(int(rng.integers(2**32)))
            for i in (k for k, p in enumerate(picked) if p == loc):
                out[i] = _one(fake, str(genders[i]), loc)
        return out


@functools.cache
def has_own_names(locale: str) -> bool:
    """Whether Faker has a person provider for ``locale`` itself (not a silent en_US fallback)."""
    if locale in _ENGLISH_FALLBACK_OK:
        return True
    try:
        return importlib.util.find_spec(f"faker.providers.person.{locale}") is not None
    except ImportError:  # pragma: no cover - faker is a core dependency
        return False


def _region_key(region: str) -> str:
    """Lower-case ASCII letters and single spaces (``"Neuchâtel"`` -> ``"neuchatel"``)."""
    text = unicodedata.normalize("NFKD", region)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


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
