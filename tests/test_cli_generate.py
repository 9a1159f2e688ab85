"""``deeppersona generate`` and ``deeppersona enrich`` (offline, with --model fake --embedder hash)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeppersona.cli import main
from deeppersona.cli._generate import read_sketches
from deeppersona.errors import DataFileError

FAST = ["--model", "fake", "--embedder", "hash", "--seed", "3", "--no-progress"]


def test_generate_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "generate",
            "-n",
            "2",
            "-k",
            "6",
            "-a",
            "age=41",
            "-a",
            "occupation=baker",
            "-c",
            "country=Kenya",
            *FAST,
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    people = [json.loads(line) for line in lines]
    assert all(p["demographics"]["age"] == 41 and p["demographics"]["country"] == "Kenya" for p in people)
    assert all(
        sum(a["stratum"] in ("near", "middle", "far") for a in p["attributes"].values()) == 6 for p in people
    )


def test_generate_nested_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "-k", "4", "--format", "nested", "--bio", "Keeps bees.", *FAST]) == 0
    nested = json.loads(capsys.readouterr().out)
    assert nested["bio"] == "Keeps bees." and "life_attitude" in nested


def test_generate_to_file_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "people.jsonl"
    assert main(["generate", "-n", "2", "-k", "4", "-o", str(out), *FAST]) == 0
    assert main(["generate", "-n", "3", "-k", "4", "-o", str(out), *FAST]) == 0
    assert [json.loads(x)["index"] for x in out.read_text().splitlines()] == [0, 1, 2]
    assert "1 written, 2 already there" in capsys.readouterr().err


def test_enrich_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sketches = tmp_path / "sketches.jsonl"
    sketches.write_text(
        json.dumps({"persona": "A retired ferry captain."}) + "\n" + json.dumps({"persona": "A chef."}) + "\n"
    )
    assert main(["enrich", str(sketches), "-k", "4", *FAST]) == 0
    people = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [p["anchors"]["bio"] for p in people] == ["A retired ferry captain.", "A chef."]


def test_bad_input_exits_with_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "-k", "0", *FAST]) == 1
    assert "k must be a positive integer" in capsys.readouterr().err
    assert main(["generate", "-k", "3", "-a", "age=-3", *FAST]) == 1
    assert main(["generate", "-k", "3", "-c", "planet=Mars", *FAST]) == 1


def test_read_sketches(tmp_path: Path) -> None:
    assert read_sketches("A nurse in Lagos.") == ["A nurse in Lagos."]
    txt = tmp_path / "s.txt"
    txt.write_text("one\n\ntwo\n")
    assert read_sketches(str(txt)) == ["one", "two"]
    bad = tmp_path / "s.jsonl"
    bad.write_text('{"text": "x"}\n')
    with pytest.raises(DataFileError, match="--field"):
        read_sketches(str(bad))
    assert read_sketches(str(bad), field="text") == ["x"]
