"""Renderings of a persona: Figure 7 nested JSON, a role-play system prompt, HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Persona

__all__ = ["format_value", "nested", "occupation_text", "persona_html", "system_prompt"]

_CORE_DEMOGRAPHICS = ("name", "age", "gender", "occupation", "city", "region", "country")


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
            group, label = attr.path[0], " > ".join(attr.path[1:])
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
        for k in _CORE_DEMOGRAPHICS
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
