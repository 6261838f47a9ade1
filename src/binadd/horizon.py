"""The generalization horizon and accuracy within and beyond the training width.

Read from the random-pair records of an evaluation (``lengths.csv`` rows or
records fresh from :func:`binadd.evaluate.evaluate`):

- ``horizon``: the largest evaluated width W such that *every* evaluated width
  up to W has ``sequence_accuracy >= threshold`` (0.99). Widths between two
  evaluated ones were not tested and are not claimed: the true horizon lies
  between ``horizon`` and ``first_failing_width`` (the smallest evaluated
  width below the threshold, None when none is). A horizon of 0 means the
  smallest evaluated width already fails. The accuracy is the point estimate of
  the record, however few its pairs (see its ``samples`` and interval).
- ``horizon_ratio``: horizon / training width (the largest training width).
- ``within`` and ``beyond``: widths up to the training width and past it, each
  summed up by its number of widths and pairs, the mean over widths of the
  sequence and bit accuracy (every width weighs the same), and the worst width.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from binadd.files import write_atomic
from binadd.rundir import RunDir

THRESHOLD = 0.99


def _group(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum up a group of random-pair rows; empty groups have None accuracies."""
    if not rows:
        empty = ("sequence_accuracy", "bit_accuracy", "min_sequence_accuracy")
        return {"widths": 0, "pairs": 0, **dict.fromkeys(empty), "min_width": None}
    sequence = [float(row["sequence_accuracy"]) for row in rows]
    bits = [float(row["bit_accuracy"]) for row in rows]
    worst = min(range(len(rows)), key=lambda index: sequence[index])
    return {
        "widths": len(rows),
        "pairs": sum(int(row["samples"]) for row in rows),
        "sequence_accuracy": sum(sequence) / len(rows),
        "bit_accuracy": sum(bits) / len(rows),
        "min_sequence_accuracy": sequence[worst],
        "min_width": int(rows[worst]["n_bits"]),
    }


def summarize(
    records: Sequence[Mapping[str, Any]],
    train_width: int,
    threshold: float = THRESHOLD,
) -> dict[str, Any]:
    """The horizon and the within / beyond summary of random-pair records.

    Args:
        records: evaluation records or ``lengths.csv`` rows; only rows whose
            case is ``random`` count.
        train_width: the largest width the model was trained on.
        threshold: the sequence accuracy a width must reach.

    Returns:
        A JSON-ready dict (see the module docstring for its keys).
    """
    rows = sorted(
        (row for row in records if row["case"] == "random"),
        key=lambda row: int(row["n_bits"]),
    )
    horizon, failing = 0, None
    for row in rows:
        if float(row["sequence_accuracy"]) < threshold:
            failing = int(row["n_bits"])
            break
        horizon = int(row["n_bits"])
    return {
        "threshold": threshold,
        "train_width": train_width,
        "evaluated_widths": [int(row["n_bits"]) for row in rows],
        "horizon": horizon,
        "horizon_ratio": horizon / train_width,
        "first_failing_width": failing,
        "within": _group([r for r in rows if int(r["n_bits"]) <= train_width]),
        "beyond": _group([r for r in rows if int(r["n_bits"]) > train_width]),
    }


def _accuracy(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_summary(summary: Mapping[str, Any]) -> list[str]:
    """Readable lines of a :func:`summarize` result."""
    failing = summary["first_failing_width"]
    beyond_horizon = (
        f"first failing width {failing}"
        if failing is not None
        else "no evaluated width fails"
    )
    lines = [
        f"horizon (sequence accuracy >= {summary['threshold']:.2f} at every "
        f"evaluated width up to it): {summary['horizon']} bits, "
        f"{summary['horizon_ratio']:.4g} x the training width "
        f"{summary['train_width']} ({beyond_horizon})"
    ]
    for name in ("within", "beyond"):
        group = summary[name]
        worst = (
            ""
            if group["widths"] == 0
            else f", worst {_accuracy(group['min_sequence_accuracy'])} "
            f"at {group['min_width']}"
        )
        lines.append(
            f"{name:>6} the training width: {group['widths']} widths, "
            f"{group['pairs']} pairs, mean sequence accuracy "
            f"{_accuracy(group['sequence_accuracy'])}, mean bit accuracy "
            f"{_accuracy(group['bit_accuracy'])}{worst}"
        )
    return lines


def write_summary(run: RunDir, train_width: int) -> dict[str, Any]:
    """Summarize every width in the run's ``lengths.csv`` into ``summary.json``."""
    summary = summarize(run.read_lengths(), train_width)
    write_atomic(run.summary_path, json.dumps(summary, indent=2) + "\n")
    return summary
