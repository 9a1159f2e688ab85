"""Country names, codes and aliases from the shipped country table (used by the evaluator's survey
loaders and by the contradiction rules)."""

from __future__ import annotations

from ._tables import DemographicTables
from ._text import norm

__all__ = ["country_aliases", "country_name"]


def _country_row(country: str, tables: DemographicTables | None = None) -> dict[str, str] | None:
    """The country table's row (iso3, iso2, name) for a name, code or alias; ``None`` when unknown.

    Reads only the country table (``tables`` when given, else the shipped one): not the age or city
    tables a :class:`DemographicSampler` would load for populations.
    """
    tables = tables if tables is not None else DemographicTables()
    iso3 = tables.country_lookup.get(norm(str(country)))
    if iso3 is None:
        return None
    row = tables.countries.loc[iso3]
    return {key: str(row[key]) for key in ("iso3", "iso2", "name")}


def country_aliases(country: str, tables: DemographicTables | None = None) -> set[str]:
    """Upper-cased spellings of ``country``: itself plus its ISO-2 and ISO-3 codes and name when known.

    Uses the country table shipped with :mod:`deeppersona.demographics` (names, codes and common aliases
    such as "USA", "UK" or "Cote d'Ivoire"), so no extra package is needed.
    """
    names = {country.strip().upper()}
    row = _country_row(country.strip(), tables)
    if row is not None:
        names.update(value.upper() for value in row.values() if value)
    return names


def country_name(country: str, tables: DemographicTables | None = None) -> str:
    """A readable country name for ``country`` (code or name); the input when unknown."""
    row = _country_row(country.strip(), tables)
    return row.get("name", country) if row is not None else country
