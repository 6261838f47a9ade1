"""Statistics over seeds: read a sweep's database, summarize each configuration.

For each configuration, over the seeds whose trial is done:

- ``solved``: sequence accuracy 1.0 on the random pairs at the training width
  ``n_bits``;
- ``generalized``: solved, and sequence accuracy 1.0 at ``10 * n_bits`` on the
  random pairs and on every structured carry case;
- ``epochs_to_solve``: the first epoch whose held-out test set is all right
  (median over the seeds that got there);
- per width: the mean sequence accuracy on random pairs and its 95% percentile
  bootstrap interval over seeds (10,000 resamples, fixed seed, so the report is
  reproducible).

Every number comes from the database, and is written to CSV next to the table.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from binadd.files import csv_text, write_atomic
from binadd.sweeps.spec import GENERALIZATION_FACTOR
from binadd.sweeps.store import Store

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
SUMMARY_COLUMNS = [
    "config_index",
    "label",
    "n_bits",
    "trials",
    "done",
    "failed",
    "solved",
    "solved_fraction",
    "generalized",
    "generalized_fraction",
    "median_epochs_to_solve",
    "train_width_mean",
    "train_width_low",
    "train_width_high",
    "far_width_mean",
    "far_width_low",
    "far_width_high",
]
WIDTH_COLUMNS = [
    "config_index",
    "label",
    "n_bits",
    "seeds",
    "sequence_accuracy_mean",
    "sequence_accuracy_low",
    "sequence_accuracy_high",
    "bit_accuracy_mean",
]


def bootstrap_interval(values: list[float]) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean (a point for one value)."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, len(data), size=(BOOTSTRAP_RESAMPLES, len(data)))
    means = data[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@dataclass
class TrialResult:
    """What the report needs of one finished trial."""

    trial_id: str
    seed: int
    solved: bool
    generalized: bool
    epochs_to_solve: int | None
    random: dict[int, tuple[float, float]]  # n_bits -> (sequence, bit accuracy)
    curve: list[float]  # test sequence accuracy per epoch


@dataclass
class ConfigGroup:
    """The trials of one configuration."""

    config_index: int
    label: str
    config: dict[str, Any]
    trials: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    results: list[TrialResult] = field(default_factory=list)

    @property
    def n_bits(self) -> int:
        return int(self.config["task"]["n_bits"])


def _trial_result(
    trial: dict[str, Any], epochs: list[dict[str, Any]], lengths: list[dict[str, Any]]
) -> TrialResult:
    n_bits = int(json.loads(trial["config"])["task"]["n_bits"])
    far = GENERALIZATION_FACTOR * n_bits
    random = {
        int(row["n_bits"]): (
            float(row["sequence_accuracy"]),
            float(row["bit_accuracy"]),
        )
        for row in lengths
        if row["case"] == "random"
    }
    solved = random.get(n_bits, (0.0, 0.0))[0] == 1.0
    far_rows = [row for row in lengths if int(row["n_bits"]) == far]
    generalized = (
        solved
        and bool(far_rows)
        and all(float(row["sequence_accuracy"]) == 1.0 for row in far_rows)
    )
    curve = [float(row["test_sequence_accuracy"]) for row in epochs]
    first = [
        int(row["epoch"]) for row in epochs if row["test_sequence_accuracy"] == 1.0
    ]
    return TrialResult(
        trial_id=trial["trial_id"],
        seed=int(trial["seed"]),
        solved=solved,
        generalized=generalized,
        epochs_to_solve=first[0] if first else None,
        random=random,
        curve=curve,
    )


def load_groups(store: Store) -> list[ConfigGroup]:
    """Every configuration in the database with its trials' results."""
    epochs: dict[str, list[dict[str, Any]]] = {}
    for row in store.epochs():
        epochs.setdefault(row["trial_id"], []).append(row)
    lengths: dict[str, list[dict[str, Any]]] = {}
    for row in store.lengths():
        lengths.setdefault(row["trial_id"], []).append(row)

    groups: dict[int, ConfigGroup] = {}
    for trial in store.trials():
        config = json.loads(trial["config"])
        config["train"].pop("seed", None)
        group = groups.setdefault(
            trial["config_index"],
            ConfigGroup(trial["config_index"], trial["label"], config),
        )
        group.trials += 1
        if trial["status"] == "failed":
            group.failed += 1
            group.errors.append(f"{trial['trial_id']}: {trial['error']}")
        if trial["status"] == "done":
            tid = trial["trial_id"]
            group.results.append(
                _trial_result(trial, epochs.get(tid, []), lengths.get(tid, []))
            )
    return [groups[index] for index in sorted(groups)]


