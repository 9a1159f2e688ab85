"""Plot sampled marginals against the source tables (matplotlib, imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_PANELS: tuple[tuple[str, str], ...] = (
    ("age_group", "Age group"),
    ("gender", "Gender"),
    ("life_stage", "Life stage"),
    ("occupation_group", "Occupation group"),
    ("city", "City"),
    ("country", "Country"),
)


def plot_comparison(table: pd.DataFrame) -> Figure:
    """Draw expected (bars) vs observed (dots) shares for each variable of a comparison table.

    Six panels on a 3 × 2 grid, 15 × 10 inches (1,500 pixels wide at matplotlib's default 100 dpi).

    Args:
        table: What ``DemographicSampler.compare_marginals`` returns.

    Returns:
        The matplotlib figure (built without pyplot; it also renders inline in a notebook).
    """
    from .._figure import panel_grid

    fig, axes = panel_grid(len(_PANELS), panel=(5.0, 5.0), max_columns=3)
    for ax, (var, title) in zip(axes, _PANELS, strict=True):
        part = table[table["variable"] == var]
        if var == "country" and len(part) <= 1:
            part = table[table["variable"] == "occupation"].head(10)
            title = "Occupation (top)"
        y = np.arange(len(part))
        ax.barh(y, part["expected"], color="#9ecae1", label="tables")
        ax.plot(part["observed"], y, "o", color="#08519c", markersize=4, label="sample")
        ax.set_yticks(y)
        ax.set_yticklabels([str(c)[:32] for c in part["category"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlabel("share")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Sampled marginals vs. source tables")
    return fig
