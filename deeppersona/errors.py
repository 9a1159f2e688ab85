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
    ├── DuplicatePersonaError (ValueError)    two personas of one population share an id
    ├── LLMError                              a backend failure
    │   ├── LLMOutputError (ValueError)       the model's replies never validated
    │   ├── LLMTransientError                 retries ran out on rate limits, timeouts, 5xx
    │   └── LLMRequestError                   authentication, bad request, context window
    │       └── LLMConfigError (ConfigError)  the backend cannot work: no key, rejected key,
    │                                         unknown model, unreachable api_base
    ├── ModelIntegrityError                   an embedded model file failed its size/SHA-256 check
    ├── GenerationError                       a persona could not be generated
    └── EvaluationError (ValueError)          bad evaluation input (empty sets, unknown country)

One exception stands outside that root on purpose: an interrupt must stay a
:class:`KeyboardInterrupt`, which ``except Exception`` (and so ``except DeepPersonaError``) never
swallows::

    KeyboardInterrupt
    └── GenerationInterrupted                 Ctrl-C during generate/enrich; keeps what finished
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import RunReport
    from .persona import Persona, Population

__all__ = [
    "AnchorError",
    "ConfigError",
    "DataFileError",
    "DataFileNotFoundError",
    "DeepPersonaError",
    "DemographicsError",
    "DuplicatePersonaError",
    "EvaluationError",
    "GenerationError",
    "GenerationInterrupted",
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


class DuplicatePersonaError(DeepPersonaError, ValueError):
    """Personas with the same id would end up in one population (``population_a + population_b``).

    Ids include a fingerprint of the run configuration, so the same id means the same persona of the
    same run: the same run was generated or loaded twice. ``Population.concat(..., duplicates="drop")``
    keeps the first of each.

    Attributes:
        ids: The duplicated ids, in order of first appearance.
    """

    def __init__(self, message: str, *, ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.ids = list(ids or [])


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


class LLMConfigError(LLMRequestError, ConfigError):
    """The backend's configuration cannot work: missing or rejected credentials (401/403), a model the
    provider does not know, or an ``api_base`` nothing answers on.

    It is both an :class:`LLMRequestError` and a :class:`ConfigError` (so ``except ConfigError`` catches a
    missing API key as it catches any other bad setting).

    Raised by a backend's pre-flight check before a run starts, and by any call that meets such a
    failure; never retried.
    """


class ModelIntegrityError(DeepPersonaError):
    """An embedded model file does not match its expected size or SHA-256 digest."""


class GenerationError(DeepPersonaError):
    """A persona could not be generated."""


class GenerationInterrupted(KeyboardInterrupt):
    """A synchronous generation was interrupted (Ctrl-C, a notebook's interrupt); what finished is kept.

    Raised by :meth:`PersonaEngine.generate <deeppersona.engine.PersonaEngine.generate>`, ``enrich``,
    ``generate_to`` and ``enrich_to`` within about two seconds of the interrupt: the personas in flight
    are cancelled (no more LLM calls are made), the finished ones are kept here, or, for
    ``generate_to`` / ``enrich_to``, are already in the output file, where calling the method again
    with the same arguments resumes. It is a :class:`KeyboardInterrupt`, not a
    :class:`DeepPersonaError`, so ``except Exception`` never swallows an interrupt and code that
    catches ``KeyboardInterrupt`` keeps working.

    Attributes:
        personas: The personas finished before the interrupt, in index order (complete ones and any
            that ended incomplete or failed); empty for ``generate_to`` / ``enrich_to``, whose finished
            personas are in the file.
        requested: How many personas the call was asked for.
        report: For ``generate_to`` / ``enrich_to``: the :class:`~deeppersona.engine.RunReport` of the
            interrupted run (``path``, ``written`` by this run, ``skipped`` as already there);
            ``None`` otherwise.

    In a notebook cell that did not catch it, IPython keeps it as ``sys.last_value``, so the next
    cell can still take ``sys.last_value.population``.

    Example:
        >>> try:  # doctest: +SKIP
        ...     people = engine.generate(k=60, n=100)
        ... except dp.errors.GenerationInterrupted as stop:
        ...     people = stop.population  # the personas finished before the interrupt
    """

    def __init__(
        self,
        message: str = "interrupted",
        *,
        personas: list[Persona] | None = None,
        requested: int = 0,
        report: RunReport | None = None,
    ) -> None:
        super().__init__(message)
        self.personas: list[Persona] = list(personas or [])
        self.requested = requested
        self.report = report

    @property
    def population(self) -> Population:
        """The finished personas as a :class:`~deeppersona.persona.Population` (the ones that are not
        complete in its ``failures``)."""
        from .persona import Population

        return Population(self.personas)


class EvaluationError(DeepPersonaError, ValueError):
    """Evaluation input is invalid (an empty persona set, a country missing from the ground truth)."""
