"""Which taxonomy leaves inform the survey items the Evaluator uses, and whether a tree has them."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ._surveys import packaged_instrument

if TYPE_CHECKING:
    from ..taxonomy import AttributeTree

__all__ = ["survey_coverage", "survey_leaves"]


def survey_leaves(survey: str) -> dict[str, list[str]]:
    """The default-tree leaves that inform each item of a packaged survey (``"wvs7"`` or ``"ipip50"``).

    Returns:
        Item id → leaf paths (``"Q46"`` → ``["Psychological and Cognitive Aspects > Life Attitude >
        Overall Happiness"]``); IPIP items get the leaves of their trait.

    Raises:
        ConfigError: No packaged survey of that name.
    """
    mapping = json.loads(
        resources.files("deeppersona")
        .joinpath("data", "taxonomy", "survey_map.json")
        .read_text(encoding="utf-8")
    )
    if survey not in mapping or survey == "about":
        raise ConfigError(f"no survey map for {survey!r}; available: wvs7, ipip50")
    instrument = packaged_instrument(survey)
    table: dict[str, list[str]] = mapping[survey]
    out: dict[str, list[str]] = {}
    for item in instrument.items:
        key = item.id if item.id in table else (item.trait or "")
        out[item.id] = list(table.get(key, []))
    return out


def survey_coverage(tree: AttributeTree, survey: str) -> dict[str, list[str]]:
    """For each item of ``survey``, the mapped leaves that ``tree`` has (an empty list: not covered).

    Example:
        >>> from deeppersona import AttributeTree
        >>> uncovered = [i for i, paths in survey_coverage(AttributeTree.default(), "wvs7").items() if not paths]
    """
    return {
        item: [p for p in paths if tree.find(p) is not None] for item, paths in survey_leaves(survey).items()
    }
