"""``TaxonomyBuilder``: grow an attribute taxonomy from self-disclosure QA data (paper §3.1, Algorithm 2)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from .._async import run_sync
from .._progress import make_bar, progress_enabled
from ..errors import ConfigError, LLMError, LLMOutputError, TaxonomyError
from ..llm import LLM, Usage, resolve_llm
from ..llm._structured import schema_instructions
from ..prompts import PromptLibrary
from ..taxonomy import DEFAULT_MAX_DEPTH, PATH_SEPARATOR, ROOT_CATEGORIES, AttributeTree, canonical_key
from ._checkpoint import Checkpoint
from ._disclosure import clean_disclosures, disclosure_reply_type
from ._filter import CALL_SITES as FILTER_CALL_SITES
from ._filter import RootAligner, run_filter
from ._io import DEFAULT_MAX_CHARS, InputStats, QASource, read_qa
from ._merge import merge_tree
from ._records import AttributePath, Label, PairRecord, QAPair, as_path
from ._report import BuildResult, ClassifyResult, ExtractResult, FilterResult, MergeResult, StageReport
from ._rules import RuleFilter
from ._schemas import MergeMapping, Personalizability
from ._vocabulary import Vocabulary

if TYPE_CHECKING:
    from ..embeddings import Embedder

__all__ = ["DEFAULT_MERGE_THRESHOLD", "DEFAULT_ROOT_THRESHOLD", "DEFAULT_SNAP", "TaxonomyBuilder"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

DEFAULT_MERGE_THRESHOLD = 0.78
"""Cosine similarity (all-MiniLM-L6-v2, on canonical keys) at or above which siblings merge.

Calibrated on labelled sibling pairs (``benchmarks/bench_merge.py --calibrate``, docs/builder.md):
at 0.78, 22 of 25 same-attribute pairs merge ("Sleep Habits" / "Sleeping Habits" 0.97, "Hobbies" /
"Hobby" 0.82) and none of 19 distinct-attribute pairs do (the closest, "Religious Beliefs" /
"Political Beliefs", scores 0.735; "Sleep Habits" / "Diet" 0.21). Precision is favoured: a missed
merge leaves a near-duplicate, a wrong merge loses an attribute."""

DEFAULT_ROOT_THRESHOLD = 0.60
"""Cosine similarity (all-MiniLM-L6-v2) needed to map an unknown root name onto a seeded root by embedding
(after exact, canonical and word-subset matching failed): "Lifestyle" -> "Lifestyle and Daily Routine" (0.72)
is accepted, "Identity" -> "Career and Work Identity" (0.56) is not."""

DEFAULT_SNAP = 0.7
"""Default ``snap`` of :class:`TaxonomyBuilder` (cosine similarity, the default MiniLM embedder): chosen on
one run of 60 gold turns and checked on another (root accuracy +0.06 and +0.03, leaf match +0.01 and
+0.02 at 0.7; lower thresholds moved roots less reliably)."""

ITEMS_PER_SENTENCE = 2
"""Extraction items allowed per sentence of the user's text (see :meth:`TaxonomyBuilder._item_cap`)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

_SELECTED = ("Personalizable", "Partially Personalizable")
_MAX_TOKENS = {
    "builder.classify": 400,
    "builder.extract": 800,
    "builder.classify+extract": 800,
    "builder.check_node": 100,
    "builder.check_path": 100,
    "builder.rewrite_node": 100,
    "builder.rewrite_path": 100,
}


