"""The prompt library: packaged templates, overrides by name or directory, strict variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeppersona.errors import ConfigError
from deeppersona.prompts import PromptLibrary, render, template_names


def test_packaged_templates_exist_and_render_strictly() -> None:
    names = template_names()
    assert "narrative" in names and "core_chain" in names
    with pytest.raises(ConfigError, match="needs a variable"):
        render("narrative")


def test_overrides_by_mapping_and_directory(tmp_path: Path) -> None:
    lib = PromptLibrary({"narrative": "About {{ name }}."})
    assert lib.render("narrative", name="Ada") == "About Ada."
    (tmp_path / "narrative.jinja").write_text("Dir {{ name }}", encoding="utf-8")
    assert PromptLibrary(tmp_path).render("narrative", name="Ada") == "Dir Ada"


def test_with_overrides_keeps_earlier_overrides() -> None:
    lib = PromptLibrary({"narrative": "First {{ x }}"}).with_overrides({"extra": "Second"})
    assert lib.render("narrative", x=1) == "First 1"
    assert lib.render("extra") == "Second"
    assert PromptLibrary().source("narrative") != "First {{ x }}"  # the packaged one is untouched


def test_unknown_template_and_bad_override() -> None:
    with pytest.raises(ConfigError, match="no prompt template named"):
        PromptLibrary().render("does_not_exist")
    with pytest.raises(ConfigError, match="must be a string"):
        PromptLibrary({"narrative": 3})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="does not exist"):
        PromptLibrary("/no/such/dir")


def test_override_that_drops_a_required_variable_is_refused() -> None:
    from deeppersona.errors import ConfigError
    from deeppersona.generation import ValueGenerator
    from deeppersona.prompts import PromptLibrary

    with pytest.raises(ConfigError, match=r"'fill_batch' override drops the required variable\(s\) items"):
        PromptLibrary({"fill_batch": "Fill in the attributes."})
    with pytest.raises(ConfigError, match="sketch"):
        ValueGenerator(templates={"enrich_extract": "Extract the facts."})
    with pytest.raises(ConfigError, match="not valid Jinja"):
        PromptLibrary({"narrative": "{{ words"})
    ok = PromptLibrary({"fill_batch": "{% for item in items %}{{ item.key }}{% endfor %}"})
    assert "fill_batch" in ok.names
