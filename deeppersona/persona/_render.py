"""Renderings of a persona: Figure 7 nested JSON, a role-play system prompt, HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..demographics._models import PERSON_FIELDS
from ..taxonomy._constants import PATH_SEPARATOR

if TYPE_CHECKING:
    from ._models import Persona
    from ._population import Population, PopulationStats

__all__ = [
    "format_value",
    "nested",
    "occupation_text",
    "persona_html",
    "population_html",
    "stats_html",
    "system_prompt",
]


def format_value(value: Any) -> str:
    """Render an attribute value as short text (lists joined by commas)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def attribute_text(attr: Any) -> str:
    """An attribute's value as short text; ``"N/A: <reason>"`` for one that does not apply to the person."""
    reason = getattr(attr, "not_applicable", None)
    return f"N/A: {reason}" if reason else format_value(attr.value)


def _shown_value(attr: Any) -> Any:
    reason = getattr(attr, "not_applicable", None)
    return f"N/A: {reason}" if reason else attr.value


def nested(persona: Persona) -> dict[str, Any]:
    """Return the Figure 7 style nested JSON of ``persona`` (see :meth:`Persona.to_nested`)."""
    dem = persona.demographics
    core = persona.core
    out: dict[str, Any] = {}
    if dem.get("name"):
        out["name"] = dem["name"]
    out["age_info"] = {"age": dem.get("age"), "age_group": dem.get("life_stage")}
    out["gender"] = dem.get("gender")
    out["location"] = {"country": dem.get("country"), "region": dem.get("region"), "city": dem.get("city")}
    out["career_info"] = {"status": dem.get("occupation"), "occupation_group": dem.get("occupation_group")}
    if core is not None:
        out["personal_values"] = {"values_orientation": core.values_orientation}
        out["life_attitude"] = {
            "attitude": core.attitude,
            "attitude_details": core.attitude_details,
            "coping_mechanism": core.coping_mechanism,
        }
        out["personal_story"] = {
            "personal_story": " ".join(core.life_stories),
            "key_life_events": [f"Story {i}: {s}" for i, s in enumerate(core.life_stories, 1)],
        }
        out["interests"] = {"interests": list(core.interests)}
    if persona.bio:
        out["bio"] = persona.bio
    custom: dict[str, Any] = {}
    for key, attr in persona.attributes.items():
        if attr.stratum == "custom" or not attr.path:
            custom[key] = _shown_value(attr)
            continue
        node: dict[str, Any] = out
        *parents, leaf = attr.path
        for name in parents:
            child = node.get(name)
            if not isinstance(child, dict):
                child = {} if child is None else {"_value": child}
                node[name] = child
            node = child
        if isinstance(node.get(leaf), dict):
            node[leaf]["_value"] = _shown_value(attr)
        else:
            node[leaf] = _shown_value(attr)
    if custom:
        out["custom_attributes"] = custom
    if persona.narrative:
        out["narrative"] = persona.narrative
    return out


_STAGE_PHRASES: dict[str, str] = {
    "retired": "retiree",
    "student": "student",
    "school student": "school student",
    "child": "child",
    "not employed": "without paid work",
}
"""How the life-stage labels of the demographic tables read after "a 70-year-old female ..."."""


def occupation_text(demographics: Mapping[str, Any]) -> str:
    """The occupation of a persona as a person would say it, for prompts and narratives.

    Table titles become natural job titles ("Farmworkers and Laborers, Crop, Nursery, and Greenhouse" ->
    "crop farmworker", see :func:`~deeppersona.demographics._titles.job_title`); life-stage labels read
    as such ("Retired" -> "retiree"); anchored free-text occupations are kept as given. The table title
    itself stays in ``demographics["occupation"]``.

    Args:
        demographics: A persona's demographics (``occupation`` is read; empty gives ``""``).
    """
    from ..demographics._titles import job_title

    occupation = demographics.get("occupation")
    if occupation in (None, ""):
        return ""
    text = str(occupation).strip()
    stage = _STAGE_PHRASES.get(text.lower())
    if stage is not None:
        return stage
    title = job_title(text)
    if title != text:
        return title
    if " " not in text and text[:1].isupper() and text[1:].islower():
        return text.lower()  # "Nurse" reads as "a 34-year-old female nurse"
    return text


