"""Interrupted runs: clean stop, exact resume, divergence, no clobbering."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import binadd.train
from binadd.cli import main
from binadd.configure import build_config
from binadd.errors import TrainingDiverged
from binadd.resume import restore
from binadd.rundir import RunDir
from binadd.train import Trainer, fit

BUDGET = [
    "--epochs",
    "4",
    "--steps-per-epoch",
    "6",
    "--test-batches",
    "2",
    "--batch-size",
    "8",
    "--eval-lengths",
    "1-3",
    "--eval-samples",
    "10",
]
SRC = Path(__file__).resolve().parents[1] / "src"


def metrics_without_time(run: Path) -> list[dict[str, str]]:
    rows = csv.DictReader((run / "metrics.csv").open())
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def tensors(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoint.safetensors")


def assert_same_run(first: Path, second: Path) -> None:
    """Metric for metric, and every saved tensor bit for bit."""
    assert metrics_without_time(first) == metrics_without_time(second)
    a, b = tensors(first), tensors(second)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def interrupt_at_epoch(monkeypatch, epoch: int, signum: int) -> None:
    """Send a real signal to this process during the given (1-based) epoch."""
    original = Trainer.train_epoch

    def train_epoch(self, progress=False):
        if self.epoch + 1 == epoch:
            os.kill(os.getpid(), signum)
        return original(self, progress)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", *BUDGET, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_interrupt_then_resume_equals_an_uninterrupted_run(
    reference, tmp_path, monkeypatch, capsys, signum, code
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_epoch(patch, 3, signum)
        assert main(["train", *BUDGET, "--out", str(out)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert "checkpoint of epoch 2 of 4 is kept" in err[-1]
    assert f"binadd train --resume {out}" in err[-1]
    assert RunDir(out).load_checkpoint().epoch == 2
    assert not (out / "lengths.csv").exists()

    assert main(["train", "--resume", str(out)]) == 0
    assert_same_run(reference, out)


def test_interrupt_before_the_first_epoch_resumes_from_the_config(
    reference, tmp_path, monkeypatch, capsys
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_epoch(patch, 1, signal.SIGTERM)
        assert main(["train", *BUDGET, "--out", str(out)]) == 143
    assert "no epoch had finished" in capsys.readouterr().err
    assert not (out / "checkpoint.safetensors").exists()
    assert main(["train", "--resume", str(out)]) == 0
    assert_same_run(reference, out)


def test_resume_after_a_crash_mid_save_drops_the_temporary(
    reference, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_epoch(patch, 3, signal.SIGTERM)
        main(["train", *BUDGET, "--out", str(out)])
    # What a SIGKILL between writing and renaming leaves behind.
    stale = out / ".checkpoint.safetensors.k1ll3d"
    stale.write_bytes(b"half a checkpoint")
    assert main(["train", "--resume", str(out)]) == 0
    assert not stale.exists()
    assert_same_run(reference, out)


def test_resuming_a_finished_run_evaluates_again_and_appends(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", *BUDGET, "--out", str(out)]) == 0
    before = metrics_without_time(out)
    assert main(["train", "--resume", str(out)]) == 0
    assert metrics_without_time(out) == before
    entries = (out / "evaluations.jsonl").read_text().splitlines()
    assert len(entries) == 2 and all(json.loads(line) for line in entries)


@pytest.mark.parametrize(
    "extra",
    [["--lr", "0.1"], ["--out", "elsewhere"], ["--force"], ["--preset", "notebook"]],
)
def test_resume_refuses_options_that_change_the_run(reference, extra, capsys) -> None:
    before = (reference / "checkpoint.safetensors").read_bytes()
    assert main(["train", "--resume", str(reference), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and extra[0] in err[0]
    assert (reference / "checkpoint.safetensors").read_bytes() == before


def test_resume_of_a_missing_run_is_one_line(tmp_path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys
) -> None:
    real_loss = binadd.train.masked_loss
    calls = {"steps": 0}

    def loss_that_breaks(logits, example, kind):
        calls["steps"] += 1  # 6 training and 2 test batches per epoch
        value = real_loss(logits, example, kind)
        return value * float("nan") if calls["steps"] > 16 else value

    monkeypatch.setattr(binadd.train, "masked_loss", loss_that_breaks)
    out = tmp_path / "run"
    assert main(["train", *BUDGET, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "loss became nan in epoch 3" in err[-1]
    assert "last good checkpoint (epoch 2)" in err[-1]
    checkpoint = RunDir(out).load_checkpoint()
    assert checkpoint.epoch == 2
    assert all(torch.isfinite(t).all() for t in checkpoint.model_state.values())
    assert len(metrics_without_time(out)) == 2


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_the_largest_learning_rate_trains_or_stops_cleanly(tmp_path, loss) -> None:
    """lr = 1e6 either survives (saturated) or diverges in one line; a larger
    one is refused by the config before anything runs."""
    options = {"loss": loss, "epochs": 3, "steps_per_epoch": 5, "test_batches": 1}
    config = build_config(options={**options, "lr": 1e6, "batch_size": 8})
    run = RunDir.create(tmp_path / "run")
    try:
        fit(Trainer(config, torch.device("cpu")), run, progress=False)
    except TrainingDiverged as error:
        assert "\n" not in str(error)
    if run.checkpoint_path.exists():
        checkpoint = run.load_checkpoint()
        assert all(torch.isfinite(t).all() for t in checkpoint.model_state.values())


def test_a_real_sigterm_to_a_training_process(tmp_path) -> None:
    """The whole path, in a separate process: stop, message, exit code, resume."""
    out = tmp_path / "run"
    budget = [*BUDGET, "--epochs", "1000", "--steps-per-epoch", "20"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "binadd", "train", *budget, "--out", str(out)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.safetensors").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "Traceback" not in err
    assert "continue with: binadd train --resume" in err.splitlines()[-1]
    kept = RunDir(out).load_checkpoint().epoch
    assert kept >= 1
    assert len(metrics_without_time(out)) == kept


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "transformer"])
@pytest.mark.parametrize("layout", ["parallel", "sequential"])
def test_every_model_resumes_exactly_with_dropout(tmp_path, kind, layout) -> None:
    """Dropout draws from torch's global generator, which the checkpoint keeps."""
    options = {
        "model": kind,
        "layout": layout,
        "num_layers": 2,
        "dropout": 0.3,
        "epochs": 2,
        "steps_per_epoch": 3,
        "test_batches": 1,
        "batch_size": 4,
        "n_bits": 4,
    }
    config = build_config(options=options)
    cpu = torch.device("cpu")
    straight = Trainer(config, cpu)
    fit(straight, RunDir.create(tmp_path / "straight"), progress=False)

    halves = RunDir.create(tmp_path / "halves")
    first = Trainer(config, cpu)
    first.history.append({"epoch": 1, **first.train_epoch(), **first.test()[0]})
    halves.save_checkpoint(first.checkpoint())
    torch.manual_seed(999)  # Anything drawn in between must not matter.
    second = Trainer(config, cpu)
    restore(second, halves.load_checkpoint())
    fit(second, halves, progress=False)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
