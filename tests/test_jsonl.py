"""The shared JSON Lines rules: torn last lines are skipped by readers and cut off by writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from deeppersona._jsonl import append_line, iter_lines
from deeppersona.builder._checkpoint import Checkpoint


def test_iter_lines_marks_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n{"c": ')
    assert [(n, raw, done) for n, raw, done in iter_lines(path)] == [
        (1, b'{"a": 1}\n', True),
        (3, b'{"b": 2}\n', True),
        (4, b'{"c": ', False),
    ]


def test_append_cuts_a_torn_line_instead_of_gluing_to_it(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n{"half": "wri')
    append_line(path, json.dumps({"b": 2}))
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'


def _append_many(path: str, start: int) -> None:
    for i in range(start, start + 50):
        append_line(path, json.dumps({"i": i, "pad": "x" * 5000}))


def test_appends_from_several_processes_stay_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    procs = [
        multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(path), s))
        for s in (0, 50)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    seen = sorted(json.loads(raw)["i"] for _, raw, done in iter_lines(path) if done)
    assert seen == list(range(100))


def test_builder_checkpoint_after_a_crash_keeps_the_next_result(tmp_path: Path) -> None:
    first = Checkpoint(tmp_path, "fp1")
    first.put("pairs", "k1", {"label": "yes"})
    with (tmp_path / "pairs.jsonl").open("ab") as fh:  # a crash in the middle of the next write
        fh.write(b'{"key": "k2", "fp": "fp1", "val')
    second = Checkpoint(tmp_path, "fp1")
    assert second.get("pairs", "k2") is None and second.get("pairs", "k1") == {"label": "yes"}
    second.put("pairs", "k3", {"label": "no"})
    third = Checkpoint(tmp_path, "fp1")  # before the fix k3 was glued to the torn line and lost
    assert third.get("pairs", "k1") == {"label": "yes"} and third.get("pairs", "k3") == {"label": "no"}
