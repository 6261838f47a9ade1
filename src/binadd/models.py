"""Sequence models behind one interface, and the registry that builds them.

Every model maps inputs of shape ``(batch, steps, input_size)`` to one logit per
step, shape ``(batch, steps)``; the probability of a 1 is its sigmoid. The call
is ``model(inputs, state=None) -> (logits, state)``. Causal recurrent models take
and return their state, so that a long sequence can be fed in chunks with the
state carried over (see :mod:`binadd.evaluate`); their ``streamable`` is true.
The Transformer sees a whole sequence at once, returns ``None`` as its state and
is not streamable: it is scored on whole sequences of at most ``MAX_STEPS`` steps.

Adding a model is one class with this interface, one entry in ``MODELS``, and
its name in :data:`binadd.config.MODEL_KINDS` (a test checks the two agree).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from binadd.config import ModelConfig
from binadd.errors import UsageError

# A recurrent state: (h, c) for an LSTM, h for a GRU or plain RNN, None at start.
State = Any

# Longest sequence the Transformer is run on, whole; beyond it attention's time
# (quadratic in the steps) makes a whole-sequence evaluation impractical.
MAX_STEPS = 20_000


class RecurrentAdder(nn.Module):
    """A stack of LSTM, GRU or tanh-RNN layers and a linear read-out per step.

    Dropout (``config.dropout``) acts between layers and before the read-out,
    in training mode only.
    """

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
        self.dropout = nn.Dropout(config.dropout)
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
        return self.head(self.dropout(outputs)).squeeze(-1), state


def sinusoidal_positions(steps: int, d_model: int) -> torch.Tensor:
    """The fixed sine/cosine position code of shape ``(steps, d_model)``."""
    position = torch.arange(steps, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model)
    )
    code = torch.zeros(steps, d_model)
    code[:, 0::2] = torch.sin(position * frequency)
    code[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return code


class CausalBlock(nn.Module):
    """Pre-norm self-attention, masked to the past, then a two-layer MLP."""

    def __init__(self, d_model: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.norm_attention = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.project = nn.Linear(d_model, d_model)
        self.norm_mlp = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Linear(4 * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, d_model = x.shape
        # (batch, steps, 3 * d_model) -> three (batch, heads, steps, head size).
        qkv = self.qkv(self.norm_attention(x))
        qkv = qkv.view(batch, steps, 3, self.num_heads, d_model // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            query,
            key,
            value,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=True,
        )
        attended = attended.transpose(1, 2).reshape(batch, steps, d_model)
        x = x + self.project(attended)
        return x + self.mlp(self.norm_mlp(x))


class TransformerAdder(nn.Module):
    """A small causal Transformer encoder with a linear read-out per step.

    Step t attends to steps 0..t only, as a recurrent model sees them. Positions
    are added to the embedded inputs: ``sinusoidal`` (fixed, any length),
    ``learned`` (a table of ``max_positions`` rows: longer inputs are refused
    with a one-line error) or ``none`` (the causal mask alone tells steps apart).
    """

    streamable = False

    def __init__(self, config: ModelConfig, input_size: int) -> None:
        super().__init__()
        self.positions = config.positions
        self.max_positions = config.max_positions
        self.embed = nn.Linear(input_size, config.d_model)
        if config.positions == "learned":
            self.position_table = nn.Embedding(config.max_positions, config.d_model)
        self.blocks = nn.ModuleList(
            CausalBlock(config.d_model, config.num_heads, config.dropout)
            for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, 1)

    @property
    def max_steps(self) -> int:
        """The longest input this model reads (whole, since it cannot stream)."""
        learned = self.positions == "learned"
        return min(MAX_STEPS, self.max_positions) if learned else MAX_STEPS

    def _check_steps(self, steps: int) -> None:
        if self.positions == "learned" and steps > self.max_positions:
            raise UsageError(
                f"this transformer learned {self.max_positions} positions and "
                f"cannot read {steps} steps; score smaller widths or train it "
                "with a larger --max-positions"
            )
        if steps > MAX_STEPS:
            raise UsageError(
                f"the transformer is scored on whole sequences of at most "
                f"{MAX_STEPS} steps, not {steps}; it cannot be streamed"
            )

    def _position_code(self, steps: int, like: torch.Tensor) -> torch.Tensor:
        if self.positions == "learned":
            return self.position_table(torch.arange(steps, device=like.device))
        return sinusoidal_positions(steps, like.shape[-1]).to(like)

    def forward(
        self, inputs: torch.Tensor, state: State = None
    ) -> tuple[torch.Tensor, State]:
        """Return per-step logits ``(batch, steps)`` and ``None`` (no state)."""
        if state is not None:
            raise ValueError("the transformer has no state to carry between chunks")
        steps = inputs.shape[1]
        self._check_steps(steps)
        x = self.embed(inputs)
        if self.positions != "none":
            x = x + self._position_code(steps, x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)).squeeze(-1), None


MODELS: dict[str, type[nn.Module]] = {
    "lstm": RecurrentAdder,
    "gru": RecurrentAdder,
    "rnn": RecurrentAdder,
    "transformer": TransformerAdder,
}


def build_model(config: ModelConfig, input_size: int) -> nn.Module:
    """Build the model that ``config`` names, with fresh weights."""
    return MODELS[config.kind](config, input_size)
