"""Where deeppersona keeps files it can rebuild: the one cache-directory rule."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(kind: str) -> Path:
    """The cache folder for ``kind`` (``"models"``, ``"embeddings"`` ...).

    ``$DEEPPERSONA_CACHE_DIR/<kind>`` when that variable is set, else ``<kind>`` in the platform's user
    cache directory (``~/.cache/deeppersona/<kind>`` on Linux). Nothing is created here.
    """
    env = os.environ.get("DEEPPERSONA_CACHE_DIR")
    if env:
        return Path(env).expanduser() / kind
    import platformdirs

    return Path(platformdirs.user_cache_dir("deeppersona", appauthor=False)) / kind
