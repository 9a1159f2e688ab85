"""Canonical keys: one spelling-independent key per attribute name and path."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from ..errors import TaxonomyError
from ._constants import PATH_SEPARATOR

__all__ = ["canonical_key", "normalize_name", "path_key", "split_path", "stem_key"]

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_CAMEL_LOWER_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_ACRONYM = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[\W_]+")
SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "in", "nor", "of", "on", "or", "per", "the", "to", "vs",
     "with"}
)
"""Words that stay lower case inside a Title Case name unless they come first."""


def canonical_key(name: str) -> str:
    """Return the spelling-independent key of an attribute name.

    Case, spacing, punctuation, ``snake_case``, ``kebab-case`` and ``CamelCase`` variants of one name
    share a key, so ``"Sleep Quality"``, ``"sleep_quality"``, ``"SleepQuality"`` and
    ``" sleep-quality "`` all map to ``"sleep quality"``. ``&`` reads as ``and`` and apostrophes are
    dropped (``"Children's"`` and ``"Childrens"`` match).

    Args:
        name: An attribute name in any spelling.

    Returns:
        Lower-case words separated by single spaces (empty for a name without letters or digits).
    """
    return _canonical_key(name)


@lru_cache(maxsize=16384)
def _canonical_key(name: str) -> str:
    """:func:`canonical_key`, memoised: generation keys the same few thousand names for every persona."""
    text = unicodedata.normalize("NFKC", name)
    text = _APOSTROPHES.sub("", text).replace("&", " and ")
    text = _CAMEL_LOWER_UPPER.sub(" ", text)
    text = _CAMEL_ACRONYM.sub(" ", text)
    text = _NON_WORD.sub(" ", text.casefold())
    return " ".join(text.split())


def normalize_name(name: str) -> str:
    """Rewrite a name in any spelling into the library's Title Case style.

    ``"sleep_quality"`` becomes ``"Sleep Quality"``; small words such as ``and`` or ``of`` stay
    lower case unless they come first.

    Args:
        name: An attribute name in any spelling.

    Returns:
        The Title Case name (empty when the name has no letters or digits).
    """
    words = canonical_key(name).split()
    return " ".join(
        w if (i and w in SMALL_WORDS) else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def split_path(path: str | Sequence[str]) -> tuple[str, ...]:
    """Split a path into its names.

    Args:
        path: ``"Health > Sleep > Sleep Quality"`` (a bare ``>`` also separates) or a sequence of names.

    Returns:
        The names with surrounding whitespace removed.

    Raises:
        TaxonomyError: The path is empty, has an empty segment, or is not a string or sequence of strings.
    """
    if isinstance(path, str):
        parts = tuple(part.strip() for part in path.split(">"))
    elif isinstance(path, Sequence) and all(isinstance(p, str) for p in path):
        parts = tuple(p.strip() for p in path)
    else:
        raise TaxonomyError(
            f"a taxonomy path must be a string like 'Health > Sleep' or a sequence of names, got {path!r}"
        )
    if not parts or any(not p for p in parts):
        raise TaxonomyError(f"path {path!r} has an empty segment; write names separated by '{PATH_SEPARATOR}'")
    return parts


def path_key(path: str | Sequence[str]) -> str:
    """Return the canonical key of a whole path (keys of its names joined by ``" > "``).

    Args:
        path: A path string or sequence of names.

    Returns:
        For example ``"health > sleep > sleep quality"``.
    """
    return PATH_SEPARATOR.join(canonical_key(p) for p in split_path(path))


def _stem_word(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    return word


def stem_key(name: str) -> str:
    """Return a coarser key that also ignores simple plural and ``-ing`` endings.

    Used to flag near-duplicate siblings such as ``"Hobby"`` / ``"Hobbies"`` or ``"Plan"`` / ``"Planning"``.

    Args:
        name: An attribute name.

    Returns:
        The canonical key with each word crudely stemmed.
    """
    return " ".join(_stem_word(w) for w in canonical_key(name).split())
