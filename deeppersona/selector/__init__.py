"""Attribute selection: which taxonomy attributes each persona gets (paper §3.2).

* :class:`AttributeSelector` — the base class to subclass for custom cohorts.
* :class:`StratifiedSelector` — the default: near/middle/far strata (5:3:2) and a stochastic
  breadth-first walk favouring long-tail branches, with a population coverage schedule.
* :class:`UniformSelector` — a uniform random baseline (an ablation).
"""

from __future__ import annotations

from ._base import AttributeSelector, SelectedAttribute, SelectionContext, node_text
from ._stratified import StratifiedSelector, UniformSelector

__all__ = [
    "AttributeSelector",
    "SelectedAttribute",
    "SelectionContext",
    "StratifiedSelector",
    "UniformSelector",
    "node_text",
]
