"""Notebook output of the reports: ``_repr_html_``, short reprs, and plots that are matplotlib figures.

Every report is made cheaply with the package's fakes (FakeLLM, HashEmbedder) or built directly.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from pathlib import Path

import matplotlib
import pytest
from matplotlib.figure import Figure
from test_eval_surveys import write_wvs  # tests/ is on sys.path (pytest prepend import mode)

from deeppersona.builder import BuildResult, StageReport
from deeppersona.demographics import DemographicSampler
from deeppersona.engine import RunReport
from deeppersona.errors import EvaluationError
from deeppersona.evaluation import (
    METRICS,
    PERSONALIZATION_REQUESTS,
    Evaluator,
    IntrinsicReport,
    PersonalizationReport,
    SurveyReport,
    surveys,
)
from deeppersona.llm import Usage
from deeppersona.persona import Persona
from deeppersona.taxonomy import AttributeTree
from deeppersona.testing import FakeLLM, HashEmbedder

SCRIPT = "<script>alert(1)</script>"
MAX_WIDTH_PX = 1600

PERSONAS = [
    {
        "narrative": f"Persona {i}: a {25 + 7 * i}-year-old {['nurse', 'teacher', 'farmer'][i % 3]} in Kisumu.",
        "attributes": {"Health > Sleep": "poor", "Hobbies > Sport": ["hiking", "football"][i % 2]},
        "demographics": {"age": 25 + 7 * i, "gender": ["female", "male"][i % 2], "country": "Kenya"},
    }
    for i in range(6)
]


@pytest.fixture(autouse=True, scope="module")
def _agg() -> None:
    matplotlib.use("Agg")  # report figures need no backend; keep any pyplot use headless


@pytest.fixture(scope="module")
def survey_report(tmp_path_factory: pytest.TempPathFactory) -> SurveyReport:
    path = write_wvs(tmp_path_factory.mktemp("wvs") / "wvs.csv", {"KEN": 200})
    truth = surveys.load_wvs7(path, "KEN")
    return Evaluator(FakeLLM(seed=3), seed=0, n_boot=20).survey(PERSONAS, truth)


@pytest.fixture(scope="module")
def intrinsic_report() -> IntrinsicReport:
    sets = {"deep": PERSONAS, SCRIPT: ["a person", "another person", "a third one"]}
    return Evaluator(FakeLLM(seed=1), HashEmbedder()).intrinsic(sets, taxonomy="default")


@pytest.fixture(scope="module")
def personalization_report() -> PersonalizationReport:
    sets = {"deep": [p["narrative"] for p in PERSONAS[:2]], SCRIPT: ["a person", "someone"]}
    return Evaluator(FakeLLM(seed=4), seed=1).personalization(sets, requests=[PERSONALIZATION_REQUESTS[0]])


def _looks_like_html(text: str) -> None:
    assert text.startswith("<div>") and text.endswith("</div>")
    for tag in ("div", "table", "thead", "tbody", "tr", "th", "td", "p", "ul", "li", "b"):
        opened = len(re.findall(rf"<{tag}[ >]", text))
        assert opened == text.count(f"</{tag}>"), tag


def _escapes_script(text: str) -> None:
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int(struct.unpack(">I", data[16:20])[0])


def _assert_figure(fig: object) -> Figure:
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] * fig.dpi <= MAX_WIDTH_PX
    return fig


# ---------------------------------------------------------------------------------------------- survey


def test_survey_repr_is_a_short_summary(survey_report: SurveyReport) -> None:
    text = repr(survey_report)
    assert "array(" not in text and "\n" not in text and len(text) < 400
    assert text.startswith("SurveyReport(") and "Kenya" in text
    ks = survey_report.averages()["ks"]
    for method in survey_report.methods:
        assert f"{method} {ks[method]:.3f}" in text
    assert "Q57 left out of the average" in text
    assert f"{len(survey_report.warnings)} warnings" in text


def test_survey_html_holds_the_figures_and_escapes_text(survey_report: SurveyReport) -> None:
    text = survey_report._repr_html_()
    _looks_like_html(text)
    averages = survey_report.table[survey_report.table["item"] == "average"].set_index("method")
    for method in survey_report.methods:
        assert f"<td>{method}</td>" in text
        row = averages.loc[method].to_dict()
        ks, lo = float(row["ks"]), float(row["ks_lo"])
        assert f"{ks:.3f} [{lo:.3f}, " in text
    assert "Q57 (not averaged)" in text and "over 5 items, without Q57" in text
    assert "Q254" in text and "<b>Warnings</b>" in text
    survey_report.skipped[SCRIPT] = f"because {SCRIPT}"
    try:
        _escapes_script(survey_report._repr_html_())
    finally:
        del survey_report.skipped[SCRIPT]


def test_survey_plots_are_figures(survey_report: SurveyReport, tmp_path: Path) -> None:
    for fig in (
        survey_report.plot(),
        survey_report.plot_metrics(metrics=["ks", "js_divergence", "mean_diff"]),
        survey_report.plot_histograms(methods=["personas"]),
    ):
        _assert_figure(fig)
    all_metrics = _assert_figure(survey_report.plot_metrics(tmp_path / "m.png", metrics=METRICS))
    assert len([ax for ax in all_metrics.axes if ax.get_visible()]) == len(METRICS) == 7
    assert _png_width((tmp_path / "m.png").read_bytes()) <= MAX_WIDTH_PX
    with pytest.raises(EvaluationError, match="unknown metrics"):
        survey_report.plot_metrics(metrics=["nope"])
    with pytest.raises(EvaluationError, match="unknown methods"):
        survey_report.plot_histograms(methods=["nope"])


# ---------------------------------------------------------------------------------------------- intrinsic


def test_intrinsic_repr_and_html(intrinsic_report: IntrinsicReport) -> None:
    text = repr(intrinsic_report)
    assert "DataFrame" not in text and "\n" not in text and len(text) < 300
    assert "personas=9" in text and "metrics=" in text
    html = intrinsic_report._repr_html_()
    _looks_like_html(html)
    _escapes_script(html)
    uniqueness = float(intrinsic_report.per_set["uniqueness"].to_dict()["deep"])
    assert "<td>uniqueness</td>" in html and f"{uniqueness:.3f}" in html
    assert "deep 6" in html


def test_intrinsic_plot_wraps_to_a_grid(intrinsic_report: IntrinsicReport, tmp_path: Path) -> None:
    assert intrinsic_report.per_set.shape[1] >= 12  # the case that was one row of 14 panels
    fig = _assert_figure(intrinsic_report.plot_metrics(tmp_path / "i.png"))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == intrinsic_report.per_set.notna().any().sum()
    columns = {round(ax.get_position().x0, 2) for ax in visible}
    assert len(columns) <= 4
    assert _png_width(fig._repr_png_()) <= MAX_WIDTH_PX  # type: ignore[attr-defined]
    assert _png_width((tmp_path / "i.png").read_bytes()) <= MAX_WIDTH_PX  # saved at 120 dpi
    _assert_figure(intrinsic_report.plot())
    _assert_figure(intrinsic_report.plot_metrics(metrics=["words"]))
    with pytest.raises(EvaluationError, match="unknown metrics"):
        intrinsic_report.plot_metrics(metrics=["nope"])


# ---------------------------------------------------------------------------------------------- personalization


def test_personalization_repr_html_and_plots(personalization_report: PersonalizationReport) -> None:
    report = personalization_report
    text = repr(report)
    assert "DataFrame" not in text and "\n" not in text and "requests=1" in text and "battles=" in text
    html = report._repr_html_()
    _looks_like_html(html)
    _escapes_script(html)
    mean = float(report.summary()["deep"].to_dict()["mean"])
    assert f"{mean:.2f}" in html and "Pairwise preferences" in html and "personalization_fit" in html
    assert report.pairwise is not None
    assert f">{report.pairwise['elo'].iloc[0]:.0f}<" in html
    _assert_figure(report.plot())
    _assert_figure(report.plot_metrics())


# ---------------------------------------------------------------------------------------------- engine, builder


def test_run_report_html(tmp_path: Path) -> None:
    report = RunReport(
        path=tmp_path / "out.jsonl",
        requested=5,
        written=3,
        skipped=1,
        failures=[(4, f"core chain failed: {SCRIPT}")],
        usage=Usage(calls=7, prompt_tokens=10, completion_tokens=5),
        seed=7,
    )
    html = report._repr_html_()
    _looks_like_html(html)
    _escapes_script(html)
    assert "incomplete" in html and "#4: core chain failed" in html
    assert "<td style='text-align:right'>15</td>" in html  # tokens
    many = RunReport(tmp_path / "x.jsonl", 20, failures=[(i, "x") for i in range(12)])
    assert "2 more in .failures" in many._repr_html_()
    assert "complete" in RunReport(tmp_path / "y.jsonl", 2, written=2)._repr_html_()


def test_stage_and_build_reports_html() -> None:
    stage = StageReport(
        "filter", n_in=12, n_out=9, dropped=Counter({SCRIPT: 3}), notes={"llm_checks": 4}, seconds=1.25
    )
    assert repr(stage) == f"StageReport(filter: 12 -> 9 paths (dropped: {SCRIPT} 3), 1.2 s)"
    html = stage._repr_html_()
    _looks_like_html(html)
    _escapes_script(html)
    assert "<td style='text-align:right'>12</td><td style='text-align:right'>9</td>" in html
    tree = AttributeTree.from_paths(["Health > Sleep", "Hobbies > Sport"])
    result = BuildResult(
        tree=tree, stages=[StageReport("read", 0, 5, unit="pairs"), stage], usage=Usage(calls=4)
    )
    html = result._repr_html_()
    _looks_like_html(html)
    _escapes_script(html)
    assert f"{len(tree)} nodes" in html and "4 LLM calls" in html and "<td>read</td>" in html
    assert "| filter | 12 | 9 | paths |" in result.to_markdown()  # the Markdown table is unchanged


# ---------------------------------------------------------------------------------------------- other figures


def test_quality_and_marginal_plots_are_figures() -> None:
    report = Evaluator().quality([Persona(id="p0", seed=0)], tree=None)
    _assert_figure(report.plot())
    fig = _assert_figure(DemographicSampler(seed=1, names=False).plot_marginals(n=500, seed=1, country="KEN"))
    assert len(fig.axes) == 6


def test_report_figures_and_views_render_in_ipython(
    survey_report: SurveyReport, intrinsic_report: IntrinsicReport
) -> None:
    """A notebook shows the figure inline even when pyplot was never used, and the report as HTML."""
    formatters = pytest.importorskip("IPython.core.formatters")
    display = formatters.DisplayFormatter()
    data, _ = display.format(intrinsic_report.plot())
    assert _png_width(data["image/png"]) <= MAX_WIDTH_PX
    for report in (survey_report, intrinsic_report):
        data, _ = display.format(report)
        assert data["text/html"] == report._repr_html_()
