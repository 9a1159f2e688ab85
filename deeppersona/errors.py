"""The deeppersona exception tree.

Every error the library raises on purpose derives from :class:`DeepPersonaError`.
User mistakes also inherit the matching builtin, so ``except ValueError`` keeps working::

    DeepPersonaError
    ├── ConfigError (ValueError)              bad argument, unknown option, missing extra
    │   └── MissingDependencyError (ImportError)
    ├── TaxonomyError (ValueError)            malformed tree, JSON or schema; bad path
    │   └── NodeNotFoundError (KeyError)
    ├── DemographicsError (ValueError)        unknown country, impossible cohort
    ├── AnchorError (ValueError)              anchors of the wrong type or impossible value
    ├── DataFileError (ValueError)            unreadable input data (QA pairs, survey files)
    │   └── DataFileNotFoundError (FileNotFoundError)
    ├── LLMError                              a backend failure
    │   ├── LLMOutputError (ValueError)       the model's replies never validated
    │   ├── LLMTransientError                 retries ran out on rate limits, timeouts, 5xx
    │   └── LLMRequestError                   authentication, bad request, context window
    │       └── LLMConfigError (ValueError)   the backend cannot work: no key, rejected key,
    │                                         unknown model, unreachable api_base
    ├── ModelIntegrityError                   an embedded model file failed its size/SHA-256 check
    ├── GenerationError                       a persona could not be generated
    └── EvaluationError (ValueError)          bad evaluation input (empty sets, unknown country)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnchorError",
    "ConfigError",
    "DataFileError",
    "DataFileNotFoundError",
    "DeepPersonaError",
    "DemographicsError",
    "EvaluationError",
    "GenerationError",
    "LLMConfigError",
    "LLMError",
    "LLMOutputError",
    "LLMRequestError",
    "LLMTransientError",
    "MissingDependencyError",
    "ModelIntegrityError",
    "NodeNotFoundError",
    "TaxonomyError",
]


class DeepPersonaError(Exception):
    """Root of every error raised by deeppersona."""


class ConfigError(DeepPersonaError, ValueError):
    """An argument or configuration value is invalid."""


class MissingDependencyError(ConfigError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class TaxonomyError(DeepPersonaError, ValueError):
    """A taxonomy is malformed (bad JSON, wrong schema, invalid node or path)."""


class NodeNotFoundError(TaxonomyError, KeyError):
    """A path does not name a node of the tree."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class DemographicsError(DeepPersonaError, ValueError):
    """A demographic request cannot be met (unknown country, impossible cohort)."""


class AnchorError(DeepPersonaError, ValueError):
    """Anchors have the wrong type or an impossible value."""


class DataFileError(DeepPersonaError, ValueError):
    """An input data file cannot be read or has the wrong shape."""


class DataFileNotFoundError(DataFileError, FileNotFoundError):
    """An input data file does not exist."""


class LLMError(DeepPersonaError):
    """A language-model backend failed.

    Attributes:
        model: The model name the call was made with, if known.
        attempts: How many attempts were made.
    """

    def __init__(self, message: str, *, model: str | None = None, attempts: int = 0, **details: Any) -> None:
        super().__init__(message)
        self.model = model
        self.attempts = attempts
        self.details = details


class LLMOutputError(LLMError, ValueError):
    """The model's replies never parsed or validated against the requested schema.

    Attributes:
        raw: The last raw reply.
        errors: The validation error of each attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        attempts: int = 0,
        raw: str | None = None,
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(message, model=model, attempts=attempts)
        self.raw = raw
        self.errors = list(errors or [])


class LLMTransientError(LLMError):
    """Retries ran out on transient failures (rate limit, timeout, 5xx, connection)."""


class LLMRequestError(LLMError):
    """A non-retryable request failure (authentication, bad request, context window exceeded)."""


class LLMConfigError(LLMRequestError, ValueError):
    """The backend's configuration cannot work: missing or rejected credentials (401/403), a model the
    provider does not know, or an ``api_base`` nothing answers on.

    Raised by a backend's pre-flight check before a run starts, and by any call that meets such a
    failure; never retried.
    """


class ModelIntegrityError(DeepPersonaError):
    """An embedded model file does not match its expected size or SHA-256 digest."""


class GenerationError(DeepPersonaError):
    """A persona could not be generated."""


class EvaluationError(DeepPersonaError, ValueError):
    """Evaluation input is invalid (an empty persona set, a country missing from the ground truth)."""
