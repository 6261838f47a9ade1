"""Figures drawn from a run directory's CSV files, never from a live model.

``curves.png``: loss, bit accuracy and sequence accuracy against epoch, train
and test. ``lengths.png``: sequence and bit accuracy of random pairs against
width, with its 95% interval, the training width(s) and the generalization
horizon (see :mod:`binadd.horizon`) marked; the width axis is logarithmic when
the widths span two decades or more.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed or wanted.
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from binadd.config import Config
from binadd.files import write_atomic
from binadd.horizon import THRESHOLD, summarize
from binadd.rundir import RunDir


def save_figure(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Lay out ``figure``, write it to ``path`` as a PNG atomically, close it."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return path


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) for row in rows]


def plot_curves(run: RunDir) -> Path:
    """Draw ``curves.png`` from ``metrics.csv``."""
    rows = run.read_metrics()
    epochs = _column(rows, "epoch")
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [
        ("loss", "loss"),
        ("bit_accuracy", "bit accuracy"),
        ("sequence_accuracy", "sequence accuracy"),
    ]
    for axis, (name, label) in zip(axes, panels, strict=True):
        for split, style in (("train", "-o"), ("test", "--s")):
            axis.plot(
                epochs,
                _column(rows, f"{split}_{name}"),
                style,
                label=split,
                markersize=4,
            )
        axis.set_xlabel("epoch")
        # Whole epochs only; a run solved in its first epoch is one point.
        axis.set_xlim(0.5, max(epochs, default=1) + 0.5)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        axis.set_ylabel(label)
        axis.set_title(label)
        axis.grid(alpha=0.3)
        axis.legend()
        if name != "loss":
            axis.set_ylim(-0.02, 1.02)
    return save_figure(figure, run.curves_path)


def plot_lengths(run: RunDir, config: Config) -> Path:
    """Draw ``lengths.png`` from ``lengths.csv`` (random pairs only)."""
    rows = [row for row in run.read_lengths() if row["case"] == "random"]
    rows.sort(key=lambda row: int(row["n_bits"]))
    widths = [int(row["n_bits"]) for row in rows]
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    axis.fill_between(
        widths,
        _column(rows, "sequence_low"),
        _column(rows, "sequence_high"),
        alpha=0.2,
        label="95% interval",
    )
    axis.plot(
        widths,
        _column(rows, "sequence_accuracy"),
        "-o",
        markersize=4,
        label="sequence accuracy",
    )
    axis.plot(
        widths, _column(rows, "bit_accuracy"), "--s", markersize=3, label="bit accuracy"
    )
    for index, width in enumerate(config.task.widths[:1] + config.task.widths[-1:]):
        axis.axvline(
            width,
            color="grey",
            linestyle=":",
            label="training width" if index == 0 else None,
        )
    horizon = summarize(rows, max(config.task.widths))["horizon"]
    if horizon:
        axis.axvline(
            horizon,
            color="tab:green",
            linestyle="--",
            label=f"horizon: {horizon} bits (sequence accuracy >= {THRESHOLD})",
        )
    if widths and max(widths) / max(min(widths), 1) >= 100:
        axis.set_xscale("log")
    else:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("operand width n_bits")
    axis.set_ylabel("accuracy on random pairs")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title("accuracy against operand width")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left")
    return save_figure(figure, run.lengths_plot_path)
