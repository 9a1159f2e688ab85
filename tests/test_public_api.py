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
