"""The sweep report: its numbers must be the database's, and its page standalone."""

from __future__ import annotations

import csv
import dataclasses
import math
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import pytest

from binadd.sweeps.report import (
    bootstrap_interval,
    build_report,
    format_summary,
    write_tables,
)
from binadd.sweeps.report_html import curve_quartiles, write_figures_and_html
from binadd.sweeps.runner import run_sweep
from binadd.sweeps.store import Store
from binadd.task import CASE_NAMES
from sweep_fixtures import tiny_sweep

N_BITS = 3  # the tiny sweep's training width; 10x is 30


def _records(accuracy: dict[int, float], cases_right: bool = True) -> list[dict]:
    records = []
    for width, value in accuracy.items():
        records.append(
            {"n_bits": width, "case": "random", "samples": 50, "bit_accuracy": value,
             "sequence_accuracy": value}
        )  # fmt: skip
        for name in CASE_NAMES:
            right = 1.0 if cases_right else 0.0
            records.append(
                {"n_bits": width, "case": name, "samples": 1, "bit_accuracy": right,
                 "sequence_accuracy": right}
            )  # fmt: skip
    return records


def _history(curve: list[float]) -> list[dict[str, Any]]:
    return [
        {"epoch": epoch, "train_loss": 0.1, "test_loss": 0.1,
         "test_bit_accuracy": value, "test_sequence_accuracy": value}
        for epoch, value in enumerate(curve, start=1)
    ]  # fmt: skip


def _result(trial_id: str, curve: list[float], accuracy: dict[int, float], **more):
    cases_right = more.pop("cases_right", True)
    return {
        "trial_id": trial_id,
        "status": "done",
        "history": _history(curve),
        "records": _records(accuracy, cases_right),
        "started": 0.0,
        "finished": 1.0,
        **more,
    }


@pytest.fixture
def known(tmp_path: Path) -> Path:
    """A database with hand-made results whose statistics are known."""
    store = Store.create(tmp_path)
    sweep = tiny_sweep()
    store.register(sweep.trials(), tmp_path)
    store.save_sweep(sweep)
    # Config 0: both seeds solve; seed 0 generalizes, seed 1 fails at 30 bits.
    store.record(_result("c00-s000", [0.5, 1.0], {3: 1.0, 30: 1.0}))
    store.record(_result("c00-s001", [0.2, 0.9, 1.0, 1.0], {3: 1.0, 30: 0.6}))
    # Config 1: seed 0 crashed; seed 1 never solves (and fails every case).
    store.record({"trial_id": "c01-s000", "status": "failed", "error": "ValueError: x"})
    store.record(_result("c01-s001", [0.1, 0.3], {3: 0.4, 30: 0.0}, cases_right=False))
    store.close()
    return tmp_path


def test_known_statistics(known: Path):
    report = build_report(known)
    first, second = report.summary
    assert (first["done"], first["failed"], first["solved"], first["generalized"]) == (
        2, 0, 2, 1
    )  # fmt: skip
    assert first["solved_fraction"] == 1.0 and first["generalized_fraction"] == 0.5
    assert first["median_epochs_to_solve"] == 2.5
    assert first["far_width_mean"] == pytest.approx(0.8)
    assert (first["far_width_low"], first["far_width_high"]) == (0.6, 1.0)
    assert (second["done"], second["failed"], second["solved"]) == (1, 1, 0)
    assert second["median_epochs_to_solve"] == ""
    assert second["train_width_mean"] == 0.4
    assert report.groups[1].errors == ["c01-s000: ValueError: x"]
    # Learning curves: the shorter curve keeps its last value.
    quartiles = curve_quartiles(report.groups[0])
    assert quartiles.shape == (3, 4)
    assert list(quartiles[1]) == pytest.approx([0.35, 0.95, 1.0, 1.0])


