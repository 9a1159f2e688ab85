"""The outline -> JSON converter (scripts/build_taxonomy.py) fails loudly and writes stable output."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from deeppersona.taxonomy import CORE_ATTRIBUTES, ROOT_CATEGORIES, AttributeTree

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_taxonomy.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_taxonomy", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_outlines(folder: Path, extra: str = "") -> None:
    folder.mkdir()
    core_by_root: dict[str, list[str]] = {}
    for path in CORE_ATTRIBUTES:
        root, child = path.split(" > ")
        core_by_root.setdefault(root, []).append(child)
    for index, root in enumerate(ROOT_CATEGORIES, start=1):
        lines = [f"# root {index}", f"{root} :: About {root.lower()}"]
        for child in core_by_root.get(root, []):
            lines += [f"    {child} :: The {child.lower()} [core]", "        Details"]
        lines += ["    Overview :: A general overview", "        General Outlook {text}"]
        if index == 1:
            lines.append(extra)
        (folder / f"{index:02d}_root.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_small_valid_outlines_fail_policy_but_lenient_writes(
    build: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outlines, out = tmp_path / "outline", tmp_path / "out" / "default.json"
    _write_outlines(outlines)
    assert build.main(["--outline-dir", str(outlines), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "the default needs at least 4000" in err and "nothing written" in err
    assert not out.exists()
    assert build.main(["--outline-dir", str(outlines), "--output", str(out), "--lenient"]) == 0
    tree = AttributeTree.load(out)
    assert tuple(r.name for r in tree.roots) == ROOT_CATEGORIES
    assert sorted(n.path_str for n in tree.core_nodes()) == sorted(CORE_ATTRIBUTES)
    first = out.read_text(encoding="utf-8")
    assert '"format_version": 2' in first
    assert build.main(["--outline-dir", str(outlines), "--output", str(out), "--lenient"]) == 0
    assert out.read_text(encoding="utf-8") == first  # stable output
    assert build.main(["--outline-dir", str(outlines), "--output", str(out), "--lenient", "--check"]) == 0


def test_outline_errors_name_file_and_line(
    build: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outlines, out = tmp_path / "outline", tmp_path / "default.json"
    _write_outlines(outlines, extra="   Misindented")
    assert build.main(["--outline-dir", str(outlines), "--output", str(out), "--lenient"]) == 1
    err = capsys.readouterr().err
    assert "01_root.txt:" in err and "indentation of 3 spaces" in err
    assert not out.exists()


def test_style_problems_are_reported(
    build: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outlines, out = tmp_path / "outline", tmp_path / "default.json"
    _write_outlines(
        outlines, extra="    Favorite Brands :: Brands\n        Nike Shoes\n        sleep_quality"
    )
    assert build.main(["--outline-dir", str(outlines), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Nike Shoes" in err and "named-entity" in err and "sleep_quality" in err


def test_missing_and_unknown_roots(
    build: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outlines, out = tmp_path / "outline", tmp_path / "default.json"
    _write_outlines(outlines)
    (outlines / "12_root.txt").write_text("Favourite Things :: Things\n", encoding="utf-8")
    assert build.main(["--outline-dir", str(outlines), "--output", str(out), "--lenient"]) == 1
    err = capsys.readouterr().err
    assert "unknown root category 'Favourite Things'" in err
    assert "no outline file for root categories ['Media Consumption and Engagement']" in err
