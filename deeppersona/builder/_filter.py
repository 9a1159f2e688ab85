"""FILTER (paper Algorithm 3): root alignment, rule pre-filter, bottom-up node and path validation."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from ..errors import LLMError
from ..taxonomy import PATH_SEPARATOR, canonical_key
from ..taxonomy._canonical import stem_key
from ._checkpoint import Checkpoint
from ._records import AttributePath
from ._report import FilterResult, StageReport
from ._rules import RuleFilter
from ._schemas import read_rewrite, read_verdict, rewrite_reply_type, verdict_key, verdict_reply_type

__all__ = ["RootAligner", "run_filter"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Ask = Callable[[str, dict[str, Any], type[M], str], Awaitable[M]]
"""``ask(template, variables, response_model, call_site)`` -> the validated reply."""


class RootAligner:
    """Maps a root name onto the template roots: exact, canonical, word-subset, then embedding match.

    Args:
        roots: The template root categories.
        embed: Maps texts to L2-normalised vectors (used only for names no cheaper rule matches).
        threshold: Minimum cosine similarity of an embedding match.
    """

    def __init__(
        self, roots: Sequence[str], embed: Callable[[list[str]], np.ndarray], threshold: float
    ) -> None:
        self.roots = tuple(roots)
        self.embed = embed
        self.threshold = threshold
        self._by_key = {canonical_key(r): r for r in self.roots}
        self._words = [(r, set(stem_key(r).split()) - {"and"}) for r in self.roots]
        self._root_vectors: np.ndarray | None = None

    def is_root(self, name: str) -> bool:
        """Whether ``name`` is (canonically) one of the template roots."""
        return canonical_key(name) in self._by_key

    def align(self, names: Sequence[str]) -> dict[str, tuple[str | None, str]]:
        """Return ``name -> (template root or None, how)``, ``how`` being ``exact``, ``canonical``,
        ``words``, ``embedding`` or ``unknown``."""
        out: dict[str, tuple[str | None, str]] = {}
        pending: list[str] = []
        for name in dict.fromkeys(names):
            if name in self.roots:
                out[name] = (name, "exact")
            elif canonical_key(name) in self._by_key:
                out[name] = (self._by_key[canonical_key(name)], "canonical")
            else:
                words = set(stem_key(name).split()) - {"and"}
                hits = [r for r, rw in self._words if words and words <= rw]
                if len(hits) == 1:
                    out[name] = (hits[0], "words")
                else:
                    pending.append(name)
        if pending:
            if self._root_vectors is None:
                self._root_vectors = np.asarray(
                    self.embed([canonical_key(r) for r in self.roots]), np.float32
                )
            vecs = np.asarray(self.embed([canonical_key(n) or n for n in pending]), np.float32)
            sims = vecs @ self._root_vectors.T
            best = sims.argmax(axis=1)
            for name, b, s in zip(pending, best.tolist(), sims.max(axis=1).tolist(), strict=True):
                out[name] = (self.roots[b], "embedding") if s >= self.threshold else (None, "unknown")
        return out


@dataclass
class _Verdict:
    valid: bool
    rewrite: Any = None
    judged: bool = True


def _path_key(path: AttributePath) -> str:
    return PATH_SEPARATOR.join(canonical_key(p) for p in path)


async def run_filter(
    paths: Sequence[AttributePath],
    *,
    aligner: RootAligner,
    rules: RuleFilter,
    ask: Ask[Any] | None,
    checkpoint: Checkpoint,
    max_depth: int,
    batch_size: int,
    stage_name: str = "filter",
) -> FilterResult:
    """Filter attribute paths (see :meth:`TaxonomyBuilder.filter`).

    Args:
        paths: Paths, one entry per occurrence.
        aligner: Root-template alignment.
        rules: The rule pre-filter.
        ask: The LLM call used for Check Node / Check Path, or ``None`` to skip the LLM checks.
        checkpoint: Where LLM verdicts are cached (and resumed from).
        max_depth: Deepest level kept.
        batch_size: Names or paths judged per LLM call.
        stage_name: The report's stage name.

    Returns:
        The kept paths, the decision for each distinct path, and the report.
    """
    report = StageReport(stage_name, n_in=len(paths), unit="paths")
    occurrences = Counter(tuple(p) for p in paths)
    decisions: dict[AttributePath, tuple[AttributePath | None, str]] = {}
    cuts: Counter[str] = Counter()

    # Phase 1: root template alignment.
    alignment = aligner.align([p[0] for p in occurrences if p])
    how = Counter(alignment[p[0]][1] for p in occurrences if p for _ in range(occurrences[p]))
    for kind in ("canonical", "words", "embedding"):
        if how.get(kind):
            report.notes[f"roots_{kind}"] = how[kind]

    # Phase 2a: rules, top-down (a bad node cuts itself and everything below).
    stage1: dict[AttributePath, AttributePath] = {}
    for path in occurrences:
        if not path:
            decisions[path] = (None, "empty")
            continue
        root = alignment[path[0]][0]
        if root is None:
            decisions[path] = (None, "unknown_root")
            continue
        kept: list[str] = [root]
        reason = ""
        if len(path) > max_depth:
            cuts["too_deep"] += occurrences[path]
        for name in path[1:max_depth]:
            name = rules.clean(name)
            problem = rules.problem(name, kept[-1])
            if problem is None and any(canonical_key(name) == canonical_key(k) for k in kept):
                problem = "repeats_parent"
            if problem is None and aligner.is_root(name):
                problem = "root_name"
            if problem is not None:
                reason = problem
                break
            kept.append(name)
        if reason:
            cuts[reason] += occurrences[path]
        stage1[path] = tuple(kept)

    # Phase 2b: Check Node (batched, deduplicated by canonical name), rewriting invalid nodes.
    node_verdicts: dict[str, _Verdict] = {}
    if ask is not None:
        names: dict[str, tuple[str, str]] = {}
        for p in stage1.values():
            for i in range(1, len(p)):
                names.setdefault(canonical_key(p[i]), (p[i], PATH_SEPARATOR.join(p[:i])))
        node_verdicts = await _judge_nodes(names, ask, checkpoint, batch_size, report)
        # Algorithm 3, line 23: a rewritten node must itself pass Check Node before it replaces the original.
        rewrites: dict[str, tuple[str, str]] = {}
        for key, verdict in node_verdicts.items():
            if verdict.valid or not isinstance(verdict.rewrite, str):
                continue
            rewrite = rules.clean(verdict.rewrite)
            rkey = canonical_key(rewrite)
            if rewrite and rkey and rkey != key and rkey not in node_verdicts:
                rewrites.setdefault(rkey, (rewrite, names[key][1] if key in names else ""))
        if rewrites:
            node_verdicts.update(await _judge_nodes(rewrites, ask, checkpoint, batch_size, report))

    stage2: dict[AttributePath, AttributePath] = {}
    for path, p in stage1.items():
        kept = [p[0]]
        for name in p[1:]:
            v = node_verdicts.get(canonical_key(name))
            if v is None or v.valid:
                kept.append(name)
                continue
            rewrite = rules.clean(v.rewrite) if isinstance(v.rewrite, str) else ""
            judged = node_verdicts.get(canonical_key(rewrite)) if rewrite else None
            if judged is not None and not judged.valid:
                report.notes["node_rewrites_rejected"] = (
                    report.notes.get("node_rewrites_rejected", 0) + occurrences[path]
                )
                rewrite = ""
            if (
                rewrite
                and canonical_key(rewrite) != canonical_key(name)
                and rules.problem(rewrite, kept[-1]) is None
            ):
                kept.append(rewrite)
                report.notes["nodes_rewritten"] = report.notes.get("nodes_rewritten", 0) + occurrences[path]
                continue
            cuts["invalid_node"] += occurrences[path]
            break
        stage2[path] = tuple(kept)

    # Phase 2c: Check Path, bottom-up: an invalid path is rewritten if possible, else its tail is cut
    # and the parent path is judged in the next round.
    final: dict[AttributePath, AttributePath] = dict(stage2)
    if ask is not None:
        settled: dict[str, AttributePath | None] = {}  # path key -> the path it becomes (None: cut the tail)
        for _round in range(max_depth):
            pending = {_path_key(p): p for p in final.values() if len(p) > 1 and _path_key(p) not in settled}
            if not pending:
                break
            verdicts = await _judge_paths(pending, ask, checkpoint, batch_size, report)
            proposed: dict[str, AttributePath] = {}
            for key, p in pending.items():
                v = verdicts[key]
                if v.valid:
                    settled[key] = p
                    continue
                rewritten = _accept_path_rewrite(v.rewrite, p, aligner, rules, max_depth)
                if rewritten is None:
                    settled[key] = None
                else:
                    proposed[key] = rewritten
            # Algorithm 3, line 23: a rewritten path is accepted only if it passes Check Path itself;
            # otherwise the original's tail is deleted and its parent is judged in the next round.
            to_check = {
                _path_key(rw): rw
                for rw in proposed.values()
                if _path_key(rw) not in settled and _path_key(rw) not in verdicts
            }
            if to_check:
                verdicts.update(await _judge_paths(to_check, ask, checkpoint, batch_size, report))
            for key, rewritten in proposed.items():
                rkey = _path_key(rewritten)
                ok = settled[rkey] is not None if rkey in settled else verdicts[rkey].valid
                if ok:
                    settled[key] = settled.get(rkey) or rewritten
                    settled.setdefault(rkey, rewritten)
                    report.notes["paths_rewritten"] = report.notes.get("paths_rewritten", 0) + 1
                else:
                    settled[key] = None
                    report.notes["path_rewrites_rejected"] = report.notes.get("path_rewrites_rejected", 0) + 1
            for path, p in list(final.items()):
                key = _path_key(p)
                if len(p) > 1 and key in settled:
                    target = settled[key]
                    if target is None:
                        cuts["invalid_path"] += occurrences[path]
                        final[path] = p[:-1]
                    else:
                        final[path] = target

    # Decisions and output (DEDUPLICATE happens at merge; occurrences are kept as votes).
    out: list[AttributePath] = []
    for path, p in final.items():
        if len(p) < 2:
            why = "root_only" if len(path) <= 1 else _first_cut(path, stage1, stage2, final)
            decisions[path] = (None, why)
            continue
        status = "kept" if p == path else "changed"
        decisions[path] = (p, status)
        out.extend([p] * occurrences[path])
    for path, (result, why) in decisions.items():
        if result is None:
            report.dropped[why] += occurrences[path]
    for reason, n in cuts.most_common():
        report.notes[f"cut_{reason}"] = n
    report.n_out = len(out)
    return FilterResult(paths=out, decisions=decisions, report=report)


def _first_cut(
    path: AttributePath,
    stage1: dict[AttributePath, AttributePath],
    stage2: dict[AttributePath, AttributePath],
    final: dict[AttributePath, AttributePath],
) -> str:
    if len(stage1[path]) < 2:
        return "rules"
    if len(stage2[path]) < 2:
        return "invalid_node"
    return "invalid_path"


def _accept_path_rewrite(
    rewrite: Any, original: AttributePath, aligner: RootAligner, rules: RuleFilter, max_depth: int
) -> AttributePath | None:
    if not isinstance(rewrite, list) or len(rewrite) < 2:
        return None
    names = [rules.clean(str(n)) for n in rewrite if str(n).strip()]
    if len(names) < 2 or len(names) > max_depth:
        return None
    root = aligner.align([names[0]])[names[0]][0]
    if root is None or canonical_key(root) != canonical_key(original[0]):
        return None
    kept = [root]
    for name in names[1:]:
        if rules.problem(name, kept[-1]) is not None:
            return None
        kept.append(name)
    new = tuple(kept)
    return None if _path_key(new) == _path_key(original) else new


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class _Check:
    """One batched LLM judgement (Check Node or Check Path) and the names it records under."""

    label: str  # for log messages
    store: str  # checkpoint section and report counter
    template: str
    call_site: str
    unjudged_note: str
    paths: bool  # Check Path (a rewrite is a path)
    reused_note: str | None = None

    @property
    def rewrite_template(self) -> str:
        """The template asking for the rewrites of the items judged invalid."""
        return self.template.replace("_check_", "_rewrite_")

    @property
    def rewrite_site(self) -> str:
        return self.call_site.replace(".check_", ".rewrite_")


_CHECK_NODE = _Check("Check Node", "node_checks", "builder_check_node", "builder.check_node", "nodes_unjudged",
                     paths=False, reused_note="node_checks_reused")  # fmt: skip
_CHECK_PATH = _Check("Check Path", "path_checks", "builder_check_path", "builder.check_path", "paths_unjudged",
                     paths=True)  # fmt: skip

UNBELIEVED_BATCH = 8
"""A check of at least this many items that judges every one invalid is not believed (see :func:`_judge`)."""

CALL_SITES = tuple(site for c in (_CHECK_NODE, _CHECK_PATH) for site in (c.call_site, c.rewrite_site))
"""The call sites of the filter's LLM calls (its stage report's usage adds these up)."""


def _bump(report: StageReport, note: str, by: int = 1) -> None:
    report.notes[note] = report.notes.get(note, 0) + by


async def _judge(
    check: _Check,
    payloads: dict[str, dict[str, str]],
    ask: Ask[Any],
    checkpoint: Checkpoint,
    batch_size: int,
    report: StageReport,
) -> dict[str, _Verdict]:
    """Judge each payload (reusing checkpointed verdicts), batching many per LLM call.

    Each call asks for a ``true``/``false`` verdict per item (:class:`~._schemas.Verdicts`), then one
    more call asks for the rewrites of the items judged invalid (:class:`~._schemas.Rewrites`). A failed
    call, a missing verdict or a batch of :data:`UNBELIEVED_BATCH` or more judged all invalid keeps its
    items, marked unjudged; a failed rewrite call leaves the invalid items without a rewrite (cut).
    """
    verdicts: dict[str, _Verdict] = {}
    todo: list[tuple[str, dict[str, str]]] = []
    for key, payload in payloads.items():
        stored = checkpoint.get(check.store, key)
        if stored is not None:
            verdicts[key] = _Verdict(bool(stored["valid"]), stored.get("rewrite"))
        else:
            todo.append((key, payload))
    _bump(report, check.store, len(payloads))
    if check.reused_note and len(payloads) - len(todo):
        _bump(report, check.reused_note, len(payloads) - len(todo))

    async def one(batch: list[tuple[str, dict[str, str]]]) -> None:
        field = "path" if check.paths else "name"
        keys = [verdict_key(i + 1, payload[field]) for i, (_, payload) in enumerate(batch)]
        items = [{"key": key, **payload} for key, (_, payload) in zip(keys, batch, strict=True)]
        reply = await _ask_or_empty(
            check.label, check.template, items, verdict_reply_type(keys), check.call_site
        )
        read = [read_verdict(reply.get(key)) for key in keys]
        if len(batch) >= UNBELIEVED_BATCH and all(valid is False for valid in read):
            # a small model under greedy decoding copies its first verdict down the batch: judged
            # all invalid, 30 names are far likelier a cascade than 30 values (most extracted paths
            # are valid); its items stay unjudged (kept) rather than cut
            logger.warning(
                "%s judged all %d items invalid: not believed, kept unjudged", check.label, len(batch)
            )
            _bump(report, "checks_not_believed")
            read = [None] * len(batch)
        invalid: list[int] = []
        for i, ((key, _payload), valid) in enumerate(zip(batch, read, strict=True)):
            if valid is None:
                verdicts[key] = _Verdict(True, None, judged=False)
                _bump(report, check.unjudged_note)
            elif valid:
                verdicts[key] = _Verdict(True, None)
                checkpoint.put(check.store, key, {"valid": True, "rewrite": None})
            else:
                invalid.append(i)
        if not invalid:
            return
        # the rewrites of the invalid items, in a call of their own: asked with each verdict, the
        # embedded model copied every valid path into its rewrite (three times the tokens)
        asked = [keys[i] for i in invalid]
        rewrites = await _ask_or_empty(f"{check.label} rewrite", check.rewrite_template,
                                       [items[i] for i in invalid], rewrite_reply_type(asked, paths=check.paths),
                                       check.rewrite_site)  # fmt: skip
        for i in invalid:
            key = batch[i][0]
            rewrite = read_rewrite(rewrites.get(keys[i]), paths=check.paths)
            verdicts[key] = _Verdict(False, rewrite)
            checkpoint.put(check.store, key, {"valid": False, "rewrite": rewrite})

    async def _ask_or_empty(label: str, template: str, items: list[dict[str, Any]], reply_type: type[Any],
                            site: str) -> dict[str, Any]:  # fmt: skip
        try:
            return dict(await ask(template, {"items": items}, reply_type, site))
        except LLMError as exc:
            logger.warning("%s failed for %d items: %s", label, len(items), exc)
            _bump(report, "llm_failures")
            return {}

    await asyncio.gather(*(one(b) for b in _batches(todo, batch_size)))
    return verdicts


async def _judge_nodes(
    names: dict[str, tuple[str, str]],
    ask: Ask[Any],
    checkpoint: Checkpoint,
    batch_size: int,
    report: StageReport,
) -> dict[str, _Verdict]:
    payloads = {key: {"name": name, "context": ctx} for key, (name, ctx) in names.items()}
    return await _judge(_CHECK_NODE, payloads, ask, checkpoint, batch_size, report)


async def _judge_paths(
    pending: dict[str, AttributePath],
    ask: Ask[Any],
    checkpoint: Checkpoint,
    batch_size: int,
    report: StageReport,
) -> dict[str, _Verdict]:
    payloads = {key: {"path": PATH_SEPARATOR.join(path)} for key, path in pending.items()}
    return await _judge(_CHECK_PATH, payloads, ask, checkpoint, batch_size, report)
