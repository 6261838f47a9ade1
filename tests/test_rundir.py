"""Run directories and checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from binadd.configure import build_config
from binadd.errors import CheckpointError, UsageError
from binadd.evaluate import restore_model
from binadd.rundir import RunDir
from binadd.train import Trainer


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path: Path, kind) -> None:
    config = build_config(
        options={
            "model": kind,
            "steps_per_epoch": 3,
            "test_batches": 1,
            "batch_size": 8,
        }
    )
    trainer = Trainer(config, torch.device("cpu"))
    trainer.train_epoch()
    run = RunDir.create(tmp_path / "run")
    run.save_checkpoint(trainer.checkpoint())
    loaded = run.load_checkpoint()
    assert loaded.config == config
    model = restore_model(loaded, torch.device("cpu"))
    inputs = torch.randint(0, 2, (4, 30, 2)).float()
    trainer.model.eval()
    assert torch.equal(model(inputs)[0], trainer.model(inputs)[0])


def test_create_refuses_an_existing_run(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("keep me")
    with pytest.raises(UsageError, match="--force"):
        RunDir.create(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.csv").read_text() == "keep me"
    RunDir.create(tmp_path / "run", force=True)


def test_damaged_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    for content in (b"", b"\x00" * 64, b"garbage that is not a checkpoint"):
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as error:
            RunDir(tmp_path).load_checkpoint()
        assert "\n" not in str(error.value)
