"""Text normalisation and "did you mean" helpers shared by the demographics modules."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def norm(text: str) -> str:
    """Fold a name for matching: accents stripped, case folded, punctuation collapsed.

    ``"Côte d'Ivoire"``, ``"cote d ivoire"`` and ``"COTE-D'IVOIRE"`` all fold to ``"cote d ivoire"``.
    Apostrophes are dropped rather than spaced, so ``"Cote d'Ivoire"`` also equals ``"Cote dIvoire"``.
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("'", "").replace("’", "").replace("&", " and ")
    return _NON_ALNUM.sub(" ", folded).strip()


def closest(query: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Return up to ``n`` choices closest to ``query`` (by folded spelling), best first."""
    by_norm: dict[str, str] = {}
    for choice in choices:
        by_norm.setdefault(norm(choice), choice)
    hits = difflib.get_close_matches(norm(query), list(by_norm), n=n, cutoff=0.5)
    return [by_norm[h] for h in hits]


def did_you_mean(query: str, choices: Iterable[str], n: int = 5) -> str:
    """A message fragment such as ``" Did you mean: 'Kenya', 'Kenya Colony'?"`` (empty when none)."""
    hits = closest(query, choices, n=n)
    if not hits:
        return ""
    return " Did you mean: " + ", ".join(repr(h) for h in hits) + "?"
