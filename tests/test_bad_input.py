"""One table of bad inputs, API and command line: each is refused with a named error before any LLM call.

Every row names its class of mistake, the call, and what must happen: a named
:class:`~deeppersona.errors.DeepPersonaError` subclass (API rows) or a one-line ``deeppersona: error``
message with exit status 1, or a one-line usage error with exit status 2 (CLI rows), with a fragment of the
message. Each row also checks that no LLM request was made and that no file was created or changed in
``tmp_path`` (where the row's input files live and where relative paths land).

More engine cases (k, n, seeds, anchors of the wrong type, impossible cohorts ...) are in
``tests/test_engine.py::test_bad_input_fails_before_any_llm_call``; they are not repeated here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import deeppersona as dp
from deeppersona import testing
from deeppersona.cli import _args, main
from deeppersona.cli._generate import read_sketches
from deeppersona.embeddings import (
    CallableEmbedder,
    LiteLLMEmbedder,
    SentenceTransformerEmbedder,
    resolve_embedder,
)
from deeppersona.errors import (
    AnchorError,
    ConfigError,
    DataFileError,
    DataFileNotFoundError,
    DeepPersonaError,
    DemographicsError,
    TaxonomyError,
)
from deeppersona.prompts import PromptLibrary
from deeppersona.testing import FakeLLM, HashEmbedder

HUGE = "x" * 1_000_000
FAST = ["--model", "fake", "--embedder", "hash", "--seed", "1", "--no-progress", "-k", "3"]


def _bad(value: Any) -> Any:
    """A value of the wrong type, passed on purpose (typed ``Any`` for the type checker)."""
    return value


@dataclass(frozen=True)
class Case:
    """One class of bad input.

    Attributes:
        id: The class of mistake.
        call: API rows: ``call(engine, tmp_path)``; CLI rows: the argument list (``{tmp}`` is replaced).
        expect: The error class (API), or the exit status (CLI).
        fragment: Part of the message.
        setup: Run before the call (with the monkeypatch), e.g. to make a directory unwritable.
    """

    id: str
    call: Callable[[dp.PersonaEngine, Path], Any] | list[str]
    expect: type[DeepPersonaError] | int
    fragment: str
    setup: Callable[[pytest.MonkeyPatch], None] | None = None


def _unwritable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_args, "_can_write", lambda path: False)  # as root, chmod cannot stop a write


def _other_run_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output file (in the working directory, tmp_path) started by another run configuration."""
    provenance = {"k": 3, "run_id": "r-other", "run_config": {"model": "gpt-4.1-mini", "k": 3}}
    line = {"id": "p-0", "seed": 1, "index": 0, "status": "ok", "provenance": provenance}
    Path("resume.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")


