"""The generalization horizon and the within / beyond summary."""

from __future__ import annotations

import json
from pathlib import Path

from binadd.horizon import format_summary, summarize, write_summary
from binadd.rundir import RunDir


def _rows(accuracies: dict[int, float]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n_bits, accuracy in accuracies.items():
        common = {"n_bits": n_bits, "bit_accuracy": 1.0}
        rows.append(
            {**common, "case": "random", "samples": 10, "sequence_accuracy": accuracy}
        )
        rows.append({**common, "case": "zeros", "samples": 1, "sequence_accuracy": 0.0})
    return rows


def test_horizon_stops_at_the_first_failing_width() -> None:
    rows = _rows({1000: 1.0, 1: 1.0, 10: 0.995, 100: 0.98, 10**6: 1.0})
    summary = summarize(rows, train_width=10)
    assert summary["horizon"] == 10
    assert summary["first_failing_width"] == 100
    assert summary["horizon_ratio"] == 1.0
    assert summary["evaluated_widths"] == [1, 10, 100, 1000, 10**6]


def test_horizon_when_nothing_or_everything_fails() -> None:
    failing = summarize(_rows({1: 0.5, 2: 1.0}), train_width=4)
    assert (failing["horizon"], failing["first_failing_width"]) == (0, 1)
    passing = summarize(_rows({1: 1.0, 10**7: 1.0}), train_width=4)
    assert passing["horizon"] == 10**7
    assert passing["first_failing_width"] is None
    assert passing["horizon_ratio"] == 2.5e6


def test_within_and_beyond_the_training_width() -> None:
    summary = summarize(_rows({5: 1.0, 10: 0.9, 20: 0.5, 40: 0.0}), train_width=10)
    within, beyond = summary["within"], summary["beyond"]
    assert (within["widths"], within["pairs"]) == (2, 20)
    assert within["sequence_accuracy"] == 0.95
    assert (beyond["min_sequence_accuracy"], beyond["min_width"]) == (0.0, 40)
    assert beyond["sequence_accuracy"] == 0.25
    empty = summarize(_rows({5: 1.0}), train_width=10)["beyond"]
    assert empty["widths"] == 0 and empty["sequence_accuracy"] is None
    lines = format_summary(summary)
    assert "horizon" in lines[0] and "first failing width 10" in lines[0]
    assert len(lines) == 3


def test_summary_is_written_from_lengths_csv(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "run")
    run.write_lengths(_rows({1: 1.0, 8: 1.0, 64: 0.0}))
    summary = write_summary(run, train_width=8)
    assert json.loads(run.summary_path.read_text()) == summary
    assert summary["horizon"] == 8
