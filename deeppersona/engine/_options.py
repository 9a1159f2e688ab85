"""Run options of :class:`PersonaEngine` (``engine.with_options(...)``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

__all__ = ["EngineOptions"]


class EngineOptions(BaseModel):
    """How the engine runs. Set with :meth:`PersonaEngine.with_options`.

    Attributes:
        batch_size: Most attributes per fill call (32 → 7 fill calls of 31-32 at ``k=220``).
        personas_in_flight: Personas worked on at once; ``None`` means ``4 *`` the backend's
            ``max_concurrency`` (so its slots stay busy while personas start and finish), or 1 when that is
            1 (so a local model sees one dialogue at a time and reuses its KV cache). How many LLM calls
            run at once is the backend's one setting, ``max_concurrency``
            (``PersonaEngine.from_taxonomy(tree, model, max_concurrency=32)`` or
            ``LiteLLMBackend(model, max_concurrency=32)``).
        consistency: Run the consistency pass (one call per persona).
        narrative: Write the narrative (one call per persona).
        max_fill_retries: Re-ask rounds for values that were refused (attributes, core-chain fields, the
            narrative).
        persona_retries: Whole-persona attempts after the first while a persona is not complete
            (``incomplete`` or ``failed``); attempt ``a`` is drawn from ``(seed, index, a)``.
        on_missing: ``"drop"`` attributes still without a value (with a warning), or ``"fail"`` the persona.
        replace_unfilled: Replace selected attributes that got no valid value after every re-ask by as many
            others from the same selector, filled once, so that the persona keeps ``k`` values (each
            replacement is listed in ``persona.warnings``); ``False`` leaves them missing (the persona is
            then ``incomplete``).
        temperature: Sampling temperature (backend default when ``None``).
        progress: Show a progress bar (one persona: its steps; several: the personas and the current
            stage): ``True``, ``False``, or ``None`` for "on a terminal and in a Jupyter notebook" (a
            widget, or a text bar without ipywidgets).
        anchor_similarity: Minimum cosine similarity for binding an anchor key to a taxonomy attribute by
            embedding (``None`` binds by name only).
        fsync: Force every line of :meth:`PersonaEngine.generate_to` to disk.
        select_in_thread: Run attribute selection (which embeds the persona's profile) in a worker
            thread so the event loop keeps serving other personas' LLM calls; ``None`` does so for every
            embedder except the pure-Python test :class:`~deeppersona.testing.HashEmbedder` and embedders
            with a true ``cheap`` attribute (for them the thread hand-off costs more than it saves).
        story_words: Length of each life story in words, as told to the model.
        narrative_words: Length of the narrative in words, as told to the model.
        max_sketch_chars: The longest sketch or text anchor (``bio`` and other anchor strings) accepted,
            in characters; a longer one is refused with an :class:`~deeppersona.errors.AnchorError`
            before any LLM call (a 1 MB sketch would otherwise be sent whole, in every prompt).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=32, ge=1)
    personas_in_flight: int | None = Field(default=None, ge=1)
    consistency: bool = True
    narrative: bool = True
    max_fill_retries: int = Field(default=2, ge=0)
    persona_retries: int = Field(default=2, ge=0)
    on_missing: Literal["drop", "fail"] = "drop"
    replace_unfilled: bool = True
    temperature: float | None = Field(default=None, ge=0, le=2)
    progress: bool | None = None
    anchor_similarity: float | None = Field(default=0.85, ge=-1, le=1)
    fsync: bool = True
    select_in_thread: bool | None = None
    story_words: str = "60-120"
    narrative_words: str = "120-180"
    max_sketch_chars: int = Field(default=4000, ge=1)

    @field_validator("story_words", "narrative_words")
    @classmethod
    def _word_range(cls, value: str) -> str:
        from ..generation._schemas import parse_word_range

        parse_word_range(value)  # raises ValueError with the expected form
        return value

    def replace(self, **changes: Any) -> EngineOptions:
        """Return new options with ``changes`` applied.

        Raises:
            ConfigError: An unknown option or an invalid value.
        """
        if "concurrency" in changes:
            raise ConfigError(
                "concurrency is the backend's setting now: PersonaEngine.from_taxonomy(tree, model, "
                "max_concurrency=N), engine.with_llm(model, max_concurrency=N), or an LLM built with "
                "max_concurrency=N (LiteLLMBackend, FakeLLM)"
            )
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(
                f"unknown engine option(s) {unknown}; known options: {', '.join(type(self).model_fields)}"
            )
        try:
            # only the fields set so far, so that ``model_fields_set`` keeps telling what the user chose
            # (an option left at its default does not override a user's ValueGenerator setting)
            return type(self).model_validate(
                {**{k: getattr(self, k) for k in self.model_fields_set}, **changes}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ConfigError(f"invalid engine option {where}: {first.get('msg')}") from None

    def in_flight(self, max_concurrency: int) -> int:
        """How many personas a run works on at once with a backend of ``max_concurrency`` slots (see
        ``personas_in_flight``)."""
        if self.personas_in_flight is not None:
            return self.personas_in_flight
        return 1 if max_concurrency <= 1 else 4 * max_concurrency

    def generator_params(self) -> dict[str, Any]:
        """The options that configure the :class:`~deeppersona.generation.ValueGenerator` (the engine
        applies those in ``model_fields_set``, the ones set explicitly, over the generator's own)."""
        return {
            "batch_size": self.batch_size,
            "max_fill_retries": self.max_fill_retries,
            "temperature": self.temperature,
            "story_words": self.story_words,
            "narrative_words": self.narrative_words,
            "on_missing": self.on_missing,
        }
