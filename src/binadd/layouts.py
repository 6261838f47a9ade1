"""Layouts: how operand bits are shown to a model, and how its answer is read.

A layout turns operand bits of shape ``(batch, operands, n_bits)`` (little-endian,
see :mod:`binadd.task`) into an :class:`Example`: float inputs of shape
``(batch, steps, input_size)``, 0/1 targets of shape ``(batch, steps)`` and a bool
mask of the same shape that marks the steps whose output is part of the answer.
Loss and accuracies are computed on masked steps only; padding never counts.
:meth:`Layout.decode` reads the sum back out of per-step outputs, whatever the
layout. Three choices make a layout: the number of operands K (2 to 8), the bit
order (``lsb`` or ``msb`` first) and the arrangement (``parallel`` or
``sequential``). The sum has ``S = n_bits + extra_bits(K)`` bits.

``parallel``, ``lsb`` (the classic layout). Worked example, 6 + 3 at n_bits = 3::

    step        0      1      2      3 (pad)
    input    (0, 1) (1, 1) (1, 0) (0, 0)
    target      1      0      0      1
    mask        1      1      1      1

Step t holds bit t of each operand side by side (``input_size = K``); the final
zero step lets the model emit the carry out. With K operands there are
``extra_bits(K)`` pad steps: 7 + 5 + 6 = 18 at n_bits = 3 has five steps, inputs
(1, 1, 0) (1, 0, 1) (1, 1, 1) (0, 0, 0) (0, 0, 0) and targets 0 1 0 0 1.

``parallel``, ``msb``: the same steps with the time axis reversed, so the pad
steps come first and the carry out is the first answer. 6 + 7 = 13 at n_bits = 3::

    step        0      1      2      3
    input    (0, 0) (1, 1) (1, 1) (0, 1)
    target      1      1      0      1

A causal model must now answer bit t before it has seen the lower bits that
decide its carry: it has to look ahead (``--bidirectional``) or fail.

``sequential``: the operands one after another, then the answer. Each step has
three channels, ``(bit, separator, query)``: an operand step shows one bit in
``bit``; after each operand one step has ``separator = 1`` (it reads as "+" and,
after the last operand, as "="); then ``S`` query steps with ``query = 1`` ask for
the sum's bits. Only the query steps are masked in. 6 + 3 at n_bits = 3, ``lsb``::

    step      0  1  2  3  4  5  6  7  8  9 10 11
    bit       0  1  1  0  1  1  0  0  0  0  0  0
    separator 0  0  0  1  0  0  0  1  0  0  0  0
    query     0  0  0  0  0  0  0  0  1  1  1  1
    target    0  0  0  0  0  0  0  0  1  0  0  1
    mask      0  0  0  0  0  0  0  0  1  1  1  1

There are ``K * (n_bits + 1) + S`` steps. With ``msb`` each block (every operand
and the answer) is shown most significant bit first, the markers stay where they
are: 6 + 7 gives bits 1 1 0 | 1 1 1 and targets 1 1 0 1 on the query steps. This
is the layout of the 'Neural Networks and the Chomsky Hierarchy' benchmark: a
causal model must hold a whole operand in memory before it can answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from binadd.config import BIT_ORDERS, LAYOUTS, TaskConfig
from binadd.task import add_bits, extra_bits

ARRANGEMENTS = LAYOUTS
__all__ = ["ARRANGEMENTS", "BIT_ORDERS", "Example", "Layout"]

# Channels of the sequential layout's input steps.
BIT, SEPARATOR, QUERY = 0, 1, 2


@dataclass(frozen=True)
class Example:
    """One encoded batch: what the model sees and what it must answer."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> Example:
        return Example(
            self.inputs.to(device), self.targets.to(device), self.mask.to(device)
        )


