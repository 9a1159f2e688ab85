"""``import deeppersona`` must stay fast and light: heavy backends load on first use only."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("litellm", "torch", "sentence_transformers", "faiss", "llama_cpp", "pandas", "matplotlib", "plotly")


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_deeppersona_loads_no_heavy_backend() -> None:
    loaded = _loaded_after("import deeppersona")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_touching_public_classes_loads_no_heavy_backend() -> None:
    code = (
        "import deeppersona as dp\n"
        "dp.PersonaEngine; dp.AttributeTree; dp.TaxonomyBuilder; dp.Evaluator; dp.LiteLLMBackend; dp.testing"
    )
    loaded = _loaded_after(code)
    heavy = {m.split(".")[0] for m in loaded} & {"litellm", "torch", "sentence_transformers", "faiss", "llama_cpp"}
    assert not heavy


def test_importtime_report_has_no_heavy_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import deeppersona"], capture_output=True, text=True, check=True
    )
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"litellm", "torch", "sentence_transformers", "faiss", "llama_cpp"}
