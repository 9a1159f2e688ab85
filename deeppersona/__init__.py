"""deeppersona: deep synthetic personas grounded in real population tables.

Public classes are importable from the package root::

    import deeppersona as dp

    engine = dp.PersonaEngine.from_taxonomy("default")
    persona = engine.anchor(country="Kenya").with_seed(7).generate(k=60)

Importing the package is cheap: every public name is loaded on first use (PEP 562), and heavy
backends (litellm, torch, sentence-transformers, faiss, llama.cpp) load only when a model is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .builder import TaxonomyBuilder
    from .demographics import Cohort, Demographics, DemographicSampler
    from .embeddings import Embedder
    from .engine import PersonaEngine, PersonaPipeline
    from .errors import DeepPersonaError
    from .evaluation import Evaluator
    from .generation import ValueGenerator
    from .llm import LLM, LiteLLMBackend, Usage
    from .persona import Persona, Population
    from .prompts import PromptLibrary
    from .selector import AttributeSelector, StratifiedSelector
    from .taxonomy import ROOT_CATEGORIES, AttributeNode, AttributeTree, ValueType

# public name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    "AttributeNode": ".taxonomy",
    "AttributeSelector": ".selector",
    "AttributeTree": ".taxonomy",
    "Cohort": ".demographics",
    "DeepPersonaError": ".errors",
    "DemographicSampler": ".demographics",
    "Demographics": ".demographics",
    "Embedder": ".embeddings",
    "Evaluator": ".evaluation",
    "LLM": ".llm",
    "LiteLLMBackend": ".llm",
    "Persona": ".persona",
    "PersonaEngine": ".engine",
    "PersonaPipeline": ".engine",
    "Population": ".persona",
    "PromptLibrary": ".prompts",
    "ROOT_CATEGORIES": ".taxonomy",
    "StratifiedSelector": ".selector",
    "TaxonomyBuilder": ".builder",
    "Usage": ".llm",
    "ValueGenerator": ".generation",
    "ValueType": ".taxonomy",
}

# Submodules users reach as attributes: ``dp.errors``, ``dp.testing``, ``dp.surveys``.
_SUBMODULES = {"errors": ".errors", "testing": ".testing", "surveys": ".evaluation.surveys"}

__all__ = [
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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name], __name__)
    else:
        raise AttributeError(f"module 'deeppersona' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
