"""The :class:`Persona` model and its parts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..llm._base import Usage
from ..taxonomy._constants import PATH_SEPARATOR

__all__ = [
    "PATH_SEPARATOR",
    "STRATA",
    "AttributeValue",
    "ConsistencyNote",
    "CoreProfile",
    "Persona",
    "Provenance",
    "Status",
    "Stratum",
]


Stratum = Literal["near", "middle", "far", "required", "anchor", "custom"]
"""Where an attribute came from: a selector stratum, a required attribute, or an anchor
(``"anchor"`` when bound to a taxonomy node, ``"custom"`` when kept under its own name)."""

STRATA: tuple[str, ...] = ("near", "middle", "far")
"""The three similarity strata of the default selector, nearest first."""

Polarity = Literal["positive", "negative", "neutral"]

Status = Literal["ok", "incomplete", "failed"]
"""A persona's status: complete, finished with missing parts, or failed."""


class AttributeValue(BaseModel):
    """The value of one attribute of a persona.

    Attributes:
        value: The value: a short text, a number, a boolean or a list of short texts (``None`` when the
            attribute does not apply to this person).
        stratum: Where the attribute came from (see :data:`Stratum`).
        path: The taxonomy path of the attribute (the anchor's own name for custom anchors).
        not_applicable: Why the attribute does not apply to this person (partner attributes for someone
            single, say), when the model answered so explicitly; ``None`` otherwise.
    """

    model_config = ConfigDict(extra="forbid")

    value: Any
    stratum: Stratum
    path: tuple[str, ...] = ()
    not_applicable: str | None = None

    @property
    def applicable(self) -> bool:
        """Whether the attribute applies to the person (``not_applicable`` is not set)."""
        return self.not_applicable is None


class CoreProfile(BaseModel):
    """The core chain every persona starts from (paper §3.2): values → attitude → stories → interests.

    Attributes:
        values_polarity: The drawn orientation of the value system.
        values_orientation: A short phrase capturing the person's core values.
        attitude: The overall life attitude, one short sentence.
        attitude_details: How the attitude shows in daily life.
        coping_mechanism: How the person deals with challenges.
        life_stories: One to three salient life stories rooted in the person's country and region.
        interests: Two or three hobbies or interests inferred from the stories.
        circumstances: Circumstances settled after the core chain (applicability condition → true or
            false, such as ``{"partnered": False, "parent": True}``; see
            :data:`~deeppersona.taxonomy.CONDITIONS`). They decide which conditional attributes the
            selector may pick; empty when the taxonomy has no such conditions.
    """

    model_config = ConfigDict(extra="forbid")

    values_polarity: Polarity = "neutral"
    values_orientation: str
    attitude: str
    attitude_details: str
    coping_mechanism: str
    life_stories: list[str] = Field(default_factory=list)
    interests: list[str] = Field(default_factory=list)
    circumstances: dict[str, bool] = Field(default_factory=dict)


class ConsistencyNote(BaseModel):
    """One repair made by the consistency pass.

    Attributes:
        path: The attribute path that changed.
        old: The value before the repair.
        new: The value after the repair.
        reason: The contradiction that was found.
    """

    model_config = ConfigDict(extra="forbid")

    path: str
    old: Any = None
    new: Any = None
    reason: str = ""


class Provenance(BaseModel):
    """Where a persona came from.

    Attributes:
        model: The language model that generated the values.
        embedder: The embedder the selector used.
        taxonomy_fingerprint: The fingerprint of the attribute tree.
        library_version: The deeppersona version.
        k: The number of attributes asked for.
        selector: The selector class name.
        occupation_source: Where drawn occupations come from, e.g. the BLS OEWS table for the US or
            the approximate fallback elsewhere (the US occupation mix with a farming-share heuristic,
            not per-country data); empty when not recorded. Each persona's own label is
            ``demographics["occupation_source"]`` (absent or ``None`` for an anchored occupation).
        run_id: A short hash of ``run_config``: personas of one run share it (empty when not recorded,
            as in files written before run configurations were recorded).
        run_config: Everything of the run that shapes its personas, JSON-safe: taxonomy fingerprint,
            cohort, anchors, model name, embedder, ``k``, seed, selector class and settings, generator
            settings (batch size, re-asks, story and narrative words, temperature, a fingerprint of the
            template overrides), the output-changing options (consistency, narrative, anchor similarity)
            and the library version. :meth:`PersonaEngine.generate_to` compares it to resume only the
            same run. Empty when not recorded (personas from :meth:`PersonaEngine.generate` record it too).
    """

    model_config = ConfigDict(extra="forbid")

    model: str = ""
    embedder: str | None = None
    taxonomy_fingerprint: str = ""
    library_version: str = ""
    k: int = 0
    selector: str = ""
    occupation_source: str = ""
    run_id: str = ""
    run_config: dict[str, Any] = Field(default_factory=dict)