class TaxonomyBuilder:
    """Builds (or extends) an :class:`~deeppersona.taxonomy.AttributeTree` from question–answer pairs.

    The pipeline is the paper's Algorithm 2: **classify** each pair's personalizability, **extract**
    attribute paths from personalizable pairs under the seeded root categories, **filter** them
    (Algorithm 3), **merge** similar siblings level by level (Algorithm 1), **filter** again, and
    **format** the result into a tree. Every stage can also be called on its own, and every stage
    reports what came in, what went out and what was dropped and why.

    LLM stages run concurrently (the backend's ``max_concurrency`` calls at a time) through the shared
    LLM interface,
    with pydantic-validated outputs. With ``checkpoint_dir`` each pair's result (and each Check
    Node / Check Path verdict) is appended to JSON Lines files as soon as it finishes, so an
    interrupted build resumes where it stopped: rerun the same call.

    The constructor only stores its arguments; the model and the embedder load on first use.

    Args:
        llm: An :class:`~deeppersona.llm.LLM`, a LiteLLM model string, or ``None`` for the embedded
            local default model.
        embedder: An :class:`~deeppersona.embeddings.Embedder`, a callable ``f(list[str]) -> array``,
            a model name, or ``None`` for the offline all-MiniLM-L6-v2 model.
        roots: The seeded first-level categories (default: the paper's twelve).
        merge_threshold: Cosine similarity at or above which sibling names merge (calibrated for the
            default embedder; recalibrate for another one).
        root_threshold: Cosine similarity needed to map an unknown root name onto a seeded root.
        confirm_merges_with_llm: Ask the LLM (the paper's Merging Requirements prompt) to confirm each
            candidate cluster before merging it.
        max_concurrency: LLM calls in flight at once, for a backend the builder builds from a model name
            (``None``: the backend's default, 8, or 1 for a ``local/...`` model); an
            :class:`~deeppersona.llm.LLM` instance brings its own ``max_concurrency``.
        checkpoint_dir: Directory of the resumable checkpoint, or ``None`` (no files written).
        fields: Record fields of the question and the answer (``(question, None)`` for questions only).
        labels: Personalizability labels whose pairs go on to extraction.
        max_depth: Deepest level of the tree: 3 (root, category, attribute; the paper's) or 2.
        check_batch_size: Names or paths judged per Check Node / Check Path call.
        llm_checks: Run the LLM Check Node / Check Path judgements (the rule pre-filter always runs).
        rules: The rule pre-filter (default :class:`RuleFilter`).
        prompts: Template overrides: a :class:`~deeppersona.prompts.PromptLibrary`, a mapping of
            template name to text, or a directory of ``.jinja`` files.
        max_chars: Pairs whose question plus answer are longer are skipped (and counted).
        max_prompt_chars: Question and answer are each cut to this many characters in prompts.
        max_paths_per_pair: At most this many paths are kept from one pair.
        temperature: Sampling temperature of every call: 0 (the default, greedy decoding: the same pairs
            give the same tree, and a small model extracts more accurately) or ``None`` for the
            backend's default.
        progress: Show progress bars: the per-pair stages over the pairs, the filter stages and the
            merge confirmations over their LLM calls. ``None`` (the default) shows them on a terminal
            and in a Jupyter notebook (a widget, or a text bar without ipywidgets), ``True`` always,
            ``False`` never.
        cache: Response cache of a backend built from ``llm`` (a model string or ``None``): ``True`` for
            the user cache directory, a directory path, or a ``ResponseCache``; passed through to
            :func:`~deeppersona.llm.resolve_llm`. ``None`` leaves the backend's default. Configure the
            cache on the instance instead when ``llm`` is an :class:`~deeppersona.llm.LLM`.
        vocabulary: Category names shown to the model under each root during extraction, so that the
            same attribute gets the same name across pairs: ``"default"`` (the default tree's
            branches), an :class:`~deeppersona.taxonomy.AttributeTree`, or ``None`` (roots only, a
            build from the data alone). Only roots whose names the vocabulary shares get names.
        suggestions: With a ``vocabulary``, this many of its attribute paths, those whose names lie
            nearest each pair's text by embedding, are shown just before the conversation as names to
            reuse when they fit (0: none). A small model then names "I love pizza" ``Favorite Foods``,
            as the vocabulary does, instead of inventing ``Pizza Consumption``.
        snap: With a ``vocabulary``, an extracted path whose attribute name lies within this cosine
            similarity of a vocabulary path's names (the nearest one) becomes that path, its root
            included; ``None`` keeps every name as the model wrote it. On the embedded model it moved
            "Religious Beliefs" from *Psychological and Cognitive Aspects* to the vocabulary's *Core
            Values, Beliefs, and Philosophy*: root accuracy 0.735 -> 0.794 on 60 gold turns.
        one_call: Classify and extract each pair in one call (the label and the attribute items in
            one reply) instead of two; :meth:`build` and :meth:`extend` use it, :meth:`classify` stays
            a call of its own. ``benchmarks/bench_builder.py`` measures both on the gold set.

    Example:
        >>> from deeppersona.testing import FakeLLM, HashEmbedder
        >>> from deeppersona.builder import TaxonomyBuilder
        >>> from deeppersona.testing import fake_builder_llm
        >>> builder = TaxonomyBuilder(llm=fake_builder_llm(), embedder=HashEmbedder(), merge_threshold=0.9)
        >>> result = builder.build([{"question": "I'm a night-shift nurse; how can I sleep better?",
        ...                          "answer": "Keep a fixed schedule and a dark room."}])
        >>> len(result.tree.roots)
        12
    """

    def __init__(
        self,
        llm: LLM | str | None = None,
        embedder: Embedder | Callable[[list[str]], Any] | str | None = None,
        *,
        roots: Sequence[str] = ROOT_CATEGORIES,
        merge_threshold: float = DEFAULT_MERGE_THRESHOLD,
        root_threshold: float = DEFAULT_ROOT_THRESHOLD,
        confirm_merges_with_llm: bool = False,
        max_concurrency: int | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        fields: Sequence[str | None] = ("question", "answer"),
        labels: Sequence[str] = _SELECTED,
        max_depth: int = DEFAULT_MAX_DEPTH,
        check_batch_size: int = 30,
        llm_checks: bool = True,
        rules: RuleFilter | None = None,
        prompts: PromptLibrary | Mapping[str, str] | str | os.PathLike[str] | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_prompt_chars: int = 2_000,
        max_paths_per_pair: int = 12,
        temperature: float | None = 0.0,
        progress: bool | None = None,
        cache: Any = None,
        one_call: bool = False,
        vocabulary: AttributeTree | str | None = "default",
        suggestions: int = 12,
        snap: float | None = DEFAULT_SNAP,
    ) -> None:
        roots = tuple(str(r).strip() for r in roots)
        if not roots or any(not canonical_key(r) for r in roots):
            raise ConfigError(f"roots must be non-empty names, got {roots!r}")
        if len({canonical_key(r) for r in roots}) != len(roots):
            raise ConfigError(f"roots must be distinct (after canonicalisation), got {roots!r}")
        for name, value in (("merge_threshold", merge_threshold), ("root_threshold", root_threshold)):
            if not -1.0 <= float(value) <= 1.0:
                raise ConfigError(f"{name} is a cosine similarity and must lie in [-1, 1], got {value}")
        for name, ivalue in (
            ("check_batch_size", check_batch_size),
            ("max_depth", max_depth),
            ("max_prompt_chars", max_prompt_chars),
            ("max_paths_per_pair", max_paths_per_pair),
        ):
            if not isinstance(ivalue, int) or ivalue < 1:
                raise ConfigError(f"{name} must be a positive integer, got {ivalue!r}")
        if max_depth not in (2, 3):
            raise ConfigError(
                f"max_depth must be 2 or 3 (a root, a category and an attribute at most), got {max_depth}"
            )
        for option, given in (("cache", cache), ("max_concurrency", max_concurrency)):
            if given is not None and isinstance(llm, LLM):
                raise ConfigError(
                    f"{option}= applies to a backend the builder builds from a model name; "
                    f"configure {option} on your LLM instance instead"
                )
        if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
            raise ConfigError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        unknown = set(labels) - {"No", *_SELECTED}
        if unknown:
            raise ConfigError(
                f"unknown labels {sorted(unknown)}; use 'Personalizable', 'Partially Personalizable', 'No'"
            )
        self.llm = llm
        self.embedder = embedder
        self.roots = roots
        self.merge_threshold = float(merge_threshold)
        self.root_threshold = float(root_threshold)
        self.confirm_merges_with_llm = bool(confirm_merges_with_llm)
        self.max_concurrency = max_concurrency
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.fields = tuple(fields)
        self.labels = tuple(labels)
        self.max_depth = max_depth
        self.check_batch_size = check_batch_size
        self.llm_checks = bool(llm_checks)
        self.rules = rules if rules is not None else RuleFilter()
        self.prompts = prompts
        self.max_chars = max_chars
        self.max_prompt_chars = max_prompt_chars
        self.max_paths_per_pair = max_paths_per_pair
        self.one_call = bool(one_call)
        if not (vocabulary is None or isinstance(vocabulary, AttributeTree) or vocabulary == "default"):
            raise ConfigError(f"vocabulary must be an AttributeTree, 'default' or None, got {vocabulary!r}")
        if not isinstance(suggestions, int) or isinstance(suggestions, bool) or suggestions < 0:
            raise ConfigError(f"suggestions must be a non-negative integer, got {suggestions!r}")
        if snap is not None and (
            isinstance(snap, bool) or not isinstance(snap, (int, float)) or not 0 < snap <= 1
        ):
            raise ConfigError(f"snap must be a cosine similarity in (0, 1] or None, got {snap!r}")
        self.snap = None if snap is None else float(snap)
        self.vocabulary = vocabulary
        self.suggestions = suggestions
        self.temperature = temperature
        self.progress = progress
        self.cache = cache
        self._embed_cache: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        llm = self.llm if isinstance(self.llm, str) or self.llm is None else type(self.llm).__name__
        return (
            f"TaxonomyBuilder(llm={llm!r}, roots={len(self.roots)}, merge_threshold={self.merge_threshold}, "
            f"max_concurrency={self.max_concurrency}, "
            f"checkpoint_dir={str(self.checkpoint_dir) if self.checkpoint_dir else None!r})"
        )

    # ------------------------------------------------------------------ lazily built resources
    @functools.cached_property
    def llm_(self) -> LLM:
        """The resolved LLM backend (built on first use)."""
        options = {"cache": self.cache, "max_concurrency": self.max_concurrency}
        return resolve_llm(self.llm, **{k: v for k, v in options.items() if v is not None})

    @functools.cached_property
    def embedder_(self) -> Embedder:
        """The resolved embedder (loaded on first use)."""
        from ..embeddings import resolve_embedder

        return resolve_embedder(self.embedder)

    @functools.cached_property
    def prompt_library_(self) -> PromptLibrary:
        """The prompt templates in use (packaged ones plus ``prompts`` overrides)."""
        if isinstance(self.prompts, PromptLibrary):
            return self.prompts
        if self.prompts is None:
            return PromptLibrary()
        if isinstance(self.prompts, os.PathLike):
            return PromptLibrary(os.fspath(self.prompts))
        return PromptLibrary(self.prompts)

    @functools.cached_property
    def checkpoint_(self) -> Checkpoint:
        """The checkpoint (in memory only when ``checkpoint_dir`` is ``None``)."""
        return Checkpoint(self.checkpoint_dir, self._fingerprint())

    def _fingerprint(self) -> str:
        lib = self.prompt_library_
        parts = {
            "model": getattr(self.llm_, "model", "unknown"),
            "roots": list(self.roots),
            "max_depth": self.max_depth,
            "max_prompt_chars": self.max_prompt_chars,
            "max_paths_per_pair": self.max_paths_per_pair,
            "prompts": [lib.source(n) for n in lib.names if n.startswith("builder_")],
            # what the extraction prompt shows and asks: another run's pairs are not this run's
            "one_call": self.one_call,
            "vocabulary": self._root_hints(),
            "suggestions": self.suggestions if self.vocabulary_ is not None else 0,
            "snap": self.snap if self.vocabulary_ is not None else None,
        }
        return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=8).hexdigest()

    def _embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._embed_cache]
        if missing:
            vectors = np.asarray(self.embedder_.encode(missing), dtype=np.float32)
            for text, vec in zip(missing, vectors, strict=True):
                self._embed_cache[text] = vec
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._embed_cache[t] for t in texts])

    def _aligner(self, roots: Sequence[str] | None = None) -> RootAligner:
        return RootAligner(roots or self.roots, self._embed, self.root_threshold)

    # ------------------------------------------------------------------ LLM plumbing
    async def _ask(self, template: str, variables: dict[str, Any], model: type[M], call_site: str) -> M:
        lib = self.prompt_library_
        messages = [
            {"role": "system", "content": lib.render("builder_system")},
            {"role": "user", "content": lib.render(template, **variables)},
        ]
        # A generous bound on the reply, so a model that rambles cannot stall a run for minutes.
        n_items = len(variables.get("items", variables.get("names", ())))
        max_tokens = _MAX_TOKENS.get(call_site, 800) + 60 * n_items
        response = await self.llm_.acomplete(
            messages, model, call_site=call_site, temperature=self.temperature, max_tokens=max_tokens
        )
        output = response.output
        if not isinstance(output, model):
            try:
                output = model.model_validate(output)
            except ValidationError as exc:  # a backend that skipped validation: count it, don't crash
                raise LLMOutputError(
                    f"{call_site}: the reply does not match {model.__name__}: {exc.error_count()} error(s)",
                    model=getattr(self.llm_, "model", None),
                    attempts=1,
                    raw=response.raw,
                ) from exc
        return output

    async def _map(self, fn: Callable[[Any], Awaitable[R]], items: Sequence[Any], desc: str) -> list[R]:
        """Run ``fn`` over ``items``, as many at once as the backend has slots; results in input order."""
        results: list[Any] = [None] * len(items)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(items)):
            queue.put_nowait(i)
        bar = make_bar(len(items), desc, unit="pair", setting=self.progress, leave=False) if items else None

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                results[i] = await fn(items[i])
                if bar is not None:
                    bar.update(1)

        try:
            await asyncio.gather(
                *(worker() for _ in range(min(self.llm_.max_concurrency, max(1, len(items)))))
            )
        finally:
            if bar is not None:
                bar.close()
        return results

    def _clip(self, text: str) -> str:
        if len(text) <= self.max_prompt_chars:
            return text
        return text[: self.max_prompt_chars].rstrip() + " [...]"

    # ------------------------------------------------------------------ input
    def read(
        self, qa: QASource | Iterable[QAPair], *, limit: int | None = None
    ) -> tuple[list[QAPair], InputStats]:
        """Read QA pairs with this builder's ``fields`` and ``max_chars`` (see :func:`read_qa`)."""
        if isinstance(qa, list) and qa and all(isinstance(p, QAPair) for p in qa):
            pairs = list(qa)[:limit] if limit is not None else list(qa)
            return pairs, InputStats(source="<QAPair list>", records=len(pairs), pairs=len(pairs))
        return read_qa(qa, fields=self.fields, max_chars=self.max_chars, limit=limit)

    # ------------------------------------------------------------------ stage 1: classify
    async def _classify_one(self, pair: QAPair) -> PairRecord:
        ckpt = self.checkpoint_
        stored = ckpt.get("pairs", pair.key)
        if stored is not None and stored.get("label") is not None:
            return _record_from(pair, stored)
        try:
            out = await self._ask(
                "builder_classify",
                {"question": self._clip(pair.question), "answer": self._clip(pair.answer)},
                Personalizability,
                "builder.classify",
            )
        except LLMError as exc:
            logger.warning("classification failed for pair %s: %s", pair.id or pair.key[:8], exc)
            return PairRecord(pair.key, pair.question, pair.answer, error=f"classify: {exc}", id=pair.id)
        record = PairRecord(
            pair.key,
            pair.question,
            pair.answer,
            out.category.strip(),
            out.is_personalizable,
            out.reason.strip(),
            id=pair.id,
        )
        ckpt.put("pairs", pair.key, _record_value(record, extracted=False))
        return record

    async def aclassify(self, qa: QASource | Iterable[QAPair]) -> ClassifyResult:
        """Async :meth:`classify`."""
        pairs, _stats = self.read(qa)
        before, t0 = self._usage_snapshot(), time.perf_counter()
        records = await self._map(lambda p: self._classify_one(p), pairs, "classify")
        return ClassifyResult(records, self._classify_report(records, before, t0))

    def classify(self, qa: QASource | Iterable[QAPair]) -> ClassifyResult:
        """Label each QA pair No / Partially Personalizable / Personalizable, with a reason.

        Args:
            qa: QA pairs (a file path, or an iterable of dicts, tuples or :class:`QAPair`).

        Returns:
            One record per pair (the paper's Figure 6 structure) and the stage report.
        """
        return run_sync(self.aclassify(qa))

    def _classify_report(self, records: list[PairRecord], before: dict[str, Usage], t0: float) -> StageReport:
        report = StageReport("classify", n_in=len(records), unit="pairs")
        labels = Counter(r.label or "failed" for r in records)
        for label in ("Personalizable", "Partially Personalizable", "No"):
            report.notes[label] = labels.get(label, 0)
        for r in records:
            if r.label is None:
                report.dropped["llm_error"] += 1
            elif r.label not in self.labels:
                report.dropped["not_selected" if r.label != "No" else "not_personalizable"] += 1
        report.n_out = sum(1 for r in records if r.label in self.labels)
        report.seconds = time.perf_counter() - t0
        report.usage = self._usage_delta(before, ("builder.classify",))
        return report

    # ------------------------------------------------------------------ stage 2: extract
    async def _extract_one(self, record: PairRecord, *, classify: bool = False) -> PairRecord:
        """Extract one pair's attribute items (and, with ``classify``, its label in the same call)."""
        ckpt = self.checkpoint_
        stored = ckpt.get("pairs", record.key)
        if stored is not None and stored.get("paths") is not None:
            return _record_from(QAPair(record.question, record.answer, record.id), stored)
        # a pair classified personalizable discloses something: the schema asks for at least one item
        reply_type = disclosure_reply_type(
            self.roots, self.max_depth, self._item_cap(record), min_items=0 if classify else 1
        )
        site = "builder.classify+extract" if classify else "builder.extract"
        try:
            out = await self._ask(
                "builder_extract",
                {
                    "question": self._clip(record.question),
                    "answer": self._clip(record.answer),
                    "roots": list(self.roots),
                    "max_depth": self.max_depth,
                    "max_paths": self.max_paths_per_pair,
                    "classify": classify,
                    "hints": self._root_hints(),
                    "suggested": self._suggested(record),
                    "schema": schema_instructions(reply_type),
                },
                reply_type,
                site,
            )
        except LLMError as exc:
            logger.warning("extraction failed for pair %s: %s", record.id or record.key[:8], exc)
            return _replace(record, error=f"extract: {exc}")
        items = getattr(out, "attributes", [])
        said = " ".join((record.question, record.answer or ""))
        found, drops = clean_disclosures(items, self.roots, max_depth=self.max_depth, text=said)
        found = found[: self.max_paths_per_pair]
        if found and self.snap is not None and self.vocabulary_ is not None:
            snapped = self.vocabulary_.snapped([p for p, _ in found], self.snap)
            found = _distinct([(p, v) for p, (_, v) in zip(snapped, found, strict=True)])
        changes: dict[str, Any] = {
            "paths": tuple(p for p, _ in found),
            "values": tuple(v for _, v in found),
            "dropped": dict(drops),
            "error": None,
        }
        if classify:  # one call: a pair that reveals no attribute is the one labelled "No"
            label: Label = "Personalizable" if found else "No"
            changes.update(
                label=label, category="", reason="attributes found" if found else "nothing disclosed"
            )
        record = _replace(record, **changes)
        ckpt.put("pairs", record.key, _record_value(record, extracted=True))
        return record

    def _item_cap(self, record: PairRecord) -> int:
        """Most items one extraction reply may hold: :data:`ITEMS_PER_SENTENCE` per sentence the user
        wrote, plus one, within ``max_paths_per_pair``. Under greedy decoding the embedded model went on
        listing one fact under name after name up to the schema's limit (86 of 163 items of 60 gold
        utterances dropped as repeats or ungrounded), and those items were most of the time it took;
        ``2 x sentences + 1`` holds every fact of the 141 disclosing gold utterances."""
        said = len([s for s in _SENTENCE_END.split(record.question.strip()) if s.strip()])
        return max(1, min(self.max_paths_per_pair, ITEMS_PER_SENTENCE * max(1, said) + 1))

    @functools.cached_property
    def vocabulary_(self) -> Vocabulary | None:
        """The reference names shown during extraction (``None`` without a ``vocabulary``)."""
        tree = AttributeTree.default() if self.vocabulary == "default" else self.vocabulary
        if not isinstance(tree, AttributeTree):
            return None
        return Vocabulary(tree, self.roots, depth=self.max_depth, embed=self._embed)

    def _root_hints(self) -> dict[str, list[str]]:
        """Root name → category names of the vocabulary tree (see ``vocabulary``)."""
        return self.vocabulary_.hints if self.vocabulary_ is not None else {}

    def _suggested(self, record: PairRecord) -> list[str]:
        """The vocabulary's attribute paths nearest the pair's text (see ``suggestions``)."""
        if self.vocabulary_ is None or not self.suggestions:
            return []
        text = " ".join(t for t in (self._clip(record.question), self._clip(record.answer)) if t)
        return [" > ".join(p) for p in self.vocabulary_.nearest([text], self.suggestions)[0]]

    async def aextract(self, pairs: Iterable[PairRecord | QAPair] | QASource) -> ExtractResult:
        """Async :meth:`extract`."""
        records, unlabelled = self._as_records(pairs)
        before, t0 = self._usage_snapshot(), time.perf_counter()
        joint = unlabelled and self.one_call  # QA pairs: label and paths in one call per pair
        done = await self._map(
            lambda r: self._extract_one(r, classify=joint), records, "disclose" if joint else "extract"
        )
        return self._extract_result(done, before, t0)

    def extract(self, pairs: Iterable[PairRecord | QAPair] | QASource) -> ExtractResult:
        """Extract attribute paths (at most ``max_depth`` levels, under the seeded roots) from pairs.

        Args:
            pairs: Records from :meth:`classify` (only those with a selected label are used), or QA
                pairs, which are then all treated as personalizable; with ``one_call`` each QA pair
                is classified in the same call (its record carries the label, and a pair labelled
                "No" keeps no paths).

        Returns:
            The records with their paths, every path occurrence, and the stage report.
        """
        return run_sync(self.aextract(pairs))

    def _as_records(self, pairs: Iterable[PairRecord | QAPair] | QASource) -> tuple[list[PairRecord], bool]:
        """The records to extract from, and whether they came as QA pairs (no label yet)."""
        items = list(pairs) if not isinstance(pairs, (str, os.PathLike)) else []
        if items and all(isinstance(p, PairRecord) for p in items):
            return [r for r in items if isinstance(r, PairRecord) and r.label in self.labels], False
        qa, _ = self.read(items if items else pairs)  # type: ignore[arg-type]
        label: Label | None = None if self.one_call else "Personalizable"
        return [PairRecord(p.key, p.question, p.answer, label=label, id=p.id) for p in qa], True

    def _extract_result(
        self, records: list[PairRecord], before: dict[str, Usage], t0: float
    ) -> ExtractResult:
        report = StageReport("extract", n_in=len(records), unit="pairs -> paths")
        paths: list[AttributePath] = []
        for r in records:
            if r.error:
                report.dropped["llm_error"] += 1
            elif r.label not in self.labels:
                report.dropped["not_personalizable"] += 1  # classified in the same call (one_call)
            elif not r.paths:
                report.dropped["no_paths"] += 1
            report.dropped.update(r.dropped)  # items that were no attribute path (a value, a root list ...)
            paths.extend(r.paths)
        report.n_out = len(paths)
        report.notes["distinct_paths"] = len(set(paths))
        if self.vocabulary_ is not None:
            known = set(self.vocabulary_.paths)
            report.notes["paths_in_vocabulary"] = sum(p in known for p in paths)
        report.seconds = time.perf_counter() - t0
        report.usage = self._usage_delta(before, ("builder.extract", "builder.classify+extract"))
        return ExtractResult(records, paths, report)

    # ------------------------------------------------------------------ stage 3: filter
    async def afilter(
        self,
        paths: Iterable[Sequence[str]],
        *,
        roots: Sequence[str] | None = None,
        stage_name: str = "filter",
    ) -> FilterResult:
        """Async :meth:`filter`."""
        items = [as_path(_split(p)) for p in paths]
        before, t0 = self._usage_snapshot(), time.perf_counter()

        # the number of Check Node / Check Path calls is known only as the filter goes: a counting bar
        bar = None
        if items and self.llm_checks:
            bar = make_bar(None, stage_name, unit="call", setting=self.progress, leave=False)

        async def ask(template: str, variables: dict[str, Any], model: type[M], site: str) -> M:
            try:
                return await self._ask(template, variables, model, site)
            finally:
                if bar is not None:
                    bar.update(1)

        try:
            result = await run_filter(
                items,
                aligner=self._aligner(roots),
                rules=self.rules,
                ask=ask if self.llm_checks else None,
                checkpoint=self.checkpoint_,
                max_depth=self.max_depth,
                batch_size=self.check_batch_size,
                stage_name=stage_name,
            )
        finally:
            if bar is not None:
                bar.close()
        result.report.seconds = time.perf_counter() - t0
        result.report.usage = self._usage_delta(before, FILTER_CALL_SITES)
        return result

    def filter(self, paths: Iterable[Sequence[str] | str]) -> FilterResult:
        """FILTER (Algorithm 3): align roots, apply the rule pre-filter, then Check Node / Check Path.

        Roots are matched to the seeded categories exactly, canonically, by their words, or by
        embedding similarity (``root_threshold``); unmatched paths are dropped. A node failing a rule
        or the Check Node judgement is rewritten when the model offers a general category, else cut
        with everything below it; invalid paths are rewritten or lose their tail, bottom-up.

        Args:
            paths: Paths (tuples of names or ``"A > B > C"`` strings), one per occurrence.

        Returns:
            The kept paths (occurrences preserved), per-path decisions and the stage report.
        """
        return run_sync(self.afilter(paths))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ stage 4: merge
    async def amerge(
        self, paths: Iterable[Sequence[str] | str], *, pinned: Iterable[AttributePath] = ()
    ) -> MergeResult:
        """Async :meth:`merge`."""
        weighted = Counter(as_path(_split(p)) for p in paths)
        weighted.pop((), None)
        t0, before = time.perf_counter(), self._usage_snapshot()
        confirm = bar = None
        if self.confirm_merges_with_llm:
            if weighted:  # one call per level and parent with candidate clusters: a counting bar
                bar = make_bar(None, "merge (confirm)", unit="call", setting=self.progress, leave=False)

            async def confirm(
                level: int, parent: AttributePath, clusters: list[list[str]]
            ) -> list[list[str]]:
                names = list(dict.fromkeys(n for c in clusters for n in c))
                try:
                    reply = await self._ask(
                        "builder_merge",
                        {"level": level, "parent": PATH_SEPARATOR.join(parent), "names": names},
                        MergeMapping,
                        "builder.merge",
                    )
                except LLMError as exc:
                    logger.warning("merge confirmation failed under %s (clusters kept): %s", parent, exc)
                    return [[c[0]] * len(c) for c in clusters]
                finally:
                    if bar is not None:
                        bar.update(1)
                mapping = {canonical_key(k): v for k, v in reply.mapping.items()}
                return [[mapping.get(canonical_key(n), n) for n in c] for c in clusters]

        try:
            outcome = await merge_tree(
                weighted,
                lambda texts: self._embed(texts),
                threshold=self.merge_threshold,
                pinned=pinned,
                max_depth=self.max_depth,
                confirm=confirm,
            )
        finally:
            if bar is not None:
                bar.close()
        report = StageReport("merge", n_in=sum(weighted.values()), n_out=len(outcome.paths), unit="paths")
        report.notes.update(outcome.stats)
        report.seconds = time.perf_counter() - t0
        report.usage = self._usage_delta(before, ("builder.merge",))
        return MergeResult(outcome.paths, outcome.counts, outcome.mapping, outcome.merged_names, report)

    def merge(
        self, paths: Iterable[Sequence[str] | str], *, pinned: Iterable[AttributePath] = ()
    ) -> MergeResult:
        """MERGE (Algorithm 1): merge semantically similar siblings level by level.

        Args:
            paths: Paths, one per occurrence (occurrences are the votes that pick canonical names).
            pinned: Paths of an existing tree whose names must be kept (used by :meth:`extend`).

        Returns:
            The merged leaf paths, their support, the input-to-output mapping and the stage report.
        """
        return run_sync(self.amerge(paths, pinned=pinned))

    # ------------------------------------------------------------------ stage 5: format
    def format(
        self, paths: Iterable[Sequence[str] | str], *, base: AttributeTree | None = None
    ) -> AttributeTree:
        """FORMAT: build the attribute tree (every seeded root is present, even without children).

        Args:
            paths: The final paths.
            base: A tree to add the paths to (a copy is made); ``None`` starts from the seeded roots.

        Returns:
            The tree.
        """
        return self._format(paths, base=base)[0]

    def _format(
        self, paths: Iterable[Sequence[str] | str], *, base: AttributeTree | None = None
    ) -> tuple[AttributeTree, StageReport]:
        t0 = time.perf_counter()
        items = [as_path(_split(p)) for p in paths]
        report = StageReport("format", n_in=len(items), unit="paths -> nodes")
        if base is not None:
            tree = base.copy()
        else:
            tree = AttributeTree(max_depth=self.max_depth, fixed_roots=self.roots)
            for root in self.roots:
                tree.add_path((root,))
        for path in items:
            if not path:
                continue
            try:
                tree.add_path(path)
            except TaxonomyError as exc:
                report.dropped["invalid"] += 1
                logger.debug("format: skipped %s: %s", path, exc)
        report.n_out = len(tree)
        report.seconds = time.perf_counter() - t0
        return tree, report

    # ------------------------------------------------------------------ the whole pipeline
    async def abuild(self, qa: QASource | Iterable[QAPair], *, limit: int | None = None) -> BuildResult:
        """Async :meth:`build`."""
        return await self._run(qa, base=None, limit=limit)

    def build(self, qa: QASource | Iterable[QAPair], *, limit: int | None = None) -> BuildResult:
        """Run the whole pipeline (Algorithm 2) on QA pairs and return the tree with stage reports.

        Args:
            qa: A ``.jsonl`` / ``.json`` / ``.csv`` path, or an iterable of dicts (``fields`` names the
                question and answer keys), ``(question, answer)`` tuples or :class:`QAPair` objects.
            limit: Use at most this many pairs (the first ones).

        Returns:
            The tree, one :class:`StageReport` per stage, the per-pair records and path support.

        Raises:
            DataFileNotFoundError: The input file does not exist.
            DataFileError: The input is empty or has no usable pair.
        """
        return run_sync(self.abuild(qa, limit=limit))

    async def aextend(
        self, tree: AttributeTree, qa: QASource | Iterable[QAPair], *, limit: int | None = None
    ) -> BuildResult:
        """Async :meth:`extend`."""
        if not isinstance(tree, AttributeTree):
            raise ConfigError(f"extend() needs an AttributeTree, got {type(tree).__name__}")
        return await self._run(qa, base=tree, limit=limit)

    def extend(
        self, tree: AttributeTree, qa: QASource | Iterable[QAPair], *, limit: int | None = None
    ) -> BuildResult:
        """Grow an existing tree with attributes found in more QA pairs.

        Existing nodes keep their names and are never merged together; new names similar to an
        existing sibling merge into it, the rest are added. The existing tree is not modified.

        Args:
            tree: The tree to extend (its root categories are the templates for root alignment).
            qa: QA pairs, as for :meth:`build`.
            limit: Use at most this many pairs.

        Returns:
            A :class:`BuildResult` whose ``tree`` is the extended copy.
        """
        return run_sync(self.aextend(tree, qa, limit=limit))

    async def _run(
        self, qa: QASource | Iterable[QAPair], *, base: AttributeTree | None, limit: int | None = None
    ) -> BuildResult:
        t0 = time.perf_counter()
        pairs, stats = self.read(qa, limit=limit)
        read_report = StageReport("read", n_in=stats.records, n_out=stats.pairs, unit="records -> pairs")
        read_report.dropped.update(stats.skipped)
        read_report.seconds = time.perf_counter() - t0
        roots = tuple(r.name for r in base.roots) if base is not None else self.roots
        before, t1 = self._usage_snapshot(), time.perf_counter()

        async def per_pair(pair: QAPair) -> PairRecord:
            if self.one_call:
                blank = PairRecord(pair.key, pair.question, pair.answer, id=pair.id)
                return await self._extract_one(blank, classify=True)
            record = await self._classify_one(pair)
            if record.label in self.labels:
                record = await self._extract_one(record)
            return record

        ckpt = self.checkpoint_
        resumed = sum(1 for p in pairs if ("pairs", p.key) in ckpt)
        records = await self._map(per_pair, pairs, "classify+extract" if not self.one_call else "disclose")
        classify_report = self._classify_report(records, before, t1)
        selected = [r for r in records if r.label in self.labels]
        extract = self._extract_result(selected, before, t1)
        classify_report.seconds = extract.report.seconds = time.perf_counter() - t1
        if resumed:
            classify_report.notes["resumed_from_checkpoint"] = resumed
        self._announce(read_report, classify_report, extract.report)

        first = await self.afilter(extract.paths, roots=roots, stage_name="filter")
        self._announce(first.report)
        pinned = [n.path for n in base.nodes()] if base is not None else []
        merged = await self.amerge(first.paths, pinned=pinned)
        self._announce(merged.report)
        existing = {tuple(canonical_key(x) for x in p) for p in pinned}
        new_paths = [p for p in merged.paths if tuple(canonical_key(x) for x in p) not in existing]
        second = await self.afilter(new_paths, roots=roots, stage_name="filter (after merge)")
        tree, format_report = self._format(second.paths, base=base)
        self._announce(second.report, format_report)
        tree.metadata.update(
            {
                "builder": {
                    "model": getattr(self.llm_, "model", "unknown"),
                    "embedder": getattr(self.embedder_, "name", "unknown")
                    if merged.paths or first.paths
                    else None,
                    "merge_threshold": self.merge_threshold,
                    "qa_pairs": len(pairs),
                    "personalizable_pairs": len(selected),
                }
            }
        )
        counts: Counter[AttributePath] = Counter()
        for path in merged.paths:
            final, _why = second.decisions.get(path, (None, ""))
            if final is None:
                continue
            for i in range(1, len(final) + 1):
                counts[final[:i]] += merged.counts.get(path, 0)
        _write_support(tree, counts, base=base, pairs=len(pairs))
        stages = [
            read_report,
            classify_report,
            extract.report,
            first.report,
            merged.report,
            second.report,
            format_report,
        ]
        usage = sum((r.usage for r in stages), Usage())
        return BuildResult(tree=tree, stages=stages, records=records, path_counts=dict(counts), usage=usage)

    def _announce(self, *reports: StageReport) -> None:
        """Say that stages finished, as they finish: a log record each, and a line under the progress
        bars when they show ("classify: 24 -> 11 pairs (dropped: not_personalizable 13) in 95 s")."""
        show = progress_enabled(self.progress)
        for report in reports:
            line = f"{report.summary()} in {report.seconds:.0f} s"
            logger.info("stage finished: %s", line)
            if show:
                from tqdm import tqdm

                tqdm.write(f"done: {line}", file=sys.stderr)

    # ------------------------------------------------------------------ usage accounting
    def _usage_snapshot(self) -> dict[str, Usage]:
        llm = self.__dict__.get("llm_")  # only once built: a snapshot does not build the backend
        return llm.usage.by_call_site() if llm is not None else {}

    def _usage_delta(self, before: dict[str, Usage], sites: Sequence[str]) -> Usage:
        llm = self.__dict__.get("llm_")
        if llm is None:
            return Usage()
        after = llm.usage.by_call_site()
        total = Usage()
        for site in sites:
            now, then = after.get(site, Usage()), before.get(site, Usage())
            total = total + Usage(**{k: getattr(now, k) - getattr(then, k) for k in Usage.model_fields})
        return total


