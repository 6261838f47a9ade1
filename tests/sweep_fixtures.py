"""A tiny sweep for the sweep tests: 2 configurations x 2 seeds, a second each."""

from __future__ import annotations

import sqlite3
import textwrap
import tomllib
from pathlib import Path
from typing import Any

from binadd.sweeps.spec import Sweep, parse_sweep

# One epoch of 20 steps at width 3, scored at widths 1-3 (and 30, added).
TINY_SWEEP = textwrap.dedent(
    """
    name = "tiny"
    preset = "notebook"
    seeds = 2

    [base]
    n_bits = 3
    epochs = 1
    steps_per_epoch = 20
    batch_size = 20
    test_batches = 2
    eval_lengths = "1-3"
    eval_samples = 50

    [grid]
    lr = [0.01, 0.001]
    """
)


def tiny_sweep(text: str = TINY_SWEEP) -> Sweep:
    return parse_sweep(tomllib.loads(text), "tiny", "tiny.toml")


def write_tiny(path: Path, text: str = TINY_SWEEP) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def result_rows(sweep_dir: Path) -> dict[str, list[Any]]:
    """Everything a backend must reproduce: statuses, metrics, evaluations.

    Timings (per-epoch seconds and trial times) and the worker are left out.
    """
    connection = sqlite3.connect(sweep_dir / "sweep.db")
    try:
        queries = {
            "trials": "SELECT trial_id, config, seed, status, error FROM trials",
            "epochs": "SELECT trial_id, epoch, train_loss, test_loss,"
            " test_bit_accuracy, test_sequence_accuracy FROM epochs",
            "lengths": 'SELECT trial_id, n_bits, "case", samples, bit_accuracy,'
            " sequence_accuracy FROM lengths",
        }
        return {
            name: sorted(connection.execute(query).fetchall())
            for name, query in queries.items()
        }
    finally:
        connection.close()
