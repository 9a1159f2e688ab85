"""Prompt templates: every prompt is a ``.jinja`` file in this package.

Templates are rendered with ``StrictUndefined`` so a missing variable is an error, not an empty string.
Users override any template by name with a :class:`PromptLibrary` built from their own files or strings.
"""

from __future__ import annotations

from ._library import PromptLibrary, render, template_names

__all__ = ["PromptLibrary", "render", "template_names"]
