"""The :class:`PersonaEngine`: an immutable fluent builder whose terminal calls generate personas."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, overload

import numpy as np

from .._async import iter_sync, run_sync
from .._version import __version__
from ..embeddings._cache import embedder_fingerprint
from ..errors import (
    AnchorError,
    ConfigError,
    DemographicsError,
    GenerationInterrupted,
)
from ..generation import ValueGenerator
from ..llm._base import LLM
from ..llm._resolve import preflight
from ..persona import Persona, Population, Provenance
from ..prompts import PromptLibrary
from ..prompts._library import _override_sources as override_sources
from ..selector import AttributeSelector, StratifiedSelector
from ..taxonomy import AttributeNode, AttributeTree
from ..taxonomy._conditions import circumstance_names
from ._anchors import bind_anchors, classify_key, name_embedding_table, validate_anchors
from ._checkpoint import JsonlCheckpoint, ResumeState, RunReport
from ._inputs import (
    _check_count,
    _check_k,
    _check_model,
    _check_output_path,
    _check_sketches,
    _check_tree,
    _finish,
    _sketch_texts,
)
from ._options import EngineOptions
from ._run import _Job, _Run, planned_calls
from ._runconfig import _check_resume, _refuse_other_config, _run_config, _run_id, _with_seed
from ._schedule import run_jobs

if TYPE_CHECKING:
    import datasets
    import pandas

    from ..demographics import Cohort, DemographicSampler
    from ..embeddings import Embedder
    from ._pipeline import PersonaPipeline

__all__ = ["PersonaEngine"]

logger = logging.getLogger(__name__)

SeedLike = int | np.random.Generator | None
SketchRows = Union[Iterable[Union[str, Mapping[str, Any]]], "pandas.DataFrame", "datasets.Dataset"]
"""What :meth:`PersonaEngine.enrich` takes for several sketches: strings and/or dict rows, a pandas
``DataFrame`` or a Hugging Face ``datasets.Dataset``."""


class _Shared:
    """Resolved backends and caches shared by an engine and the engines derived from it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.llms: dict[str, LLM] = {}
        self.embedders: dict[str, Any] = {}
        self.name_tables: dict[tuple[str, str], tuple[list[AttributeNode], np.ndarray]] = {}
        self.sampler: DemographicSampler | None = None
        self.generator: ValueGenerator | None = None


