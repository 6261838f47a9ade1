"""A sweep report's figures and its self-contained HTML page.

``accuracy.png``: mean sequence accuracy on random pairs against width, one line
per configuration, with its 95% bootstrap band over seeds. ``curves.png``:
held-out sequence accuracy against epoch, the median over seeds with the band
between the quartiles; a trial that stopped early keeps its last value.
``report.html`` embeds both figures as base64 PNG with the tables and the
configs, so the one file opens in a browser anywhere.
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed or wanted.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from binadd.files import write_atomic
from binadd.plots import save_figure
from binadd.sweeps.report import (
    SUMMARY_COLUMNS,
    WIDTH_COLUMNS,
    ConfigGroup,
    Report,
    format_summary,
)
from binadd.sweeps.spec import GENERALIZATION_FACTOR


def plot_accuracy(report: Report, path: Path) -> Path:
    """Draw mean sequence accuracy against width with interval bands.

    Dotted lines mark each configuration's training width and ten times it.
    """
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for group in report.groups:
        rows = [r for r in report.widths if r["config_index"] == group.config_index]
        if not rows:
            continue
        widths = [row["n_bits"] for row in rows]
        line = axis.plot(
            widths,
            [row["sequence_accuracy_mean"] for row in rows],
            "-o",
            markersize=3,
            label=f"{group.label} ({len(group.results)} seeds)",
        )[0]
        axis.fill_between(
            widths,
            [row["sequence_accuracy_low"] for row in rows],
            [row["sequence_accuracy_high"] for row in rows],
            color=line.get_color(),
            alpha=0.2,
        )
    factor = GENERALIZATION_FACTOR
    marks = sorted({g.n_bits * k for g in report.groups for k in (1, factor)})
    for index, width in enumerate(marks):
        label = "n_bits and 10 x n_bits" if index == 0 else None
        axis.axvline(width, color="grey", linestyle=":", label=label)
    all_widths = [row["n_bits"] for row in report.widths]
    if all_widths and max(all_widths) / max(min(all_widths), 1) >= 50:
        axis.set_xscale("log")
    axis.set_xlabel("operand width n_bits")
    axis.set_ylabel("sequence accuracy, random pairs")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title("mean over seeds, 95% bootstrap interval")
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    return save_figure(figure, path, dpi=100)


def curve_quartiles(group: ConfigGroup) -> np.ndarray:
    """Quartiles over seeds of held-out sequence accuracy, shape (3, epochs).

    A shorter curve (a trial that stopped early) is extended with its last value.
    """
    curves = [result.curve for result in group.results if result.curve]
    if not curves:
        return np.zeros((3, 0))
    longest = max(len(curve) for curve in curves)
    padded = np.array([curve + curve[-1:] * (longest - len(curve)) for curve in curves])
    return np.percentile(padded, [25, 50, 75], axis=0)


def plot_curves(report: Report, path: Path) -> Path:
    """Draw learning curves: median and quartiles over seeds per configuration."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for group in report.groups:
        quartiles = curve_quartiles(group)
        if quartiles.shape[1] == 0:
            continue
        epochs = np.arange(1, quartiles.shape[1] + 1)
        line = axis.plot(epochs, quartiles[1], "-o", markersize=3, label=group.label)[0]
        axis.fill_between(
            epochs, quartiles[0], quartiles[2], color=line.get_color(), alpha=0.2
        )
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("held-out sequence accuracy")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title("median over seeds, band between quartiles")
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    return save_figure(figure, path, dpi=100)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_cell(row.get(name, '')))}</td>" for name in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{path.stem}" src="data:image/png;base64,{data}">'


STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    "pre{background:#f5f5f5;padding:8px;overflow-x:auto;font-size:12px}"
    "img{max-width:100%}"
)
DEFINITIONS = (
    "<p><b>solved</b>: sequence accuracy 1.0 on random pairs at the training "
    "width L. <b>general</b>: solved, and sequence accuracy 1.0 at 10L on random "
    "pairs and on every structured carry case. <b>epochs</b>: median over the "
    "seeds that got there of the first epoch with the held-out set all right. "
    "Intervals: 95% percentile bootstrap of the mean over seeds (10,000 "
    "resamples). Fractions are over the seeds whose trial is done.</p>"
)


def write_html(report: Report, figures: list[Path], path: Path) -> Path:
    """Write the self-contained HTML report."""
    sweep = report.sweep
    name = html.escape(str(sweep.get("name", "sweep")))
    failures = [error for group in report.groups for error in group.errors]
    configs = {group.label: group.config for group in report.groups}
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{name}</title>",
        f"<style>{STYLE}</style></head><body><h1>Sweep {name}</h1>",
        f"<p>{html.escape(str(sweep.get('description', '')))}</p>",
        f"<p>Written {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>",
        "<h2>Summary</h2>",
        f"<pre>{html.escape(chr(10).join(format_summary(report.summary)))}</pre>",
        DEFINITIONS,
        _table(report.summary, SUMMARY_COLUMNS),
        "<h2>Figures</h2>",
        *(_image(figure) for figure in figures),
        "<h2>Accuracy per width</h2>",
        _table(report.widths, WIDTH_COLUMNS),
        "<h2>Failed trials</h2>",
        f"<pre>{html.escape(chr(10).join(failures) or 'none')}</pre>",
        "<h2>Sweep file</h2>",
        f"<pre>{html.escape(json.dumps(sweep, indent=2))}</pre>",
        "<h2>Configurations (without the seed)</h2>",
        f"<pre>{html.escape(json.dumps(configs, indent=2))}</pre>",
        "</body></html>",
    ]
    write_atomic(path, "\n".join(parts))
    return path


def write_figures_and_html(report: Report, out: Path) -> list[Path]:
    """Draw both figures and the HTML page into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    figures = [
        plot_accuracy(report, out / "accuracy.png"),
        plot_curves(report, out / "curves.png"),
    ]
    return [*figures, write_html(report, figures, out / "report.html")]
