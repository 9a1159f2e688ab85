"""Where the bundled sample of QA pairs lives."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["sample_qa_path"]


def sample_qa_path() -> Path:
    """Return the path of the bundled sample: 300+ QA pairs written for this project.

    People ask an assistant for help and disclose personal details along the way (varied countries,
    ages, occupations and topics); some pairs are deliberately not personalizable. Each JSON line has
    ``id``, ``question`` and ``answer``.

    Returns:
        The path of ``deeppersona/data/qa_sample.jsonl``.
    """
    return Path(str(resources.files("deeppersona") / "data" / "qa_sample.jsonl"))
