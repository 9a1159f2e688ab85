"""Where the bundled sample of QA pairs lives."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["conversations_path", "sample_qa_path"]


def sample_qa_path() -> Path:
    """Return the path of the bundled sample: 300+ QA pairs written for this project.

    People ask an assistant for help and disclose personal details along the way (varied countries,
    ages, occupations and topics); some pairs are deliberately not personalizable. Each JSON line has
    ``id``, ``question`` and ``answer``.

    Returns:
        The path of ``deeppersona/data/qa_sample.jsonl``.
    """
    return Path(str(resources.files("deeppersona") / "data" / "qa_sample.jsonl"))


def conversations_path() -> Path:
    """Return the path of the bundled real conversation turns: the builder's gold set.

    180 utterances from conversations of Synthetic-Persona-Chat (Jandaghi et al., 2023, Google Research;
    CC BY 4.0), each hand-annotated with whether it discloses something about the speaker and the
    attribute paths it discloses (``deeppersona/data/gold/PROVENANCE.md``). Each JSON line has ``id``,
    ``source``, ``text``, ``personalizable`` and ``disclosures``; read it as QA pairs with
    ``fields=("text", None)`` (a turn, no answer).

    Returns:
        The path of ``deeppersona/data/gold/self_disclosure.jsonl``.
    """
    return Path(str(resources.files("deeppersona") / "data" / "gold" / "self_disclosure.jsonl"))