class Persona(BaseModel):
    """A deep synthetic persona: demographics, a core chain, ``k`` attributes and a narrative.

    A persona is reproducible from ``(seed, index)`` with the same engine configuration.

    Attributes:
        id: A stable identifier, unique across runs: ``p-<run>-<index>`` where ``<run>`` is the hash
            of :attr:`Provenance.run_id` (a fingerprint of the run configuration, seed included),
            plus ``-<sketch hash>`` for an enriched persona (see
            :func:`deeppersona.engine.persona_id`). The same configuration gives the same ids.
        seed: The run seed.
        index: The persona's position in its run.
        status: ``"ok"`` only when the persona is complete: every selected attribute has a valid value
            (or an explicit not-applicable), the core chain meets its spec and the narrative is written.
            ``"incomplete"`` when generation finished with parts missing (listed in ``missing``),
            ``"failed"`` when it could not finish (see ``failure``).
        failure: Why the persona is not ``ok`` (``None`` when it is).
        missing: The parts without a valid value: attribute path (or ``core.<field>``, ``narrative``)
            → what was wrong with the last answer.
        anchors: The anchors exactly as given (they also appear, verbatim, in the profile).
        demographics: Core demographic fields (country, region, city, age, gender, occupation ...).
        core: The core chain (values, attitude, stories, interests).
        attributes: Ordered path → :class:`AttributeValue` (anchors first, then the selected attributes).
        narrative: A concise text version of the profile, ``Narr(P)``.
        consistency_notes: The repairs made by the consistency pass.
        warnings: Problems that did not stop generation (attributes left without a value, dropped
            sketch facts).
        provenance: Model, taxonomy fingerprint, library version.
        usage: The LLM calls, tokens and cost spent on this persona.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    seed: int
    index: int = 0
    status: Status = "ok"
    failure: str | None = None
    missing: dict[str, str] = Field(default_factory=dict)
    anchors: dict[str, Any] = Field(default_factory=dict)
    demographics: dict[str, Any] = Field(default_factory=dict)
    core: CoreProfile | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    narrative: str = ""
    consistency_notes: list[ConsistencyNote] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)
    usage: Usage = Field(default_factory=Usage)

    # -- convenient views ------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """Whether the persona is complete (``status == "ok"``)."""
        return self.status == "ok"

    @property
    def name(self) -> str | None:
        """The person's name, when known."""
        value = self.demographics.get("name")
        return str(value) if value else None

    @property
    def bio(self) -> str | None:
        """The free-text biography anchor (or enriched sketch), when given."""
        value = self.anchors.get("bio")
        return str(value) if value else None

    @property
    def selected(self) -> dict[str, AttributeValue]:
        """The attributes chosen by the selector (anchors excluded)."""
        return {p: a for p, a in self.attributes.items() if a.stratum not in ("anchor", "custom")}

    def values(self) -> dict[str, Any]:
        """Return path → value for every attribute (strata dropped)."""
        return {path: attr.value for path, attr in self.attributes.items()}

    def strata_counts(self) -> dict[str, int]:
        """Return how many attributes came from each stratum."""
        counts: dict[str, int] = {}
        for attr in self.attributes.values():
            counts[attr.stratum] = counts.get(attr.stratum, 0) + 1
        return counts

    def get(self, path: str | Sequence[str], default: Any = None) -> Any:
        """Return one value of the persona, found as :meth:`AttributeTree.get` finds a node, or ``default``.

        ``path`` is looked up in this order:

        1. An attribute by its path, in every spelling :meth:`AttributeTree.get` accepts: names matched
           by :func:`~deeppersona.taxonomy.canonical_key` (case, spacing, punctuation, ``snake_case``,
           ``kebab-case``, ``CamelCase``, ``&`` for ``and``), separated by ``" > "`` or a bare ``">"``, or
           given as a sequence of names. Custom anchors are found by their own name the same way.
        2. A demographic field (``"age"``, ``"gender"``, ``"country"``, ``"city"``, ``"occupation"``,
           ``"name"``, any key of :attr:`demographics`), a core field (``"values_orientation"``,
           ``"values_polarity"``, ``"attitude"``, ``"attitude_details"``, ``"coping_mechanism"``,
           ``"life_stories"``, ``"interests"``, and the aliases ``"values"``, ``"personal values"``,
           ``"life attitude"``, ``"coping"``, ``"stories"``, ``"personal story"``, ``"hobbies"``), or
           the path of a core attribute of the taxonomy (``"Demographic Information > Age"``,
           ``"Psychological and Cognitive Aspects > Life Attitude"`` ...; ``"location"`` gives the
           ``country``, ``region`` and ``city`` as a dict), in any spelling.
        3. An attribute by the end of its path: the leaf name alone (``"chronotype"``) or its last
           names (``"Sleep and Wake Patterns > Chronotype"``), when exactly one attribute ends so.

        Examples:
            >>> persona.get("Lifestyle and Daily Routine > Sleep and Wake Patterns > Chronotype")  # doctest: +SKIP
            'Evening type: writes best after 10 p.m.'
            >>> persona.get("lifestyle_and_daily_routine>SleepAndWakePatterns>chronotype")  # doctest: +SKIP
            'Evening type: writes best after 10 p.m.'
            >>> persona.get("chronotype"), persona.get("age"), persona.get("Values Orientation")  # doctest: +SKIP
            ('Evening type: writes best after 10 p.m.', 34, 'Duty to family before self')

        Args:
            path: A path or name in any of the spellings above (a string or a sequence of names).
            default: What to return when the persona has no such attribute or field (a field whose value
                is ``None`` counts as absent), or when ``path`` is empty or has an empty segment.

        Returns:
            The value (for an attribute, :attr:`AttributeValue.value`), or ``default``.

        Raises:
            KeyError: A leaf name (or end of a path) ends the paths of several attributes; the message
                lists them, give more of the path.
            TypeError: ``path`` is neither a string nor a sequence of strings.
        """
        if isinstance(path, str):
            if path in self.attributes:
                return self.attributes[path].value
        elif not (isinstance(path, Sequence) and all(isinstance(p, str) for p in path)):
            raise TypeError(f"a path is a string like 'Health > Sleep' or a sequence of names, got {path!r}")
        from ..errors import TaxonomyError
        from ..taxonomy._canonical import canonical_key, split_path

        try:
            wanted = tuple(canonical_key(name) for name in split_path(path))
        except TaxonomyError:  # empty, or an empty segment: nothing can have this path
            return default
        keys = {
            key: tuple(canonical_key(name) for name in _attribute_path(key, attr))
            for key, attr in self.attributes.items()
        }
        for key, parts in keys.items():  # 1. the whole path
            if parts == wanted:
                return self.attributes[key].value
        found = self._field(PATH_SEPARATOR.join(wanted))  # 2. a demographic or core field
        if found is not None:
            return found
        ends = [
            key for key, parts in keys.items() if len(parts) > len(wanted) and parts[-len(wanted) :] == wanted
        ]
        if len(ends) > 1:  # 3. the end of one attribute's path
            listed = ", ".join(repr(key) for key in ends[:5]) + (" ..." if len(ends) > 5 else "")
            raise KeyError(
                f"{_show(path)!r} ends the paths of {len(ends)} attributes ({listed}); give more of the path"
            )
        return self.attributes[ends[0]].value if ends else default

    def _field(self, key: str) -> Any:
        """The demographic or core field with canonical key ``key`` (aliases and core paths included), or None."""
        key = _CORE_PATHS.get(key, key)
        if key == "location":
            place = {
                f: self.demographics[f] for f in ("country", "region", "city") if self.demographics.get(f)
            }
            return place or None
        for name, value in self.demographics.items():
            if _canonical(name) == key and value is not None:
                return value
        field = _CORE_ALIASES.get(key)
        if field is not None and self.core is not None:
            return getattr(self.core, field)
        return None

    # -- serialisation ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-compatible dict form (what :meth:`to_json` writes)."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the persona as JSON text (one line unless ``indent`` is given)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Persona:
        """Rebuild a persona from :meth:`to_dict` output."""
        return cls.model_validate(dict(data))

    @classmethod
    def from_json(cls, text: str) -> Persona:
        """Rebuild a persona from :meth:`to_json` output."""
        return cls.model_validate_json(text)

    def to_nested(self) -> dict[str, Any]:
        """Return the profile as nested JSON in the style of the paper's Figure 7.

        Core sections (``age_info``, ``gender``, ``location``, ``career_info``, ``personal_values``,
        ``life_attitude``, ``personal_story``, ``interests``) come first, then the attributes nested by
        their taxonomy path (``{"Physical and Health Characteristics": {"Sleep": {"Sleep Quality": ...}}}``),
        custom anchors under ``"custom_attributes"``, and the ``narrative``.
        """
        from ._render import nested

        return nested(self)

    def to_prompt(self, *, max_attributes: int | None = None, include_narrative: bool = True) -> str:
        """Return a system prompt that makes a model role-play this persona in a simulation.

        Args:
            max_attributes: Keep at most this many attributes (anchors first); ``None`` keeps all.
            include_narrative: Whether to include the narrative paragraph.
        """
        from ._render import system_prompt

        return system_prompt(self, max_attributes=max_attributes, include_narrative=include_narrative)

    def _repr_html_(self) -> str:
        from ._render import persona_html

        return persona_html(self)

    def __repr__(self) -> str:
        dem = self.demographics
        who = ", ".join(
            str(dem[k]) for k in ("name", "age", "gender", "occupation", "city", "country") if dem.get(k)
        )
        status = "" if self.ok else f", status='{self.status}: {self.failure}'"
        return (
            f"Persona(id={self.id!r}, {who or 'no demographics'}, attributes={len(self.attributes)}{status})"
        )

    __str__ = __repr__


