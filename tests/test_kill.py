"""SIGKILL at random moments: the checkpoint on disk always loads, and resuming
finishes the run exactly as if it had never been killed."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from binadd.cli import main
from binadd.rundir import RunDir

BUDGET = [
    "--epochs",
    "25",
    "--steps-per-epoch",
    "4",
    "--test-batches",
    "1",
    "--batch-size",
    "8",
    "--eval-lengths",
    "1-2",
    "--eval-samples",
    "4",
]
SRC = Path(__file__).resolve().parents[1] / "src"


def start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "binadd", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_at_random(process: subprocess.Popen[str], run: Path, rng: random.Random):
    """Wait until training has begun, then SIGKILL after a random delay."""
    deadline = time.monotonic() + 120
    while not (run / "config.json").exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 1.5))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def check_what_is_left(run: Path) -> int:
    """Whatever the moment, a checkpoint on disk loads and agrees with the
    metrics; returns its epoch (0 when none was written yet)."""
    if not (run / "checkpoint.safetensors").exists():
        return 0
    checkpoint = RunDir(run).load_checkpoint()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    # The metrics follow the checkpoint, so they lag by at most one epoch.
    assert checkpoint.epoch - len(rows) in (0, 1)
    return checkpoint.epoch


def same_run(first: Path, second: Path) -> None:
    def metrics(run: Path) -> list[dict[str, str]]:
        rows = csv.DictReader((run / "metrics.csv").open())
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert metrics(first) == metrics(second)
    a = load_file(first / "checkpoint.safetensors")
    b = load_file(second / "checkpoint.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[name], b[name]) for name in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("never-killed") / "run"
    assert main(["train", *BUDGET, "--out", str(out)]) == 0
    return out


def test_one_kill_then_resume(reference, tmp_path) -> None:
    run = tmp_path / "run"
    kill_at_random(start(["train", *BUDGET, "--out", str(run)]), run, random.Random())
    check_what_is_left(run)
    assert main(["train", "--resume", str(run)]) == 0
    same_run(reference, run)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
def test_many_kills_then_resume(reference, tmp_path, seed) -> None:
    rng = random.Random(seed)
    run = tmp_path / "run"
    kill_at_random(start(["train", *BUDGET, "--out", str(run)]), run, rng)
    epochs = [check_what_is_left(run)]
    for _ in range(4):
        kill_at_random(start(["train", "--resume", str(run)]), run, rng)
        epochs.append(check_what_is_left(run))
        assert epochs[-1] >= epochs[-2]  # No finished epoch is ever lost.
    assert main(["train", "--resume", str(run)]) == 0
    same_run(reference, run)
