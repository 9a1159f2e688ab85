"""Progress bars for every call a person waits on: one place decides whether a bar shows, and which.

The engine (``generate``, ``enrich``, ``generate_to``), the :class:`~deeppersona.evaluation.Evaluator`
and the :class:`~deeppersona.builder.TaxonomyBuilder` all make their bars here, with the same rules:

- ``progress=None`` (the default everywhere) shows a bar when someone is watching: stderr is a
  terminal, or the code runs in a Jupyter kernel (notebook, JupyterLab, VS Code, Colab), whose stderr
  is no terminal. Logs, pipes, CI and tests get no bar. ``True`` forces a bar, ``False`` turns it off.
- In a Jupyter kernel with ipywidgets the bar is tqdm's widget. Without ipywidgets (or with a version
  tqdm cannot use) it is tqdm's plain text bar on stderr, which a notebook shows as one updating line.
  ``tqdm.auto`` would instead emit a ``TqdmWarning`` and, with its default ``disable=None``, show no
  bar at all (a kernel's stderr is no terminal); that is why this module does not use it.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import IO, Any

__all__ = ["in_notebook", "make_bar", "progress_enabled", "set_total", "widgets_available"]


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (notebook, JupyterLab, VS Code, Colab, JupyterLite).

    A terminal IPython session is not a notebook (its stderr is a terminal anyway).
    """
    if "IPython.utils._process_emscripten" in sys.modules:  # JupyterLite (pyodide)
        return True
    if "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    try:
        shell = get_ipython() if get_ipython is not None else None
    except Exception:  # a broken IPython install must not break a generation run
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def widgets_available() -> bool:
    """Whether tqdm's notebook widget can be shown (ipywidgets importable, in a version tqdm knows)."""
    try:
        notebook = importlib.import_module("tqdm.notebook")
    except Exception:  # IPython missing or broken
        return False
    return getattr(notebook, "IProgress", None) is not None


def progress_enabled(setting: bool | None, file: IO[str] | None = None) -> bool:
    """Resolve a ``progress`` option: ``True``/``False`` as given; ``None`` is on when someone watches.

    Args:
        setting: The option's value.
        file: The stream the bar would write to (stderr when ``None``).

    Returns:
        Whether to show a bar: for ``None``, whether ``file`` is a terminal or the code runs in a Jupyter
        kernel.
    """
    if setting is not None:
        return bool(setting)
    if in_notebook():
        return True
    stream = file if file is not None else sys.stderr
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def make_bar(
    total: int | None,
    desc: str,
    *,
    unit: str = "it",
    setting: bool | None = None,
    leave: bool = True,
    file: IO[str] | None = None,
) -> Any:
    """Make a progress bar, or return ``None`` when progress is off (see the module docstring).

    Args:
        total: Units of work, or ``None`` when not known yet (the bar then counts; set ``bar.total``
            and call ``bar.refresh()`` once it is known).
        desc: The bar's label.
        unit: The name of one unit of work (``"persona"``, ``"answer"``, ``"call"``).
        setting: The caller's ``progress`` option (``True``, ``False`` or ``None``).
        leave: Keep the finished bar on screen.
        file: The text stream of a plain bar (stderr when ``None``); a widget ignores it.

    Returns:
        A ``tqdm`` bar (the notebook widget in a Jupyter kernel with ipywidgets, else the plain text
        bar), or ``None`` when ``setting`` resolves to off.
    """
    if not progress_enabled(setting, file):
        return None
    options: dict[str, Any] = {"total": total, "desc": desc, "unit": unit, "leave": leave}
    if in_notebook() and widgets_available():
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(**options)
    from tqdm.std import tqdm

    return tqdm(**options, file=file, disable=False)


def set_total(bar: Any, total: int, *, refresh: bool = True) -> None:
    """Set the total of ``bar`` once it is known, or when work is added (re-asks, pairwise judgements).

    Assigning ``bar.total`` is enough for a text bar; tqdm's notebook widget keeps its own maximum,
    which is updated here too (as tqdm's own ``reset(total=...)`` does, without resetting the count).

    Args:
        bar: A bar from :func:`make_bar` (or any object with a ``total``).
        total: The new total.
        refresh: Redraw the bar now.
    """
    bar.total = total
    container = getattr(bar, "container", None)
    if container is not None:  # the notebook widget: [description, progress bar, counts]
        with contextlib.suppress(Exception):  # a tqdm whose widget looks otherwise: the text still updates
            widget = container.children[1]
            widget.max = total
            widget.bar_style = ""
            widget.layout.width = None
    if refresh:
        bar.refresh()