def _canonical(name: str) -> str:
    from ..taxonomy._canonical import canonical_key

    return canonical_key(name)


def _attribute_path(key: str, attr: AttributeValue) -> tuple[str, ...]:
    """The names of an attribute's path: its recorded path, else its key split at ``>``."""
    return attr.path or tuple(part.strip() for part in key.split(">"))


def _show(path: str | Sequence[str]) -> str:
    return path if isinstance(path, str) else PATH_SEPARATOR.join(path)


_CORE_ALIASES: dict[str, str] = {
    **{name.replace("_", " "): name for name in CoreProfile.model_fields},
    "values": "values_orientation",
    "personal values": "values_orientation",
    "value orientation": "values_orientation",
    "polarity": "values_polarity",
    "life attitude": "attitude",
    "coping": "coping_mechanism",
    "stories": "life_stories",
    "life story": "life_stories",
    "personal story": "life_stories",
    "personal stories": "life_stories",
    "hobbies": "interests",
    "hobbies and interests": "interests",
}
"""Canonical keys of core fields and their aliases → :class:`CoreProfile` field."""

_CORE_PATHS: dict[str, str] = {
    "demographic information > age": "age",
    "demographic information > gender": "gender",
    "demographic information > location": "location",
    "demographic information > personal story": "life stories",
    "career and work identity > occupation": "occupation",
    "core values beliefs and philosophy > personal values": "values orientation",
    "psychological and cognitive aspects > life attitude": "attitude",
    "hobbies interests and lifestyle > hobbies and interests": "interests",
}
"""Canonical paths of the taxonomy's core attributes (``CORE_ATTRIBUTES``) → the canonical key of their field."""
