"""Tests of the model registry, the Transformer, and checkpoint round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from binadd.config import MODEL_KINDS, RECURRENT_KINDS, ModelConfig
from binadd.configure import build_config
from binadd.errors import UsageError
from binadd.evaluate import restore_model
from binadd.layouts import Layout
from binadd.models import MODELS, build_model
from binadd.rundir import RunDir
from binadd.train import Trainer

SMALL = {"hidden_size": 6, "d_model": 8, "num_heads": 2, "num_layers": 2}


def small_model(kind: str, input_size: int = 2, **changes: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(kind=kind, **{**SMALL, **changes}), input_size)


def test_registry_and_config_name_the_same_models() -> None:
    assert set(MODELS) == set(MODEL_KINDS)
    assert set(RECURRENT_KINDS) < set(MODEL_KINDS)


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("input_size", [2, 3, 8])
def test_every_model_gives_one_logit_per_step(kind: str, input_size: int) -> None:
    model = small_model(kind, input_size)
    logits, state = model(torch.rand(5, 7, input_size))
    assert logits.shape == (5, 7)
    assert model.streamable == (kind in RECURRENT_KINDS)
    assert (state is None) == (kind == "transformer")


@pytest.mark.parametrize(
    ("kind", "positions"),
    [(k, "sinusoidal") for k in RECURRENT_KINDS]
    + [("transformer", p) for p in ("sinusoidal", "learned", "none")],
)
def test_causal_models_do_not_look_ahead(kind: str, positions: str) -> None:
    model = small_model(kind, positions=positions).eval()
    inputs = torch.rand(3, 12, 2)
    changed = inputs.clone()
    changed[:, 8:] = torch.rand(3, 4, 2)
    before, after = model(inputs)[0], model(changed)[0]
    assert torch.allclose(before[:, :8], after[:, :8], atol=1e-6)
    assert not torch.allclose(before[:, 8:], after[:, 8:])


def test_bidirectional_model_looks_ahead_and_is_not_streamable() -> None:
    model = small_model("gru", bidirectional=True).eval()
    assert not model.streamable
    inputs = torch.rand(3, 12, 2)
    changed = inputs.clone()
    changed[:, 11] = 1 - changed[:, 11]
    assert not torch.allclose(model(inputs)[0][:, 0], model(changed)[0][:, 0])


def test_recurrent_state_streams_in_chunks() -> None:
    model = small_model("lstm").eval()
    inputs = torch.rand(4, 20, 2)
    whole, _ = model(inputs)
    first, state = model(inputs[:, :9])
    second, _ = model(inputs[:, 9:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_transformer_refuses_state_and_inputs_beyond_its_positions() -> None:
    model = small_model("transformer", positions="learned", max_positions=16)
    assert model(torch.rand(2, 16, 2))[0].shape == (2, 16)
    with pytest.raises(UsageError, match="learned 16 positions and cannot read 17"):
        model(torch.rand(2, 17, 2))
    with pytest.raises(ValueError, match="no state"):
        model(torch.rand(2, 4, 2), state=torch.zeros(1))


def test_sinusoidal_transformer_reads_longer_inputs_than_it_saw() -> None:
    model = small_model("transformer", max_positions=4)
    assert model(torch.rand(1, 50, 2))[0].shape == (1, 50)


def test_dropout_is_off_when_scoring() -> None:
    model = small_model("lstm", dropout=0.5, num_layers=2).eval()
    inputs = torch.rand(4, 10, 2)
    assert torch.equal(model(inputs)[0], model(inputs)[0])
    model.train()
    assert not torch.equal(model(inputs)[0], model(inputs)[0])


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("layout", ["parallel", "sequential"])
def test_checkpoint_round_trip_gives_identical_outputs(
    kind: str, layout: str, tmp_path: Path
) -> None:
    options = {"model": kind, "layout": layout, "batch_size": 4, "n_bits": 3}
    options.update(SMALL, dropout=0.25, test_batches=1, steps_per_epoch=2)
    trainer = Trainer(build_config(options=options), torch.device("cpu"))
    trainer.train_epoch()
    run = RunDir.create(tmp_path / "run")
    run.save_checkpoint(trainer.checkpoint())

    checkpoint = RunDir.open(run.path).load_checkpoint()
    assert checkpoint.config.model.kind == kind
    restored = restore_model(checkpoint, torch.device("cpu"))
    assert not restored.training
    inputs = trainer.layout.encode(torch.randint(0, 2, (5, 2, 9))).inputs
    trainer.model.eval()
    assert torch.equal(restored(inputs)[0], trainer.model(inputs)[0])
    assert Layout.from_config(checkpoint.config.task).arrangement == layout