def _database_truth(sweep_dir: Path) -> dict[int, dict[str, Any]]:
    """Recompute the summary straight from the database with SQL."""
    connection = sqlite3.connect(sweep_dir / "sweep.db")
    truth: dict[int, dict[str, Any]] = {}
    query = (
        "SELECT t.config_index, t.trial_id, l.n_bits, l.sequence_accuracy"
        " FROM trials t JOIN lengths l USING (trial_id)"
        " WHERE t.status = 'done' AND l.\"case\" = 'random'"
    )
    for index, trial_id, width, value in connection.execute(query):
        entry = truth.setdefault(index, {"widths": {}, "trials": set()})
        entry["widths"].setdefault(width, []).append(value)
        entry["trials"].add(trial_id)
    query = (
        "SELECT t.config_index, MIN(e.epoch) FROM trials t JOIN epochs e"
        " USING (trial_id) WHERE t.status = 'done'"
        " AND e.test_sequence_accuracy = 1.0 GROUP BY t.trial_id"
    )
    for index, epoch in connection.execute(query):
        truth[index].setdefault("epochs", []).append(epoch)
    connection.close()
    return truth


def _check_against_database(sweep_dir: Path, n_bits: int = N_BITS) -> None:
    report = build_report(sweep_dir)
    truth = _database_truth(sweep_dir)
    assert [row["config_index"] for row in report.summary] == sorted(truth)
    for row in report.summary:
        entry = truth[row["config_index"]]
        assert row["done"] == len(entry["trials"])
        at_train = entry["widths"][n_bits]
        assert row["solved"] == sum(value == 1.0 for value in at_train)
        assert row["train_width_mean"] == pytest.approx(statistics.fmean(at_train))
        low, high = bootstrap_interval(at_train)
        assert (row["train_width_low"], row["train_width_high"]) == (low, high)
        epochs = entry.get("epochs", [])
        expected = statistics.median(epochs) if epochs else ""
        assert row["median_epochs_to_solve"] == expected
    for row in report.widths:
        values = truth[row["config_index"]]["widths"][row["n_bits"]]
        assert row["seeds"] == len(values)
        assert row["sequence_accuracy_mean"] == pytest.approx(statistics.fmean(values))

    # The CSV files hold the same numbers as the report.
    out = sweep_dir / "report"
    write_tables(report, out)
    with (out / "summary.csv").open(newline="") as stream:
        saved = list(csv.DictReader(stream))
    for row, line in zip(report.summary, saved, strict=True):
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                assert line[key] == "nan"
            elif isinstance(value, float):
                assert float(line[key]) == value
            else:
                assert line[key] == str(value)
    with (out / "widths.csv").open(newline="") as stream:
        assert len(list(csv.DictReader(stream))) == len(report.widths)


def test_report_matches_database_on_known_results(known: Path):
    _check_against_database(known)


def test_report_matches_database_on_a_real_sweep(tmp_path: Path):
    # Width 1 so that some seeds solve within the tiny budget.
    sweep = tiny_sweep()
    sweep = dataclasses.replace(sweep, base={**sweep.base, "n_bits": 1})
    run_sweep(sweep, tmp_path, workers=1, progress=False)
    _check_against_database(tmp_path, n_bits=1)


def test_html_report_is_self_contained(known: Path):
    report = build_report(known)
    paths = write_figures_and_html(report, known / "report")
    page = paths[-1].read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page
    assert "lr=0.001" in page and "c01-s000: ValueError: x" in page
    assert format_summary(report.summary)[1].split()[0] == "lr=0.01"
    for path in paths[:2]:
        assert path.stat().st_size < 200_000


def test_bootstrap_interval():
    assert bootstrap_interval([0.5]) == (0.5, 0.5)
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    low, high = bootstrap_interval([0.0, 1.0] * 10)
    assert 0.25 < low < 0.5 < high < 0.75
    assert bootstrap_interval([0.0, 1.0] * 10) == (low, high)  # reproducible
