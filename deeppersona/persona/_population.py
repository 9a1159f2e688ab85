"""A list-like collection of personas with export, statistics and plots."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .._jsonl import iter_lines
from ..errors import ConfigError, DataFileError, DataFileNotFoundError, DuplicatePersonaError
from ..llm._base import Usage
from ._models import STRATA, Persona

if TYPE_CHECKING:
    import datasets
    import pandas
    import pyarrow
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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

    def _repr_html_(self) -> str:
        from ._render import stats_html

        return stats_html(self)


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
    ``a + b`` concatenates and refuses repeated persona ids (see :meth:`concat`). Every persona
    round-trips through JSONL, records, pandas, Arrow, Parquet and Hugging Face datasets
    (:meth:`to_records`, :meth:`to_parquet`, :meth:`to_hf_dataset` and their ``from_`` twins).

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
        """Concatenate two populations; refuses personas that share an id (see :meth:`concat`).

        Raises:
            DuplicatePersonaError: A persona id occurs in both (or twice in one).
        """
        if not isinstance(other, Population):
            return NotImplemented
        return Population.concat([self, other])

    @classmethod
    def concat(
        cls, populations: Iterable[Population], *, duplicates: Literal["raise", "drop"] = "raise"
    ) -> Population:
        """Concatenate populations (complete personas and failures alike), in order.

        Persona ids include a fingerprint of the run configuration, so two personas with the same id are
        the same persona of the same run, generated or loaded twice.

        Args:
            populations: The populations to join.
            duplicates: ``"raise"`` (the default, also what ``a + b`` does) refuses a repeated id;
                ``"drop"`` keeps the first persona of each id (a complete one wins over a failed or
                incomplete one with the same id) and logs how many were dropped.

        Returns:
            A new population.

        Raises:
            DuplicatePersonaError: ``duplicates="raise"`` and an id occurs more than once.
            ConfigError: ``duplicates`` is not ``"raise"`` or ``"drop"``, or an item is not a Population.

        Example:
            >>> both = Population.concat([Population([]), Population([])])
            >>> len(both)
            0
        """
        if duplicates not in ("raise", "drop"):
            raise ConfigError(f"duplicates must be 'raise' or 'drop', got {duplicates!r}")
        items = list(populations)
        for item in items:
            if not isinstance(item, Population):
                raise ConfigError(f"concat() takes Populations, got a {type(item).__name__}")
        personas = [p for pop in items for p in pop._personas]
        failures = [p for pop in items for p in pop.failures]
        joined = cls(personas, failures=failures)
        repeated = joined.duplicate_ids()
        if not repeated:
            return joined
        if duplicates == "raise":
            shown = ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else "")
            raise DuplicatePersonaError(
                f"{len(repeated)} persona id(s) occur more than once ({shown}): the same run was "
                "generated or loaded twice; use Population.concat([...], duplicates='drop') to keep the "
                "first of each",
                ids=repeated,
            )
        seen: set[str] = set()
        kept: list[Persona] = []
        for p in personas:
            if p.id not in seen:
                seen.add(p.id)
                kept.append(p)
        kept_failures: list[Persona] = []
        for p in failures:
            if p.id not in seen:
                seen.add(p.id)
                kept_failures.append(p)
        dropped = len(personas) + len(failures) - len(kept) - len(kept_failures)
        logger.info("concat: dropped %d persona(s) with a repeated id", dropped)
        return cls(kept, failures=kept_failures)

    def duplicate_ids(self) -> list[str]:
        """Return the ids held by more than one persona (failures included), in order of first appearance."""
        counts = Counter(p.id for p in [*self._personas, *self.failures])
        return [pid for pid, count in counts.items() if count > 1]

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

    # -- tables: records, pandas, Arrow, Parquet, Hugging Face -----------------------------------------

    def _table_personas(self, include_failures: bool) -> list[Persona]:
        return [*self._personas, *(self.failures if include_failures else [])]

    def to_records(self, *, include_failures: bool = True) -> list[dict[str, Any]]:
        """Return one Arrow-safe dict per persona: the persona table (see the Personas guide).

        Fixed-shape parts are plain values (``id``, ``seed``, ``index``, ``status``, ``failure``,
        ``narrative``, ``warnings``), each attribute is a dict with its value as JSON text and a
        ``kind``, and the free-form parts (``demographics``, ``anchors``, ``core``, ``provenance`` ...)
        are JSON text. :meth:`from_records` reads it back exactly.

        Args:
            include_failures: Also include the incomplete and failed personas (their ``status`` says
                which), so that the round trip gives back the whole population.
        """
        from ._table import persona_row

        return [persona_row(p) for p in self._table_personas(include_failures)]

    @classmethod
    def from_records(cls, records: Iterable[Any]) -> Population:
        """Build a population from records: persona table rows (:meth:`to_records`, rows of a Parquet
        file or a Hugging Face dataset), :meth:`Persona.to_dict` dicts (JSONL lines), or Persona objects.

        Personas that are not ``ok`` go to :attr:`failures`. Repeated ids are kept (see
        :meth:`duplicate_ids`).

        Raises:
            DataFileError: A record is not a persona (the message names the record and the problem).
            ConfigError: ``records`` is a single record or a string instead of a collection.
        """
        from ._table import persona_from_row

        if isinstance(records, (str, bytes, Mapping, Persona)):
            raise ConfigError(
                f"from_records() takes a collection of records, got a single {type(records).__name__}; "
                "wrap it in a list"
            )
        return cls([persona_from_row(row, f"record {i}") for i, row in enumerate(records)])

    @classmethod
    def from_pandas(cls, frame: pandas.DataFrame) -> Population:
        """Build a population from a DataFrame of persona table rows.

        Reads what :meth:`to_records` gives (``pandas.DataFrame(population.to_records())``), a Parquet
        file read with pandas (``pandas.read_parquet``), a Hugging Face dataset's ``to_pandas()``, or a
        frame of :meth:`Persona.to_dict` rows. :meth:`to_pandas` is an analysis view (demographics
        spread into columns, attributes optional) that does not hold whole personas, so it is refused
        with a hint.

        Raises:
            DataFileError: A row is not a persona.
            ConfigError: ``frame`` is not a DataFrame.
        """
        if not callable(getattr(frame, "to_dict", None)) or not hasattr(frame, "columns"):
            raise ConfigError(f"from_pandas() takes a pandas DataFrame, got a {type(frame).__name__}")
        return cls.from_records(frame.to_dict(orient="records"))

    def to_arrow(self, *, include_failures: bool = True) -> pyarrow.Table:
        """Return the persona table as a ``pyarrow.Table`` (needs the ``parquet`` extra).

        Args:
            include_failures: Also include the incomplete and failed personas.

        Raises:
            MissingDependencyError: pyarrow is not installed.
        """
        from ._table import to_table

        return to_table(self._table_personas(include_failures))

    @classmethod
    def from_arrow(cls, table: pyarrow.Table) -> Population:
        """Build a population from a ``pyarrow.Table`` written by :meth:`to_arrow`.

        Raises:
            DataFileError: A row is not a persona.
            ConfigError: ``table`` is not an Arrow table.
        """
        if not callable(getattr(table, "to_pylist", None)):
            raise ConfigError(f"from_arrow() takes a pyarrow.Table, got a {type(table).__name__}")
        return cls.from_records(table.to_pylist())

    def to_parquet(self, path: str | Path, *, include_failures: bool = True) -> Path:
        """Write the persona table to a Parquet file and return the path (needs the ``parquet`` extra).

        Every field of every persona is kept; :meth:`from_parquet` gives back an equal population. The
        file is written to a temporary name first and moved into place, so a crash never leaves half
        a file.

        Args:
            path: The output file (overwritten).
            include_failures: Also write the incomplete and failed personas (``status`` says which).

        Raises:
            MissingDependencyError: pyarrow is not installed.
        """
        from ._table import import_pyarrow, to_table

        import_pyarrow()
        import pyarrow.parquet as pq

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        table = to_table(self._table_personas(include_failures))
        tmp = out.with_name(out.name + ".tmp")
        try:
            pq.write_table(table, tmp)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    @classmethod
    def from_parquet(cls, path: str | Path) -> Population:
        """Read a population written by :meth:`to_parquet` (needs the ``parquet`` extra).

        Raises:
            DataFileNotFoundError: The file does not exist.
            DataFileError: The file is not Parquet, or its rows are not personas.
            MissingDependencyError: pyarrow is not installed.
        """
        from ._table import import_pyarrow

        import_pyarrow()
        import pyarrow.parquet as pq

        p = Path(path)
        if not p.is_file():
            raise DataFileNotFoundError(f"persona file {str(p)!r} does not exist")
        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError ... for a file that is not Parquet
            raise DataFileError(f"{p}: not a Parquet file: {str(exc)[:200]}") from exc
        try:
            return cls.from_arrow(table)
        except DataFileError as exc:
            raise DataFileError(f"{p}: {exc}") from exc

    def to_hf_dataset(self, *, include_failures: bool = True) -> datasets.Dataset:
        """Return the persona table as a Hugging Face ``datasets.Dataset`` (needs the ``datasets`` extra).

        Push it with ``dataset.push_to_hub(...)`` or save it with ``dataset.save_to_disk(...)``;
        :meth:`from_hf_dataset` reads it back.

        Args:
            include_failures: Also include the incomplete and failed personas.

        Raises:
            MissingDependencyError: datasets (or pyarrow) is not installed.
        """
        from ._table import import_datasets, to_table

        hf = import_datasets()
        table = to_table(self._table_personas(include_failures))
        return hf.Dataset(hf.table.InMemoryTable(table))

    @classmethod
    def from_hf_dataset(cls, dataset: datasets.Dataset) -> Population:
        """Build a population from a Hugging Face dataset of persona table rows (:meth:`to_hf_dataset`,
        or one loaded with ``datasets.load_dataset`` / ``load_from_disk``).

        Raises:
            ConfigError: ``dataset`` is a ``DatasetDict`` (pick a split: ``dataset["train"]``) or not a
                dataset.
            DataFileError: A row is not a persona.
        """
        if callable(getattr(dataset, "to_list", None)):
            return cls.from_records(dataset.to_list())
        if isinstance(dataset, Mapping):
            splits = ", ".join(repr(k) for k in list(dataset)[:5])
            raise ConfigError(
                f"from_hf_dataset() takes one split, got a {type(dataset).__name__} of {splits}; "
                "pass dataset[<split>]"
            )
        if isinstance(dataset, Iterable) and not isinstance(dataset, (str, bytes)):
            return cls.from_records(dataset)  # an IterableDataset: its rows
        raise ConfigError(f"from_hf_dataset() takes a datasets.Dataset, got a {type(dataset).__name__}")

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

    def attributes_frame(self, *, json_values: bool = False) -> pandas.DataFrame:
        """Return the attributes in long format, one row per persona and attribute.

        Columns: ``persona_id``, ``path``, ``root``, ``level``, ``value``, ``kind`` (``text``,
        ``number``, ``boolean``, ``list``, ``object`` or ``null``), ``stratum`` and ``not_applicable``
        (the reason, or ``None``).

        Args:
            json_values: Hold each value as JSON text instead of the Python value. Values of one
                column mix texts, numbers and lists, which Arrow cannot store in one column; with
                ``json_values=True`` the frame is Arrow-safe (``frame.to_parquet(...)`` works) and
                ``json.loads`` gives each value back.
        """
        import pandas as pd

        from ._table import value_kind

        columns = ["persona_id", "path", "root", "level", "value", "kind", "stratum", "not_applicable"]
        rows = [
            {
                "persona_id": p.id,
                "path": path,
                "root": a.path[0] if a.path else None,
                "level": len(a.path) if a.path else None,
                "value": json.dumps(a.value, ensure_ascii=False) if json_values else a.value,
                "kind": value_kind(a.value),
                "stratum": a.stratum,
                "not_applicable": a.not_applicable,
            }
            for p in self._personas
            for path, a in p.attributes.items()
        ]
        return pd.DataFrame(rows, columns=columns)

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

    def plot_coverage(
        self, tree: AttributeTree | None = None, *, ax: Axes | None = None, path: str | Path | None = None
    ) -> Figure:
        """Draw a horizontal bar chart: share of personas reaching each root category.

        Args:
            tree: The taxonomy (lists roots no persona reached too).
            ax: A matplotlib axes to draw on; a new figure when ``None``.
            path: Also save the figure there (PNG, SVG ... by the suffix).

        Returns:
            The matplotlib ``Figure`` (the one holding ``ax`` when given). A new figure is built
            without pyplot: no global state is touched, and a notebook shows it once, as the cell's
            value.
        """
        stats = self.stats(tree)
        names = list(stats.root_coverage)
        values = [stats.root_coverage[r] for r in names]
        fig, ax = _figure_and_axes(ax, (7, 0.35 * max(len(names), 3) + 1))
        ax.barh(names[::-1], values[::-1], color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of personas with an attribute in the category")
        ax.set_title(f"Taxonomy coverage ({stats.n} personas)")
        return _save(fig, path)

    def plot_marginal(
        self, field: str = "age", *, ax: Axes | None = None, path: str | Path | None = None
    ) -> Figure:
        """Draw a bar chart of one demographic marginal (``"age"`` in bands, ``"gender"``, ``"country"`` ...).

        Args:
            field: The demographic field (the 20 most common values are shown).
            ax: A matplotlib axes to draw on; a new figure when ``None``.
            path: Also save the figure there (PNG, SVG ... by the suffix).

        Returns:
            The matplotlib ``Figure`` (the one holding ``ax`` when given).
        """
        if field == "age":
            shares = self.stats().marginals.get("age", {})
        else:
            n = len(self) or 1
            c = Counter(str(p.demographics.get(field)) for p in self if p.demographics.get(field) is not None)
            shares = {k: v / n for k, v in c.most_common(20)}
        fig, ax = _figure_and_axes(ax, (7, 3.5))
        ax.bar(list(shares), list(shares.values()), color="#55a868")
        ax.set_ylabel("share of personas")
        ax.set_title(field)
        ax.tick_params(axis="x", rotation=45)
        return _save(fig, path)

    def _repr_html_(self) -> str:
        from ._render import population_html

        return population_html(self)


def _figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The root figure of ``ax``, or a new pyplot-free figure (shown inline in notebooks) with one axes."""
    if ax is not None:
        fig: Any = ax.figure
        return getattr(fig, "figure", None) or fig, ax  # a SubFigure's root figure
    from .._figure import new_figure

    new = new_figure(*size)
    return new, new.add_subplot()


def _save(fig: Figure, path: str | Path | None) -> Figure:
    from .._figure import save_figure

    save_figure(fig, path)
    return fig


def read_jsonl_personas(path: str | Path) -> list[Persona]:
    """Read personas from a JSONL file, skipping a truncated last line.

    Raises:
        DataFileNotFoundError: The file does not exist.
        DataFileError: A line other than the last one is not a persona.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"persona file {str(p)!r} does not exist")
    out: list[Persona] = []
    for number, raw, complete in iter_lines(p):
        try:
            out.append(Persona.model_validate(json.loads(raw)))
        except (ValueError, TypeError) as exc:
            if not complete:  # the text after the final newline: a write that never finished
                logger.warning("%s: skipping a truncated last line (an interrupted write)", p)
                break
            raise DataFileError(f"{p}:{number}: not a deeppersona persona: {str(exc)[:200]}") from exc
    return out
