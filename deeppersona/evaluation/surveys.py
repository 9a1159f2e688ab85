"""Survey instruments and ground-truth loaders.

Public names::

    WVS7         the six World Values Survey wave-7 questions of the paper (Appendix A.4)
    IPIP50       the 50-item IPIP Big-Five inventory (alias BIG_FIVE)
    Instrument   a survey: items, valid codes, keyed scoring, loaders
    SurveyItem   one question: prompt, valid codes, answer parsing, enum-constrained answer model
    GroundTruth  real answers for one country (from the official files, arrays or histograms)
    load_wvs7    read the official WVS-7 CSV for one country
    load_ipip    read OpenPsychometrics' IPIP-FFM data-final.csv for one country

The packaged instruments are read from package data on first access, not at import.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ._loaders import GroundTruth
from ._surveys import Instrument, SurveyItem, packaged_instrument

__all__ = ["BIG_FIVE", "IPIP50", "WVS7", "GroundTruth", "Instrument", "SurveyItem", "load_ipip", "load_wvs7"]

_PACKAGED = {"WVS7": "wvs7", "IPIP50": "ipip50", "BIG_FIVE": "ipip50"}


@functools.cache
def _instrument(name: str) -> Instrument:
    # Instruments are treated as immutable (their methods return new objects), so sharing one is safe.
    return packaged_instrument(name)


def __getattr__(name: str) -> Instrument:
    if name in _PACKAGED:
        return _instrument(_PACKAGED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PACKAGED))


def load_wvs7(path: str | Path, country: str, **kwargs: Any) -> GroundTruth:
    """Read the WVS-7 answers of ``country`` (ISO-3 such as ``"KEN"``, ISO-2 or name) from the official CSV."""
    return _instrument("wvs7").load(path, country=country, **kwargs)


def load_ipip(path: str | Path, country: str, **kwargs: Any) -> GroundTruth:
    """Read the IPIP-FFM answers of ``country`` (ISO-2 such as ``"KE"``, ISO-3 or name) from ``data-final.csv``."""
    return _instrument("ipip50").load(path, country=country, **kwargs)


WVS7: Instrument
IPIP50: Instrument
BIG_FIVE: Instrument
