"""Turn a model argument (a name, a backend or nothing) into an :class:`LLM`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ._base import LLM

if TYPE_CHECKING:
    from ._registry import ModelRegistry

__all__ = ["DEFAULT_LOCAL_MODEL", "FAKE_MODEL", "preflight", "resolve_llm"]

DEFAULT_LOCAL_MODEL = "local/qwen2.5-coder-1.5b"
"""The model used when none is configured: the embedded Qwen2.5-Coder 1.5B through llama.cpp."""

FAKE_MODEL = "fake"
"""The offline fake model's name: ``"fake"`` or ``"fake:SEED"`` resolves to
:func:`deeppersona.testing.fake_builder_llm` (a FakeLLM that answers every prompt of the package)."""


def resolve_llm(
    model: str | LLM | None = None, *, registry: ModelRegistry | None = None, **kwargs: Any
) -> LLM:
    """Return a backend for ``model``.

    Args:
        model: An :class:`LLM` (returned as is); a LiteLLM model string such as ``"gpt-4.1-mini"``,
            ``"anthropic/claude-sonnet-4-5"``, ``"ollama/llama3.1"`` or ``"local/smollm2-135m"``; ``None``
            for the embedded default model (:data:`DEFAULT_LOCAL_MODEL`, needs the ``local`` extra); or
            ``"fake"`` / ``"fake:SEED"`` for the offline fake of :mod:`deeppersona.testing` (dry runs, tests).
        registry: The local-model registry for ``local/...`` names (the packaged defaults when ``None``).
        **kwargs: Passed to :class:`LiteLLMBackend` (``max_concurrency``, ``cache``, ``temperature``,
            ``api_base``...): the backend options that ``PersonaEngine.from_taxonomy``, ``Evaluator`` and
            the CLI pass on under the same names.

    Returns:
        An :class:`LLM`.

    Raises:
        ConfigError: ``model`` is of an unsupported type or an empty string, options are given with an
            :class:`LLM` instance or the fake (which takes ``max_concurrency`` only), the fake's seed is not a whole number, or an option name
            is unknown.
    """
    if isinstance(model, LLM):
        if kwargs or registry is not None:
            raise ConfigError(
                "backend options cannot be applied to an existing LLM instance; configure it directly"
            )
        return model
    if model is None:
        model = DEFAULT_LOCAL_MODEL
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(
            f"model must be an LLM, a LiteLLM model string or None, got {model!r}; "
            "e.g. 'gpt-4.1-mini' or 'local/qwen2.5-coder-1.5b'"
        )
    name = model.strip()
    if name == FAKE_MODEL or name.startswith(FAKE_MODEL + ":"):
        return _fake(name, registry=registry, **kwargs)
    from ._litellm import LiteLLMBackend

    return LiteLLMBackend(name, registry=registry, **kwargs)


def _fake(name: str, *, registry: ModelRegistry | None, **kwargs: Any) -> LLM:
    seed = name.partition(":")[2]
    if seed and not seed.isdigit():
        raise ConfigError(
            f"the offline fake model takes a whole-number seed: 'fake' or 'fake:7', got {name!r}"
        )
    concurrency = kwargs.pop("max_concurrency", None)
    if kwargs or registry is not None:
        given = sorted(kwargs) + (["registry"] if registry is not None else [])
        raise ConfigError(
            f"the offline fake model takes no backend options but max_concurrency; got {', '.join(given)}"
        )
    if concurrency is not None and (isinstance(concurrency, bool) or int(concurrency) < 1):
        raise ConfigError(f"max_concurrency must be at least 1, got {concurrency!r}")
    # the one place that names the fake: it is reached by name, like any backend
    from ..testing import fake_builder_llm

    llm: LLM = fake_builder_llm(int(seed or 0))
    if concurrency is not None:
        llm.max_concurrency = int(concurrency)
    return llm


async def preflight(llm: LLM) -> None:
    """Run ``llm``'s pre-flight check when it has one (:meth:`LiteLLMBackend.preflight`: credentials,
    model name, a reachable ``api_base``, one tiny probe request); other backends pass.

    The engine and the :class:`~deeppersona.evaluation.Evaluator` call this before their first request, so
    a configuration that cannot work fails at once with an :class:`~deeppersona.errors.LLMConfigError`
    instead of being retried as a transient failure. The backend remembers a passed check.
    """
    check = getattr(llm, "preflight", None)
    if check is not None:
        await check()
