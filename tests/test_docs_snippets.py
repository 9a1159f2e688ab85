"""Every code block of README.md and docs/*.md runs, so the docs never promise what the code does not do.

How a page runs
    The fenced blocks of a page run in order, in one namespace, in a fresh temporary working directory
    (nothing is written into the working tree), offline (the suite's network guard applies). Warnings
    the snippets raise are not errors here: the pages show documented ones (a country mismatch, say).

Which fences run
    * ``python``: every block.
    * ``bash`` / ``console`` / ``sh``: every command line that calls ``deeppersona`` (``\\`` continuations
      joined, a ``$`` prompt and ``VAR=value`` prefixes honoured) runs in-process through
      :func:`deeppersona.cli.main` and must exit with status 0. The other lines are exempt, and must be one
      of the kinds in ``_EXEMPT_COMMANDS``: installs, the test command, the docs server, servers and
      scripts under ``examples/``, ``benchmarks/`` and ``scripts/`` (``tests/test_examples.py`` runs the
      examples; the benchmarks and data builds take minutes to hours).
    * ``text`` and the other languages: output, diagrams and file formats; never run. Every fence must
      name its language, so that nothing is exempt by accident.

Docstring examples
    The ``>>>`` examples in the package's docstrings (what the API pages show) run as doctests, with the
    same guard against real models (``# doctest: +SKIP`` marks the few that need one).

Directives (HTML comments: invisible on the rendered site and on GitHub)
    ``<!-- docs-test: fake-llm -->``, anywhere in a page
        Every model the page names resolves to :class:`deeppersona.testing.FakeLLM` (the taxonomy
        builder's to :func:`deeppersona.builder.fake_builder_llm`) and the default embedder to
        :class:`deeppersona.testing.HashEmbedder`; backend option names are still checked. LiteLLM's
        offline ``mock_response`` and ready ``LLM`` instances are used as given. A page without it that
        reaches for a model fails, so no test ever loads a real model.
    ``<!-- docs-test: skip REASON -->``, right before a fence
        The fence is not run; the reason is required.
    ``<!-- docs-test: replace OLD => NEW -->``, right before a fence
        The fence runs with ``OLD`` replaced by ``NEW`` (e.g. ``n=10_000 => n=3``: the same call,
        smaller); ``OLD`` must occur in the fence.
    ``<!-- docs-test: exit STATUS COMMAND -->``, right before a shell fence
        The commands of the fence that start with ``COMMAND`` must exit with ``STATUS`` (what the page
        says they do, e.g. ``exit 1 deeppersona taxonomy validate``); the others with 0.
    ``<!-- docs-test: setup`` ... ``-->``, on lines of their own
        Hidden Python that runs at that point of the page: files a command reads (stand-ins for data that
        cannot ship, such as the WVS-7 file), or checks of a value the page quotes (the default
        taxonomy's fingerprint).
"""

from __future__ import annotations

