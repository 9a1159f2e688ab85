"""Reading QA pairs: every input shape, and bad input that is skipped and counted or clearly refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeppersona.builder import QAPair, TaxonomyBuilder, read_qa, sample_qa_path
from deeppersona.errors import ConfigError, DataFileError, DataFileNotFoundError
from deeppersona.testing import HashEmbedder, fake_builder_llm


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_bundled_sample_is_big_and_well_formed() -> None:
    pairs, stats = read_qa(sample_qa_path())
    assert len(pairs) >= 300 and stats.skipped == {}
    assert all(p.question and p.answer and p.id for p in pairs)
    assert len({p.id for p in pairs}) == len(pairs)


def test_python_shapes() -> None:
    rows = [
        {"question": "Q1", "answer": "A1", "id": 7},
        ("Q2", "A2"),
        "Q3 only",
        QAPair("Q4", "A4"),
        42,
        {"question": "  ", "answer": "x"},
        {"question": "Q1", "answer": "A1"},
    ]
    pairs, stats = read_qa(rows)
    assert [p.question for p in pairs] == ["Q1", "Q2", "Q3 only", "Q4"]
    assert pairs[0].id == "7"
    assert stats.skipped == {"not_a_record": 1, "empty": 1, "duplicate": 1}
    assert stats.records == 7 and stats.pairs == 4


def test_generator_of_dicts_with_custom_fields() -> None:
    rows = ({"prompt": f"P{i}", "response": f"R{i}", "lang": "en"} for i in range(3))
    pairs, _ = read_qa(rows, fields=("prompt", "response"))
    assert [p.answer for p in pairs] == ["R0", "R1", "R2"]
    assert pairs[0].meta == {"lang": "en"}


def test_questions_only() -> None:
    pairs, _ = read_qa([{"q": "Only a question"}], fields=("q", None))
    assert pairs[0].answer == ""


def test_missing_fields_everywhere_explains_how_to_fix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", [{"prompt": "p", "response": "r"}] * 3)
    with pytest.raises(DataFileError, match=r"fields found: prompt, response.*fields="):
        read_qa(path)


def test_missing_fields_somewhere_is_skipped(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2"}])
    pairs, stats = read_qa(path)
    assert len(pairs) == 1 and stats.skipped["missing_field"] == 1


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(DataFileError, match="empty"):
        read_qa(tmp_path / "empty.jsonl")
    (tmp_path / "blank.csv").write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(DataFileError, match="empty"):
        read_qa(tmp_path / "blank.csv")


def test_missing_file() -> None:
    with pytest.raises(DataFileNotFoundError, match="does not exist"):
        read_qa("/nonexistent/qa.jsonl")
    with pytest.raises(FileNotFoundError):  # also the builtin
        read_qa("/nonexistent/qa.jsonl")


def test_unknown_suffix_and_directory(tmp_path: Path) -> None:
    (tmp_path / "qa.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown file type"):
        read_qa(tmp_path / "qa.txt")
    with pytest.raises(DataFileError, match="directory"):
        read_qa(_dir_named(tmp_path, "d.jsonl"))


def _dir_named(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    return d


def test_non_utf8_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    good = json.dumps({"question": "Fine", "answer": "ok"}).encode()
    bad = b'{"question": "caf\xe9 \xff", "answer": "latin-1"}'
    (tmp_path / "mixed.jsonl").write_bytes(good + b"\n" + bad + b"\n" + b"{not json}\n")
    pairs, stats = read_qa(tmp_path / "mixed.jsonl")
    assert [p.question for p in pairs] == ["Fine"]
    assert stats.skipped == {"bad_encoding": 1, "bad_json": 1}


def test_all_lines_bad_encoding_raises(tmp_path: Path) -> None:
    (tmp_path / "latin.jsonl").write_bytes(b'{"question": "caf\xe9", "answer": "x"}\n')
    with pytest.raises(DataFileError, match="UTF-8"):
        read_qa(tmp_path / "latin.jsonl")


def test_utf16_file_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "u16.jsonl").write_bytes('{"question": "q", "answer": "a"}\n'.encode("utf-16"))
    with pytest.raises(DataFileError, match="UTF-16"):
        read_qa(tmp_path / "u16.jsonl")


def test_csv_with_bom_and_bad_bytes(tmp_path: Path) -> None:
    content = '\ufeffquestion,answer\n"I\'m a nurse, help","Sure, here"\n'.encode() + b"caf\xe9,x\n"
    (tmp_path / "qa.csv").write_bytes(content)
    pairs, stats = read_qa(tmp_path / "qa.csv")
    assert pairs[0].question == "I'm a nurse, help"
    assert stats.skipped == {"bad_encoding": 1}


def test_json_array_and_wrapped(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"question": "q", "answer": "a"}]), encoding="utf-8")
    (tmp_path / "b.json").write_text(
        json.dumps({"data": [{"question": "q", "answer": "a"}]}), encoding="utf-8"
    )
    (tmp_path / "c.json").write_text("{broken", encoding="utf-8")
    assert len(read_qa(tmp_path / "a.json")[0]) == 1
    assert len(read_qa(tmp_path / "b.json")[0]) == 1
    with pytest.raises(DataFileError, match="not valid JSON"):
        read_qa(tmp_path / "c.json")


def test_one_megabyte_pair_is_skipped(tmp_path: Path) -> None:
    huge = {"question": "x" * 1_000_000, "answer": "y"}
    path = write_jsonl(tmp_path / "qa.jsonl", [huge, {"question": "small", "answer": "ok"}])
    pairs, stats = read_qa(path)
    assert [p.question for p in pairs] == ["small"] and stats.skipped == {"too_long": 1}
    pairs, _ = read_qa(path, max_chars=2_000_000)
    assert len(pairs) == 2


def test_non_text_fields_are_skipped() -> None:
    pairs, stats = read_qa([{"question": ["a", "b"], "answer": "x"}, {"question": "ok", "answer": None}])
    assert [p.question for p in pairs] == ["ok"] and stats.skipped == {"not_text": 1}


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        read_qa([], fields=("q",))
    with pytest.raises(ConfigError):
        read_qa(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        read_qa(5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        read_qa([], max_chars=0)


def test_limit() -> None:
    pairs, _ = read_qa(sample_qa_path(), limit=5)
    assert len(pairs) == 5


def test_build_reports_skipped_records(tmp_path: Path) -> None:
    rows = [
        {"question": "I'm a vegan cook in Lima, recipes?", "answer": "Beans."},
        {"question": "x" * 50_000, "answer": ""},
    ]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    with path.open("ab") as fh:
        fh.write(b"\xff\xfe garbage\n")
    builder = TaxonomyBuilder(llm=fake_builder_llm(), embedder=HashEmbedder(256), merge_threshold=0.5)
    result = builder.build(path)
    read = result.stage("read")
    assert read.n_in == 3 and read.n_out == 1
    assert read.dropped == {"too_long": 1, "bad_encoding": 1}
