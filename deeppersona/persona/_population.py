"""A list-like collection of personas with export, statistics and plots."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from ..errors import DataFileError, DataFileNotFoundError
from ..llm._base import Usage
from ._models import STRATA, Persona

if TYPE_CHECKING:
    import pandas
    from matplotlib.axes import Axes

    from ..taxonomy import AttributeTree

__all__ = ["Population", "PopulationStats", "read_jsonl_personas"]

logger = logging.getLogger(__name__)

_MARGINAL_FIELDS = ("country", "gender", "life_stage", "occupation_group")
_AGE_BANDS = ((0, 17, "<18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"),
              (55, 64, "55-64"), (65, 200, "65+"))  # fmt: skip


@dataclass(frozen=True)
class PopulationStats:
    """Summary statistics of a population (see :meth:`Population.stats`).

    Attributes:
        n: Number of finished personas.
        failed: Number of failed personas.
        attributes_per_persona: ``{"mean", "min", "max"}`` of attributes per persona (anchors included).
        strata: Mean count per stratum and persona.
        root_coverage: Root category → fraction of personas with at least one attribute in it.
        level_coverage: Level (1, 2, 3) → fraction of that level's tree nodes that some persona reached
            (only when a tree was given; else the number of distinct nodes reached per level).
        distinct_attributes: Number of distinct attribute paths across the population.
        marginals: Demographic field → value → share of personas (ages in bands).
        usage: Total LLM usage.
    """

    n: int
    failed: int
    attributes_per_persona: dict[str, float]
    strata: dict[str, float]
    root_coverage: dict[str, float]
    level_coverage: dict[int, float]
    distinct_attributes: int
    marginals: dict[str, dict[str, float]]
    usage: Usage = field(default_factory=Usage)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a JSON-compatible dict."""
        return {
            "n": self.n,
            "failed": self.failed,
            "attributes_per_persona": self.attributes_per_persona,
            "strata": self.strata,
            "root_coverage": self.root_coverage,
            "level_coverage": {str(k): v for k, v in self.level_coverage.items()},
            "distinct_attributes": self.distinct_attributes,
            "marginals": self.marginals,
            "usage": self.usage.model_dump(),
        }


def _age_band(age: Any) -> str:
    try:
        a = int(age)
    except (TypeError, ValueError):
        return "unknown"
    for lo, hi, label in _AGE_BANDS:
        if lo <= a <= hi:
            return label
    return "unknown"


