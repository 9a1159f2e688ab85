"""Small HTML building blocks for the notebook views (``_repr_html_``) of reports.

Every view is a ``<div>`` with a bold title, small tables and short notes, the look of
:class:`~deeppersona.evaluation.QualityReport`'s view. All text goes through :func:`html.escape`, so a persona
set named ``<script>`` shows as text; numbers are right-aligned. Nothing heavy is imported here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Iterable, Sequence
from numbers import Integral, Real

__all__ = ["html_items", "html_note", "html_number", "html_report", "html_table"]

_RIGHT = " style='text-align:right'"


def html_number(value: object, digits: int = 3) -> str:
    """Format a number for a table cell: ``–`` for NaN or ``None``, ``digits`` decimals for floats."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    number = float(value)
    return "–" if math.isnan(number) else f"{number:.{digits}f}"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    digits: int = 3,
    right: Collection[int] = (),
) -> str:
    """Return an HTML table; numbers are formatted with :func:`html_number` and right-aligned.

    Args:
        header: The column titles.
        rows: The cells of each row (numbers or text; text is escaped).
        digits: Decimals shown for floats.
        right: Indices of further columns to right-align (e.g. text cells holding ``value [lo, hi]``).
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            numeric = isinstance(value, Real) and not isinstance(value, bool)
            text = html_number(value, digits) if numeric else str(value)
            cells.append(f"<td{_RIGHT if numeric or i in right else ''}>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_note(label: str, text: str) -> str:
    """Return a paragraph ``<b>label:</b> text`` (both escaped)."""
    return f"<p><b>{html.escape(label)}:</b> {html.escape(text)}</p>"


def html_items(label: str, items: Iterable[str]) -> str:
    """Return a bold label and a bullet list of ``items`` (escaped); empty when there are none."""
    lis = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f"<p><b>{html.escape(label)}</b></p><ul>{lis}</ul>" if lis else ""


def html_report(title: str, subtitle: str, *parts: str) -> str:
    """Return the view: ``<div><b>title</b> (subtitle)`` followed by ``parts`` (already HTML)."""
    sub = f" ({html.escape(subtitle)})" if subtitle else ""
    return f"<div><b>{html.escape(title)}</b>{sub}{''.join(parts)}</div>"
