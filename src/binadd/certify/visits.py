"""The states a recurrent network visits, labelled with what they should encode.

The network is run one step at a time (so that an LSTM's cell state is seen
too) on three kinds of operands at one width: uniform random pairs, carry-heavy
pairs (at each bit the operands differ with probability 0.9, so carries travel
far), and the structured cases of :mod:`binadd.task`. Every visited state is
labelled with the step's input bits (a, b), the carry into the step, the sum bit
the step must emit and the carry out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from binadd.layouts import Layout
from binadd.task import random_operands, structured_cases


@dataclass(frozen=True)
class Visits:
    """Visited states, shape (batch, steps, state size), and per-step labels,
    each of shape (batch, steps)."""

    states: np.ndarray
    a: np.ndarray
    b: np.ndarray
    carry_in: np.ndarray
    sum_bits: np.ndarray
    carries: np.ndarray
    operand_bits: torch.Tensor
    wrong_rows: np.ndarray
    n_bits: int
    sequences: int


def carry_heavy_operands(
    batch_size: int, n_bits: int, generator: torch.Generator
) -> torch.Tensor:
    """Pairs whose bits differ with probability 0.9: long carry chains."""
    first = random_operands(batch_size, n_bits, 1, generator)
    differ = torch.rand(batch_size, 1, n_bits, generator=generator) < 0.9
    second = first ^ differ.to(torch.uint8)
    return torch.cat([first, second], dim=1)


def visit_operands(n_bits: int, sequences: int, seed: int) -> torch.Tensor:
    """The operands whose states are collected, shape (count, 2, n_bits)."""
    generator = torch.Generator().manual_seed(seed)
    parts = [
        random_operands(sequences, n_bits, 2, generator),
        carry_heavy_operands(sequences, n_bits, generator),
        *structured_cases(n_bits, 2).values(),
    ]
    return torch.cat(parts, dim=0)


@torch.no_grad()
def run_states(
    model: nn.Module, inputs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step the model's cell along ``inputs`` (batch, steps, 2).

    Returns:
        The state after every step, shape (batch, steps, state size), with an
        LSTM's ``h`` and ``c`` side by side, and the logits (batch, steps).
    """
    rnn, head = model.get_submodule("rnn"), model.get_submodule("head")
    state = None
    states, logits = [], []
    for step in range(inputs.shape[1]):
        outputs, state = rnn(inputs[:, step : step + 1], state)
        logits.append(head(outputs[:, 0]).squeeze(-1))
        parts = state if isinstance(state, tuple) else (state,)
        states.append(torch.cat([part[0] for part in parts], dim=1))
    return torch.stack(states, dim=1), torch.stack(logits, dim=1)


def collect_visits(model: nn.Module, n_bits: int, sequences: int, seed: int) -> Visits:
    """Run ``model`` on the visit operands and label every state it passes."""
    model = model.cpu().float().eval()
    operand_bits = visit_operands(n_bits, sequences, seed)
    example = Layout(2, "lsb", "parallel").encode(operand_bits)
    states, logits = run_states(model, example.inputs)

    # (batch, steps) labels: carry in = sum bit xor a xor b.
    a = example.inputs[..., 0].to(torch.int64)
    b = example.inputs[..., 1].to(torch.int64)
    sums = example.targets.to(torch.int64)
    carry_in = sums ^ a ^ b
    carries = (a + b + carry_in) // 2
    wrong = ((logits > 0).to(torch.int64) != sums).any(dim=1)

    return Visits(
        states=states.double().numpy(),
        a=a.numpy(),
        b=b.numpy(),
        carry_in=carry_in.numpy(),
        sum_bits=sums.numpy(),
        carries=carries.numpy(),
        operand_bits=operand_bits,
        wrong_rows=wrong.nonzero()[:, 0].numpy(),
        n_bits=n_bits,
        sequences=operand_bits.shape[0],
    )
