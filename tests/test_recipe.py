"""Tests of the training recipe: defaults, the notebook preset, schedule, stopping."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from binadd.cli import main
from binadd.config import Config, TrainConfig
from binadd.configure import PRESETS, build_config
from binadd.errors import ConfigError
from binadd.layouts import Layout
from binadd.recipe import all_right, keep_low_bits, learning_rate
from binadd.resume import restore
from binadd.rundir import RunDir
from binadd.task import random_operands
from binadd.train import Trainer, fit

# The original study's recipe, written out value by value.
ORIGINAL = {
    "n_bits": 10,
    "train_lengths": (),
    "operands": 2,
    "bit_order": "lsb",
    "layout": "parallel",
    "model": "lstm",
    "hidden_size": 5,
    "num_layers": 1,
    "loss": "bce",
    "lr": 0.001,
    "batch_size": 100,
    "epochs": 10,
    "steps_per_epoch": 250,
    "test_batches": 40,
    "grad_clip": 0.0,
    "lr_schedule": "constant",
    "warmup_steps": 0,
    "until_solved": False,
}

# An easy task that the default recipe solves in a few dozen steps.
EASY = {
    "n_bits": 8,
    "batch_size": 32,
    "steps_per_epoch": 20,
    "epochs": 50,
    "test_batches": 2,
    "solve_every": 5,
    "solve_samples": 64,
    "eval_lengths": (1, 2),
    "eval_samples": 10,
}


def flat(config: Config) -> dict[str, object]:
    parts = (config.task, config.model, config.train)
    values = {k: v for part in parts for k, v in vars(part).items()}
    values["model"] = values.pop("kind")
    return values


def test_notebook_preset_spells_out_the_original_recipe() -> None:
    config = build_config("notebook")
    values = flat(config)
    for key, expected in ORIGINAL.items():
        assert values[key] == expected, key
        assert key in PRESETS["notebook"], key


def test_notebook_preset_differs_from_the_new_defaults() -> None:
    assert build_config("notebook") != Config()
    assert Config().train.until_solved


def test_default_config_validates() -> None:
    config = build_config()
    assert build_config(options=flat(config)) == config


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("grad_clip", -1.0),
        ("grad_clip", math.inf),
        ("lr_schedule", "linear"),
        ("warmup_steps", -1),
        ("until_solved", "yes"),
        ("solve_every", 0),
        ("solve_samples", 0),
        ("solve_lengths", (0,)),
    ],
)
def test_bad_recipe_values_name_the_field(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        build_config(options={key: value})


def test_learning_rate_warms_up_then_follows_the_cosine() -> None:
    train = TrainConfig(
        lr=0.1, lr_schedule="cosine", warmup_steps=10, epochs=1, steps_per_epoch=100
    )
    assert learning_rate(train, 0) == pytest.approx(0.01 * 1.0, rel=1e-3)
    assert learning_rate(train, 50) == pytest.approx(0.05)
    assert learning_rate(train, 100) == pytest.approx(0.0)
    constant = TrainConfig(lr=0.1, lr_schedule="constant")
    assert learning_rate(constant, 12345) == 0.1


def test_until_solved_stops_early_and_writes_a_complete_record(
    tmp_path, caplog
) -> None:
    torch.set_num_threads(1)
    config = build_config(options=EASY)
    trainer = Trainer(config, torch.device("cpu"))
    run = RunDir.create(tmp_path / "run")
    with caplog.at_level(logging.INFO, logger="binadd.train"):
        fit(trainer, run, progress=False)

    assert trainer.solved_at is not None
    assert trainer.epoch < config.train.epochs
    rows = run.read_metrics()
    assert len(rows) == trainer.epoch
    assert int(rows[-1]["steps"]) == trainer.solved_at == trainer.steps
    assert float(rows[-1]["test_sequence_accuracy"]) == 1.0
    assert all(rows[-1][column] != "" for column in rows[-1])
    checkpoint = run.load_checkpoint()
    assert checkpoint.epoch == trainer.epoch
    assert checkpoint.extra["steps"] == trainer.steps
    assert checkpoint.extra["solved_at"] == trainer.solved_at
    assert f"solved at step {trainer.solved_at}" in caplog.text


def test_restore_keeps_the_step_count_and_the_solved_mark(tmp_path) -> None:
    config = build_config(options=EASY)
    trainer = Trainer(config, torch.device("cpu"))
    run = RunDir.create(tmp_path / "run")
    fit(trainer, run, progress=False)

    again = Trainer(config, torch.device("cpu"))
    restore(again, run.load_checkpoint())
    assert again.steps == trainer.steps
    assert again.solved_at == trainer.solved_at
    fit(again, run, progress=False)
    assert again.epoch == trainer.epoch


def test_without_until_solved_all_epochs_run(tmp_path) -> None:
    options = {**EASY, "until_solved": False, "epochs": 2}
    trainer = Trainer(build_config(options=options), torch.device("cpu"))
    fit(trainer, RunDir.create(tmp_path / "run"), progress=False)
    assert trainer.solved_at is None
    assert trainer.steps == 2 * EASY["steps_per_epoch"]


def test_cli_flags_reach_the_config(tmp_path) -> None:
    out = tmp_path / "run"
    args = ["train", "--no-until-solved", "--grad-clip", "0.5", "--epochs", "1"]
    args += ["--steps-per-epoch", "2", "--n-bits", "2", "--test-batches", "1"]
    args += ["--eval-lengths", "1", "--eval-samples", "4", "--out", str(out)]
    assert main(args) == 0
    config = RunDir.open(out).load_checkpoint().config
    assert not config.train.until_solved
    assert config.train.grad_clip == 0.5


def test_shorter_pairs_keep_low_bits_only() -> None:
    bits = torch.ones(200, 2, 12, dtype=torch.uint8)
    kept = keep_low_bits(bits, torch.Generator().manual_seed(0))
    assert torch.equal(kept[0::2], bits[0::2])
    widths = kept[1::2, 0].sum(dim=1)
    assert int(widths.min()) >= 1
    assert int(widths.max()) <= 12
    assert set(widths.tolist()) == set(range(1, 13))
    # Zeros only above the kept width: each row is ones, then zeros.
    assert torch.equal(kept[:, 0].cummin(dim=1).values, kept[:, 0])


def test_a_shorter_pair_scores_like_the_short_problem() -> None:
    config = build_config(options={"n_bits": 4})
    model = Trainer(config, torch.device("cpu")).model.eval()
    layout = Layout()
    short = random_operands(8, 4, 2, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(short, (0, 6))
    with torch.no_grad():
        short_logits, _ = model(layout.encode(short).inputs)
        long_logits, _ = model(layout.encode(padded).inputs)
    assert torch.allclose(short_logits, long_logits[:, :5])


def test_all_right_sees_one_wrong_bit() -> None:
    layout = Layout()
    example = layout.encode(random_operands(5, 6, 2, torch.Generator()))

    class Oracle(torch.nn.Module):
        def __init__(self, flip: bool) -> None:
            super().__init__()
            self.flip = flip

        def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, None]:
            logits = example.targets * 20 - 10
            if self.flip:
                logits = logits.clone()
                logits[2, 3] = -logits[2, 3]
            return logits, None

    assert all_right(Oracle(False), [example])
    assert not all_right(Oracle(True), [example])
