"""The package root: a curated, sorted ``__all__`` whose every name resolves."""

from __future__ import annotations

import importlib

import deeppersona

EXPECTED = [
    "AttributeNode",
    "AttributeSelector",
    "AttributeTree",
    "Cohort",
    "DeepPersonaError",
    "DemographicSampler",
    "Demographics",
    "Embedder",
    "Evaluator",
    "LLM",
    "LiteLLMBackend",
    "Persona",
    "PersonaEngine",
    "PersonaPipeline",
    "Population",
    "PromptLibrary",
    "ROOT_CATEGORIES",
    "StratifiedSelector",
    "TaxonomyBuilder",
    "Usage",
    "ValueGenerator",
    "ValueType",
    "__version__",
]


def test_all_is_pinned_and_sorted() -> None:
    assert deeppersona.__all__ == EXPECTED
    assert deeppersona.__all__ == sorted(deeppersona.__all__)


def test_every_public_name_resolves() -> None:
    for name in deeppersona.__all__:
        assert getattr(deeppersona, name) is not None, name


def test_public_classes_come_from_their_modules() -> None:
    assert deeppersona.AttributeTree is importlib.import_module("deeppersona.taxonomy").AttributeTree
    assert deeppersona.PersonaEngine is importlib.import_module("deeppersona.engine").PersonaEngine


def test_unknown_attribute_raises() -> None:
    try:
        deeppersona.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_errors_inherit_builtins() -> None:
    from deeppersona import errors

    assert issubclass(errors.TaxonomyError, ValueError)
    assert issubclass(errors.AnchorError, ValueError)
    assert issubclass(errors.DataFileNotFoundError, FileNotFoundError)
    assert issubclass(errors.NodeNotFoundError, KeyError)
    # an interrupt stays a KeyboardInterrupt, outside the root: ``except Exception`` never swallows it
    assert issubclass(errors.GenerationInterrupted, KeyboardInterrupt)
    assert not issubclass(errors.GenerationInterrupted, Exception)
    for name in set(errors.__all__) - {"GenerationInterrupted"}:
        assert issubclass(getattr(errors, name), errors.DeepPersonaError), name


