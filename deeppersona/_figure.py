"""Matplotlib figures for reports: built without pyplot, shown inline in notebooks, wrapped to a grid.

Import this module inside plot methods only (it imports matplotlib). Figures are made with
:class:`matplotlib.figure.Figure` directly, so no global pyplot state is touched and nothing is left open.

IPython renders a plain ``Figure`` as an image only once matplotlib's inline backend has been loaded, which
happens when pyplot draws something; until then a notebook cell shows ``<Figure size 1040x840 with 14 Axes>``.
:class:`ReportFigure` adds ``_repr_png_``, so a report's figure shows inline in any case. When the inline backend
is active, IPython's own figure formatter takes precedence and the figure looks like any other.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MAX_COLUMNS", "SAVE_DPI", "ReportFigure", "new_figure", "panel_grid", "save_figure"]

MAX_COLUMNS = 4
"""Panels per row of a multi-panel figure before it wraps to the next row."""

SAVE_DPI = 120
"""Resolution of the files the reports' ``path=`` arguments write."""


class ReportFigure(Figure):
    """A matplotlib ``Figure`` that also renders itself as PNG in IPython and Jupyter."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_figure(width: float, height: float) -> ReportFigure:
    """Return an empty figure of ``width`` × ``height`` inches with constrained layout."""
    return ReportFigure(figsize=(width, height), layout="constrained")


def panel_grid(
    n: int, *, panel: tuple[float, float], max_columns: int = MAX_COLUMNS
) -> tuple[ReportFigure, list[Axes]]:
    """Return a figure with ``n`` panels on a grid of at most ``max_columns`` columns, and its ``n`` axes.

    The rows are balanced: five panels make rows of three and two rather than four and one. Cells of the last
    row beyond ``n`` are hidden. At least one panel is made.

    Args:
        n: How many panels.
        panel: Width and height of one panel, in inches.
        max_columns: Panels per row before wrapping.
    """
    n = max(1, n)
    nrows = math.ceil(n / max_columns)
    ncols = math.ceil(n / nrows)
    fig = new_figure(panel[0] * ncols, panel[1] * nrows)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def save_figure(fig: Figure, path: str | Path | None) -> None:
    """Save ``fig`` to ``path`` (format from its suffix, e.g. ``.png``) at :data:`SAVE_DPI`, making parent folders.

    Nothing is saved when ``path`` is ``None``.
    """
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=SAVE_DPI, bbox_inches="tight")
