"""Running sweeps locally: results, resuming, failures, run directories, CLI."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

import binadd.sweeps.backends
import binadd.sweeps.trial
from binadd.cli import main
from binadd.errors import UsageError
from binadd.sweeps.runner import run_sweep
from binadd.sweeps.store import config_change
from sweep_fixtures import result_rows, tiny_sweep, write_tiny


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> Path:
    """The tiny sweep run once in this process."""
    out = tmp_path_factory.mktemp("sweep") / "in-process"
    counts = run_sweep(tiny_sweep(), out, workers=1, progress=False)
    assert counts == {"done": 4}
    return out


def test_every_trial_is_recorded_with_its_records(in_process: Path):
    rows = result_rows(in_process)
    assert [row[0] for row in rows["trials"]] == [
        "c00-s000",
        "c00-s001",
        "c01-s000",
        "c01-s001",
    ]
    assert all(row[3] == "done" and row[4] == "" for row in rows["trials"])
    # One epoch each; widths 1, 2, 3, 30 x (random + 6 carry cases).
    assert len(rows["epochs"]) == 4
    assert len(rows["lengths"]) == 4 * 4 * 7
    config = json.loads(rows["trials"][1][1])
    assert config["train"]["seed"] == 1 and config["eval"]["eval_lengths"] == [
        1,
        2,
        3,
        30,
    ]
    # Different seeds give different training, so the comparison below means something.
    losses = {row[0]: row[2] for row in rows["epochs"]}
    assert losses["c00-s000"] != losses["c00-s001"]


def test_worker_processes_give_the_same_rows(in_process: Path, tmp_path: Path):
    out = tmp_path / "pool"
    assert run_sweep(tiny_sweep(), out, workers=2, progress=False) == {"done": 4}
    assert result_rows(out) == result_rows(in_process)


def test_trial_run_directories_are_normal_runs(in_process: Path, capsys):
    run = in_process / "trials" / "c01-s001"
    assert (run / "checkpoint.safetensors").is_file()
    assert main(["evaluate", str(run), "--lengths", "1-2", "--samples", "10"]) == 0
    assert main(["add", str(run), "3", "5", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert int(answer["true_sum"]) == 8


def _count_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = binadd.sweeps.backends.run_trial

    def counting(task):
        calls.append(task.trial_id)
        return real(task)

    monkeypatch.setattr(binadd.sweeps.backends, "run_trial", counting)
    return calls


def test_rerun_skips_done_trials_and_reruns_interrupted_ones(
    tmp_path: Path, monkeypatch
):
    out = tmp_path / "resume"
    run_sweep(tiny_sweep(), out, workers=1, progress=False)
    before = result_rows(out)
    calls = _count_calls(monkeypatch)
    assert run_sweep(tiny_sweep(), out, workers=1, progress=False) == {"done": 4}
    assert calls == []

    # An interruption leaves a trial 'running' with no records: it runs again.
    with sqlite3.connect(out / "sweep.db") as connection:
        connection.execute(
            "UPDATE trials SET status='running' WHERE trial_id='c01-s000'"
        )
        connection.execute("DELETE FROM epochs WHERE trial_id='c01-s000'")
        connection.execute("DELETE FROM lengths WHERE trial_id='c01-s000'")
    assert run_sweep(tiny_sweep(), out, workers=1, progress=False) == {"done": 4}
    assert calls == ["c01-s000"]
    assert result_rows(out) == before


def test_more_seeds_add_trials_but_a_changed_grid_is_refused(tmp_path: Path):
    out = tmp_path / "grow"
    sweep = tiny_sweep()
    run_sweep(sweep, out, workers=1, progress=False)
    more = dataclasses.replace(sweep, seeds=(0, 1, 2))
    assert run_sweep(more, out, workers=1, progress=False) == {"done": 6}
    changed = dataclasses.replace(sweep, grid={"lr": [0.1]})
    with pytest.raises(UsageError, match="holds a different sweep") as error:
        run_sweep(changed, out, workers=1, progress=False)
    assert "train.lr was 0.01, now 0.1" in str(error.value)


def test_a_config_field_added_to_binadd_does_not_block_resuming():
    stored = json.dumps({"train": {"lr": 0.1}, "device": "cpu"})
    grown = json.dumps({"train": {"lr": 0.1, "new_field": 3}, "device": "cpu"})
    assert config_change(stored, grown) is None
    changed = json.dumps({"train": {"lr": 0.2}, "device": "cpu"})
    assert config_change(stored, changed) == "train.lr was 0.1, now 0.2"


def test_a_failing_trial_is_recorded_and_the_rest_complete(tmp_path: Path, monkeypatch):
    real_fit = binadd.sweeps.trial.fit

    def fit(trainer, run, progress=None):
        if trainer.config.train.lr == 0.001 and trainer.config.train.seed == 1:
            raise RuntimeError("boom in training\nsecond line")
        real_fit(trainer, run, progress)

    monkeypatch.setattr(binadd.sweeps.trial, "fit", fit)
    out = tmp_path / "failing"
    counts = run_sweep(tiny_sweep(), out, workers=1, progress=False)
    assert counts == {"done": 3, "failed": 1}
    rows = {row[0]: row for row in result_rows(out)["trials"]}
    assert rows["c01-s001"][3:] == ("failed", "RuntimeError: boom in training")
    with sqlite3.connect(out / "sweep.db") as connection:
        (trace,) = connection.execute(
            "SELECT traceback FROM trials WHERE trial_id='c01-s001'"
        ).fetchone()
    assert "boom in training" in trace

    # The next run retries only the failed trial.
    monkeypatch.setattr(binadd.sweeps.trial, "fit", real_fit)
    calls = _count_calls(monkeypatch)
    assert run_sweep(tiny_sweep(), out, workers=1, progress=False) == {"done": 4}
    assert calls == ["c01-s001"]


def test_tensorboard_logs_every_trial(tmp_path: Path):
    pytest.importorskip("tensorboard", reason="the optional extra binadd[tb]")
    out = tmp_path / "tb"
    sweep = dataclasses.replace(tiny_sweep(), seeds=(0,))
    run_sweep(sweep, out, workers=1, progress=False, tensorboard=True)
    for trial_id in ("c00-s000", "c01-s000"):
        assert list((out / "tensorboard" / trial_id).glob("events.out.tfevents.*"))


def test_sweep_options_are_checked_before_anything_runs(tmp_path: Path):
    for options, message in [
        ({"workers": 0}, "--workers"),
        ({"backend": "slurm"}, "--backend"),
        ({"address": "127.0.0.1:1"}, "--address is only for"),
    ]:
        with pytest.raises(UsageError, match=message):
            run_sweep(tiny_sweep(), tmp_path / "x", progress=False, **options)
    assert not (tmp_path / "x").exists()


def test_cli_sweep_and_report(tmp_path: Path, capsys):
    sweep_file = write_tiny(tmp_path / "tiny.toml")
    out = tmp_path / "cli"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "sweep tiny: 4 done, 0 failed of 4 trials" in printed
    assert "lr=0.001" in printed
    for name in ("summary.csv", "widths.csv", "accuracy.png", "curves.png"):
        assert (out / "report" / name).is_file()
    assert main(["report", str(out), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "report.html").is_file()


def test_cli_errors_are_one_line(tmp_path: Path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = 2\n[grid]\nlr = []\n", encoding="utf-8")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert main(["report", str(tmp_path / "nothing")]) == 2
    # Ray missing: a one-line hint to install the extra.
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    sweep_file = write_tiny(tmp_path / "tiny.toml")
    assert main(["sweep", str(sweep_file), "--backend", "ray"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert "lr must be a non-empty list" in errors[0]
    assert "not a sweep directory" in errors[1]
    assert "binadd[ray]" in errors[2]
