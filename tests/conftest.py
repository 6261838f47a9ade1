"""Shared test helpers: an exact oracle adder with the model interface."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class OracleAdder(nn.Module):
    """A perfect serial adder for the parallel lsb layout (any operand count).

    It keeps the running carry as its state, so it can also be fed in chunks.
    Its logits are +-``margin``: confident and exactly right.
    """

    streamable = True

    def __init__(self, margin: float = 20.0) -> None:
        super().__init__()
        self.margin = margin
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(
        self, inputs: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        carry = (
            torch.zeros(inputs.shape[0], dtype=torch.long, device=inputs.device)
            if state is None
            else state
        )
        column_sums = inputs.round().long().sum(dim=2)
        bits = []
        for step in range(inputs.shape[1]):
            total = column_sums[:, step] + carry
            bits.append(total % 2)
            carry = total // 2
        out = torch.stack(bits, dim=1).float() if bits else inputs.new_zeros(0)
        return (out * 2 - 1) * self.margin, carry


@pytest.fixture
def oracle() -> OracleAdder:
    return OracleAdder()


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
