"""Tests of the presets and of the model and layout fields of the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from binadd.configure import PRESETS, build_config
from binadd.errors import ConfigError


def test_notebook_preset_spells_out_the_original_experiment() -> None:
    config = build_config("notebook")
    assert (config.model.kind, config.model.hidden_size, config.model.num_layers) == (
        "lstm",
        5,
        1,
    )
    assert (config.train.loss, config.train.lr, config.train.batch_size) == (
        "bce",
        0.001,
        100,
    )
    train = config.train
    assert (train.epochs, train.steps_per_epoch, train.test_batches) == (10, 250, 40)
    task = config.task
    assert (task.n_bits, task.widths, task.layout, task.bit_order) == (
        10,
        (10,),
        "parallel",
        "lsb",
    )
    assert task.operands == 2


def test_chomsky_preset_draws_widths_1_to_40_and_scores_out_to_500() -> None:
    config = build_config("chomsky")
    assert config.task.layout == "sequential"
    assert config.task.widths == tuple(range(1, 41))
    assert max(config.eval.eval_lengths) == 500
    assert set(range(1, 41)) <= set(config.eval.eval_lengths)
    assert config.eval.eval_samples == 200


def test_chomsky_preset_trains_an_lstm_with_its_own_recipe() -> None:
    config = build_config("chomsky")
    model, train = config.model, config.train
    assert (model.kind, model.hidden_size, model.num_layers) == ("lstm", 256, 1)
    assert (train.lr, train.grad_clip, train.lr_schedule) == (0.001, 1.0, "constant")
    assert train.until_solved is False
    assert (train.batch_size, train.epochs, train.steps_per_epoch) == (128, 10, 1000)


def test_tiny_rnn_preset() -> None:
    config = build_config("tiny-rnn")
    assert (config.task.n_bits, config.model.kind, config.model.hidden_size) == (
        8,
        "rnn",
        16,
    )
    train = config.train
    assert (train.lr, train.grad_clip, train.until_solved) == (0.03, 1.0, True)


@pytest.mark.parametrize("name", ["chomsky", "tiny-rnn"])
def test_presets_state_their_model_and_training_values(name: str) -> None:
    # A preset that leaves these to the defaults changes whenever they do.
    stated = {"model", "hidden_size", "lr", "grad_clip", "until_solved"}
    assert stated <= set(PRESETS[name])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_options_override_every_preset(name: str) -> None:
    config = build_config(name, options={"model": "gru", "operands": 3})
    assert (config.model.kind, config.task.operands) == ("gru", 3)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"model": "transformer", "d_model": 10, "num_heads": 4}, "d_model"),
        ({"model": "transformer", "bidirectional": True}, "bidirectional"),
        ({"positions": "rotary"}, "positions"),
        ({"layout": "diagonal"}, "layout"),
        ({"bit_order": "middle"}, "bit_order"),
        ({"operands": 9}, "operands"),
        ({"operands": 1}, "operands"),
        ({"num_heads": 0}, "num_heads"),
        ({"max_positions": 0}, "max_positions"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_model_and_layout_values_name_their_field(
    options: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:"):
        build_config(options=options)


def test_toml_takes_flat_and_sectioned_model_and_layout_keys(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'layout = "sequential"\nbit_order = "msb"\noperands = 4\n'
        '[model]\nkind = "transformer"\nd_model = 48\nnum_heads = 6\n'
        'positions = "learned"\nmax_positions = 300\n',
        encoding="utf-8",
    )
    config = build_config(path=path)
    assert (config.task.layout, config.task.bit_order, config.task.operands) == (
        "sequential",
        "msb",
        4,
    )
    model = config.model
    assert (model.kind, model.d_model, model.num_heads) == ("transformer", 48, 6)
    assert (model.positions, model.max_positions) == ("learned", 300)
