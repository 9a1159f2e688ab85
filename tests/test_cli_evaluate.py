"""``deeppersona evaluate survey|intrinsic|personalization`` with the offline fake model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_eval_surveys import write_wvs  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.cli import main


@pytest.fixture
def persona_file(tmp_path: Path) -> Path:
    path = tmp_path / "personas.jsonl"
    lines = [json.dumps({"id": str(i), "narrative": f"Persona {i}, a teacher in Nairobi."}) for i in range(6)]
    lines.append("A plain-text persona: a fisherman in Mombasa.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_evaluate_survey(tmp_path: Path, persona_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wvs = write_wvs(tmp_path / "wvs.csv", {"KEN": 100})
    out = tmp_path / "report.md"
    code = main(
        [
            "evaluate",
            "survey",
            str(persona_file),
            str(wvs),
            "--country",
            "KEN",
            "--model",
            "fake",
            "--n-boot",
            "50",
            "--out",
            str(out),
            "--csv",
            str(tmp_path / "t.csv"),
            "--plots",
            str(tmp_path / "plots"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| personas | average |" in printed and "cultural_prompting" in printed
    assert out.read_text(encoding="utf-8").strip() == printed.strip()
    assert (tmp_path / "t.csv").exists() and (tmp_path / "plots" / "histograms.png").exists()


def test_evaluate_survey_missing_country(
    tmp_path: Path, persona_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wvs = write_wvs(tmp_path / "wvs.csv", {"KEN": 10})
    code = main(["evaluate", "survey", str(persona_file), str(wvs), "--country", "JPN", "--model", "fake"])
    assert code == 1
    assert "has no rows" in capsys.readouterr().err


def test_evaluate_intrinsic_and_personalization(
    tmp_path: Path, persona_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.txt"
    other.write_text("a person\nsomeone else\n", encoding="utf-8")
    assert (
        main(
            [
                "evaluate",
                "intrinsic",
                f"deep={persona_file}",
                str(other),
                "--model",
                "fake",
                "--embedder",
                "hash",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "deep" in out and "other" in out and "uniqueness" in out
    assert (
        main(
            [
                "evaluate",
                "personalization",
                f"deep={persona_file}",
                f"plain={other}",
                "--model",
                "fake",
                "--requests",
                "1,12",
                "--limit",
                "2",
            ]
        )
        == 0
    )
    assert "Pairwise preferences" in capsys.readouterr().out
    for bad in ("13", "x", "0"):
        args = ["evaluate", "personalization", f"deep={persona_file}", "--model", "fake", "--requests", bad]
        assert main(args) != 0
        assert "--requests takes request numbers 1-12" in capsys.readouterr().err


def test_evaluate_without_kind_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate"]) == 2
    assert "survey" in capsys.readouterr().out


def test_evaluate_personas_written_by_generate_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deeppersona.engine import PersonaEngine
    from deeppersona.persona import Population
    from deeppersona.testing import FakeLLM, HashEmbedder

    engine = PersonaEngine.from_taxonomy("default").with_llm(FakeLLM()).with_embedder(HashEmbedder())
    people = tmp_path / "kenya.jsonl"
    assert engine.cohort(country="Kenya").with_seed(1).generate_to(people, n=5, k=20).written == 5
    wvs = write_wvs(tmp_path / "wvs.csv", {"KEN": 100})
    args = ["survey", str(people), str(wvs), "--country", "KEN", "--model", "fake", "--n-boot", "0"]
    assert main(["evaluate", *args, "--name", "deep", "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "| deep | average |" in out and "shallow_persona" in out  # demographics read from the Personas
    table = pd.read_csv(tmp_path / "t.csv")
    assert (table[table["method"] == "deep"]["n_sim"] <= 5).all()

    assert main(["evaluate", "intrinsic", f"deep={people}", "--no-judge", "--embedder", "hash", "--taxonomy",
                 "--csv", str(tmp_path / "i.csv")]) == 0  # fmt: skip
    assert "taxonomy_coverage" in capsys.readouterr().out
    row = pd.read_csv(tmp_path / "i.csv", index_col=0).loc["deep"]
    stats = Population.from_jsonl(people).stats()
    assert row["attributes"] == stats.attributes_per_persona["mean"] == 20
    assert 0 < row["taxonomy_coverage"] < 1 and row["category_coverage"] > 0
    assert row["tv_gender"] >= 0  # demographic marginals need the Personas' demographics


def test_evaluate_survey_reports_item_warnings(
    tmp_path: Path, persona_file: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    wvs = write_wvs(tmp_path / "wvs.csv", {"KEN": 100})
    args = ["evaluate", "survey", str(persona_file), str(wvs), "--country", "KEN", "--model", "fake"]
    with caplog.at_level("WARNING", logger="deeppersona.cli._evaluate"):
        assert main([*args, "--n-boot", "0", "--no-baselines", "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "**Warnings**" in out and "- Q57: " in out and "left out of the average" in out
    assert "| personas | Q57 (not averaged) |" in out
    assert any(r.getMessage().startswith("Q57: ") for r in caplog.records)  # also on stderr
    table = pd.read_csv(tmp_path / "t.csv")
    assert "Q57" in set(table["item"])  # still compared, item by item

    assert main([*args, "--n-boot", "0", "--no-baselines", "--scale-mismatch", "recode"]) == 0
    out = capsys.readouterr().out
    assert "| personas | Q57 |" in out and "recoded onto the real data's codes [1, 2]" in out
    with pytest.raises(SystemExit):
        main([*args, "--scale-mismatch", "drop"])


@pytest.mark.parametrize("kind", ["survey", "intrinsic", "personalization"])
def test_backend_flags_reach_the_evaluator_backend(
    kind: str,
    tmp_path: Path,
    persona_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import deeppersona.llm
    from deeppersona.errors import ConfigError

    real = deeppersona.llm.resolve_llm
    built: list[Any] = []

    def capture(model: Any = None, **kwargs: Any) -> Any:
        built.append(real(model, **kwargs))
        raise ConfigError("stopped after building the backend")

    monkeypatch.setattr(deeppersona.llm, "resolve_llm", capture)
    sources = [str(persona_file), str(write_wvs(tmp_path / "wvs.csv", {"KEN": 20})), "--country", "KEN"]
    args = sources if kind == "survey" else [str(persona_file)]
    extra = ["--embedder", "hash"] if kind == "intrinsic" else []
    code = main(
        ["evaluate", kind, *args, *extra, "--model", "openai/m", "--api-base", "http://127.0.0.1:9/v1",
         "--rpm", "30", "--tpm", "5000", "--max-concurrency", "2", "--timeout", "9", "--cache", str(tmp_path / "c")]
    )  # fmt: skip
    assert code == 1 and "stopped after building the backend" in capsys.readouterr().err
    backend = built[0]
    assert backend.model == "openai/m" and backend.litellm_kwargs == {"api_base": "http://127.0.0.1:9/v1"}
    assert backend.max_concurrency == 2 and backend.timeout == 9
    assert (backend._limiter.rpm, backend._limiter.tpm) == (30, 5000)
    assert backend.cache is not None and backend.cache.path.parent == tmp_path / "c"