def _article(word: str) -> str:
    """``"a"`` or ``"an"`` before ``word`` ("an 18-year-old", "an inspector", "a university lecturer")."""
    first = word.lstrip()[:3].lower()
    if first[:1].isdigit():
        digits = "".join(c for c in word if c.isdigit())
        return "an" if digits.startswith("8") or digits in ("11", "18") else "a"
    if first.startswith(("uni", "use", "usu", "one")):
        return "a"
    return "an" if first[:1] in ("a", "e", "i", "o", "u") else "a"


def _intro(persona: Persona) -> str:
    dem = persona.demographics
    who = dem.get("name") or "a person"
    bits = []
    if dem.get("age") is not None:
        bits.append(f"{dem['age']}-year-old")
    if dem.get("gender"):
        bits.append(str(dem["gender"]).lower())
    occupation = occupation_text(dem)
    if occupation:
        bits.append(occupation)
    places: list[str] = []
    for key in ("city", "region", "country"):
        value = str(dem.get(key) or "").strip()
        if value and value not in places:  # "Mexico City, Mexico City, Mexico" -> once
            places.append(value)
    place = ", ".join(places)
    text = f"{who}, {_article(bits[0])} {' '.join(bits)}" if bits else str(who)
    return f"{text} living in {place}" if place else text


def system_prompt(
    persona: Persona, *, max_attributes: int | None = None, include_narrative: bool = True
) -> str:
    """Return the role-play system prompt of ``persona`` (see :meth:`Persona.to_prompt`)."""
    from ..prompts import render

    items = list(persona.attributes.items())
    if max_attributes is not None:
        items = items[: max(0, max_attributes)]
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, attr in items:
        if attr.path and len(attr.path) > 1:
            group, label = attr.path[0], PATH_SEPARATOR.join(attr.path[1:])
        else:
            group, label = "Other", key
        groups.setdefault(group, []).append((label, attribute_text(attr)))
    return render(
        "persona_prompt",
        intro=_intro(persona),
        bio=persona.bio,
        core=persona.core,
        groups=groups,
        narrative=persona.narrative if include_narrative else "",
    )


def persona_html(persona: Persona) -> str:
    """Return a compact HTML card of ``persona`` for notebooks."""
    esc = html.escape
    dem = persona.demographics
    rows = "".join(
        f"<tr><th style='text-align:left'>{esc(k)}</th><td>{_demographic_cell(dem, k)}</td></tr>"
        for k in PERSON_FIELDS
        if dem.get(k) not in (None, "")
    )
    core = persona.core
    core_html = ""
    if core is not None:
        core_html = (
            f"<p><b>Values</b> ({esc(core.values_polarity)}): {esc(core.values_orientation)}<br>"
            f"<b>Attitude</b>: {esc(core.attitude)}<br><b>Interests</b>: {esc(', '.join(core.interests))}</p>"
        )
    attrs = "".join(
        f"<tr><td>{esc(path)}</td><td>{esc(attribute_text(a))}</td><td>{esc(a.stratum)}</td></tr>"
        for path, a in persona.attributes.items()
    )
    status = "" if persona.ok else f"<p style='color:#b00'>failed: {esc(persona.failure or '')}</p>"
    narrative = f"<p>{esc(persona.narrative)}</p>" if persona.narrative else ""
    return (
        f"<div class='deeppersona-persona'><b>Persona {esc(persona.id)}</b>{status}"
        f"<table>{rows}</table>{core_html}{narrative}"
        f"<details><summary>{len(persona.attributes)} attributes</summary>"
        f"<table><tr><th>path</th><th>value</th><th>stratum</th></tr>{attrs}</table></details></div>"
    )


def _demographic_cell(dem: Mapping[str, Any], key: str) -> str:
    """One demographic value as HTML; a table occupation shows its job title, the table title on hover."""
    esc = html.escape
    raw = format_value(dem[key])
    if key == "occupation":
        shown = occupation_text(dem)
        if shown and shown != raw:
            return f"<span title='{esc(raw, quote=True)}'>{esc(shown)}</span>"
    return esc(raw)