class Population(Sequence[Persona]):
    """An ordered collection of complete personas, with the incomplete and failed ones kept aside.

    Behaves like a list of :class:`Persona` (``len``, indexing, slicing, iteration) over the personas
    whose status is ``"ok"``; the others are in :attr:`failures` (see also :attr:`incomplete`).

    Args:
        personas: The personas (any that are not ``ok`` go to ``failures``).
        failures: Personas that are not complete (``status`` ``"incomplete"`` or ``"failed"``, with a
            reason in ``failure`` and the missing parts in ``missing``).

    Example:
        >>> pop = Population([])
        >>> len(pop), pop.failures
        (0, [])
    """

    def __init__(self, personas: Iterable[Persona] = (), *, failures: Iterable[Persona] = ()) -> None:
        items = list(personas)
        self._personas = [p for p in items if p.ok]
        self.failures: list[Persona] = [p for p in items if not p.ok] + list(failures)

    # -- sequence protocol -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._personas)

    @overload
    def __getitem__(self, index: int) -> Persona: ...

    @overload
    def __getitem__(self, index: slice) -> Population: ...

    def __getitem__(self, index: int | slice) -> Persona | Population:
        if isinstance(index, slice):
            return Population(self._personas[index])
        return self._personas[index]

    def __iter__(self) -> Iterator[Persona]:
        return iter(self._personas)

    def __add__(self, other: Population) -> Population:
        if not isinstance(other, Population):
            return NotImplemented
        return Population(self._personas + other._personas, failures=self.failures + other.failures)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Population):
            return NotImplemented
        return self._personas == other._personas and self.failures == other.failures

    __hash__ = None  # type: ignore[assignment]

    @property
    def incomplete(self) -> list[Persona]:
        """The personas that finished with missing parts (``status == "incomplete"``)."""
        return [p for p in self.failures if p.status == "incomplete"]

    def __repr__(self) -> str:
        failed = sum(1 for p in self.failures if p.status != "incomplete")
        incomplete = len(self.failures) - failed
        extra = f", {incomplete} incomplete" if incomplete else ""
        return f"Population({len(self)} personas{extra}, {failed} failed)"

    # -- accounting ------------------------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        """Total LLM usage of every persona, failed ones included."""
        return sum((p.usage for p in [*self._personas, *self.failures]), Usage())

    # -- files -----------------------------------------------------------------------------------------

    def to_jsonl(self, path: str | Path, *, include_failures: bool = False) -> Path:
        """Write one JSON line per persona and return the path.

        Args:
            path: The output file (overwritten).
            include_failures: Also write the failed personas.
        """
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        items = [*self._personas, *(self.failures if include_failures else [])]
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for p in items:
                fh.write(p.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(out)
        return out

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Population:
        """Read a population written by :meth:`to_jsonl` or :meth:`PersonaEngine.generate_to`.

        A truncated last line (an interrupted write) is skipped with a warning.

        Raises:
            DataFileNotFoundError: The file does not exist.
            DataFileError: A line other than the last one is not a persona.
        """
        return cls(read_jsonl_personas(path))

    # -- analysis --------------------------------------------------------------------------------------

    def to_pandas(self, *, attributes: bool = False) -> pandas.DataFrame:
        """Return one row per persona: id, index, demographics, core fields and attribute counts.

        Args:
            attributes: Also add one column per attribute path (wide format; sparse across personas).
        """
        import pandas as pd

        rows = []
        for p in self._personas:
            row: dict[str, Any] = {"id": p.id, "index": p.index, "seed": p.seed}
            row.update({k: v for k, v in p.demographics.items()})
            if p.core is not None:
                row["values_polarity"] = p.core.values_polarity
                row["values_orientation"] = p.core.values_orientation
                row["attitude"] = p.core.attitude
                row["interests"] = list(p.core.interests)
            row["n_attributes"] = len(p.attributes)
            row["narrative"] = p.narrative
            if attributes:
                row.update({path: a.value for path, a in p.attributes.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def attributes_frame(self) -> pandas.DataFrame:
        """Return the attributes in long format: persona id, path, root, level, value, stratum."""
        import pandas as pd

        rows = [
            {
                "persona_id": p.id,
                "path": path,
                "root": a.path[0] if a.path else None,
                "level": len(a.path) if a.path else None,
                "value": a.value,
                "stratum": a.stratum,
            }
            for p in self._personas
            for path, a in p.attributes.items()
        ]
        return pd.DataFrame(rows, columns=["persona_id", "path", "root", "level", "value", "stratum"])

    def stats(self, tree: AttributeTree | None = None) -> PopulationStats:
        """Summarise the population.

        Args:
            tree: The taxonomy the personas were drawn from; with it, coverage is a fraction of the tree's
                nodes per level and every root category is listed (also the ones no persona reached).
        """
        people = self._personas
        n = len(people)
        counts = [len(p.attributes) for p in people]
        per = (
            {"mean": sum(counts) / n, "min": float(min(counts)), "max": float(max(counts))}
            if n
            else {"mean": 0.0, "min": 0.0, "max": 0.0}
        )
        strata_totals: Counter[str] = Counter()
        roots_per_persona: Counter[str] = Counter()
        reached: dict[int, set[tuple[str, ...]]] = {1: set(), 2: set(), 3: set()}
        distinct: set[str] = set()
        for p in people:
            strata_totals.update(a.stratum for a in p.attributes.values())
            roots: set[str] = set()
            for path, a in p.attributes.items():
                distinct.add(path)
                if not a.path or a.stratum == "custom":
                    continue
                roots.add(a.path[0])
                for level in range(1, min(len(a.path), 3) + 1):
                    reached[level].add(tuple(a.path[:level]))
            roots_per_persona.update(roots)
        strata = {
            s: (strata_totals.get(s, 0) / n if n else 0.0)
            for s in (*STRATA, *sorted(set(strata_totals) - set(STRATA)))
        }
        root_names: list[str] = sorted(roots_per_persona)
        level_cov: dict[int, float]
        if tree is not None:
            root_names = [r.name for r in tree.roots]
            level_cov = {}
            for level in (1, 2, 3):
                nodes = {tuple(node.path) for node in tree.nodes() if node.depth == level and not node.core}
                if nodes:
                    level_cov[level] = len(nodes & reached[level]) / len(nodes)
        else:
            level_cov = {level: float(len(paths)) for level, paths in reached.items()}
        root_cov = {r: (roots_per_persona.get(r, 0) / n if n else 0.0) for r in root_names}
        marginals: dict[str, dict[str, float]] = {}
        if n:
            for name in _MARGINAL_FIELDS:
                c = Counter(
                    str(p.demographics.get(name)) for p in people if p.demographics.get(name) is not None
                )
                if c:
                    marginals[name] = {k: v / n for k, v in c.most_common()}
            ages = Counter(_age_band(p.demographics.get("age")) for p in people)
            marginals["age"] = {
                label: ages.get(label, 0) / n for _, _, label in _AGE_BANDS if ages.get(label)
            }
        return PopulationStats(
            n=n,
            failed=len(self.failures),
            attributes_per_persona=per,
            strata=strata,
            root_coverage=root_cov,
            level_coverage=level_cov,
            distinct_attributes=len(distinct),
            marginals=marginals,
            usage=self.usage,
        )

    def plot_coverage(self, tree: AttributeTree | None = None, *, ax: Axes | None = None) -> Axes:
        """Draw a horizontal bar chart: share of personas reaching each root category.

        Args:
            tree: The taxonomy (lists roots no persona reached too).
            ax: A matplotlib axes to draw on; a new figure when ``None``.

        Returns:
            The matplotlib axes.
        """
        import matplotlib.pyplot as plt

        stats = self.stats(tree)
        names = list(stats.root_coverage)
        values = [stats.root_coverage[r] for r in names]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.35 * max(len(names), 3) + 1))
        ax.barh(names[::-1], values[::-1], color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of personas with an attribute in the category")
        ax.set_title(f"Taxonomy coverage ({stats.n} personas)")
        return ax

    def plot_marginal(self, field: str = "age", *, ax: Axes | None = None) -> Axes:
        """Draw a bar chart of one demographic marginal (``"age"`` in bands, ``"gender"``, ``"country"`` ...)."""
        import matplotlib.pyplot as plt

        if field == "age":
            shares = self.stats().marginals.get("age", {})
        else:
            n = len(self) or 1
            c = Counter(str(p.demographics.get(field)) for p in self if p.demographics.get(field) is not None)
            shares = {k: v / n for k, v in c.most_common(20)}
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(list(shares), list(shares.values()), color="#55a868")
        ax.set_ylabel("share of personas")
        ax.set_title(field)
        ax.tick_params(axis="x", rotation=45)
        return ax

    def _repr_html_(self) -> str:
        import html

        head = "".join(
            f"<tr><td>{html.escape(p.id)}</td><td>{html.escape(repr(p))}</td></tr>"
            for p in self._personas[:10]
        )
        more = f"<p>… {len(self) - 10} more</p>" if len(self) > 10 else ""
        return f"<div><b>{html.escape(repr(self))}</b><table>{head}</table>{more}</div>"


def read_jsonl_personas(path: str | Path) -> list[Persona]:
    """Read personas from a JSONL file, skipping a truncated last line.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: A line other than the last one is not a persona.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"persona file {str(p)!r} does not exist")
    lines = p.read_bytes().split(b"\n")
    out: list[Persona] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == len(lines)  # the text after the final newline: a write that never finished
        try:
            out.append(Persona.model_validate(json.loads(raw)))
        except (ValueError, TypeError) as exc:
            if last:
                logger.warning("%s: skipping a truncated last line (an interrupted write)", p)
                break
            raise DataFileError(f"{p}:{number}: not a deeppersona persona: {str(exc)[:200]}") from exc
    return out
