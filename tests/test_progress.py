"""Progress bars: one helper picks the kind (widget, plain text, none) for the engine, the Evaluator
and the TaxonomyBuilder; a Jupyter kernel without ipywidgets gets a text bar, never a warning."""

from __future__ import annotations

import importlib
import io
import re
import sys
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
import tqdm.std

from deeppersona import _progress
from deeppersona._progress import in_notebook, make_bar, progress_enabled, set_total, widgets_available
from deeppersona.builder import TaxonomyBuilder
from deeppersona.demographics import DemographicSampler
from deeppersona.engine import PersonaEngine
from deeppersona.evaluation import PERSONALIZATION_REQUESTS, Evaluator, surveys
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder, fake_builder_llm

QA = [
    {"question": "I'm a night-shift nurse; how can I sleep better?", "answer": "Keep a fixed schedule."},
    {"question": "Which hiking boots suit wide feet?", "answer": "Try a wide-fit leather boot."},
]
PERSONAS = [f"A {30 + i}-year-old nurse in Nairobi who hikes on Sundays." for i in range(5)]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend to run in a Jupyter kernel that has no ipywidgets."""
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # ``import ipywidgets`` fails
    monkeypatch.delitem(sys.modules, "tqdm.notebook", raising=False)  # re-imported without widgets


# ---------------------------------------------------------------------- the helper
def test_a_kernel_without_ipywidgets_gets_a_plain_text_bar_and_no_warning(notebook: None) -> None:
    out = io.StringIO()  # a kernel's stderr is no terminal
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TqdmWarning (what tqdm.auto gives here) would fail
        assert not widgets_available()
        bar = make_bar(10, "personas", unit="persona", file=out)
        assert type(bar) is tqdm.std.tqdm
        bar.update(3)
        bar.close()
    text = out.getvalue()
    assert "personas" in text and "3/10" in text and "|" in text


def test_a_kernel_with_widgets_gets_the_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    notebook_tqdm = importlib.import_module("tqdm.notebook")  # the module make_bar imports from

    made: list[dict[str, Any]] = []

    class Widget:
        def __init__(self, **options: Any) -> None:
            made.append(options)

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "widgets_available", lambda: True)
    monkeypatch.setattr(notebook_tqdm, "tqdm", Widget)
    assert isinstance(make_bar(5, "survey", unit="answer"), Widget)
    assert made == [{"total": 5, "desc": "survey", "unit": "answer", "leave": True}]


def test_progress_off_gives_no_bar_and_no_output(notebook: None) -> None:
    out = _Terminal()
    assert make_bar(10, "personas", setting=False, file=out) is None
    assert out.getvalue() == ""


def test_the_default_shows_a_bar_only_where_someone_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "in_notebook", lambda: False)
    assert progress_enabled(None, _Terminal()) is True
    assert progress_enabled(None, io.StringIO()) is False  # a log file, a pipe, CI
    assert progress_enabled(True, io.StringIO()) is True
    assert progress_enabled(False, _Terminal()) is False
    assert make_bar(3, "x", file=io.StringIO()) is None
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    assert progress_enabled(None, io.StringIO()) is True  # a notebook's stderr is no terminal


def test_set_total_grows_a_text_bar_and_a_widget(notebook: None) -> None:
    out = io.StringIO()
    bar = make_bar(None, "survey", unit="answer", file=out)
    set_total(bar, 4)
    bar.update(4)
    set_total(bar, 6)  # work added later (a re-ask): the count is kept
    bar.close()
    assert bar.n == 4 and "4/6" in out.getvalue()

    widget = SimpleNamespace(max=1, bar_style="info", layout=SimpleNamespace(width="20px"))
    shown = SimpleNamespace(
        total=None, container=SimpleNamespace(children=[None, widget, None]), refresh=list
    )
    set_total(shown, 12)
    assert shown.total == 12 and widget.max == 12 and widget.bar_style == "" and widget.layout.width is None


def test_in_notebook_is_false_outside_a_kernel() -> None:
    assert in_notebook() is False  # pytest: no ipykernel shell


# ---------------------------------------------------------------------- the engine
@pytest.fixture(scope="module")
def engine() -> PersonaEngine:
    tree = AttributeTree.default()
    base = PersonaEngine.from_taxonomy(tree, model=FakeLLM(seed=1), embedder=HashEmbedder())
    return base.with_sampler(DemographicSampler()).with_seed(3)


@pytest.mark.parametrize("n", [None, 3])
def test_engine_progress_false_prints_nothing(
    engine: PersonaEngine, n: int | None, capfd: pytest.CaptureFixture[str]
) -> None:
    engine.with_options(progress=False).generate(k=5, n=n)
    assert capfd.readouterr().err == ""
    engine.generate(k=5, n=n)  # the default: no bar where nobody watches (pytest's stderr)
    assert capfd.readouterr().err == ""


def test_engine_run_bar_shows_the_current_persona_stage(
    engine: PersonaEngine, capfd: pytest.CaptureFixture[str]
) -> None:
    engine.with_options(progress=True).generate(k=5, n=3)
    err = capfd.readouterr().err
    assert "personas" in err and "3/3" in err
    assert re.search(r"persona \d: (core|fill|consistency|narrative)", err), err


def test_engine_in_a_kernel_without_widgets_shows_text_bars(
    engine: PersonaEngine, notebook: None, capfd: pytest.CaptureFixture[str]
) -> None:
    engine.generate(k=5)  # progress=None: on in a notebook, for one persona too
    err = capfd.readouterr().err
    assert "persona 0" in err and "step" in err and "narrative" in err
    engine.generate(k=5, n=2)
    assert "2/2" in capfd.readouterr().err


# ---------------------------------------------------------------------- the Evaluator
def test_evaluator_shows_progress_for_surveys_judges_and_personalization(
    capfd: pytest.CaptureFixture[str],
) -> None:
    truth = surveys.WVS7.from_histograms({"Q46": {1: 40, 2: 45, 3: 10, 4: 5}}, country="KEN")
    ev = Evaluator(FakeLLM(seed=1), HashEmbedder(), n_boot=0, progress=True)
    ev.survey(PERSONAS, truth, baselines=False)
    err = capfd.readouterr().err
    assert "survey" in err and "5/5" in err and "answer" in err
    ev.intrinsic(PERSONAS, similarity=False, demographics=False)
    err = capfd.readouterr().err
    assert "intrinsic (judge)" in err and "15/15" in err
    reqs = [PERSONALIZATION_REQUESTS[0]]
    ev.personalization({"a": PERSONAS[:2], "b": PERSONAS[2:4]}, requests=reqs)
    err = capfd.readouterr().err  # 2 sets x 2 personas x (response + judgement), 2 pairwise judgements
    assert "personalization" in err and "10/10" in err


def test_evaluator_progress_false_and_default_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    truth = surveys.WVS7.from_histograms({"Q46": {1: 40, 2: 45, 3: 10, 4: 5}}, country="KEN")
    for progress in (False, None):
        ev = Evaluator(FakeLLM(seed=1), n_boot=0, progress=progress)
        ev.survey(PERSONAS, truth, baselines=False)
        ev.intrinsic(PERSONAS, similarity=False, demographics=False)
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------------- the TaxonomyBuilder
def test_builder_shows_progress_by_default_where_someone_watches(
    notebook: None, capfd: pytest.CaptureFixture[str]
) -> None:
    TaxonomyBuilder(llm=fake_builder_llm(), embedder=HashEmbedder(), merge_threshold=0.9).build(QA)
    err = capfd.readouterr().err
    assert "classify+extract" in err and "/2 " in err and "filter" in err  # stage bars (not left on screen)


def test_builder_progress_false_prints_nothing(notebook: None, capfd: pytest.CaptureFixture[str]) -> None:
    builder = TaxonomyBuilder(
        llm=fake_builder_llm(), embedder=HashEmbedder(), merge_threshold=0.9, progress=False
    )
    builder.build(QA)
    assert capfd.readouterr().err == ""
