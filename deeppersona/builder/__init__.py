"""Build or extend an attribute taxonomy from self-disclosure QA data (paper §3.1, Algorithms 1–3).

Public names::

    TaxonomyBuilder     the pipeline: classify -> extract -> filter -> merge -> filter -> format
    BuildResult         the tree plus one StageReport per stage
    StageReport         counts in and out of a stage, and what was dropped and why
    ClassifyResult, ExtractResult, FilterResult, MergeResult   outputs of the stages run on their own
    QAPair, PairRecord  a question-answer pair; what the builder learned from it (Figure 6)
    RuleFilter          the rule-based pre-filter of attribute names
    read_qa, InputStats read QA pairs from files or iterables, counting skipped records
    sample_qa_path      the bundled sample of QA pairs
    conversations_path  the bundled real conversation turns, hand-annotated (the gold set)

The offline fake with plausible builder replies is ``deeppersona.testing.fake_builder_llm`` (or
``model="fake"``).
"""

from __future__ import annotations

from ._builder import DEFAULT_MERGE_THRESHOLD, DEFAULT_ROOT_THRESHOLD, DEFAULT_SNAP, TaxonomyBuilder
from ._io import InputStats, read_qa
from ._records import PairRecord, QAPair
from ._report import BuildResult, ClassifyResult, ExtractResult, FilterResult, MergeResult, StageReport
from ._rules import RuleFilter
from ._sample import conversations_path, sample_qa_path

__all__ = [
    "DEFAULT_MERGE_THRESHOLD",
    "DEFAULT_ROOT_THRESHOLD",
    "DEFAULT_SNAP",
    "BuildResult",
    "ClassifyResult",
    "ExtractResult",
    "FilterResult",
    "InputStats",
    "MergeResult",
    "PairRecord",
    "QAPair",
    "RuleFilter",
    "StageReport",
    "TaxonomyBuilder",
    "read_qa",
    "conversations_path",
    "sample_qa_path",
]