def _mean_interval(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    low, high = bootstrap_interval(values)
    return statistics.fmean(values), low, high


def summary_row(group: ConfigGroup) -> dict[str, Any]:
    """One configuration's row of ``summary.csv``."""
    results, done = group.results, len(group.results)
    solved = sum(result.solved for result in results)
    generalized = sum(result.generalized for result in results)
    epochs = [r.epochs_to_solve for r in results if r.epochs_to_solve is not None]
    row: dict[str, Any] = {
        "config_index": group.config_index,
        "label": group.label,
        "n_bits": group.n_bits,
        "trials": group.trials,
        "done": done,
        "failed": group.failed,
        "solved": solved,
        "solved_fraction": solved / done if done else float("nan"),
        "generalized": generalized,
        "generalized_fraction": generalized / done if done else float("nan"),
        "median_epochs_to_solve": statistics.median(epochs) if epochs else "",
    }
    far = GENERALIZATION_FACTOR * group.n_bits
    widths = {"train_width": group.n_bits, "far_width": far}
    for name, width in widths.items():
        values = [r.random[width][0] for r in results if width in r.random]
        mean, low, high = _mean_interval(values)
        row.update({f"{name}_mean": mean, f"{name}_low": low, f"{name}_high": high})
    return row


def width_rows(group: ConfigGroup) -> list[dict[str, Any]]:
    """One row of ``widths.csv`` per evaluated width of a configuration."""
    widths = sorted({width for result in group.results for width in result.random})
    rows = []
    for width in widths:
        pairs = [r.random[width] for r in group.results if width in r.random]
        mean, low, high = _mean_interval([pair[0] for pair in pairs])
        rows.append(
            {
                "config_index": group.config_index,
                "label": group.label,
                "n_bits": width,
                "seeds": len(pairs),
                "sequence_accuracy_mean": mean,
                "sequence_accuracy_low": low,
                "sequence_accuracy_high": high,
                "bit_accuracy_mean": statistics.fmean(pair[1] for pair in pairs),
            }
        )
    return rows


def format_summary(rows: list[dict[str, Any]]) -> list[str]:
    """A fixed-width table of summary rows."""
    width = max([len(str(row["label"])) for row in rows] + [6])
    lines = [
        f"{'config':<{width}}  {'seeds':>5}  {'fail':>4}  {'solved':>6}"
        f"  {'general':>7}  {'epochs':>6}  {'seq acc at L [95% CI]':>22}"
        f"  {'seq acc at 10L [95% CI]':>23}"
    ]
    for row in rows:
        epochs = row["median_epochs_to_solve"]
        lines.append(
            f"{row['label']:<{width}}  {row['done']:>5d}  {row['failed']:>4d}"
            f"  {row['solved_fraction']:6.2f}  {row['generalized_fraction']:7.2f}"
            f"  {'-' if epochs == '' else f'{float(epochs):.1f}':>6}"
            f"  {_interval(row, 'train_width'):>22}"
            f"  {_interval(row, 'far_width'):>23}"
        )
    return lines


def _interval(row: dict[str, Any], name: str) -> str:
    mean, low, high = (row[f"{name}_{part}"] for part in ("mean", "low", "high"))
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


@dataclass
class Report:
    """A sweep's report, computed from its database."""

    sweep: dict[str, Any]
    groups: list[ConfigGroup]
    summary: list[dict[str, Any]]
    widths: list[dict[str, Any]]


def build_report(sweep_dir: Path) -> Report:
    """Read a sweep directory's database and compute its statistics."""
    store = Store.open(sweep_dir)
    try:
        groups = load_groups(store)
        sweep = store.sweep()
    finally:
        store.close()
    return Report(
        sweep=sweep,
        groups=groups,
        summary=[summary_row(group) for group in groups],
        widths=[row for group in groups for row in width_rows(group)],
    )


def write_tables(report: Report, out: Path) -> list[Path]:
    """Write ``summary.csv`` and ``widths.csv`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary, widths = out / "summary.csv", out / "widths.csv"
    write_atomic(summary, csv_text(report.summary, SUMMARY_COLUMNS))
    write_atomic(widths, csv_text(report.widths, WIDTH_COLUMNS))
    return [summary, widths]