_POPULATION_ROWS = 20
"""How many personas the HTML table of a population shows."""


def population_html(population: Population) -> str:
    """Return an HTML table of a population for notebooks: one row per persona (the first 20)."""
    esc = html.escape
    head = "".join(
        f"<th style='text-align:left'>{esc(c)}</th>"
        for c in ("id", "name", "age", "gender", "occupation", "city", "country", "attributes")
    )
    rows = []
    for p in list(population)[:_POPULATION_ROWS]:
        dem = p.demographics
        cells = [esc(p.id)]
        for key in ("name", "age", "gender", "occupation", "city", "country"):
            cells.append(_demographic_cell(dem, key) if dem.get(key) not in (None, "") else "")
        cells.append(str(len(p.attributes)))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = len(population) - _POPULATION_ROWS
    tail = f"<p>… and {more} more</p>" if more > 0 else ""
    not_ok = ""
    if population.failures:
        listed = "".join(
            f"<li>{esc(p.id)} ({esc(p.status)}): {esc((p.failure or '')[:200])}</li>"
            for p in population.failures[:_POPULATION_ROWS]
        )
        not_ok = f"<details><summary>{len(population.failures)} not ok</summary><ul>{listed}</ul></details>"
    return (
        f"<div class='deeppersona-population'><b>{esc(repr(population))}</b>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>{tail}{not_ok}</div>"
    )


def _share_rows(shares: Mapping[Any, float], *, as_count: bool = False) -> str:
    esc = html.escape
    out = []
    for key, share in shares.items():
        if as_count:
            out.append(f"<tr><td>{esc(str(key))}</td><td style='text-align:right'>{share:g}</td></tr>")
            continue
        width = max(0.0, min(1.0, float(share))) * 100
        bar = f"<div style='background:#4c72b0;height:0.7em;width:{width:.0f}%;min-width:1px'></div>"
        out.append(
            f"<tr><td>{esc(str(key))}</td><td style='text-align:right'>{share:.1%}</td>"
            f"<td style='width:8em'>{bar}</td></tr>"
        )
    return "".join(out)


def stats_html(stats: PopulationStats) -> str:
    """Return :class:`PopulationStats` as HTML tables for notebooks (summary, strata, coverage, marginals)."""
    esc = html.escape
    per = stats.attributes_per_persona
    usage = stats.usage
    summary = [
        ("personas", f"{stats.n}"),
        ("not ok", f"{stats.failed}"),
        ("attributes per persona", f"{per['mean']:.1f} (min {per['min']:g}, max {per['max']:g})"),
        ("distinct attributes", f"{stats.distinct_attributes}"),
        ("LLM calls", f"{usage.calls}"),
        ("tokens", f"{usage.total_tokens:,}"),
        ("cost (USD)", f"{usage.cost_usd:.4f}"),
    ]
    summary_html = "".join(
        f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary
    )
    strata = "".join(
        f"<tr><td>{esc(s)}</td><td style='text-align:right'>{v:.1f}</td></tr>"
        for s, v in stats.strata.items()
    )
    sections = [
        f"<table>{summary_html}</table>",
        f"<details open><summary>attributes per stratum (mean per persona)</summary><table>{strata}</table></details>",
        "<details open><summary>root categories (share of personas reaching each)</summary>"
        f"<table>{_share_rows(stats.root_coverage)}</table></details>",
    ]
    if stats.level_coverage:
        values = list(stats.level_coverage.values())
        as_count = any(v > 1 for v in values)
        label = "distinct nodes reached per level" if as_count else "share of the tree reached per level"
        levels = {f"level {k}": v for k, v in stats.level_coverage.items()}
        sections.append(
            f"<details><summary>{esc(label)}</summary>"
            f"<table>{_share_rows(levels, as_count=as_count)}</table></details>"
        )
    for name, shares in stats.marginals.items():
        sections.append(
            f"<details><summary>{esc(name)}</summary><table>{_share_rows(shares)}</table></details>"
        )
    return f"<div class='deeppersona-stats'><b>PopulationStats</b>{''.join(sections)}</div>"