@dataclass(frozen=True)
class Layout:
    """How operands are arranged in time.

    Args:
        operands: how many numbers are added (2 to 8).
        bit_order: ``lsb`` shows the least significant bit first, ``msb`` the most.
        arrangement: ``parallel`` shows the bits of one position side by side,
            ``sequential`` shows the operands one after another, then asks.
    """

    operands: int = 2
    bit_order: str = "lsb"
    arrangement: str = "parallel"

    def __post_init__(self) -> None:
        if self.bit_order not in BIT_ORDERS or self.arrangement not in ARRANGEMENTS:
            raise ValueError(f"unknown layout {self.arrangement}/{self.bit_order}")

    @classmethod
    def from_config(cls, task: TaskConfig) -> Layout:
        return cls(task.operands, task.bit_order, task.layout)

    @property
    def sequential(self) -> bool:
        return self.arrangement == "sequential"

    @property
    def input_size(self) -> int:
        return 3 if self.sequential else self.operands

    @property
    def streamable(self) -> bool:
        """Whether long inputs can be fed in chunks, carrying the state over."""
        return self.arrangement == "parallel" and self.bit_order == "lsb"

    def sum_bits(self, n_bits: int) -> int:
        return n_bits + extra_bits(self.operands)

    def steps(self, n_bits: int) -> int:
        """How many time steps an example of operand width ``n_bits`` takes."""
        if self.sequential:
            return self.operands * (n_bits + 1) + self.sum_bits(n_bits)
        return self.sum_bits(n_bits)

    def n_bits_for(self, steps: int) -> int:
        """The operand width whose examples take ``steps`` steps."""
        extra = extra_bits(self.operands)
        if self.sequential:
            return (steps - self.operands - extra) // (self.operands + 1)
        return steps - extra

    def encode(self, operand_bits: torch.Tensor) -> Example:
        """Encode operand bits of shape (batch, operands, n_bits) as an Example."""
        operands = operand_bits.shape[1]
        if operands != self.operands:
            raise ValueError(f"layout expects {self.operands} operands, got {operands}")
        sums = add_bits(operand_bits)
        if self.sequential:
            return self._encode_sequential(operand_bits, sums)
        return self._encode_parallel(operand_bits, sums)

    def _encode_parallel(
        self, operand_bits: torch.Tensor, sums: torch.Tensor
    ) -> Example:
        batch, _, n_bits = operand_bits.shape
        steps = self.steps(n_bits)
        # (batch, operands, n_bits) -> (batch, steps, operands), zero pad at the end.
        inputs = torch.nn.functional.pad(operand_bits, (0, steps - n_bits))
        inputs = inputs.transpose(1, 2)
        mask = torch.ones(batch, steps, dtype=torch.bool, device=operand_bits.device)
        if self.bit_order == "msb":
            inputs, sums = inputs.flip(1), sums.flip(1)
        return Example(inputs.float(), sums.float(), mask)

    def _encode_sequential(
        self, operand_bits: torch.Tensor, sums: torch.Tensor
    ) -> Example:
        batch, operands, n_bits = operand_bits.shape
        if self.bit_order == "msb":
            operand_bits, sums = operand_bits.flip(2), sums.flip(1)
        answer = sums.shape[1]
        block = n_bits + 1
        device = operand_bits.device

        # Operand blocks: (batch, operands, n_bits + 1, 3) -> (batch, K * block, 3).
        blocks = torch.zeros(batch, operands, block, 3, device=device)
        blocks[:, :, :n_bits, BIT] = operand_bits.float()
        blocks[:, :, n_bits, SEPARATOR] = 1.0
        queries = torch.zeros(batch, answer, 3, device=device)
        queries[:, :, QUERY] = 1.0
        inputs = torch.cat([blocks.reshape(batch, operands * block, 3), queries], 1)

        # Targets and mask are zero on the operand steps, the answer after them.
        silent = torch.zeros(batch, operands * block, device=device)
        targets = torch.cat([silent, sums.float()], dim=1)
        mask = torch.cat([silent.bool(), torch.ones_like(sums, dtype=torch.bool)], 1)
        return Example(inputs, targets, mask)

    def decode(self, step_bits: torch.Tensor) -> torch.Tensor:
        """Read the sum's little-endian bits out of per-step 0/1 outputs.

        Args:
            step_bits: tensor of shape ``(batch, steps)``, one bit per step.

        Returns:
            A ``uint8`` tensor of shape ``(batch, sum bits)``.
        """
        bits = step_bits.to(torch.uint8)
        if self.sequential:
            bits = bits[:, -self.sum_bits(self.n_bits_for(bits.shape[1])) :]
        return bits.flip(1) if self.bit_order == "msb" else bits
