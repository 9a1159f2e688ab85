"""Importing the LLM, embedding and testing packages loads no heavy backend."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"litellm", "torch", "faiss", "sentence_transformers", "llama_cpp", "transformers"}


@pytest.mark.parametrize("module", ["deeppersona.llm", "deeppersona.embeddings", "deeppersona.testing"])
def test_import_is_light(module: str) -> None:
    code = (
        f"import {module}, sys, json\n"
        "from deeppersona.testing import FakeLLM, HashEmbedder\n"
        "FakeLLM().complete([{'role': 'user', 'content': 'hi'}])\n"
        "HashEmbedder().encode(['a'])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & HEAVY
