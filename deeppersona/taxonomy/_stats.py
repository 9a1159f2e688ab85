"""Summary statistics of a taxonomy."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TaxonomyStats"]


@dataclass(frozen=True)
class TaxonomyStats:
    """Counts that describe an :class:`AttributeTree`.

    Attributes:
        nodes: Number of nodes, root categories included.
        leaves: Number of nodes without children.
        per_root: Nodes under each root category (the root itself included), in tree order.
        depth_histogram: Number of nodes at each level (1 = root categories).
        core: Number of nodes marked as core attributes.
        described: Number of nodes with a description.
        described_leaves: Number of leaves with a description.
        typed_leaves: Leaves with a value type, by kind (``{"categorical": 900, "text": 1800, ...}``).
        conditional_leaves: Number of leaves with applicability conditions.
        conditions: How many leaves name each applicability condition.
        supported: Number of nodes with a disclosure support.
    """

    nodes: int
    leaves: int
    per_root: dict[str, int]
    depth_histogram: dict[int, int]
    core: int
    described: int
    described_leaves: int = 0
    typed_leaves: dict[str, int] = field(default_factory=dict)
    conditional_leaves: int = 0
    conditions: dict[str, int] = field(default_factory=dict)
    supported: int = 0

    @property
    def typed_share(self) -> float:
        """The share of leaves with a value type (0 for a tree without leaves)."""
        return sum(self.typed_leaves.values()) / self.leaves if self.leaves else 0.0

    @property
    def described_share(self) -> float:
        """The share of leaves with a description."""
        return self.described_leaves / self.leaves if self.leaves else 0.0

    @property
    def roots(self) -> int:
        """Number of root categories."""
        return len(self.per_root)

    @property
    def max_depth(self) -> int:
        """The deepest level present (0 for an empty tree)."""
        return max(self.depth_histogram, default=0)

    def as_dict(self) -> dict[str, Any]:
        """Return the statistics as a plain dict (JSON-ready)."""
        out = asdict(self)
        out["depth_histogram"] = {str(k): v for k, v in self.depth_histogram.items()}
        return out

    def __repr__(self) -> str:
        return (
            f"TaxonomyStats(nodes={self.nodes}, leaves={self.leaves}, roots={self.roots}, "
            f"max_depth={self.max_depth}, depth_histogram={self.depth_histogram}, core={self.core})"
        )

    def __str__(self) -> str:
        width = max((len(name) for name in self.per_root), default=4)
        lines = [
            f"{self.nodes} nodes, {self.leaves} leaves, {self.roots} root categories, "
            f"max depth {self.max_depth}, {self.core} core",
            "levels: " + ", ".join(f"{d}: {n}" for d, n in sorted(self.depth_histogram.items())),
            f"leaves typed {self.typed_share:.1%} "
            + (
                "(" + ", ".join(f"{k} {n}" for k, n in self.typed_leaves.items()) + ")"
                if self.typed_leaves
                else ""
            )
            + f", described {self.described_share:.1%}, with applicability conditions {self.conditional_leaves}"
            + (
                " (" + ", ".join(f"{k} {n}" for k, n in self.conditions.items()) + ")"
                if self.conditions
                else ""
            )
            + f", nodes with support {self.supported}",
        ]
        for name, count in self.per_root.items():
            share = 100.0 * count / self.nodes if self.nodes else 0.0
            lines.append(f"  {name:<{width}}  {count:>6}  {share:5.1f}%")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{count}</td>"
            f"<td style='text-align:right'>{(100.0 * count / self.nodes if self.nodes else 0):.1f}%</td></tr>"
            for name, count in self.per_root.items()
        )
        levels = ", ".join(f"L{d}: {n}" for d, n in sorted(self.depth_histogram.items()))
        return (
            f"<div><b>TaxonomyStats</b>: {self.nodes} nodes, {self.leaves} leaves, "
            f"{self.core} core; {levels}"
            f"<table><thead><tr><th>root category</th><th>nodes</th><th>share</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