# ---------------------------------------------------------------------- helpers


def _distinct(found: list[tuple[AttributePath, str]]) -> list[tuple[AttributePath, str]]:
    """``found`` without a second value for one path (two names may snap to the same path)."""
    seen: dict[AttributePath, str] = {}
    for path, value in found:
        seen.setdefault(path, value)
    return list(seen.items())


def _split(path: Sequence[str] | str) -> Sequence[str]:
    return path.split(">") if isinstance(path, str) else path


def _example_path(roots: Sequence[str], max_depth: int) -> AttributePath:
    for root in roots:
        if canonical_key(root) == "lifestyle and daily routine":
            return (root, "Sleep Patterns", "Sleep Schedule")[:max_depth]
    return (roots[0], "Sub-category", "Attribute")[:max_depth]


def _record_value(record: PairRecord, *, extracted: bool) -> dict[str, Any]:
    return {
        "category": record.category,
        "label": record.label,
        "reason": record.reason,
        "paths": [list(p) for p in record.paths] if extracted else None,
        "values": list(record.values) if extracted else None,
        "dropped": dict(record.dropped) if extracted else None,
    }


def _record_from(pair: QAPair, stored: Mapping[str, Any]) -> PairRecord:
    raw_paths = stored.get("paths") or []
    return PairRecord(
        key=pair.key,
        question=pair.question,
        answer=pair.answer,
        category=str(stored.get("category") or ""),
        label=stored.get("label"),
        reason=str(stored.get("reason") or ""),
        paths=tuple(as_path(p) for p in raw_paths if p),
        values=tuple(str(v) for v in stored.get("values") or ()),
        dropped=dict(stored.get("dropped") or {}),
        id=pair.id,
    )


def _replace(record: PairRecord, **changes: Any) -> PairRecord:
    from dataclasses import replace

    return replace(record, **changes)


def _write_support(
    tree: AttributeTree, counts: Mapping[AttributePath, int], *, base: AttributeTree | None, pairs: int
) -> None:
    """Store each node's disclosure count as its :attr:`~deeppersona.taxonomy.AttributeNode.support`.

    A built tree gets the count of every node (0 for a node no pair disclosed, which cannot happen for
    a node the build made); an extended tree adds the new counts to the support its nodes had (a node
    of the base tree without support and without new disclosures keeps ``None``).
    """
    by_key: dict[tuple[str, ...], int] = {}
    for path, n in counts.items():
        key = tuple(canonical_key(x) for x in path)
        by_key[key] = by_key.get(key, 0) + n
    for node in tree.nodes():
        n = by_key.get(tuple(canonical_key(x) for x in node.path), 0)
        if base is None:
            node.support = float(n)
        elif n:
            node.support = (node.support or 0.0) + n
    tree.metadata["support"] = {
        "source": "TaxonomyBuilder extraction counts",
        "qa_pairs": pairs,
        "meaning": "how many extracted disclosures fell on the node or below it",
    }