import doctest
import importlib
import re
import shlex
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCTEST_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "deeppersona").rglob("*.py")
    if ">>> " in path.read_text(encoding="utf-8")
)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^`]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
_SETUP_OPEN = re.compile(r"^\s*<!--\s*docs-test:\s*setup\s*$")
_RUN_LANGS = frozenset({"python", "py"})
_SHELL_LANGS = frozenset({"bash", "console", "sh", "shell"})
_EXEMPT_COMMANDS = {
    "install": re.compile(r"^(python -m )?pip install\b"),
    "the test command": re.compile(r"^python -m pytest\b"),
    "the docs server": re.compile(r"^mkdocs (serve|build)\b"),
    "a script of the repository (examples are run by test_examples.py)": re.compile(
        r"^python (examples|benchmarks|scripts)/\S+\.py\b"
    ),
    "a model server": re.compile(r"^python -m llama_cpp\.server\b"),
}


@dataclass
class Block:
    """One fenced block (or hidden setup) of a page."""

    page: str
    line: int
    lang: str
    code: str
    skip: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)
    exits: list[tuple[str, int]] = field(default_factory=list)
    hidden: bool = False


@dataclass
class Page:
    path: Path
    blocks: list[Block]
    fake_llm: bool = False


def parse_page(path: Path) -> Page:
    """Split a Markdown page into its fenced blocks, with the directives that apply to them."""
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page(path, [])
    pending: list[tuple[int, str]] = []  # block directives waiting for their fence
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SETUP_OPEN.match(line):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "-->"), None)
            if end is None:
                raise ValueError(f"{name}:{i + 1}: a setup comment is not closed by a '-->' line")
            page.blocks.append(Block(name, i + 1, "python", "\n".join(lines[i + 1 : end]), hidden=True))
            i = end + 1
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            body = directive["body"]
            if body == "fake-llm":
                page.fake_llm = True
            elif body.split()[0] in ("skip", "replace", "exit"):
                pending.append((i + 1, body))
            else:
                raise ValueError(f"{name}:{i + 1}: unknown docs-test directive {body!r}")
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            indent, marker = fence["indent"], fence["fence"]
            end = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(marker) and not lines[j].strip().strip(marker[0])
                ),
                None,
            )
            if end is None:
                raise ValueError(f"{name}:{i + 1}: the fence is never closed")
            body_lines = [
                ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1 : end]
            ]
            block = Block(name, i + 1, fence["lang"].lower(), "\n".join(body_lines))
            for at, body in pending:
                word, _, rest = body.partition(" ")
                if word == "skip":
                    if not rest.strip():
                        raise ValueError(f"{name}:{at}: 'skip' needs a reason")
                    block.skip = rest.strip()
                elif word == "exit":
                    status, _, command = rest.partition(" ")
                    if not status.isdigit() or not command.strip():
                        raise ValueError(f"{name}:{at}: write 'exit STATUS COMMAND'")
                    block.exits.append((command.strip(), int(status)))
                else:
                    old, sep, new = rest.partition(" => ")
                    if not sep or not old:
                        raise ValueError(f"{name}:{at}: write 'replace OLD => NEW'")
                    block.replace.append((old, new))
            pending = []
            page.blocks.append(block)
            i = end + 1
            continue
        if pending and line.strip():
            at, body = pending[0]
            raise ValueError(f"{name}:{at}: directive {body!r} is not followed by a fence")
        i += 1
    if pending:
        raise ValueError(f"{name}:{pending[0][0]}: directive {pending[0][1]!r} is not followed by a fence")
    return page


def shell_commands(code: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line offset, command)`` for each command of a shell block (continuations joined)."""
    start, parts = 0, list[str]()
    for offset, raw in enumerate(code.splitlines()):
        text = raw.strip()
        if not parts:
            start = offset
            if not text or text.startswith("#"):
                continue
            text = text.removeprefix("$ ")
        if text.endswith("\\"):
            parts.append(text[:-1].strip())
            continue
        parts.append(text)
        yield start, " ".join(p for p in parts if p)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _split_command(command: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(command, comments=True)
    env: dict[str, str] = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def exemption(command: str) -> str | None:
    """Why a shell command is not run (``None`` for a ``deeppersona`` command, which runs)."""
    _, words = _split_command(command)
    if words and words[0] == "deeppersona":
        return None
    text = " ".join(words)
    for reason, pattern in _EXEMPT_COMMANDS.items():
        if pattern.match(text):
            return reason
    raise AssertionError(f"shell command {command!r} neither calls deeppersona nor is of an exempt kind")


# ---------------------------------------------------------------------------------------------- fakes
def _install_fakes(monkeypatch: pytest.MonkeyPatch, *, fake_llm: bool) -> None:
    """Route models to the package's fakes (``fake_llm``), or make any model use fail loudly."""
    import deeppersona.builder._builder as builder_module
    import deeppersona.embeddings as embeddings
    import deeppersona.llm as llm_package
    from deeppersona.embeddings import Embedder
    from deeppersona.embeddings._st import SentenceTransformerEmbedder
    from deeppersona.llm import LLM
    from deeppersona.llm._local import LocalRuntime
    from deeppersona.llm._options import check_backend_options
    from deeppersona.testing import FakeLLM, HashEmbedder, fake_builder_llm

    real_resolve_llm = llm_package.resolve_llm
    real_resolve_embedder = embeddings.resolve_embedder

    def resolve_llm(model: Any = None, *, registry: Any = None, **options: Any) -> LLM:
        offline = isinstance(model, str) and model.strip().partition(":")[0] == "fake"
        if isinstance(model, LLM) or "mock_response" in options or offline:
            return real_resolve_llm(model, registry=registry, **options)
        if not fake_llm:
            raise AssertionError(
                f"this page uses a model ({model!r}); mark it <!-- docs-test: fake-llm --> to run it on FakeLLM"
            )
        check_backend_options(model, options)  # a typo in an option name still fails
        return FakeLLM(seed=0)

    def resolve_builder_llm(model: Any = None, **options: Any) -> LLM:
        if isinstance(model, LLM):
            return model
        resolve_llm(model, **options)  # the same checks
        return fake_builder_llm()  # type: ignore[no-any-return]

    def resolve_embedder(embedder: Any = None) -> Embedder:
        if (
            isinstance(embedder, Embedder)
            or callable(embedder)
            or (isinstance(embedder, str) and embedder.strip().lower().startswith("hash"))
        ):
            return real_resolve_embedder(embedder)
        if not fake_llm:
            raise AssertionError(
                f"this page uses an embedding model ({embedder!r}); mark it <!-- docs-test: fake-llm -->"
            )
        return HashEmbedder()

    monkeypatch.setattr(llm_package, "resolve_llm", resolve_llm)
    monkeypatch.setattr(builder_module, "resolve_llm", resolve_builder_llm)
    monkeypatch.setattr(embeddings, "resolve_embedder", resolve_embedder)

    def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a docs snippet reached a real model; the docs tests run on the fakes only")

    # the safety net, should a snippet (or the library) reach a model by another way than the resolvers
    monkeypatch.setattr(LocalRuntime, "load", no_model)
    monkeypatch.setattr(LocalRuntime, "ensure_file", no_model)
    monkeypatch.setattr(SentenceTransformerEmbedder, "load", no_model)


# ---------------------------------------------------------------------------------------------- running
def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    code = block.code
    for old, new in block.replace:
        assert old in code, f"{block.page}:{block.line}: 'replace {old} => {new}' does not occur in the block"
        code = code.replace(old, new)
    where = f"{block.page}:{block.line}" + (" (hidden setup)" if block.hidden else "")
    exec(compile(code, where, "exec"), namespace)


def _run_shell(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from deeppersona.cli import main

    code = block.code
    for old, new in block.replace:
        assert old in code, f"{block.page}:{block.line}: 'replace {old} => {new}' does not occur in the block"
        code = code.replace(old, new)
    for offset, command in shell_commands(code):
        if exemption(command) is not None:
            continue
        env, words = _split_command(command)
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            status = main(words[1:])
        expected = next((code for prefix, code in block.exits if " ".join(words).startswith(prefix)), 0)
        assert status == expected, (
            f"{block.page}:{block.line + 1 + offset}: {command!r} exited with status {status}, not {expected}"
        )


def run_page(page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every runnable block of ``page`` in order, in one namespace, inside ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _install_fakes(monkeypatch, fake_llm=page.fake_llm)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        # the docs show documented warnings (a country mismatch, an incomplete persona); they are not errors
        warnings.simplefilter("ignore")
        for block in page.blocks:
            if block.skip is not None:
                continue
            if block.lang in _RUN_LANGS:
                _run_python(block, namespace)
            elif block.lang in _SHELL_LANGS:
                _run_shell(block, monkeypatch)


# ---------------------------------------------------------------------------------------------- tests
def _page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_page_snippets_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_page(parse_page(path), tmp_path, monkeypatch)


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_every_fence_is_classified(path: Path) -> None:
    """Every fence names its language; a skipped fence says why; shell lines run or are of an exempt kind."""
    page = parse_page(path)
    for block in page.blocks:
        assert block.lang, f"{block.page}:{block.line}: name the fence's language (python, bash, text...)"
        if block.lang in _SHELL_LANGS and block.skip is None:
            for _, command in shell_commands(block.code):
                exemption(command)


def test_parser_reads_directives(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(
        "<!-- docs-test: fake-llm -->\n"
        "# Title\n\n"
        "<!-- docs-test: setup\nx = 1\n-->\n\n"
        "<!-- docs-test: skip needs a hosted key -->\n"
        "```python\nraise SystemExit\n```\n\n"
        "<!-- docs-test: replace n=100 => n=2 -->\n\n"
        "```python\ny = x + n=100\n```\n\n"
        "!!! note\n    ```console\n    $ deeppersona generate -k 3 \\\n        --model fake  # dry run\n    ```\n",
        encoding="utf-8",
    )
    page = parse_page(doc)
    assert page.fake_llm
    setup, skipped, replaced, shell = page.blocks
    assert (setup.hidden, setup.code, setup.line) == (True, "x = 1", 4)
    assert skipped.skip == "needs a hosted key" and skipped.code == "raise SystemExit"
    assert replaced.replace == [("n=100", "n=2")] and replaced.skip is None
    assert shell.lang == "console" and list(shell_commands(shell.code)) == [
        (0, "deeppersona generate -k 3 --model fake  # dry run")
    ]
    assert exemption("OPENAI_API_KEY=none deeppersona generate -k 3") is None
    assert exemption("pip install 'deeppersona[parquet]'") == "install"


