"""The sunburst plot of a taxonomy's domain distribution (the paper's Figure 3)."""

from __future__ import annotations

import colorsys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError
from ._node import AttributeNode

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

__all__ = ["save_matplotlib_sunburst", "sunburst_figure"]

_MATPLOTLIB_SUFFIXES = frozenset({".png", ".svg", ".pdf", ".jpg", ".jpeg"})


def _subtree_sizes(roots: Sequence[AttributeNode]) -> dict[int, int]:
    sizes: dict[int, int] = {}

    def count(node: AttributeNode) -> int:
        total = 1 + sum(count(c) for c in node.children)
        sizes[id(node)] = total
        return total

    for root in roots:
        count(root)
    return sizes


def sunburst_figure(roots: Sequence[AttributeNode], *, levels: int, title: str | None) -> go.Figure:
    """Build a plotly sunburst of the tree; wedge size is the number of nodes beneath.

    Args:
        roots: The root-category nodes.
        levels: How many levels to draw (sizes still count every node beneath).
        title: The figure title.

    Returns:
        A plotly figure.
    """
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - plotly is a required dependency
        raise MissingDependencyError("plot_sunburst needs plotly: pip install plotly") from exc
    sizes = _subtree_sizes(roots)
    ids: list[str] = []
    labels: list[str] = []
    parents: list[str] = []
    values: list[int] = []
    hover: list[str] = []

    def add(node: AttributeNode, parent_id: str) -> None:
        ids.append(node.key)
        labels.append(node.name)
        parents.append(parent_id)
        values.append(sizes[id(node)])
        hover.append(node.description or "")
        if node.depth < levels:
            for child in node.children:
                add(child, node.key)

    for root in roots:
        add(root, "")
    fig = go.Figure(
        go.Sunburst(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            customdata=hover,
            hovertemplate="<b>%{label}</b><br>%{value} nodes<br>%{customdata}<extra></extra>",
            insidetextorientation="radial",
        )
    )
    fig.update_layout(
        title=title, margin={"t": 50 if title else 10, "l": 10, "r": 10, "b": 10}, width=900, height=900
    )
    return fig


def _lighten(rgb: tuple[float, float, float], amount: float) -> tuple[float, float, float]:
    h, lum, s = colorsys.rgb_to_hls(*rgb)
    return colorsys.hls_to_rgb(h, min(1.0, lum + (1.0 - lum) * amount), s)


def save_matplotlib_sunburst(roots: Sequence[AttributeNode], path: Path, *, title: str | None) -> None:
    """Draw a two-ring sunburst (root categories inside, level 2 outside, labelled) with matplotlib.

    Uses the Agg canvas directly, so no display or browser is needed and pyplot's global state is
    left alone.

    Args:
        roots: The root-category nodes.
        path: The output file (``.png``, ``.svg``, ``.pdf`` or ``.jpg``).
        title: The figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sizes = _subtree_sizes(roots)
    inner_sizes: list[int] = []
    inner_colors: list[Any] = []
    inner_labels: list[str] = []
    outer_sizes: list[int] = []
    outer_colors: list[Any] = []
    outer_labels: list[str] = []
    for index, root in enumerate(roots):
        base = colorsys.hsv_to_rgb(index / max(len(roots), 1), 0.6, 0.82)
        inner_sizes.append(sizes[id(root)])
        inner_colors.append(base)
        inner_labels.append(textwrap.fill(root.name, 16))
        outer_sizes.append(1)  # the root node itself, so the outer ring lines up with the inner one
        outer_colors.append((1.0, 1.0, 1.0))
        outer_labels.append("")
        for cindex, child in enumerate(root.children):
            outer_sizes.append(sizes[id(child)])
            outer_colors.append(_lighten(base, 0.2 + 0.25 * (cindex % 3)))
            outer_labels.append(child.name)
    fig = Figure(figsize=(14, 14))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    wedge = {"edgecolor": "white", "linewidth": 0.6}
    if roots:
        ax.pie(
            outer_sizes,
            radius=1.0,
            colors=outer_colors,
            labels=outer_labels,
            labeldistance=1.01,
            rotatelabels=True,
            textprops={"fontsize": 4.5 if len(outer_labels) > 150 else 7},
            wedgeprops={**wedge, "width": 0.35},
            startangle=90,
            counterclock=False,
        )
        ax.pie(
            inner_sizes,
            radius=0.65,
            colors=inner_colors,
            labels=inner_labels,
            labeldistance=0.68,
            textprops={"fontsize": 8, "ha": "center", "va": "center"},
            wedgeprops={**wedge, "width": 0.4},
            startangle=90,
            counterclock=False,
        )
    ax.set(aspect="equal")
    if title:
        ax.set_title(title, fontsize=14)
    fig.savefig(path, dpi=150, bbox_inches="tight")


def check_plot_suffix(path: Path) -> str:
    """Return ``"html"`` or ``"matplotlib"`` for an output path, or raise :class:`ConfigError`."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in _MATPLOTLIB_SUFFIXES:
        return "matplotlib"
    raise ConfigError(
        f"cannot save a sunburst as {path.name!r}: use a .html path (interactive, plotly) or "
        ".png/.svg/.pdf/.jpg (static, matplotlib)"
    )
