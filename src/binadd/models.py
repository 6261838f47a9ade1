"""Sequence models behind one interface, and the registry that builds them.

Every model maps inputs of shape ``(batch, steps, input_size)`` to one logit per
step, shape ``(batch, steps)``; the probability of a 1 is its sigmoid. Recurrent
models also take and return their state, so that a long sequence can be fed in
chunks with the state carried over (see :mod:`binadd.evaluate`).

Adding a model is one class and one entry in ``MODELS``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from binadd.config import ModelConfig

# A recurrent state: (h, c) for an LSTM, h for a GRU or plain RNN, None at start.
State = Any


class RecurrentAdder(nn.Module):
    """A stack of LSTM, GRU or tanh-RNN layers and a linear read-out per step."""

    cells: ClassVar[dict[str, Any]] = {
        "lstm": nn.LSTM,
        "gru": nn.GRU,
        "rnn": nn.RNN,
    }

    def __init__(self, config: ModelConfig, input_size: int) -> None:
        super().__init__()
        self.kind = config.kind
        directions = 2 if config.bidirectional else 1
        self.rnn = self.cells[config.kind](
            input_size,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
        )
        self.head = nn.Linear(config.hidden_size * directions, 1)

    @property
    def streamable(self) -> bool:
        """A causal recurrent model can be run chunk by chunk."""
        return not self.rnn.bidirectional

    def forward(
        self, inputs: torch.Tensor, state: State = None
    ) -> tuple[torch.Tensor, State]:
        """Return per-step logits ``(batch, steps)`` and the final state."""
        outputs, state = self.rnn(inputs, state)
        return self.head(outputs).squeeze(-1), state


MODELS: dict[str, type[nn.Module]] = {
    "lstm": RecurrentAdder,
    "gru": RecurrentAdder,
    "rnn": RecurrentAdder,
}


def build_model(config: ModelConfig, input_size: int) -> nn.Module:
    """Build the model that ``config`` names, with fresh weights."""
    return MODELS[config.kind](config, input_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
