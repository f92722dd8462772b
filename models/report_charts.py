"""Charts of the evaluation report, rendered off-screen to base64 PNG strings.

Figures are built with ``matplotlib.figure.Figure`` and its Agg canvas directly, never
through ``pyplot``: no global figure state, no GUI backend, safe inside a server thread.
matplotlib is imported here only, so importing ``models`` stays light.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.metrics import EvaluationReport, PsiResult

_SIZE = (5.2, 3.6)
_DPI = 96
_COLORS = {"validation": "#1f77b4", "train": "#ff7f0e"}


def _new_figure(size: tuple[float, float] = _SIZE) -> Figure:
    figure = Figure(figsize=size, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _to_base64_png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _color(name: str) -> str | None:
    return _COLORS.get(name)


def roc_chart(reports: Mapping[str, EvaluationReport]) -> str:
    """ROC curves of each named set, AUC in the legend."""
    figure = _new_figure()
    axes = figure.add_subplot()
    for name, report in reports.items():
        axes.plot(
            report.roc.fpr,
            report.roc.tpr,
            color=_color(name),
            label=f"{name} (AUC {report.auc:.4f})",
        )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axes.legend(loc="lower right")
    return _to_base64_png(figure)


def ks_chart(report: EvaluationReport) -> str:
    """Cumulative shares of positives and negatives against population depth."""
    n_negative = report.n_rows - report.n_positive
    depth = (report.roc.tpr * report.n_positive + report.roc.fpr * n_negative) / (
        report.n_rows
    )
    ks_depth = (report.ks.tpr * report.n_positive + report.ks.fpr * n_negative) / (
        report.n_rows
    )
    figure = _new_figure()
    axes = figure.add_subplot()
    axes.plot(depth, report.roc.tpr, label="positives (TPR)")
    axes.plot(depth, report.roc.fpr, label="negatives (FPR)")
    axes.vlines(
        ks_depth,
        report.ks.fpr,
        report.ks.tpr,
        colors="black",
        linestyles="--",
        label=f"KS {report.ks.statistic:.4f}",
    )
    axes.set(
        xlabel="share of population, highest scores first",
        ylabel="cumulative share",
        title="KS",
    )
    axes.legend(loc="lower right")
    return _to_base64_png(figure)


def lift_chart(reports: Mapping[str, EvaluationReport]) -> str:
    """Lift per score bin (bin 1 = highest scores), one bar series per set."""
    figure = _new_figure()
    axes = figure.add_subplot()
    width = 0.8 / max(len(reports), 1)
    for offset, (name, report) in enumerate(reports.items()):
        bins = report.lift["bin"].to_numpy()
        axes.bar(
            bins + (offset - (len(reports) - 1) / 2) * width,
            report.lift["lift"].to_numpy(),
            width=width,
            color=_color(name),
            label=name,
        )
    axes.axhline(1.0, color="grey", linestyle=":")
    axes.set(xlabel="score bin (1 = highest)", ylabel="lift", title="Lift")
    axes.legend()
    return _to_base64_png(figure)


def gains_chart(reports: Mapping[str, EvaluationReport]) -> str:
    """Cumulative gains: share of positives captured against share of population."""
    figure = _new_figure()
    axes = figure.add_subplot()
    for name, report in reports.items():
        population = np.r_[0.0, report.lift["cumulative_count"] / report.n_rows]
        gain = np.r_[0.0, report.lift["cumulative_gain"]]
        axes.plot(population, gain, marker="o", color=_color(name), label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    axes.set(
        xlabel="share of population, highest scores first",
        ylabel="share of positives captured",
        title="Cumulative gains",
    )
    axes.legend(loc="lower right")
    return _to_base64_png(figure)


def calibration_chart(reports: Mapping[str, EvaluationReport]) -> str:
    """Observed positive rate against mean predicted probability per bin."""
    figure = _new_figure()
    axes = figure.add_subplot()
    for name, report in reports.items():
        if report.calibration is None:
            continue
        table = report.calibration.table
        axes.plot(
            table["mean_predicted"],
            table["observed_rate"],
            marker="o",
            color=_color(name),
            label=f"{name} (ECE {report.calibration.expected_calibration_error:.4f})",
        )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    axes.set(xlabel="mean predicted", ylabel="observed rate", title="Calibration")
    axes.legend(loc="upper left")
    return _to_base64_png(figure)


def psi_chart(psi: PsiResult) -> str:
    """Share of expected (train) and actual (validation) scores per reference bin."""
    figure = _new_figure()
    axes = figure.add_subplot()
    bins = psi.table["bin"].to_numpy()
    expected, actual = psi.table["expected_share"], psi.table["actual_share"]
    axes.bar(bins - 0.2, expected, width=0.4, color=_color("train"), label="train")
    axes.bar(
        bins + 0.2, actual, width=0.4, color=_color("validation"), label="validation"
    )
    axes.set(
        xlabel="score bin (train deciles)",
        ylabel="share of rows",
        title=f"Stability: PSI {psi.psi:.4f} ({psi.stability})",
    )
    axes.legend(loc="lower right")
    return _to_base64_png(figure)


def training_chart(
    epochs: Sequence[int], series: Mapping[str, Sequence[float | None]]
) -> str:
    """Loss (left) and AUC (right) per epoch; series named ``<set> loss|AUC``."""
    figure = _new_figure((8.0, 3.4))
    loss_axes, auc_axes = figure.subplots(1, 2)
    x = np.asarray(epochs)
    for name, values in series.items():
        y = np.array([np.nan if value is None else value for value in values])
        if np.all(np.isnan(y)):
            continue
        axes = loss_axes if name.endswith("loss") else auc_axes
        axes.plot(x, y, marker=".", label=name)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="Loss")
    auc_axes.set(xlabel="epoch", ylabel="AUC", title="AUC")
    for axes in (loss_axes, auc_axes):
        if axes.lines:
            axes.legend()
    return _to_base64_png(figure)