@pytest.mark.parametrize(
    "text",
    [
        "<!-- docs-test: skip -->\n```python\npass\n```\n",  # no reason
        "<!-- docs-test: replace a -->\n```python\npass\n```\n",  # no =>
        "<!-- docs-test: skip why -->\nSome prose.\n```python\npass\n```\n",  # not before a fence
        "<!-- docs-test: run-fast -->\n",  # unknown
        "```python\npass\n",  # never closed
    ],
)
def test_parser_refuses_bad_directives(tmp_path: Path, text: str) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"page\.md:\d+"):
        parse_page(doc)


# ---------------------------------------------------------------------------------------------- cli.md
def _exit_status_table() -> dict[str, int]:
    """The examples column of cli.md's exit-status table: example → documented status."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("| exit status | when | examples |") :].split("\n\n", 1)[0]
    documented: dict[str, int] = {}
    for row in table.splitlines()[2:]:
        status, _, examples = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        for example in filter(None, (e.strip() for e in examples.split(", "))):
            documented[example] = int(status)
    return documented


def _cli_case(example: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Prepare ``example`` of the table in ``tmp`` and return its command line (without ``deeppersona``)."""
    dry = ["generate", "-k", "3", "--model", "fake", "--embedder", "hash", "--no-progress"]
    if example == "`-o out/` is a directory":
        (tmp / "out").mkdir()
        return [*dry, "-o", "out/"]
    if example == "`-a age=200`":
        return [*dry, "-a", "age=200"]
    if example == "a sketch file that is not UTF-8":
        (tmp / "sketches.txt").write_bytes("Une infirmière à Lyon.\n".encode("latin-1"))
        return ["enrich", "sketches.txt", "-k", "3", "--model", "fake", "--embedder", "hash"]
    if example == "a persona that is not complete":
        from deeppersona.testing import _fake_llm  # where "fake" resolves to (fake_builder_llm)

        real = _fake_llm.FakeLLM
        monkeypatch.setattr(
            _fake_llm,
            "FakeLLM",
            lambda seed=0, **kwargs: real(seed=seed, failures={"invalid_json": 1.0}, **kwargs),
        )
        return [*dry, "-o", "people.jsonl"]
    if example == "`taxonomy validate --style` of a tree with problems":
        from deeppersona.taxonomy import AttributeTree

        AttributeTree.from_paths(["health > sleep_quality"]).save(tmp / "tree.json")
        return ["taxonomy", "validate", "tree.json", "--style"]
    if example in ("`-n 0`", "`-k many`", "`--model fake:abc`"):
        flag, _, value = example.strip("`").partition(" ")
        return [*dry, flag, value]
    if example == "an unknown option":
        return [*dry, "--colour", "blue"]
    if example == "no command":
        return []
    if example == "Ctrl-C during `generate`":
        from deeppersona.engine import PersonaEngine

        def interrupted(*args: Any, **kwargs: Any) -> Any:
            raise KeyboardInterrupt

        monkeypatch.setattr(PersonaEngine, "generate_to", interrupted)
        monkeypatch.setattr(PersonaEngine, "generate", interrupted)
        return [*dry, "-o", "people.jsonl"]
    raise AssertionError(f"cli.md documents an exit status for {example!r}: add it to _cli_case")


