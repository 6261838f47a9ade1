"""An exact serial adder behind the model interface, for streaming tests.

``OracleAdder`` obeys ``forward(inputs, state) -> (logits, state)`` for two
operands shown in the ``parallel`` ``lsb`` layout: its state is the carry. It
finds carries without :mod:`binadd.task` (the carry into a step is the carry
out of the last earlier step whose two bits agree), so tests that compare it
with the task's targets compare two different methods.
"""

from __future__ import annotations

import torch
from torch import nn


class OracleAdder(nn.Module):
    """Adds two little-endian bit streams exactly; ``flip_at`` spoils one step."""

    streamable = True

    def __init__(self, flip_at: int | None = None) -> None:
        super().__init__()
        self.flip_at = flip_at

    def forward(
        self, inputs: torch.Tensor, state: tuple[torch.Tensor, int] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, int]]:
        a, b = inputs[..., 0].long(), inputs[..., 1].long()
        batch, steps = a.shape
        carry_in, offset = state if state is not None else (a.new_zeros(batch), 0)

        # A step whose bits agree decides the carry out: both 1 -> 1, both 0 -> 0.
        positions = torch.arange(steps).expand(batch, steps)
        deciding = torch.where(a == b, positions, torch.full_like(positions, -1))
        last = deciding.cummax(dim=1).values
        decided = a.gather(1, last.clamp(min=0))
        carry_out = torch.where(last >= 0, decided, carry_in.unsqueeze(1))
        carries = torch.cat([carry_in.unsqueeze(1), carry_out[:, :-1]], dim=1)

        bits = a ^ b ^ carries
        if self.flip_at is not None and offset <= self.flip_at < offset + steps:
            bits[:, self.flip_at - offset] ^= 1
        logits = (bits.float() * 2 - 1) * 10
        return logits, (carry_out[:, -1], offset + steps)
