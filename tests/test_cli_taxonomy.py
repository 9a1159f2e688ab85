"""``deeppersona taxonomy build | stats | plot | validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeppersona.cli import main
from deeppersona.taxonomy import ROOT_CATEGORIES, AttributeTree

FAKE = ["--model", "fake", "--embedder", "hash-256", "--merge-threshold", "0.5", "--quiet"]


def test_build_stats_validate_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "question": "I'm a night-shift nurse in Nairobi; how do I sleep better?",
                    "answer": "Dark room.",
                },
                {"question": "I'm vegan and run marathons; enough protein?", "answer": "Lentils."},
                {"question": "What is 2 + 2?", "answer": "4"},
            ]
        ),
        encoding="utf-8",
    )
    tree_path = tmp_path / "tree.json"
    report = tmp_path / "report.md"
    records = tmp_path / "records.jsonl"
    rc = main(
        [
            "taxonomy",
            "build",
            str(qa),
            "-o",
            str(tree_path),
            "--report",
            str(report),
            "--records",
            str(records),
            *FAKE,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "| classify |" in out and "wrote" in out
    tree = AttributeTree.load(tree_path)
    assert [r.name for r in tree.roots] == list(ROOT_CATEGORIES)
    assert len(tree) > 12
    assert "| merge |" in report.read_text()
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(rows) == 3 and rows[2]["tags"]["is_personalizable"]["is_personalizable"] == "No"

    assert main(["taxonomy", "stats", str(tree_path)]) == 0
    assert "root categories" in capsys.readouterr().out
    assert main(["taxonomy", "stats", str(tree_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nodes"] == len(tree)

    assert main(["taxonomy", "validate", str(tree_path)]) == 0
    assert "OK" in capsys.readouterr().out

    html = tmp_path / "plot.html"
    assert main(["taxonomy", "plot", str(tree_path), "-o", str(html)]) == 0
    assert html.exists() and html.stat().st_size > 1000


def test_build_sample_with_limit_and_extend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "first.json"
    assert main(["taxonomy", "build", "sample", "--limit", "20", "-o", str(first), *FAKE]) == 0
    second = tmp_path / "second.json"
    rc = main(
        ["taxonomy", "build", "sample", "--limit", "60", "--extend", str(first), "-o", str(second), *FAKE]
    )
    assert rc == 0
    a, b = AttributeTree.load(first), AttributeTree.load(second)
    assert all(b.find(n.path) is not None for n in a.nodes())
    assert len(b) >= len(a)
    capsys.readouterr()


def test_validate_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Health": {"Sleep": ["8 Hours", "sleep_quality"]}}), encoding="utf-8")
    rc = main(["taxonomy", "validate", str(bad), "--style"])
    captured = capsys.readouterr()
    assert rc == 1 and "problem" in captured.err


def test_build_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["taxonomy", "build", str(empty), "-o", str(tmp_path / "t.json"), *FAKE]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["taxonomy", "build", str(tmp_path / "missing.jsonl"), *FAKE]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["taxonomy", "build", "sample", "--fields", "a,b,c", *FAKE]) == 1
    assert "--fields" in capsys.readouterr().err
    out = tmp_path / "never.json"
    assert main(["taxonomy", "build", "sample", "--suggestions", "-1", "-o", str(out), *FAKE]) == 1
    assert "suggestions" in capsys.readouterr().err and not out.exists()
    assert main(["taxonomy", "build", "sample", "--snap", "1.5", "-o", str(out), *FAKE]) == 1
    assert "snap" in capsys.readouterr().err and not out.exists()


def test_taxonomy_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["taxonomy"]) == 2
    assert "build" in capsys.readouterr().out