CASES = [
    # -- API: sketches and text anchors (size limit, types) -----------------------------------------------
    Case("sketch-1MB", lambda e, t: e.enrich(HUGE, k=3), AnchorError, "1,000,000 characters long"),
    Case("sketch-list-one-too-long", lambda e, t: e.enrich(["ok", "y" * 4001], k=3), AnchorError, "sketch 1"),
    Case(
        "sketch-too-long-to-file", lambda e, t: e.enrich_to(t / "o.jsonl", [HUGE], k=3), AnchorError, "limit"
    ),
    Case("bio-anchor-too-long", lambda e, t: e.anchor(bio=HUGE), AnchorError, "anchor 'bio' is 1,000,000"),
    Case("text-anchor-item-too-long", lambda e, t: e.anchor(hobbies=["ok", HUGE]), AnchorError, "'hobbies'"),
    Case("anchor-name-too-long", lambda e, t: e.anchor({"k" * 5000: "x"}), AnchorError, "anchor name"),
    Case(
        "sketch-limit-not-positive",
        lambda e, t: e.with_options(max_sketch_chars=0),
        ConfigError,
        "max_sketch_chars",
    ),
    Case("sketches-as-bytes", lambda e, t: e.enrich(_bad(b"a sketch"), k=3), AnchorError, "got bytes"),
    Case("sketch-row-without-text", lambda e, t: e.enrich({"name": "x"}, k=3), AnchorError, "field=<"),
    Case("enrich-to-one-string", lambda e, t: e.enrich_to(t / "o.jsonl", "one", k=3), ConfigError, "wrap"),
    Case("anchor-empty-name", lambda e, t: e.anchor({" ": "x"}), AnchorError, "non-empty strings"),
    Case("anchor-age-fraction", lambda e, t: e.anchor(age=34.5), AnchorError, "whole number"),
    Case("anchor-not-finite", lambda e, t: e.anchor(weight=float("nan")), AnchorError, "finite"),
    Case("anchor-empty-list", lambda e, t: e.anchor(hobbies=[]), AnchorError, "non-empty list"),
    Case(
        "two-anchors-one-attribute",
        lambda e, t: e.anchor(
            {"subjective_age": "young", "Demographic Information > Age > Subjective Age": "old"}
        ).generate(k=3),
        AnchorError,
        "both name",
    ),
    # -- API: output files, options, backends, taxonomies, templates -------------------------------------
    Case("output-is-directory", lambda e, t: e.generate_to(t, n=1, k=3), ConfigError, "is a directory"),
    Case(
        "output-under-a-file",
        lambda e, t: e.generate_to(t / "afile" / "o.jsonl", n=1, k=3),
        ConfigError,
        "which is a file",
    ),
    Case("output-empty-path", lambda e, t: e.generate_to("", n=1, k=3), ConfigError, "non-empty"),
    Case(
        "output-holds-other-data",
        lambda e, t: e.generate_to(t / "people.txt", n=1, k=3),
        DataFileError,
        "not a deeppersona persona",
    ),
    Case(
        "resume-another-run",
        lambda e, t: e.generate_to(t / "resume.jsonl", n=2, k=3),
        ConfigError,
        "model: 'gpt-4.1-mini' in the file, 'fake' now",
        _other_run_file,
    ),
    Case(
        "count-as-string",
        lambda e, t: e.generate_to(t / "o.jsonl", n=_bad("3"), k=3),
        ConfigError,
        "positive",
    ),
    Case("option-out-of-range", lambda e, t: e.with_options(temperature=5), ConfigError, "temperature"),
    Case("option-bad-choice", lambda e, t: e.with_options(on_missing="explode"), ConfigError, "on_missing"),
    Case(
        "model-of-wrong-type",
        lambda e, t: dp.PersonaEngine.from_taxonomy("default", model=_bad(3)).generate(k=3),
        ConfigError,
        "model must be",
    ),
    Case("embedder-of-wrong-type", lambda e, t: resolve_embedder(_bad(3.5)), ConfigError, "embedder must be"),
    Case("embedder-empty-name", lambda e, t: resolve_embedder("  "), ConfigError, "must not be empty"),
    Case("embedder-not-callable", lambda e, t: CallableEmbedder(_bad(3)), ConfigError, "expected a callable"),
    Case("embedder-empty-model", lambda e, t: LiteLLMEmbedder(""), ConfigError, "LiteLLM embedding model"),
    Case(
        "embedder-bad-precision",
        lambda e, t: SentenceTransformerEmbedder(precision=_bad("fp8")),
        ConfigError,
        "precision",
    ),
    Case("hash-embedder-dim", lambda e, t: HashEmbedder(dim=1), ConfigError, "dim"),
    Case(
        "taxonomy-missing",
        lambda e, t: dp.PersonaEngine.from_taxonomy(t / "nope.json"),
        DataFileNotFoundError,
        "does not exist",
    ),
    Case(
        "taxonomy-not-json",
        lambda e, t: dp.PersonaEngine.from_taxonomy(t / "broken.json"),
        TaxonomyError,
        "malformed JSON",
    ),
    Case(
        "taxonomy-path-unknown",
        lambda e, t: e.anchor({"Nope > Nothing": "x"}).generate(k=3),
        AnchorError,
        "no such attribute",
    ),
    Case("cohort-wrong-type", lambda e, t: e.cohort(gender=5).generate(k=3), DemographicsError, "gender"),
    Case(
        "template-drops-variable",
        lambda e, t: PromptLibrary({"core_chain": "Describe someone."}),
        ConfigError,
        "required variable",
    ),
    Case(
        "sketch-file-not-utf8", lambda e, t: read_sketches(str(t / "latin1.txt")), DataFileError, "not UTF-8"
    ),
    # -- CLI: generate ----------------------------------------------------------------------------------
    Case("cli-output-directory", ["generate", *FAST, "-o", "{tmp}/adir"], 1, "is a directory"),
    Case("cli-output-under-file", ["generate", *FAST, "-o", "{tmp}/afile/x.jsonl"], 1, "which is a file"),
    Case("cli-output-missing-dir", ["generate", *FAST, "-o", "{tmp}/nodir/x.jsonl"], 1, "create"),
    Case(
        "cli-output-unwritable",
        ["generate", *FAST, "-o", "{tmp}/adir/x.jsonl"],
        1,
        "cannot write -o/--output",
        _unwritable,
    ),
    Case(
        "cli-fake-model-seed",
        ["generate", "--model", "fake:abc", "--embedder", "hash"],
        2,
        "whole-number seed",
    ),
    Case(
        "cli-count-zero", ["generate", *FAST, "-n", "0"], 2, "argument -n: expected a positive whole number"
    ),
    Case("cli-k-not-a-number", ["generate", *FAST, "-k", "many"], 2, "argument -k"),
    Case("cli-negative-seed", ["generate", "--seed", "-1", "--model", "fake"], 2, "argument --seed"),
    Case("cli-concurrency-zero", ["generate", *FAST, "--concurrency", "0"], 2, "argument --max-concurrency"),
    Case("cli-anchor-syntax", ["generate", *FAST, "-a", "age"], 2, "expected KEY=VALUE"),
    Case("cli-anchor-impossible", ["generate", *FAST, "-a", "age=200"], 1, "impossible"),
    Case("cli-cohort-unknown-field", ["generate", *FAST, "-c", "planet=Mars"], 1, "unknown cohort field"),
    Case("cli-empty-bio", ["generate", *FAST, "--bio", ""], 1, "empty string"),
    Case("cli-huge-bio", ["generate", *FAST, "--bio", "b" * 5000], 1, "5,000 characters"),
    Case("cli-taxonomy-not-utf8", ["generate", *FAST, "--taxonomy", "{tmp}/latin1.txt"], 1, "not UTF-8"),
    Case("cli-taxonomy-directory", ["generate", *FAST, "--taxonomy", "{tmp}/adir"], 1, "is a directory"),
    Case("cli-format-choice", ["generate", *FAST, "--format", "xml"], 2, "invalid choice"),
    Case("cli-unknown-command", ["summon"], 2, "invalid choice"),
    # -- CLI: enrich ------------------------------------------------------------------------------------
    Case("cli-sketch-file-missing", ["enrich", "missing.csv", *FAST], 1, "does not exist; check the path"),
    Case("cli-sketch-path-missing", ["enrich", "data/sketches", *FAST], 1, "--text"),
    Case("cli-sketch-file-not-utf8", ["enrich", "{tmp}/latin1.txt", *FAST], 1, "is not UTF-8 text"),
    Case("cli-sketch-directory", ["enrich", "{tmp}/adir", *FAST], 1, "is a directory"),
    Case("cli-sketch-file-type", ["enrich", "{tmp}/sketches.csv", *FAST], 1, "unsupported type '.csv'"),
    Case("cli-sketch-field", ["enrich", "{tmp}/wrong_field.jsonl", *FAST], 1, "set --field"),
    Case("cli-sketch-not-json", ["enrich", "{tmp}/not_json.jsonl", *FAST], 1, "not JSON"),
    Case("cli-sketch-file-empty", ["enrich", "{tmp}/empty.txt", *FAST], 1, "holds no sketches"),
    Case("cli-sketch-twice", ["enrich", "{tmp}/people.txt", "--text", "A chef.", *FAST], 1, "not both"),
    Case("cli-no-sketch", ["enrich", *FAST], 1, "no sketches given"),
    Case("cli-empty-text", ["enrich", "--text", " ", *FAST], 1, "is empty"),
    Case("cli-huge-text", ["enrich", "--text", "s" * 10_000, *FAST], 1, "10,000 characters"),
    # -- CLI: taxonomy ----------------------------------------------------------------------------------
    Case("cli-build-limit", ["taxonomy", "build", "sample", "--model", "fake", "--limit", "0"], 2, "--limit"),
    Case(
        "cli-build-threshold",
        ["taxonomy", "build", "sample", "--model", "fake", "--merge-threshold", "5"],
        2,
        "cosine similarity",
    ),
    Case(
        "cli-build-checkpoint-file",
        ["taxonomy", "build", "sample", "--model", "fake", "--checkpoint-dir", "{tmp}/afile"],
        1,
        "not a directory",
    ),
    Case(
        "cli-build-report-under-file",
        ["taxonomy", "build", "sample", "--model", "fake", "--report", "{tmp}/afile/r.md"],
        1,
        "which is a file",
    ),
    Case(
        "cli-build-fields",
        ["taxonomy", "build", "sample", "--model", "fake", "--fields", "a,b,c"],
        1,
        "--fields",
    ),
    Case(
        "cli-build-input-missing",
        ["taxonomy", "build", "{tmp}/qa.jsonl", "--model", "fake"],
        1,
        "does not exist",
    ),
    Case("cli-stats-missing", ["taxonomy", "stats", "{tmp}/tree.json"], 1, "does not exist"),
    Case(
        "cli-plot-type", ["taxonomy", "plot", "default", "-o", "{tmp}/tree.xyz"], 1, "cannot save a sunburst"
    ),
    # -- CLI: evaluate ----------------------------------------------------------------------------------
    Case(
        "cli-eval-out-directory",
        ["evaluate", "quality", "{tmp}/people.txt", "--out", "{tmp}/adir"],
        1,
        "--out",
    ),
    Case(
        "cli-eval-plots-file",
        [
            "evaluate",
            "survey",
            "{tmp}/people.txt",
            "{tmp}/wvs.csv",
            "--country",
            "KE",
            "--model",
            "fake",
            "--plots",
            "{tmp}/afile",
        ],
        1,
        "--plots",
    ),
    Case(
        "cli-eval-repeats",
        ["evaluate", "survey", "p", "w", "--country", "KE", "--repeats", "0"],
        2,
        "--repeats",
    ),
    Case(
        "cli-eval-temperature",
        ["evaluate", "survey", "p", "w", "--country", "KE", "--temperature", "9"],
        2,
        "temperature",
    ),
    Case(
        "cli-eval-duplicate-sets",
        [
            "evaluate",
            "intrinsic",
            "{tmp}/people.txt",
            "{tmp}/adir/people.txt",
            "--model",
            "fake",
            "--no-judge",
            "--embedder",
            "hash",
        ],
        1,
        "named 'people'",
    ),
    Case(
        "cli-eval-requests",
        ["evaluate", "personalization", "{tmp}/people.txt", "--model", "fake", "--requests", "99"],
        1,
        "--requests",
    ),
    Case("cli-eval-persona-missing", ["evaluate", "quality", "{tmp}/nobody.jsonl"], 1, "does not exist"),
]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """The row's input files: a file, a directory, non-UTF-8 text, wrong-shaped sketch files ..."""
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "people.txt").write_text("A potter in Accra.\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Une infirmière à Québec.\n".encode("latin-1"))
    (tmp_path / "sketches.csv").write_text("persona\nA chef.\n", encoding="utf-8")
    (tmp_path / "wrong_field.jsonl").write_text(json.dumps({"text": "A chef."}) + "\n", encoding="utf-8")
    (tmp_path / "not_json.jsonl").write_text("{A chef.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "people.txt").write_text("A teacher in Nairobi.\nA fisherman in Mombasa.\n", encoding="utf-8")
    (tmp_path / "broken.json").write_text('{"name": ', encoding="utf-8")
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def llms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeLLM]]:
    """Every FakeLLM made during the row (the CLI makes its own for ``--model fake``)."""
    made: list[FakeLLM] = []

    class Recorded(FakeLLM):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(testing, "FakeLLM", Recorded)
    # the CLI's --model fake resolves by name to fake_builder_llm, which builds its FakeLLM from here
    monkeypatch.setattr(testing._fake_llm, "FakeLLM", Recorded)
    yield made


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_before_any_llm_call_or_file(
    case: Case,
    inputs: Path,
    llms: list[FakeLLM],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(inputs)  # relative paths land in tmp_path, never in the working tree
    if case.setup is not None:
        case.setup(monkeypatch)
    before = _snapshot(inputs)
    if callable(case.call):
        llm = testing.FakeLLM(seed=0)
        engine = dp.PersonaEngine.from_taxonomy("default", model=llm, embedder=HashEmbedder())
        assert isinstance(case.expect, type)
        with pytest.raises(case.expect, match=_escape(case.fragment)):
            case.call(engine.with_options(progress=False), inputs)
    else:
        argv = [arg.replace("{tmp}", str(inputs)) for arg in case.call]
        code: int | str | None
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == case.expect, err
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("deeppersona") and " error: " in lines[0], err
        assert case.fragment in lines[0], err
    assert all(fake.requests == [] for fake in llms), "an LLM call was made"
    assert _snapshot(inputs) == before, "a file was created or changed"


def _escape(fragment: str) -> str:
    import re

    return re.escape(fragment)


def test_the_table_covers_at_least_35_classes() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 35
    api = [c for c in CASES if callable(c.call)]
    cli = [c for c in CASES if not callable(c.call)]
    assert len(api) >= 15 and len(cli) >= 20
    assert all(issubclass(c.expect, DeepPersonaError) for c in api if isinstance(c.expect, type))
    assert {c.expect for c in cli} == {1, 2}


def test_cli_reports_a_real_permission_error_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root may write anywhere; the table checks the message with a patched check")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["generate", *FAST, "-o", str(locked / "x.jsonl")]) == 1
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert "cannot write -o/--output" in err and "Permission denied" in err and "another process" not in err
    assert list(locked.iterdir()) == []
