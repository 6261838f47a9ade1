"""Hand-set recurrent networks with known behaviour, for the certifier's tests.

``exact_adder(kind)`` implements the serial adder with three saturated units:
unit k fires when a + b + carry >= k (k = 1, 2, 3); unit 2 is the carry, and
the sum bit is unit1 - unit2 + unit3. ``drifting_adder(epsilon)`` is a tanh RNN
whose carry unit has no stable "carry" state under a propagating pair: it
creeps past the ghost of a fixed point and loses the carry after a number of
steps that grows as epsilon shrinks, so it is wrong only on long carry chains.
"""

from __future__ import annotations

import torch

from binadd.config import Config, ModelConfig
from binadd.models import RecurrentAdder

GAIN = 20.0
SATURATED = 20.0


def _config(kind: str, hidden_size: int = 3) -> Config:
    return Config(model=ModelConfig(kind=kind, hidden_size=hidden_size))


def _threshold_layer(level: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """W_ih, W_hh, bias of units k = 1, 2, 3 firing at a + b + carry >= k.

    The carry is read from unit 2 as h2 / (2 level) + 1/2 (0 at -level, 1 at
    +level, and 1/2 for the zero start state), so thresholds sit at k - 1/4.
    """
    weight_ih = torch.full((3, 2), GAIN)
    weight_hh = torch.zeros(3, 3)
    weight_hh[:, 1] = GAIN / (2 * level)
    bias = torch.tensor([GAIN * (0.75 - k) for k in (1, 2, 3)])
    return weight_ih, weight_hh, bias


def _set_head(model: RecurrentAdder, scale: float) -> None:
    model.head.weight.copy_(torch.tensor([[scale, -scale, scale]]))
    model.head.bias.zero_()


@torch.no_grad()
def exact_adder(kind: str) -> tuple[RecurrentAdder, Config]:
    """A hand-set LSTM, GRU or RNN that adds exactly at every length."""
    config = _config(kind)
    model = RecurrentAdder(config.model, 2)
    rnn = model.rnn
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(rnn, name).zero_()
    level = 0.7616 if kind == "lstm" else 1.0
    weight_ih, weight_hh, bias = _threshold_layer(level)
    # Gate blocks in torch's order: LSTM i, f, g, o; GRU r, z, n; RNN one block.
    block = {"lstm": 2, "gru": 2, "rnn": 0}[kind]
    rows = slice(3 * block, 3 * block + 3)
    rnn.weight_ih_l0[rows] = weight_ih
    rnn.weight_hh_l0[rows] = weight_hh
    rnn.bias_ih_l0[rows] = bias
    if kind == "lstm":
        rnn.bias_ih_l0[0:3] = SATURATED  # input gate open
        rnn.bias_ih_l0[3:6] = -SATURATED  # forget gate shut
        rnn.bias_ih_l0[9:12] = SATURATED  # output gate open
    if kind == "gru":
        rnn.bias_ih_l0[0:3] = SATURATED  # reset gate open: r = 1
        rnn.bias_ih_l0[3:6] = -SATURATED  # update gate shut: h' = n
    _set_head(model, 5.0)
    return model.eval(), config


@torch.no_grad()
def drifting_adder(epsilon: float) -> tuple[RecurrentAdder, Config]:
    """A tanh RNN whose carry leaks away along a long run of (1,0) or (0,1)."""
    config = _config("rnn")
    model = RecurrentAdder(config.model, 2)
    rnn = model.rnn
    # Carry unit: h2' = tanh(3 (a + b) + 1.5625 h2 - 3.244 - epsilon). At
    # epsilon = 0 the propagating map touches the diagonal near h2 = 0.6.
    gain = 40.0
    rnn.weight_ih_l0.copy_(torch.tensor([[gain, gain], [3.0, 3.0], [gain, gain]]))
    rnn.weight_hh_l0.zero_()
    rnn.weight_hh_l0[:, 1] = torch.tensor([gain / 2, 1.5625, gain / 2])
    # Units 1 and 3 read the carry as (h2 + 1) / 2, thresholds at k - 0.4.
    rnn.bias_ih_l0.copy_(
        torch.tensor([gain * (0.5 - 0.6), -3.244 - epsilon, gain * (0.5 - 2.6)])
    )
    rnn.bias_hh_l0.zero_()
    _set_head(model, 5.0)
    return model.eval(), config
