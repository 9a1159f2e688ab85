"""Constants shared by the taxonomy modules."""

from __future__ import annotations

FORMAT_VERSION = 2
"""Version of the JSON document written by :meth:`AttributeTree.save` (2 added ``applies_when`` and ``support``
on nodes and ``minimum``/``maximum`` on numeric value types)."""

READABLE_FORMAT_VERSIONS: tuple[int, ...] = (1, 2)
"""The document versions this library reads (version 1 files load unchanged)."""

DEFAULT_MAX_DEPTH = 3
"""Maximum depth of a taxonomy, counting the root category as level 1 (paper §3.1)."""

PATH_SEPARATOR = " > "
"""Separator between the names of a path string: ``"Health > Sleep > Sleep Quality"``."""

ROOT_CATEGORIES: tuple[str, ...] = (
    "Demographic Information",
    "Physical and Health Characteristics",
    "Psychological and Cognitive Aspects",
    "Cultural and Social Context",
    "Relationships and Social Networks",
    "Career and Work Identity",
    "Education and Learning",
    "Hobbies, Interests, and Lifestyle",
    "Lifestyle and Daily Routine",
    "Core Values, Beliefs, and Philosophy",
    "Emotional and Relational Skills",
    "Media Consumption and Engagement",
)
"""The paper's twelve first-level attribute categories, in the order of its Appendix A.5."""

CORE_ATTRIBUTES: tuple[str, ...] = (
    "Demographic Information > Age",
    "Demographic Information > Gender",
    "Demographic Information > Location",
    "Demographic Information > Personal Story",
    "Career and Work Identity > Occupation",
    "Core Values, Beliefs, and Philosophy > Personal Values",
    "Psychological and Cognitive Aspects > Life Attitude",
    "Hobbies, Interests, and Lifestyle > Hobbies and Interests",
)
"""Paths of the core attributes every persona fills first (paper §3.2), as marked in the default tree."""
