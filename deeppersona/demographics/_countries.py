"""Country names, codes and aliases from the shipped country table (used by the evaluator's survey
loaders and by the contradiction rules)."""

from __future__ import annotations

__all__ = ["country_aliases", "country_name"]


def _country_row(country: str) -> dict[str, str] | None:
    """The shipped country table's row (iso3, iso2, name) for a name, code or alias; ``None`` when unknown."""
    from ..errors import DemographicsError
    from ._sampler import DemographicSampler

    sampler = DemographicSampler(names=False)
    try:
        iso3 = sampler.resolve_country(country)
    except DemographicsError:
        return None
    if iso3 is None:
        return None
    table = sampler.countries()
    row = table.loc[table["iso3"] == iso3]
    if row.empty:  # pragma: no cover - resolve_country only returns codes of the table
        return {"iso3": iso3}
    return {key: str(row.iloc[0][key]) for key in ("iso3", "iso2", "name")}


def country_aliases(country: str) -> set[str]:
    """Upper-cased spellings of ``country``: itself plus its ISO-2 and ISO-3 codes and name when known.

    Uses the country table shipped with :mod:`deeppersona.demographics` (names, codes and common aliases
    such as "USA", "UK" or "Cote d'Ivoire"), so no extra package is needed.
    """
    names = {country.strip().upper()}
    row = _country_row(country.strip())
    if row is not None:
        names.update(value.upper() for value in row.values() if value)
    return names


def country_name(country: str) -> str:
    """A readable country name for ``country`` (code or name); the input when unknown."""
    row = _country_row(country.strip())
    return row.get("name", country) if row is not None else country
