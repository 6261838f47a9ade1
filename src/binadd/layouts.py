"""Layouts: how operand bits are shown to a model, and how its answer is read.

A layout turns operand bits of shape ``(batch, operands, n_bits)`` (little-endian,
see :mod:`binadd.task`) into an :class:`Example`: float inputs of shape
``(batch, steps, input_size)``, 0/1 targets of shape ``(batch, steps)`` and a bool
mask of the same shape that marks the steps whose output is part of the answer.
Loss and accuracies are computed on masked steps only; padding never counts.

The ``parallel`` layout with ``lsb`` order is the classic one. Worked example,
6 + 3 at n_bits = 3::

    step        0      1      2      3 (pad)
    input    (0, 1) (1, 1) (1, 0) (0, 0)
    target      1      0      0      1
    mask        1      1      1      1

Step t holds bit t of each operand side by side; the final zero step lets the
model emit the carry out. With K operands there are ``extra_bits(K)`` pad steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from binadd.config import TaskConfig
from binadd.task import add_bits, extra_bits

BIT_ORDERS = ("lsb", "msb")
ARRANGEMENTS = ("parallel",)


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
        arrangement: ``parallel`` shows the bits of one position side by side.
    """

    operands: int = 2
    bit_order: str = "lsb"
    arrangement: str = "parallel"

    @classmethod
    def from_config(cls, task: TaskConfig) -> Layout:
        return cls(task.operands, task.bit_order, task.layout)

    @property
    def input_size(self) -> int:
        return self.operands

    @property
    def streamable(self) -> bool:
        """Whether long inputs can be fed in chunks, carrying the state over."""
        return self.arrangement == "parallel" and self.bit_order == "lsb"

    def sum_bits(self, n_bits: int) -> int:
        return n_bits + extra_bits(self.operands)

    def encode(self, operand_bits: torch.Tensor) -> Example:
        """Encode operand bits of shape (batch, operands, n_bits) as an Example."""
        batch, operands, n_bits = operand_bits.shape
        if operands != self.operands:
            raise ValueError(f"layout expects {self.operands} operands, got {operands}")
        sums = add_bits(operand_bits)
        steps = self.sum_bits(n_bits)
        # (batch, operands, n_bits) -> (batch, steps, operands), zero pad at the end.
        inputs = torch.nn.functional.pad(operand_bits, (0, steps - n_bits))
        inputs = inputs.transpose(1, 2)
        mask = torch.ones(batch, steps, dtype=torch.bool, device=operand_bits.device)
        if self.bit_order == "msb":
            inputs, sums = inputs.flip(1), sums.flip(1)
        return Example(inputs.float(), sums.float(), mask)

    def decode(self, step_bits: torch.Tensor) -> torch.Tensor:
        """Read the sum's little-endian bits out of per-step 0/1 outputs.

        Args:
            step_bits: tensor of shape ``(batch, steps)``, one bit per step.

        Returns:
            A ``uint8`` tensor of shape ``(batch, sum bits)``.
        """
        bits = step_bits.to(torch.uint8)
        return bits.flip(1) if self.bit_order == "msb" else bits