@pytest.mark.parametrize("example", sorted(_exit_status_table()))
def test_documented_exit_status(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each example of cli.md's exit-status table exits with the status the table gives, without a traceback."""
    from deeppersona.cli import main

    documented = _exit_status_table()[example]
    monkeypatch.chdir(tmp_path)
    argv = _cli_case(example, tmp_path, monkeypatch)
    before = sorted(tmp_path.rglob("*"))
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code if isinstance(stop.code, int) else 1
    err = capsys.readouterr().err
    assert status == documented, f"{example}: exit status {status}, documented {documented}\n{err}"
    assert "Traceback" not in err
    if documented == 2 and argv:
        assert re.search(r"^deeppersona( \w+)?: error: .*; see 'deeppersona( \w+)? --help'$", err.strip()), (
            err
        )
    if example in ("`-o out/` is a directory", "`-a age=200`", "a sketch file that is not UTF-8"):
        assert re.fullmatch(r"deeppersona: error: [^\n]+", err.strip()), err  # one line, nothing started
        assert sorted(tmp_path.rglob("*")) == before, "a refused command created a file"


def test_exit_status_table_covers_every_status() -> None:
    assert set(_exit_status_table().values()) == {1, 2, 130}


# ---------------------------------------------------------------------------------------------- docstrings
@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples_run(module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``>>>`` examples of the API pages run and print what they show."""
    monkeypatch.chdir(tmp_path)
    _install_fakes(monkeypatch, fake_llm=False)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(module), optionflags=flags)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module} failed (see the output)"
