"""Applicability conditions: the circumstances an attribute needs before it can apply to a person.

Most attributes apply to everyone (everyone has a sleep pattern and a view on honesty). Some only apply
to people in a circumstance: "Partner's Career" needs a partner, "Children's Schooling" needs children,
"Commute Mode" needs work or study outside the home. A taxonomy node lists such circumstances in
``applies_when`` (all must hold), written ``[when: partnered]`` in the outline format, from the closed
vocabulary below, so that they can be checked against a profile rather than guessed.

Three conditions follow from the drawn demographics (``employed``, ``student``, ``retired``); the others
are circumstances a profile states once they are decided (see :func:`applies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["CONDITIONS", "DEMOGRAPHIC_CONDITIONS", "applies", "check_conditions", "circumstance_names"]

CONDITIONS: Mapping[str, str] = MappingProxyType(
    {
        "partnered": "has a spouse or partner",
        "parent": "has children",
        "employed": "works for pay (employee or self-employed)",
        "student": "is in school, college or university",
        "retired": "has retired from work",
        "manager": "supervises or manages other people at work",
        "religious": "belongs to or practises a religion",
        "driver": "drives a car or motorbike",
        "pet_owner": "has a pet",
        "homeowner": "owns their home",
        "renter": "rents their home",
        "migrant": "lives outside the country or region where they grew up",
        "caregiver": "looks after a sick, disabled or elderly relative",
        "sibling": "has brothers or sisters",
        "internet_user": "uses the internet",
    }
)
"""The applicability conditions a taxonomy node may name (name → what must be true of the person)."""

DEMOGRAPHIC_CONDITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "employed": frozenset({"employed"}),
        "student": frozenset({"school student", "tertiary student"}),
        "retired": frozenset({"retired"}),
    }
)
"""Conditions decided by the demographic draw: condition → the ``life_stage`` values where it holds."""


def check_conditions(names: Iterable[str]) -> tuple[str, ...]:
    """Normalise condition names (lower case, stripped, unique, in order) and check them.

    Raises:
        ValueError: A name is not in :data:`CONDITIONS`.
    """
    out: list[str] = []
    for raw in names:
        name = str(raw).strip().lower().replace(" ", "_").replace("-", "_")
        if name not in CONDITIONS:
            raise ValueError(
                f"unknown applicability condition {str(raw).strip()!r}; use one of {', '.join(CONDITIONS)}"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def applies(
    conditions: Iterable[str],
    *,
    life_stage: str | None = None,
    circumstances: Mapping[str, bool] | None = None,
) -> bool | None:
    """Whether an attribute with these conditions applies to a person.

    Args:
        conditions: The node's ``applies_when``.
        life_stage: The person's demographic life stage (decides ``employed``, ``student``, ``retired``).
        circumstances: Decided circumstances (condition → true/false), such as ``{"partnered": False}``.

    Returns:
        ``True`` when every condition is known to hold, ``False`` when one is known not to, ``None`` when
        some are still undecided (the attribute may apply).
    """
    known = dict(circumstances or {})
    undecided = False
    for name in conditions:
        if name in known:
            holds: bool | None = bool(known[name])
        elif name in DEMOGRAPHIC_CONDITIONS and life_stage is not None:
            holds = life_stage in DEMOGRAPHIC_CONDITIONS[name]
        else:
            holds = None
        if holds is False:
            return False
        undecided = undecided or holds is None
    return None if undecided else True


def circumstance_names(nodes: Iterable[Any]) -> tuple[str, ...]:
    """The conditions of ``nodes`` that a profile must settle: those not decided by the life stage, in
    the order of :data:`CONDITIONS` (empty when no node has one)."""
    used = {c for node in nodes for c in getattr(node, "applies_when", ())}
    return tuple(c for c in CONDITIONS if c in used and c not in DEMOGRAPHIC_CONDITIONS)