class PersonaEngine:
    """Generates deep personas: demographics from real tables, a core chain, ``k`` taxonomy attributes.

    The engine is an immutable builder: every ``with_*``, :meth:`anchor` and :meth:`cohort` call returns
    a new engine and leaves this one unchanged. Only the terminal calls (:meth:`generate`,
    :meth:`agenerate`, :meth:`stream`, :meth:`astream`, :meth:`enrich`, :meth:`generate_to`,
    :meth:`enrich_to`) do work, and they validate everything before the first LLM call.

    Persona ``i`` of a run is a pure function of ``(seed, i)`` and the configuration: the same seed gives
    the same personas whatever the backend's ``max_concurrency`` (exactly so with a deterministic
    backend such as :class:`~deeppersona.testing.FakeLLM`).

    Args:
        tree: The attribute taxonomy.
        model: An :class:`~deeppersona.llm.LLM`, a LiteLLM model string, or ``None`` for the embedded default.
        embedder: An :class:`~deeppersona.embeddings.Embedder`, a callable, a model name, or ``None`` for MiniLM.
        require_core: Require the tree to have attributes to select and to mark its core attributes
            (see :meth:`from_taxonomy`).
        **llm_options: Options of the backend built from a model string or ``None`` (see
            :meth:`from_taxonomy`).

    Raises:
        ConfigError: ``tree`` is not an AttributeTree, ``model`` has an unsupported type, or an
            ``llm_options`` name is unknown or given with an :class:`~deeppersona.llm.LLM` instance.
        TaxonomyError: The tree has no attributes, or marks no core attributes while ``require_core``.

    Example:
        >>> from deeppersona.testing import FakeLLM, HashEmbedder
        >>> engine = PersonaEngine.from_taxonomy("default", model=FakeLLM(), embedder=HashEmbedder())  # doctest: +SKIP
        >>> persona = engine.anchor(country="Kenya", age=34).with_seed(7).generate(k=50)  # doctest: +SKIP
    """

    def __init__(
        self,
        tree: AttributeTree,
        *,
        model: LLM | str | None = None,
        embedder: Any = None,
        require_core: bool = True,
        **llm_options: Any,
    ) -> None:
        if not isinstance(tree, AttributeTree):
            raise ConfigError(
                f"tree must be an AttributeTree, got {type(tree).__name__}; see PersonaEngine.from_taxonomy"
            )
        _check_tree(tree, require_core)
        _check_model(model, llm_options)
        self._tree = tree
        self._model: LLM | str | None = model
        self._llm_options: dict[str, Any] = dict(llm_options)
        self._embedder: Any = embedder
        self._selector: AttributeSelector = StratifiedSelector()
        self._sampler: DemographicSampler | None = None
        self._generator: ValueGenerator | None = None
        # template overrides by name (layered on the generator's own), or a whole library used as is
        self._templates: PromptLibrary | dict[str, str] | None = None
        self._anchors: dict[str, Any] = {}
        self._cohort: Cohort | None = None
        self._seed: SeedLike = None
        self._options = EngineOptions()
        self._shared = _Shared()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_taxonomy(
        cls,
        taxonomy: AttributeTree | str | Path = "default",
        model: LLM | str | None = None,
        embedder: Any = None,
        *,
        require_core: bool = True,
        **llm_options: Any,
    ) -> PersonaEngine:
        """Build an engine over a taxonomy.

        Args:
            taxonomy: An :class:`~deeppersona.taxonomy.AttributeTree`, ``"default"`` for the packaged
                taxonomy, or the path of a taxonomy file.
            model: The LLM (see the class docstring).
            embedder: The embedder (see the class docstring).
            require_core: Require the tree to mark its core attributes (age, location, occupation, values,
                attitude, story, interests); they are filled first and never selected again.
            **llm_options: Options of the :class:`~deeppersona.llm.LiteLLMBackend` built from ``model``
                (a model string or ``None``), the same names everywhere (``Evaluator``, the CLI):
                ``api_base``, ``api_key``, ``max_concurrency``, ``requests_per_minute``,
                ``tokens_per_minute``, ``cache``, ``timeout``, ``temperature``, ``drop_params`` and any
                other LiteLLM request parameter. Names are checked here, before any call; the backend
                is built (and its values checked) when a run starts, once for this engine and the
                engines derived from it.

        Raises:
            TaxonomyError: The taxonomy cannot be read, has no attributes, or marks no core attributes.
            ConfigError: ``model`` has an unsupported type, or an ``llm_options`` name is unknown or given
                with an :class:`~deeppersona.llm.LLM` instance (configure that instance instead).

        Example:
            >>> engine = PersonaEngine.from_taxonomy(  # doctest: +SKIP
            ...     "default", model="openai/qwen2.5-7b", api_base="http://127.0.0.1:8000/v1", api_key="none",
            ...     max_concurrency=16, timeout=120,
            ... )
        """
        if isinstance(taxonomy, AttributeTree):
            tree = taxonomy
        elif isinstance(taxonomy, str) and taxonomy == "default":
            tree = AttributeTree.default()
        elif isinstance(taxonomy, (str, Path)):
            tree = AttributeTree.load(taxonomy)
        else:
            raise ConfigError(
                f"taxonomy must be an AttributeTree, 'default' or a file path, got {type(taxonomy).__name__}"
            )
        return cls(tree, model=model, embedder=embedder, require_core=require_core, **llm_options)

    def __getstate__(self) -> dict[str, Any]:
        # resolved backends and caches stay behind: a copy in another process resolves its own
        return {k: v for k, v in self.__dict__.items() if k != "_shared"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._shared = _Shared()

    def _replace(self, **changes: Any) -> PersonaEngine:
        # not copy.copy: that goes through __getstate__, which leaves the shared backends behind
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(clone, f"_{name}", value)
        return clone

    # ------------------------------------------------------------------ fluent configuration
    def anchor(self, anchors: Mapping[str, Any] | None = None, /, **attributes: Any) -> PersonaEngine:
        """Return an engine whose personas all have these attributes, verbatim (``S ⊆ P``).

        Keys may be demographic fields (``age``, ``gender``, ``country``, ``region``, ``city``,
        ``occupation``, ``name``), core-chain fields (``values``, ``attitude``, ``interests``,
        ``life_stories``), ``bio`` (free text), a taxonomy attribute (``sleep_quality``, or a full path in
        the mapping form: ``{"Physical and Health Characteristics > Sleep > Sleep Quality": "poor"}``), or
        anything else (kept as a custom attribute). ``None`` removes an anchor set earlier.

        Raises:
            AnchorError: A value of the wrong type or an impossible value (``age=-3``).
        """
        merged = dict(anchors or {})
        merged.update(attributes)
        checked = validate_anchors(merged, max_text_chars=self._options.max_sketch_chars)
        new = dict(self._anchors)
        for key, value in checked.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        return self._replace(anchors=new)

    def cohort(self, cohort: Cohort | Mapping[str, Any] | None = None, /, **fields: Any) -> PersonaEngine:
        """Return an engine drawing demographics under these constraints (``country``, ``age_range`` ...).

        Fields add to the constraints set earlier; ``.cohort(None)`` clears them.

        Raises:
            ConfigError: An unknown cohort field.
            DemographicsError: An impossible constraint (a reversed age range ...).
        """
        from ..demographics import Cohort

        if cohort is None and not fields:
            return self._replace(cohort=None)
        base: dict[str, Any] = {}
        if self._cohort is not None:
            base = {k: v for k, v in self._cohort.model_dump().items() if v is not None}
            if self._cohort.predicate is not None:
                base["predicate"] = self._cohort.predicate
        if isinstance(cohort, Cohort):
            base.update({k: v for k, v in cohort.model_dump().items() if v is not None})
            if cohort.predicate is not None:
                base["predicate"] = cohort.predicate
        elif isinstance(cohort, Mapping):
            base.update(cohort)
        elif cohort is not None:
            raise ConfigError(
                f"cohort must be a Cohort or a mapping of its fields, got {type(cohort).__name__}"
            )
        base.update(fields)
        return self._replace(cohort=Cohort(**base))

    def with_selector(self, selector: AttributeSelector) -> PersonaEngine:
        """Return an engine choosing attributes with ``selector`` (an :class:`~deeppersona.selector.AttributeSelector`)."""
        if not isinstance(selector, AttributeSelector):
            raise ConfigError(
                f"selector must be an AttributeSelector instance, got {type(selector).__name__}"
            )
        return self._replace(selector=selector)

    def with_llm(self, model: LLM | str | None, **llm_options: Any) -> PersonaEngine:
        """Return an engine using ``model`` (an LLM, a LiteLLM model string, or ``None`` for the embedded default).

        ``llm_options`` replace the backend options of this engine (see :meth:`from_taxonomy`).

        Raises:
            ConfigError: ``model`` has an unsupported type, or an ``llm_options`` name is unknown or given
                with an :class:`~deeppersona.llm.LLM` instance.
        """
        _check_model(model, llm_options)
        return self._replace(model=model, llm_options=dict(llm_options))

    def with_embedder(self, embedder: Any) -> PersonaEngine:
        """Return an engine using ``embedder`` (an Embedder, a callable, a model name or ``None``)."""
        return self._replace(embedder=embedder)

    def with_seed(self, seed: SeedLike) -> PersonaEngine:
        """Return an engine with run seed ``seed`` (a non-negative int, a numpy Generator, or ``None``: fresh)."""
        if seed is not None and not isinstance(seed, np.random.Generator):
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ConfigError(
                    f"seed must be a non-negative integer, a numpy Generator or None, got {seed!r}"
                )
            seed = int(seed)
        return self._replace(seed=seed)

    def with_sampler(self, sampler: DemographicSampler) -> PersonaEngine:
        """Return an engine drawing demographics with ``sampler`` (a configured DemographicSampler)."""
        if not callable(getattr(sampler, "draw", None)):
            raise ConfigError(
                f"sampler must have a draw(rng, cohort, anchors) method, got {type(sampler).__name__}"
            )
        return self._replace(sampler=sampler)

    def with_generator(self, generator: ValueGenerator) -> PersonaEngine:
        """Return an engine writing values with ``generator`` (e.g. a ValueGenerator subclass).

        The generator's own settings (``ValueGenerator(batch_size=40)``) and template overrides are kept;
        only engine options set explicitly with :meth:`with_options` (``batch_size``, ``temperature``,
        ``max_fill_retries``, ``story_words``, ``narrative_words``, ``on_missing``) and templates given
        with :meth:`with_templates` are applied on top of them.
        """
        if not isinstance(generator, ValueGenerator):
            raise ConfigError(f"generator must be a ValueGenerator, got {type(generator).__name__}")
        return self._replace(generator=generator)

    def with_templates(self, templates: Mapping[str, str] | str | Path | PromptLibrary) -> PersonaEngine:
        """Return an engine whose prompts are overridden by name (a mapping, a directory of ``.jinja`` files),
        on top of earlier overrides and the generator's own; a :class:`~deeppersona.prompts.PromptLibrary`
        replaces every template.

        Raises:
            ConfigError: An unknown template name, a template that does not parse or drops a variable
                it must use, or a missing directory (before any LLM call).
        """
        if isinstance(templates, PromptLibrary):
            return self._replace(templates=templates)
        earlier = self._templates if isinstance(self._templates, dict) else {}
        overrides = {**earlier, **override_sources(templates)}
        if isinstance(self._templates, PromptLibrary):
            return self._replace(templates=self._templates.with_overrides(overrides))
        PromptLibrary().with_overrides(overrides)  # checks names, syntax and required variables now
        return self._replace(templates=overrides)

    def with_options(self, **options: Any) -> PersonaEngine:
        """Return an engine with run options changed (see :class:`EngineOptions`).

        Raises:
            ConfigError: An unknown option or an invalid value.
        """
        return self._replace(options=self._options.replace(**options))

    # ------------------------------------------------------------------ introspection
    @property
    def tree(self) -> AttributeTree:
        """The taxonomy."""
        return self._tree

    @property
    def anchors(self) -> dict[str, Any]:
        """The anchors (a copy)."""
        return dict(self._anchors)

    @property
    def options(self) -> EngineOptions:
        """The run options."""
        return self._options

    @property
    def selector(self) -> AttributeSelector:
        """The attribute selector."""
        return self._selector

    @property
    def seed(self) -> SeedLike:
        """The run seed setting."""
        return self._seed

    def pipeline(self, k: int = 220, *, seed: int | None = None) -> PersonaPipeline:
        """Return the per-persona function of this configuration, to run personas one at a time or ship
        it to workers (it pickles): ``await pipeline.run(i)`` makes the same persona ``i`` as
        ``generate(k, n)`` with this seed. See :class:`~deeppersona.engine.PersonaPipeline`.

        Args:
            k: Attributes per persona.
            seed: The run seed (default: the engine's; a fresh one is drawn when the engine has none).

        Raises:
            ConfigError, AnchorError, DemographicsError, TaxonomyError: Invalid input, before any LLM call.
        """
        from ._pipeline import PersonaPipeline

        engine = self if seed is None else self.with_seed(seed)  # its checks of the seed
        return PersonaPipeline(engine, k)

    def calls_per_persona(self, k: int = 220) -> int:
        """LLM calls a persona takes without re-asks: core + circumstances (when the taxonomy has
        conditional attributes) + fill batches + consistency + narrative."""
        tree = self._tree
        conditional = circumstance_names(self._selector.cached_candidates(tree, tree.fingerprint()))
        return planned_calls(self._run_generator(), k, self._options, circumstances=bool(conditional))

    def __repr__(self) -> str:
        model = self._model if isinstance(self._model, str) or self._model is None else repr(self._model)
        return (
            f"PersonaEngine(tree={len(self._tree)} nodes, model={model!r}, anchors={self._anchors!r}, "
            f"seed={self._seed!r}, selector={self._selector!r})"
        )

    # ------------------------------------------------------------------ terminal calls
    @overload
    def generate(self, k: int = ..., n: None = ..., *, start: int = ...) -> Persona: ...

    @overload
    def generate(self, k: int, n: int, *, start: int = ...) -> Population: ...

    @overload
    def generate(self, *, n: int, k: int = ..., start: int = ...) -> Population: ...

    def generate(self, k: int = 220, n: int | None = None, *, start: int = 0) -> Persona | Population:
        """Generate one persona (``n=None``) or a population of ``n``.

        Args:
            k: Attributes per persona, beyond the core.
            n: Number of personas; ``None`` returns a single :class:`Persona`.
            start: Index of the first persona (persona ``i`` is the same in every run with this seed,
                so ``start`` lets shards of one big run be generated separately).

        Returns:
            A :class:`Persona`, or a :class:`Population`. Only complete personas have ``status == "ok"``;
            a single persona with missing parts is returned with ``status == "incomplete"`` (the parts in
            ``persona.missing``); in a population, incomplete and failed personas are kept in
            ``population.failures``.

        Raises:
            ConfigError, AnchorError, DemographicsError, TaxonomyError: Invalid input, before any LLM call.
            GenerationError: ``n`` is ``None`` and the persona could not be generated at all.
            GenerationInterrupted: Ctrl-C or a notebook's interrupt stopped the run: the personas in
                flight are cancelled, and within about 2 s this :class:`KeyboardInterrupt` is raised
                with the finished personas in its ``population``.
        """
        kept = _Kept("generate")
        return run_sync(self._agenerate(k, n, start, kept), interrupted=kept.interrupted)

    async def agenerate(self, k: int = 220, n: int | None = None, *, start: int = 0) -> Persona | Population:
        """Async :meth:`generate`.

        Cancelling it (``task.cancel()``, a timeout) cancels the personas in flight and raises
        :class:`asyncio.CancelledError`; iterate :meth:`astream` to keep personas as they finish.
        """
        return await self._agenerate(k, n, start, _Kept("agenerate"))

    async def _agenerate(self, k: int, n: int | None, start: int, kept: _Kept) -> Persona | Population:
        count = 1 if n is None else _check_count(n, "n")
        run = self._prepare(k, start=start)
        kept.requested = count
        async for persona in run_jobs(run, [_Job(i) for i in range(start, start + count)]):
            kept.personas.append(persona)  # what an interrupt keeps
        return _finish(list(kept.personas), single=n is None)

    def astream(self, k: int = 220, n: int = 1, *, start: int = 0) -> AsyncIterator[Persona]:
        """Yield personas as they finish (in completion order; failed ones too, with ``status="failed"``).

        Input is validated when this is called, before any LLM call.
        """
        count = _check_count(n, "n")
        run = self._prepare(k, start=start)
        return run_jobs(run, [_Job(i) for i in range(start, start + count)])

    def stream(self, k: int = 220, n: int = 1, *, start: int = 0) -> Iterator[Persona]:
        """Synchronous :meth:`astream`: a generator of personas as they finish (runs a loop in a thread).

        Leaving the loop early (``break``) or an interrupt (Ctrl-C, a notebook's interrupt) cancels the
        personas in flight at once; the interrupt is raised within about 2 s.
        """
        count = _check_count(n, "n")
        run = self._prepare(k, start=start)
        return iter_sync(lambda: run_jobs(run, [_Job(i) for i in range(start, start + count)]))

    @overload
    def enrich(  # type: ignore[overload-overlap]
        self, sketches: str | Mapping[str, Any], k: int = ..., *, field: str | None = ...
    ) -> Persona: ...

    @overload
    def enrich(self, sketches: SketchRows, k: int = ..., *, field: str | None = ...) -> Population: ...

    def enrich(
        self, sketches: str | Mapping[str, Any] | SketchRows, k: int = 220, *, field: str | None = None
    ) -> Persona | Population:
        """Turn PersonaHub-style one-line sketches into deep personas.

        One extra LLM call per sketch extracts anchors (name, age, gender, occupation, place) from the
        sketch; the sketch itself is kept verbatim as the ``bio`` anchor and conditions every step.
        Extracted facts the demographic tables cannot honour (an unknown country ...) are dropped with a
        warning on the persona; anchors set on the engine take precedence over extracted facts.

        Args:
            sketches: One sketch, as a string or a dict row (returns a :class:`Persona`), or several
                (returns a :class:`Population` whose persona ``i`` enriches row ``i``): a sequence of
                strings and/or dict rows, a pandas ``DataFrame`` or a Hugging Face ``datasets.Dataset``
                (PersonaHub loads as one).
            k: Attributes per persona.
            field: The dict key or column holding the sketch text. ``None`` takes the first of
                ``persona``, ``sketch``, ``text``, ``bio``, ``description`` that the row (or the
                table) has.

        Raises:
            AnchorError: A row without the field, a value that is not a non-empty string, a sketch over
                the size limit, or the engine also has a ``bio`` anchor (all before any LLM call).
            ConfigError: ``field`` is not a non-empty string.
            GenerationInterrupted: Ctrl-C or a notebook's interrupt stopped the run (as for
                :meth:`generate`; the finished personas are in its ``population``).

        Example:
            >>> rows = [{"persona": "A beekeeper in Kisumu."}, {"persona": "A retired judge."}]
            >>> people = engine.enrich(rows, k=60)  # doctest: +SKIP
            >>> people = engine.enrich(dataframe, k=60, field="text")  # doctest: +SKIP
        """
        kept = _Kept("enrich")
        return run_sync(self._aenrich(sketches, k, field, kept), interrupted=kept.interrupted)

    async def aenrich(
        self, sketches: str | Mapping[str, Any] | SketchRows, k: int = 220, *, field: str | None = None
    ) -> Persona | Population:
        """Async :meth:`enrich` (cancelling it behaves as for :meth:`agenerate`)."""
        return await self._aenrich(sketches, k, field, _Kept("aenrich"))

    async def _aenrich(
        self, sketches: str | Mapping[str, Any] | SketchRows, k: int, field: str | None, kept: _Kept
    ) -> Persona | Population:
        texts, single = _sketch_texts(sketches, field)
        items = _check_sketches(texts, self._options.max_sketch_chars)
        self._check_enrich_anchors()
        run = self._prepare(k)
        kept.requested = len(items)
        async for persona in run_jobs(run, [_Job(i, s) for i, s in enumerate(items)]):
            kept.personas.append(persona)  # what an interrupt keeps
        return _finish(list(kept.personas), single=single)

    def generate_to(self, path: str | Path, n: int, k: int = 220, *, overwrite: bool = False) -> RunReport:
        """Generate ``n`` personas into a JSONL file, one line per finished persona, resumably.

        Each finished persona is appended as one complete line and flushed to disk at once. If the run
        stops (a crash, Ctrl-C, a killed process), calling this again with the same engine and file
        skips the indices already written and generates only the rest: nothing is redone or duplicated.
        Ctrl-C (or a notebook's interrupt) cancels the personas in flight and raises
        :class:`~deeppersona.errors.GenerationInterrupted` within about 2 s; its ``report`` says what
        this run wrote.
        A run without an explicit seed reuses the seed recorded in the file. Failed personas are not
        written (they are listed in the report) so a rerun retries them.

        Args:
            path: The JSONL file (created if missing).
            n: How many personas the file should hold (indices ``0 .. n-1``).
            k: Attributes per persona.
            overwrite: Start the file afresh instead of resuming.

        Returns:
            A :class:`RunReport` (written, skipped, failures, usage).

        Raises:
            ConfigError: The file was written with another seed or ``k`` (pass ``overwrite=True``), or
                another process is writing it.
            DataFileError: The file holds lines that are not personas.
            GenerationInterrupted: Ctrl-C or a notebook's interrupt stopped the run; every finished
                persona is in the file (see above).
        """
        kept = _Kept("generate_to")
        return run_sync(self._agenerate_to(path, n, k, overwrite, kept), interrupted=kept.interrupted)

    async def agenerate_to(
        self, path: str | Path, n: int, k: int = 220, *, overwrite: bool = False
    ) -> RunReport:
        """Async :meth:`generate_to` (when cancelled, every finished persona is in the file)."""
        return await self._agenerate_to(path, n, k, overwrite, None)

    async def _agenerate_to(
        self, path: str | Path, n: int, k: int, overwrite: bool, kept: _Kept | None
    ) -> RunReport:
        count = _check_count(n, "n")
        return await self._to_file(path, [_Job(i) for i in range(count)], k, overwrite, kept)

    def enrich_to(
        self,
        path: str | Path,
        sketches: SketchRows,
        k: int = 220,
        *,
        overwrite: bool = False,
        field: str | None = None,
    ) -> RunReport:
        """Enrich ``sketches`` into a JSONL file, resumably (see :meth:`generate_to` and :meth:`enrich`).

        Persona ``i`` is the enrichment of row ``i``; rerun with the same rows to resume. ``sketches``
        and ``field`` are read as by :meth:`enrich` (strings, dict rows, a DataFrame, a ``Dataset``).
        An interrupt behaves as for :meth:`generate_to`.
        """
        kept = _Kept("enrich_to")
        return run_sync(
            self._aenrich_to(path, sketches, k, overwrite, field, kept), interrupted=kept.interrupted
        )

    async def aenrich_to(
        self,
        path: str | Path,
        sketches: SketchRows,
        k: int = 220,
        *,
        overwrite: bool = False,
        field: str | None = None,
    ) -> RunReport:
        """Async :meth:`enrich_to`."""
        return await self._aenrich_to(path, sketches, k, overwrite, field, None)

    async def _aenrich_to(
        self,
        path: str | Path,
        sketches: SketchRows,
        k: int,
        overwrite: bool,
        field: str | None,
        kept: _Kept | None,
    ) -> RunReport:
        texts, single = _sketch_texts(sketches, field)
        if single:
            raise ConfigError("enrich_to() takes a sequence of sketches; wrap a single sketch in a list")
        items = _check_sketches(texts, self._options.max_sketch_chars)
        self._check_enrich_anchors()
        return await self._to_file(path, [_Job(i, s) for i, s in enumerate(items)], k, overwrite, kept)

    # ------------------------------------------------------------------ run preparation
    def _resolve_llm(self) -> LLM:
        model = self._model
        if isinstance(model, LLM):
            return model
        options = self._llm_options
        key = "" if model is None else model
        if options:  # one backend per (model, options): derived engines share its limits and cache
            key += "\0" + json.dumps(options, sort_keys=True, default=repr)
        with self._shared.lock:
            llm = self._shared.llms.get(key)
        if llm is None:
            from ..llm import resolve_llm

            llm = resolve_llm(model, **options)
            with self._shared.lock:
                llm = self._shared.llms.setdefault(key, llm)
        return llm

    def _resolve_embedder(self) -> Embedder:
        from ..embeddings import Embedder, resolve_embedder

        spec = self._embedder
        if isinstance(spec, Embedder):
            return spec
        key = repr(spec) if spec is None or isinstance(spec, str) else f"id:{id(spec)}"
        with self._shared.lock:
            found = self._shared.embedders.get(key)
        if found is None:
            found = resolve_embedder(spec)
            with self._shared.lock:
                found = self._shared.embedders.setdefault(key, found)
        return found  # type: ignore[no-any-return]

    def _run_generator(self) -> ValueGenerator:
        """The generator of a run: the user's (or the default) with the options set explicitly through
        :meth:`with_options` and the :meth:`with_templates` overrides on top; nothing else is reset."""
        base = self._generator or self._default_generator()
        explicit = self._options.model_fields_set
        params: dict[str, Any] = {k: v for k, v in self._options.generator_params().items() if k in explicit}
        if self._templates is not None:
            params["templates"] = self._templates
        return base.replace(**params)

    def _default_generator(self) -> ValueGenerator:
        # shared by the engines derived from this one, so its per-node text cache outlives one run
        with self._shared.lock:
            if self._shared.generator is None:
                self._shared.generator = ValueGenerator()
            return self._shared.generator

    def _resolve_sampler(self) -> DemographicSampler:
        if self._sampler is not None:
            return self._sampler
        with self._shared.lock:
            if self._shared.sampler is None:
                from ..demographics import DemographicSampler

                self._shared.sampler = DemographicSampler()
            return self._shared.sampler

    def _name_table(
        self, fingerprint: str, embedder: Embedder
    ) -> Callable[[], tuple[list[AttributeNode], np.ndarray]]:
        def table() -> tuple[list[AttributeNode], np.ndarray]:
            key = (fingerprint, embedder_fingerprint(embedder))  # by content, not by name
            with self._shared.lock:
                hit = self._shared.name_tables.get(key)
            if hit is None:
                hit = name_embedding_table(self._tree, embedder, fingerprint=fingerprint)
                with self._shared.lock:
                    hit = self._shared.name_tables.setdefault(key, hit)
            return hit

        return table

    def _run_seed(self, file_seed: int | None = None) -> int:
        seed = self._seed
        if file_seed is not None and not isinstance(seed, int):
            return file_seed  # resuming a file: its seed, unless an explicit int seed (checked by the caller)
        if isinstance(seed, np.random.Generator):
            return int(seed.integers(0, 2**63 - 1))
        if seed is None:
            return int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
        return int(seed)

    def _prepare(self, k: int, *, start: int = 0, seed: int | None = None) -> _Run:
        """Resolve and validate everything a run needs; raises before any LLM call.

        Builds the run's configuration (see :attr:`Provenance.run_config`) once; ``seed`` (default: the
        engine's) can be changed later with :func:`_with_seed`.
        """
        _check_k(k)
        # anchors were checked when set; the size limit may have changed since (with_options after anchor)
        validate_anchors(self._anchors, max_text_chars=self._options.max_sketch_chars)
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ConfigError(f"start must be a non-negative integer, got {start!r}")
        k = int(k)
        llm = self._resolve_llm()
        check = getattr(llm, "check_config", None)
        if check is not None:  # a missing API key or an unknown model: said now, not after embedding
            check()
        tree = self._tree
        fingerprint = tree.fingerprint()
        embedder = self._resolve_embedder()
        anchors = bind_anchors(
            tree,
            self._anchors,
            embedder=embedder,
            threshold=self._options.anchor_similarity,
            name_embeddings=self._name_table(fingerprint, embedder),
        )
        self._selector.check(tree, k, anchors.exclude, fingerprint=fingerprint)
        sampler = self._resolve_sampler()
        try:  # surface impossible anchor/cohort combinations now, not inside every persona
            sampler.draw(np.random.default_rng(0), self._cohort, anchors.demographic)
        except DemographicsError as exc:
            raise DemographicsError(f"the anchors and cohort cannot be drawn together: {exc}") from None
        generator = self._run_generator()
        self._selector.prepare(tree, embedder, fingerprint=fingerprint)
        run_seed = seed if seed is not None else self._run_seed()
        model_name = str(getattr(llm, "model", type(llm).__name__))
        embedder_name = str(getattr(embedder, "name", type(embedder).__name__))
        config = _run_config(
            fingerprint=fingerprint,
            model=model_name,
            embedder=embedder_name,
            k=k,
            seed=run_seed,
            cohort=self._cohort,
            anchors=self._anchors,
            selector=self._selector,
            sampler=sampler,
            generator=generator,
            options=self._options,
        )
        provenance = Provenance(
            model=model_name,
            embedder=embedder_name,
            taxonomy_fingerprint=fingerprint,
            library_version=__version__,
            k=k,
            selector=type(self._selector).__name__,
            run_id=_run_id(config),
            run_config=config,
        )
        return _Run(
            tree=tree,
            fingerprint=fingerprint,
            llm=llm,
            embedder=embedder,
            selector=self._selector,
            sampler=sampler,
            generator=generator,
            cohort=self._cohort,
            anchors=anchors,
            seed=run_seed,
            k=k,
            options=self._options,
            provenance=provenance,
            circumstances=circumstance_names(self._selector.cached_candidates(tree, fingerprint)),
        )

    def _check_enrich_anchors(self) -> None:
        if any(classify_key(key)[0] == "bio" for key in self._anchors):
            raise AnchorError(
                "enrich() keeps each sketch as the bio anchor; remove the engine's own bio anchor"
            )

    async def _to_file(
        self, path: str | Path, jobs: list[_Job], k: int, overwrite: bool, kept: _Kept | None = None
    ) -> RunReport:
        """Run ``jobs`` into the JSONL file ``path``, resuming what an earlier run of the same
        configuration wrote (see :meth:`generate_to`); ``kept`` gets the report as it grows."""
        if kept is not None:
            kept.requested = len(jobs)
        # every argument is checked (and the whole run prepared) before the output file or its lock exists
        _check_k(k)
        _check_output_path(path)
        run = self._prepare(k, seed=0)  # the seed is settled below, once the file's seed is known
        await preflight(run.llm)  # before the output file or its lock is created
        bios = {job.index: job.sketch for job in jobs if job.sketch is not None} or None
        explicit = self._seed if isinstance(self._seed, int) else None

        def same_run(recorded: dict[str, Any]) -> None:  # at the file's first configuration: fail fast
            seed = explicit if explicit is not None else recorded.get("seed")
            _refuse_other_config(path, recorded, {**run.provenance.run_config, "seed": seed})

        checkpoint = JsonlCheckpoint(path, fsync=self._options.fsync)
        checkpoint.open()
        try:
            state = ResumeState() if overwrite else checkpoint.scan(bios=bios, on_config=same_run)
            run = _with_seed(run, self._run_seed(state.seed))
            if state.lines:
                _check_resume(path, state, run, explicit_seed=explicit)
                logger.info("%s: resuming run %s, %d of %d personas already done",
                            path, run.provenance.run_id, len(state.done), len(jobs))  # fmt: skip
            if overwrite:
                checkpoint.truncate()
            todo = [job for job in jobs if job.index not in state.done]
            del state  # only the indices to do are needed from here on
            report = RunReport(Path(path), len(jobs), skipped=len(jobs) - len(todo), seed=run.seed)
            if kept is not None:
                kept.report = report  # an interrupt reports what this run wrote
            async for persona in run_jobs(run, todo):
                report.usage = report.usage + persona.usage
                if persona.ok:  # incomplete and failed personas are not written: a rerun redoes them
                    checkpoint.append(persona)
                    report.written += 1
                else:
                    report.failures.append((persona.index, persona.failure or ""))
            return report
        finally:
            checkpoint.close()


# ---------------------------------------------------------------------- helpers
@dataclass
class _Kept:
    """What a synchronous call keeps for :class:`GenerationInterrupted`: the personas finished so far
    (``generate``, ``enrich``) or the report of the file run (``generate_to``, ``enrich_to``)."""

    call: str
    requested: int = 0
    personas: list[Persona] = dataclasses.field(default_factory=list)
    report: RunReport | None = None

    def interrupted(self) -> GenerationInterrupted:
        """The exception the interrupted caller raises (built once the run has wound down)."""
        report = self.report
        if report is not None:
            return GenerationInterrupted(
                f"{self.call}() interrupted: {report.written} persona(s) written to {report.path} by this "
                f"run ({report.skipped} already there, {report.requested} requested); call {self.call}() "
                "again with the same arguments to resume",
                requested=report.requested,
                report=report,
            )
        if self.call.endswith("_to"):  # interrupted while the file was still being checked
            return GenerationInterrupted(
                f"{self.call}() interrupted before any persona was written; nothing is lost",
                requested=self.requested,
            )
        personas = sorted(list(self.personas), key=lambda p: p.index)
        return GenerationInterrupted(
            f"{self.call}() interrupted: {len(personas)} of {self.requested} persona(s) finished; they are "
            "kept in this exception's .population",
            personas=personas,
            requested=self.requested,
        )