# The public names of each subpackage: what a user needs (the rest is importable, but internal).
SUBPACKAGES: dict[str, list[str]] = {
    "builder": [
        "DEFAULT_MERGE_THRESHOLD", "DEFAULT_ROOT_THRESHOLD", "DEFAULT_SNAP", "BuildResult", "ClassifyResult",
        "ExtractResult",
        "FilterResult", "InputStats", "MergeResult", "PairRecord", "QAPair", "RuleFilter", "StageReport",
        "TaxonomyBuilder", "conversations_path", "read_qa", "sample_qa_path",
    ],
    "demographics": [
        "LIFE_STAGES", "Cohort", "DemographicSampler", "DemographicTables", "Demographics", "LifeStageRules",
        "OccupationTable", "normalize_gender",
    ],
    "embeddings": [
        "DEFAULT_EMBEDDING_MODEL", "CallableEmbedder", "Embedder", "EmbeddingCache", "LiteLLMEmbedder",
        "SentenceTransformerEmbedder", "VectorIndex", "normalize_rows", "resolve_embedder", "similarity", "top_k",
    ],
    "engine": [
        "EngineOptions", "PersonaEngine", "PersonaPipeline", "RunReport", "map_personas", "persona_id",
        "written_indices",
    ],
    "errors": [
        "AnchorError", "ConfigError", "DataFileError", "DataFileNotFoundError", "DeepPersonaError",
        "DemographicsError", "DuplicatePersonaError", "EvaluationError", "GenerationError", "GenerationInterrupted",
        "LLMConfigError", "LLMError", "LLMOutputError", "LLMRequestError", "LLMTransientError",
        "MissingDependencyError", "ModelIntegrityError", "NodeNotFoundError", "TaxonomyError",
    ],
    "evaluation": [
        "CREATIVE_METRICS", "METRICS", "PAIRWISE_DIMENSIONS", "PERSONALIZATION_REQUESTS", "QUALITY_METRICS",
        "Evaluator", "GroundTruth", "Instrument", "IntrinsicReport", "PersonalizationReport",
        "PersonalizationRequest", "QualityReport", "SimulatedAnswers", "SurveyItem", "SurveyReport",
        "bootstrap_ci", "compare_samples", "elo_ratings", "js_distance", "js_divergence", "ks_statistic",
        "load_personas", "mean_difference", "normalized_wasserstein", "survey_coverage", "survey_leaves",
        "surveys", "wasserstein", "win_rates",
    ],
    "evaluation.surveys": ["BIG_FIVE", "IPIP50", "WVS7", "GroundTruth", "Instrument", "SurveyItem", "load_ipip", "load_wvs7"],
    "generation": [
        "CORE_FIELDS", "ConsistencyFix", "ConsistencyReport", "CoreChain", "FillReply", "PersonaDraft", "SketchFacts",
        "ValueGenerator",
    ],
    "llm": [
        "DEFAULT_LOCAL_MODEL", "FieldCheck", "LLM", "LLMResponse", "LiteLLMBackend", "Message", "ModelRegistry",
        "ModelSpec",
        "RawReply", "Request", "RetryPolicy", "TransientFailure", "Usage", "UsageTracker", "default_registry",
        "preflight", "resolve_llm", "with_schema_instructions",
    ],
    "persona": [
        "STRATA", "AttributeValue", "ConsistencyNote", "CoreProfile", "Persona", "Population", "PopulationStats",
        "Provenance", "Stratum", "read_jsonl_personas",
    ],
    "prompts": ["PromptLibrary", "render", "template_names"],
    "selector": [
        "AttributeSelector", "SelectedAttribute", "SelectionContext", "StratifiedSelector", "UniformSelector",
        "node_text",
    ],
    "taxonomy": [
        "CONDITIONS", "CORE_ATTRIBUTES", "DEFAULT_MAX_DEPTH", "FORMAT_VERSION", "PATH_SEPARATOR", "ROOT_CATEGORIES",
        "AttributeNode", "AttributeTree", "TaxonomyProblem", "TaxonomyStats", "ValueType", "applies",
        "canonical_key", "normalize_name",
    ],
    "testing": [
        "ChaosProxy", "ChaosRates", "ChaosStats", "FakeChatServer", "FakeLLM", "FakeRequest", "HashEmbedder",
        "LlamaCppServer", "checked_items", "fake_builder_llm", "fake_from_schema",
    ],
}  # fmt: skip


def test_each_subpackage_exports_what_users_need_and_no_more() -> None:
    for name, expected in SUBPACKAGES.items():
        module = importlib.import_module(f"deeppersona.{name}")
        assert sorted(module.__all__) == sorted(expected), name
        for public in module.__all__:
            assert getattr(module, public, None) is not None, f"deeppersona.{name}.{public}"


def test_public_classes_have_a_repr_of_their_own() -> None:
    """No public object prints as ``<deeppersona.x._private.Name object at 0x...>``."""
    import inspect

    for name, names in SUBPACKAGES.items():
        module = importlib.import_module(f"deeppersona.{name}")
        for public in names:
            obj = getattr(module, public)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                assert obj.__repr__ is not object.__repr__, f"deeppersona.{name}.{public} has the default repr"


def test_every_api_page_entry_is_public() -> None:
    """The API pages document public names only (a trimmed name must leave its page too)."""
    import re
    from pathlib import Path

    public = {f"deeppersona.{pkg}.{n}" for pkg, names in SUBPACKAGES.items() for n in names}
    public |= {f"deeppersona.{pkg}" for pkg in SUBPACKAGES} | {f"deeppersona.{n}" for n in EXPECTED}
    pages = Path(__file__).resolve().parents[1] / "docs" / "api"
    for page in sorted(pages.glob("*.md")):
        for entry in re.findall(r"^::: (\S+)", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
            assert entry in public, f"{page.name} documents {entry}, which is not public"
